"""Pose calibration of the dense landmark detector (face3d.fitting.calibration)."""

import numpy as np
import pytest

from face3d.camera import PerspectiveCamera, euler_to_matrix
from face3d.fitting import FitOptions, Fitter, PoseCalibration, calibrated_points, load_calibration
from face3d.fitting.calibration import DEFAULT_PATH, CalibrationFormatError, face_frame
from face3d.landmarks import FaceLandmarks


def constant_table(model, off_x, off_y=None):
    m = len(model.dense_index)
    offs = np.zeros((2, m, 2), np.float32)
    offs[:, :, 0] = off_x
    if off_y is not None:
        offs[:, :, 1] = off_y
    return PoseCalibration([-90, 90], [-90, 90], offs, [1, 1], model.name, model.dense_scheme)


def test_round_trip_and_format_errors(tmp_path, default_model):
    cal = constant_table(default_model, 0.01)
    p = tmp_path / "cal.npz"
    cal.save(p)
    back = load_calibration(p)
    np.testing.assert_array_equal(back.offsets, cal.offsets)
    assert back.applies_to(default_model.name, default_model.dense_scheme) and not back.applies_to("sfm", "")
    with pytest.raises(CalibrationFormatError, match="increasing"):
        PoseCalibration([10, 0], [10, 0], cal.offsets, [1, 1], "m", "s")
    with pytest.raises(CalibrationFormatError, match="read_yaw"):
        PoseCalibration([0, 10], [5, 5], np.zeros((2, 5, 2)), [1, 1], "m", "s")
    with pytest.raises(CalibrationFormatError, match="offsets"):
        PoseCalibration([0, 10], [0, 10], np.zeros((3, 5, 2)), [1, 1], "m", "s")
    with pytest.raises(CalibrationFormatError, match="half the face"):
        PoseCalibration([0, 10], [0, 10], np.ones((2, 5, 2)), [1, 1], "m", "s")
    np.savez(tmp_path / "other.npz", format=np.array("something-else"))
    with pytest.raises(CalibrationFormatError, match="not a facerot-pose-calibration"):
        load_calibration(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError, match="build_pose_calibration"):
        load_calibration(tmp_path / "missing.npz")


def test_offsets_interpolate_between_bins_and_hold_beyond():
    offs = np.zeros((3, 4, 2), np.float32)
    offs[1, :, 0], offs[2, :, 0] = 0.02, 0.06
    cal = PoseCalibration([0, 10, 20], [0, 9, 16], offs, [1, 1, 1], "m", "s")
    assert cal.offsets_at(5)[0, 0] == pytest.approx(0.01)
    assert cal.offsets_at(15)[0, 0] == pytest.approx(0.04)
    assert cal.offsets_at(80)[0, 0] == pytest.approx(0.06) and cal.offsets_at(-5)[0, 0] == pytest.approx(0.0)
    # the reading curve inverted: a fit reading 12.5 stands for a true 15, and a saturated reading for the end
    assert cal.true_yaw(12.5) == pytest.approx(15.0) and cal.true_yaw(30.0) == pytest.approx(20.0)


def test_offsets_follow_the_roll_and_the_face_size(default_model):
    """A face-frame x offset moves the points along the face's x axis as the image shows it."""
    cal = constant_table(default_model, 0.05)
    m = len(default_model.dense_index)
    rng = np.random.default_rng(0)
    pts = rng.uniform(100, 300, (m, 2))
    for roll in (0.0, 30.0, -70.0):
        rot = euler_to_matrix(0.0, 0.0, roll)
        cam = PerspectiveCamera.for_image(400, 400)
        # the model's x axis in the image, measured by projecting a short segment along it
        a, b = cam.project(cam.to_camera(np.array([[0.0, 0, 0], [10.0, 0, 0]]), rot, np.array([0, 0, 1000.0])))
        d = (b - a) / np.linalg.norm(b - a)
        moved = pts - calibrated_points(cal, pts, rot)
        _, _, scale = face_frame(pts, rot)
        np.testing.assert_allclose(moved, np.tile(0.05 * scale * d, (m, 1)), atol=1e-6)


