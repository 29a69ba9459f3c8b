"""Landmark fit on synthetic ground truth and on real photos."""

import numpy as np
import pytest
import torch

from face3d.camera import PerspectiveCamera, euler_to_matrix, matrix_to_euler
from face3d.fitting import FitError, FitOptions, Fitter, LandmarkFitOptions, fit_landmarks
from face3d.landmarks import FaceLandmarks, NoFaceError
from face3d.parametric import FaceModelTensors


def synthetic_batch(model, b, seed, noise=1.0, ids=None, size=500):
    rng = np.random.default_rng(seed)
    cam = PerspectiveCamera.for_image(size, size)
    ids = model.landmarks68 if ids is None else ids
    pts, gt = [], []
    for _ in range(b):
        y, p, r = rng.uniform(-70, 70), rng.uniform(-30, 30), rng.uniform(-20, 20)
        v = model.vertices(rng.standard_normal(model.n_shape), 0.5 * rng.standard_normal(model.n_expr))
        t = np.array([rng.uniform(-20, 20), rng.uniform(-20, 20), rng.uniform(1200, 2000)])
        proj = cam.project(cam.to_camera(v, euler_to_matrix(y, p, r), t))[ids]
        pts.append(proj + rng.normal(0, noise, proj.shape))
        gt.append((y, p, r))
    return cam, torch.tensor(np.array(pts), dtype=torch.float32), np.array(gt)


def run_fit(model, cam, pts, ids, ibug, options=None):
    b = pts.shape[0]
    st = fit_landmarks(
        FaceModelTensors(model),
        pts,
        ids,
        torch.ones(b, pts.shape[1]),
        torch.full((b,), cam.focal),
        torch.tensor([[cam.cx, cam.cy]] * b),
        options,
        ibug_positions=ibug,
    )
    return matrix_to_euler(st.rotation.double().numpy()), st


def test_dense_fit_recovers_pose(default_model):
    cam, pts, gt = synthetic_batch(default_model, 24, 0, ids=default_model.dense_index)
    est, st = run_fit(default_model, cam, pts, default_model.dense_index, None)
    err = np.abs(est - gt).mean(0)
    assert (err < 1.0).all(), err
    assert st.residual_px.mean() < 1.5


def test_ibug68_fit_recovers_pose(default_model):
    cam, pts, gt = synthetic_batch(default_model, 24, 1)
    est, _ = run_fit(default_model, cam, pts, default_model.landmarks68, np.arange(68))
    assert (np.abs(est - gt).mean(0) < 2.5).all()


def test_noise_free_fit_converges(default_model):
    cam, pts, gt = synthetic_batch(default_model, 8, 2, noise=0.0, ids=default_model.dense_index)
    # with a negligible prior, the optimiser must reach the exact solution
    est, st = run_fit(default_model, cam, pts, default_model.dense_index, None, LandmarkFitOptions(sigma=1e-5, iterations=20))
    assert np.abs(est - gt).max() < 0.1 and st.residual_px.max() < 0.05


def test_fit_real_photo(fitter, astronaut):
    res = fitter.fit(astronaut)
    y, p, r = res.pose
    assert abs(y) < 15 and abs(p) < 20 and abs(r) < 10
    assert res.quality == "ok" and res.nme < 0.01
    assert res.landmarks68.shape == (68, 2)
    # fitted landmarks land on the detected ones (within 4% of the face box)
    box = np.ptp(res.landmarks_input, 0)
    assert np.linalg.norm(res.landmarks68 - res.landmarks_input, axis=1).mean() < 0.04 * box.mean()
    assert res.albedo is not None and res.sh is not None and res.sh.shape == (9, 3)
    assert res.photometric_error < 0.12


def test_mirrored_photo_mirrors_the_pose(fitter, astronaut):
    a = fitter.fit(astronaut).pose
    b = fitter.fit(astronaut[:, ::-1].copy()).pose
    assert abs(a[0] + b[0]) < 3 and abs(a[2] + b[2]) < 3 and abs(a[1] - b[1]) < 3


def test_yawed_render_is_fitted_with_its_yaw(fitter, astronaut):
    """A non-frontal view made by warping is out of scope here; instead fit the same face at two
    horizontal crops: pose must not depend on where the face is in the frame by more than 3 degrees."""
    a = fitter.fit(astronaut[:300, 50:400].copy()).pose
    b = fitter.fit(astronaut[:300, 100:450].copy()).pose
    assert abs(a[0] - b[0]) < 3


def test_no_face_raises_specific_error(fitter):
    noise = (np.random.default_rng(0).random((240, 240, 3)) * 255).astype(np.uint8)
    with pytest.raises(NoFaceError) as ei:
        fitter.fit(noise)
    assert "no face" in ei.value.reason
    with pytest.raises(NoFaceError, match="too small"):
        fitter.fit(np.zeros((10, 10, 3), np.uint8))


