"""Pitch from the dense detector's 3D mesh: the alignment reads a known rotation, the landmark fit
holds a pitch target, and the fitter's pitch follows the mesh's depth (and ignores it when told)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch


@pytest.mark.parametrize("pose", [(0.0, 0.0, 0.0), (30.0, -20.0, 5.0), (-50.0, 25.0, -8.0), (10.0, 35.0, 0.0)])
def test_mesh_rotation_reads_a_known_pose(default_model, pose):
    """The model's mean turned to ``pose`` and drawn as a detector's mesh (image x, y and depth, in
    pixels, orthographic, shifted and scaled) gives back that pose."""
    from face3d.camera import euler_to_matrix, matrix_to_euler
    from face3d.fitting.mesh_pitch import mesh_pitch, mesh_rotation

    m = default_model
    verts = m.mean.astype(np.float64)
    cam = verts @ (np.diag([1.0, -1.0, -1.0]) @ euler_to_matrix(*pose)).T
    mesh = 3.7 * cam + np.array([250.0, 180.0, -40.0])
    np.testing.assert_allclose(matrix_to_euler(mesh_rotation(mesh, verts)), pose, atol=1e-6)
    dense = mesh[np.maximum(m.dense_index, 0)]
    assert mesh_pitch(dense, verts, m.dense_index) == pytest.approx(pose[1], abs=1e-6)


def test_landmark_fit_holds_a_pitch_target(fitter, astronaut):
    """Given a pitch target the fit ends within a fraction of a degree of it; a NaN target is the
    free fit."""
    from face3d.camera import PerspectiveCamera, matrix_to_euler
    from face3d.fitting.landmark_fit import fit_landmarks

    face = fitter.detect(astronaut)[0]
    cam = PerspectiveCamera.for_image(*face.image_size)
    args = (
        fitter.tensors,
        torch.as_tensor(np.stack([face.dense] * 3), dtype=torch.float32),
        fitter.model.dense_index,
        torch.ones(3, len(face.dense)),
        torch.tensor([cam.focal] * 3),
        torch.tensor([[cam.cx, cam.cy]] * 3),
    )
    free = matrix_to_euler(fit_landmarks(*args).rotation.double().numpy())[:, 1]
    target = torch.tensor([float("nan"), free[0] + 8.0, free[0] - 12.0])
    held = matrix_to_euler(fit_landmarks(*args, pitch_target=target).rotation.double().numpy())[:, 1]
    assert held[0] == pytest.approx(free[0], abs=1e-4)
    np.testing.assert_allclose(held[1:], target[1:].numpy(), atol=0.5)


def test_fitter_pitch_follows_the_mesh_depth(astronaut):
    """Tipping the detector's depths back (the forehead further away) raises the fitted pitch by
    the mesh's reading, with the 2D points unchanged; with ``mesh_pitch=False`` the depths are
    ignored."""
    from face3d.fitting import FitOptions, Fitter

    on = Fitter(options=FitOptions(photometric=False))
    off = Fitter(options=FitOptions(photometric=False, mesh_pitch=False))
    face = on.detect(astronaut)[0]
    base = on.fit_landmark_batch([face])[0]
    assert base.mesh_pitch is not None and base.pitch == pytest.approx(base.mesh_pitch, abs=0.5)
    assert base.to_json()["mesh_pitch"] == round(base.mesh_pitch, 3)
    y = face.dense[:, 1] - face.dense[:, 1].mean()
    tipped = replace(face, extra={**face.extra, "depth": face.extra["depth"] - np.tan(np.radians(10)) * y})
    moved = on.fit_landmark_batch([tipped])[0]
    assert moved.mesh_pitch - base.mesh_pitch > 5 and moved.pitch - base.pitch > 5
    plain = off.fit_landmark_batch([face, tipped])
    assert plain[0].mesh_pitch is None and plain[0].pose == pytest.approx(plain[1].pose, abs=1e-3)
    no_depth = replace(face, extra={k: v for k, v in face.extra.items() if k != "depth"})
    assert on.fit_landmark_batch([no_depth])[0].mesh_pitch is None