def test_second_pass_removes_a_pose_bias(default_model):
    """Points biased the way MediaPipe's are at large yaw (spread as if turned less) fit short of
    the true yaw; the fitter given the bias's table recovers it."""
    rng = np.random.default_rng(1)
    cam = PerspectiveCamera.for_image(500, 500)
    ids = default_model.dense_index
    depth = default_model.vertices()[ids, 2]
    off_x = (0.01 * (depth - depth.mean()) / depth.std()).astype(np.float32)  # near points one way, far the other
    cal = constant_table(default_model, off_x)
    plain = Fitter(options=FitOptions(photometric=False, calibration=None))
    fixed = Fitter(options=FitOptions(photometric=False, calibration=cal))
    assert fixed.calibration is cal and plain.calibration is None
    errs_plain, errs_fixed = [], []
    for yaw in (-55.0, 50.0, 60.0):
        v = default_model.vertices(0.5 * rng.standard_normal(default_model.n_shape), np.zeros(default_model.n_expr))
        rot = euler_to_matrix(yaw, 5.0, 3.0)
        true = cam.project(cam.to_camera(v, rot, np.array([5.0, -10.0, 1500.0])))[ids]
        _, r2, scale = face_frame(true, rot)
        biased = true + scale * np.stack([off_x, np.zeros_like(off_x)], 1) @ r2.T
        face = FaceLandmarks(
            points68=biased[:68].astype(np.float32),
            box=(0, 0, 500, 500),
            image_size=(500, 500),
            backend="mediapipe",
            dense=biased.astype(np.float32),
            dense_scheme=default_model.dense_scheme,
        )
        errs_plain.append(abs(plain.fit_landmark_batch([face])[0].yaw - yaw))
        errs_fixed.append(abs(fixed.fit_landmark_batch([face])[0].yaw - yaw))
    assert min(errs_plain) > 1.0  # the bias is real
    assert max(errs_fixed) < 0.5 * min(errs_plain)


def test_shipped_table_is_mirror_symmetric(default_model):
    if not DEFAULT_PATH.is_file():
        pytest.skip("no shipped calibration")
    from face3d.landmarks.mediapipe_backend import mirror468

    cal = load_calibration()
    assert cal.applies_to(default_model.name, default_model.dense_scheme)
    np.testing.assert_allclose(cal.yaw_grid, -cal.yaw_grid[::-1], atol=1e-4)
    np.testing.assert_allclose(cal.read_yaw, -cal.read_yaw[::-1], atol=1e-4)
    mirrored = cal.offsets[::-1][:, mirror468()] * np.array([-1.0, 1.0], np.float32)
    np.testing.assert_allclose(cal.offsets, mirrored, atol=1e-6)
    assert np.abs(cal.offsets_at(0.0)).max() < 0.05  # the model's misfit only: small
    assert Fitter(options=FitOptions(photometric=False)).calibration is None  # off for photos by default
    assert Fitter(options=FitOptions(photometric=False, calibration="default")).calibration is not None
    from pipeline.rotator import view_fitter

    assert view_fitter(default_model).calibration is not None  # on for reading back the views


def test_calibration_for_another_model_is_refused(default_model, tmp_path):
    cal = PoseCalibration(
        [-90, 90], [-90, 90], np.zeros((2, len(default_model.dense_index), 2)), [1, 1], "another-model", "mp468"
    )
    cal.save(tmp_path / "c.npz")
    with pytest.raises(ValueError, match="another-model"):
        Fitter(options=FitOptions(photometric=False, calibration=tmp_path / "c.npz"))


def test_batch_with_calibrated_and_uncalibrated_faces_equals_single_fits(default_model):
    """Only the faces past calibration_min_yaw get the second pass; a batch mixing them gives each
    face the result it gets alone."""
    cal = load_calibration() if DEFAULT_PATH.is_file() else constant_table(default_model, 0.01)
    fitter = Fitter(options=FitOptions(photometric=False, calibration=cal))
    cam = PerspectiveCamera.for_image(500, 500)
    ids = default_model.dense_index
    faces = []
    for yaw in (5.0, 45.0, -35.0):
        p = cam.project(cam.to_camera(default_model.vertices(), euler_to_matrix(yaw, 0.0, 0.0), np.array([0.0, 0.0, 1500.0])))[
            ids
        ].astype(np.float32)
        faces.append(
            FaceLandmarks(
                points68=p[:68],
                box=(0, 0, 500, 500),
                image_size=(500, 500),
                backend="mediapipe",
                dense=p,
                dense_scheme=default_model.dense_scheme,
            )
        )
    batch = fitter.fit_landmark_batch(faces)
    for f, b in zip(faces, batch):
        single = fitter.fit_landmark_batch([f])[0]
        np.testing.assert_allclose(b.pose, single.pose, atol=1e-3)
        np.testing.assert_allclose(b.vertices, single.vertices, atol=1e-2)
    plain = Fitter(options=FitOptions(photometric=False, calibration=None)).fit_landmark_batch(faces)
    # below 20°: no second pass, the same fit (to float32 precision: two batched solves differ by ~1e-6°)
    assert batch[0].pose == pytest.approx(plain[0].pose, abs=1e-4)
    assert abs(batch[1].yaw - plain[1].yaw) > 0.01  # past it: fitted again
    assert [r.pose_calibrated for r in batch] == [False, True, True]
    assert batch[1].to_json()["pose_calibrated"] is True and not any(r.pose_calibrated for r in plain)


def _regressor_for(model, k=3, blend=(20.0, 30.0)):
    from face3d.fitting import YawRegressor
    from face3d.landmarks.mediapipe_backend import mirror468

    m = len(model.dense_index)
    rng = np.random.default_rng(2)
    comp = np.linalg.qr(rng.standard_normal((2 * m, k)))[0].T
    return YawRegressor(rng.standard_normal(2 * m) * 0.1, comp, [1.0, -2.0, 0.5, 1.0, 3.0], mirror468(), blend)