def test_garbage_landmarks_are_flagged_failed(fitter):
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 200, (468, 2)).astype(np.float32)
    face = FaceLandmarks(
        points68=pts[:68], box=(0, 0, 200, 200), image_size=(200, 200), backend="test", dense=pts, dense_scheme="mediapipe468"
    )
    res = fitter.fit_landmark_batch([face])[0]
    assert res.quality == "failed" and res.reasons
    with pytest.raises(FitError):
        fitter.fit(np.zeros((200, 200, 3), np.uint8), face=face, strict=True)


def test_batch_equals_single(fitter, astronaut):
    faces = [fitter.detect(astronaut)[0], fitter.detect(astronaut[:, ::-1].copy())[0]]
    batch = fitter.fit_landmark_batch(faces)
    single = [fitter.fit_landmark_batch([f])[0] for f in faces]
    for a, b in zip(batch, single):
        np.testing.assert_allclose(a.pose, b.pose, atol=1e-2)


def test_sfm_fit_with_contour(sfm_model):
    cam, pts, gt = synthetic_batch(sfm_model, 16, 4)
    est, _ = run_fit(sfm_model, cam, pts, sfm_model.landmarks68, np.arange(68))
    assert (np.abs(est - gt).mean(0) < 3.0).all()


def test_shape_from_shading_option(astronaut):
    f = Fitter(options=FitOptions(sfs=True))
    res = f.fit(astronaut)
    assert res.sfs_offsets is not None and np.abs(res.sfs_offsets).max() > 0
    assert np.abs(res.sfs_offsets).max() < 30  # mm: detail, not a new face


def test_view_surface_keeps_the_photo_and_deepens_the_jaw(astronaut):
    """The fit's vertices lie on the model's view surface: facing vertices keep their pixel (the
    photo's texture stays put), the jaw and chin lie deeper than the plain model fit."""
    deep = Fitter(options=FitOptions(photometric=False)).fit(astronaut)
    flat = Fitter(options=FitOptions(photometric=False, view_depth=False)).fit(astronaut)
    assert flat.view_offsets is None and deep.view_offsets is not None
    np.testing.assert_allclose(deep.rotation, flat.rotation, atol=1e-5)  # the pose is the fit's (float32 sums)
    model = Fitter().model
    facing = np.asarray(model.depth_offset) < -1
    from face3d.shading import vertex_normals

    nz = vertex_normals(
        torch.as_tensor(flat.vertices @ flat.rotation.T, dtype=torch.float32)[None],
        torch.as_tensor(model.triangles, dtype=torch.long),
    )[0, :, 2].numpy()
    facing &= nz > 0.3
    assert facing.sum() > 50
    np.testing.assert_allclose(deep.project()[facing], flat.project()[facing], atol=0.02)
    jaw = model.landmarks68[[4, 5, 11, 12]]
    assert (deep.vertices[jaw, 2] < flat.vertices[jaw, 2] - 5).all()  # model frame: deeper by mm


def test_pose_spread_from_the_two_readings(astronaut, fitter):
    """The fit carries how far apart the detector's readings of the photo and of its mirror image
    put the pose; an identical pair of readings gives no spread."""
    from dataclasses import replace

    fit = fitter.fit(astronaut)
    assert fit.pose_spread is not None and all(0 <= a < 5 for a in fit.pose_spread)
    assert fit.to_json()["pose_spread"] == [round(a, 3) for a in fit.pose_spread]
    from face3d.fitting.uncertainty import load_error_model

    if load_error_model() is not None:  # the shipped model: expected error grows with the residual
        assert set(fit.pose_uncertainty) == {"yaw", "pitch"} and all(v >= 0.5 for v in fit.pose_uncertainty.values())
        m = load_error_model()
        assert m.predict(10, (0.5, 0.5, 0.5), 0.02)["yaw"] > m.predict(10, (0.5, 0.5, 0.5), 0.005)["yaw"]
    face = fitter.detect(astronaut)[0]
    depth = face.extra["depth"]
    same = replace(face, extra={**face.extra, "readings": (face.dense, face.dense), "reading_depths": (depth, depth)})
    assert max(fitter.fit_landmark_batch([same])[0].pose_spread) < 1e-3
    # the pitch's spread comes from the two readings' 3D meshes: their depths alone move it
    lean = depth + 0.3 * (face.dense[:, 1] - face.dense[:, 1].mean())  # the second mesh tipped back
    tilted = replace(same, extra={**same.extra, "reading_depths": (depth, lean)})
    assert fitter.fit_landmark_batch([tilted])[0].pose_spread[1] > 1.0
    single = replace(face, extra={k: v for k, v in face.extra.items() if k != "readings"})
    assert fitter.fit_landmark_batch([single])[0].pose_spread is None