def test_regressor_round_trip_and_format_errors(tmp_path, default_model):
    from face3d.fitting import YawRegressor

    cal = constant_table(default_model, 0.01)
    cal.regressor = _regressor_for(default_model)
    cal.save(tmp_path / "r.npz")
    back = load_calibration(tmp_path / "r.npz")
    assert back.regressor is not None and back.regressor.blend == (20.0, 30.0)
    np.testing.assert_array_equal(back.regressor.components, cal.regressor.components)
    np.testing.assert_array_equal(back.regressor.mirror, cal.regressor.mirror)
    r = cal.regressor
    with pytest.raises(CalibrationFormatError, match="coef"):
        YawRegressor(r.mean, r.components, r.coef[:-1], r.mirror, r.blend)
    with pytest.raises(CalibrationFormatError, match="permutation"):
        YawRegressor(r.mean, r.components, r.coef, np.zeros_like(r.mirror), r.blend)
    with pytest.raises(CalibrationFormatError, match="blend"):
        YawRegressor(r.mean, r.components, r.coef, r.mirror, (30.0, 20.0))
    z = dict(np.load(tmp_path / "r.npz"))
    del z["reg_coef"]
    np.savez(tmp_path / "partial.npz", **z)
    with pytest.raises(CalibrationFormatError, match="partial yaw regressor.*reg_coef"):
        load_calibration(tmp_path / "partial.npz")


def test_regressor_is_mirror_symmetric_and_blends_in(default_model):
    """A face and its mirror image read opposite yaws; below the blend band only the curve speaks,
    inside it the two mix linearly."""
    from face3d.landmarks.mediapipe_backend import mirror468

    cal = constant_table(default_model, 0.0)
    cal.regressor = reg = _regressor_for(default_model)
    cam = PerspectiveCamera.for_image(500, 500)
    ids, mir = default_model.dense_index, mirror468()
    for yaw in (10.0, 25.0, 50.0):
        rot = euler_to_matrix(yaw, 4.0, 0.0)
        p = cam.project(cam.to_camera(default_model.vertices(), rot, np.array([0.0, 0.0, 1500.0])))[ids]
        mirrored = np.c_[500.0 - p[mir, 0], p[mir, 1]]  # the mirror image, each point renamed to its mirror point
        rot_m = euler_to_matrix(-yaw, 4.0, 0.0)
        assert reg.predict(mirrored, rot_m) == pytest.approx(-reg.predict(p, rot), abs=1e-3)
        read = float(face_frame(p, rot)[0])
        w = min(max((abs(read) - 20.0) / 10.0, 0.0), 1.0)
        expect = (1 - w) * cal.true_yaw(read) + w * reg.predict(p, rot)
        assert cal.true_yaw_of(p, rot) == pytest.approx(expect, abs=1e-6)
        assert cal.true_yaw_of(mirrored, rot_m) == pytest.approx(-expect, abs=1e-3)
    assert cal.true_yaw_of(p, euler_to_matrix(10.0, 0.0, 0.0)) == pytest.approx(10.0, abs=1e-4)  # curve only


def test_shipped_regressor_reads_past_the_curves_saturation(default_model):
    """Points carrying the table's own mean bias at a true yaw beyond where the reading curve stops
    rising: the inverse curve can only say its end (~62°), the shipped regressor reads the yaw."""
    cal = load_calibration() if DEFAULT_PATH.is_file() else None
    if cal is None or cal.regressor is None:
        pytest.skip("no shipped regressor")
    cam = PerspectiveCamera.for_image(500, 500)
    ids = default_model.dense_index
    plain = Fitter(options=FitOptions(photometric=False, calibration=None))
    errs = {}
    for yaw in (-67.5, 45.0, 55.0, 67.5):
        rot = euler_to_matrix(yaw, 0.0, 0.0)
        true = cam.project(cam.to_camera(default_model.vertices(), rot, np.array([0.0, 0.0, 1500.0])))[ids]
        _, r2, scale = face_frame(true, rot)
        biased = (true + scale * cal.offsets_at(yaw) @ r2.T).astype(np.float32)
        face = FaceLandmarks(
            points68=biased[:68],
            box=(0, 0, 500, 500),
            image_size=(500, 500),
            backend="mediapipe",
            dense=biased,
            dense_scheme=default_model.dense_scheme,
        )
        first = plain.fit_landmark_batch([face])[0]
        errs[yaw] = (abs(cal.true_yaw(first.yaw) - yaw), abs(cal.true_yaw_of(biased, first.rotation) - yaw))
    assert errs[67.5][0] > 4.0 and errs[-67.5][0] > 4.0  # the curve alone saturates
    assert errs[67.5][1] < 0.5 * errs[67.5][0] and errs[-67.5][1] < 0.5 * errs[-67.5][0], errs
    assert errs[45.0][1] < 1.5 and errs[55.0][1] < 1.5, errs  # where the curve still rises, no worse than it
