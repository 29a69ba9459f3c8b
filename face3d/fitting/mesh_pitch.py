"""Pitch read from the dense detector's own 3D mesh.

MediaPipe's FaceMesh regresses 2D points close to its canonical face: on views of known pose a
landmark fit to them reads only ~0.7° of pitch per degree (~0.5 at ±45° of yaw), while the same
fit given exact points reads pitch at slope 1 — the detector's 2D points, not the camera or the
model, compress pitch. FaceMesh also regresses a depth per point, and the mesh (x, y, depth),
aligned rigidly to the model's mean shape, reads pitch at slope 0.86-0.94 on the same views to ±30°
of yaw (0.7 at ±45°; bench ``pitch_renders.py``) and at an independent reader's scale on real
photos (``pose_real.py``). :func:`mesh_pitch` is that reading; the fitter holds its pose's pitch
to it (``FitOptions.mesh_pitch``).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from ..camera import matrix_to_euler
from ..landmarks.base import FaceLandmarks

#: OpenCV camera axes from model axes (x right, y up, z toward the camera): the detector's mesh is
#: in image axes (y down, depth growing away from the camera).
_FLIP = np.diag([1.0, -1.0, -1.0])


def mesh_rotation(mesh: np.ndarray, model_points: np.ndarray) -> np.ndarray:
    """The model rotation (facerot convention, as ``FitResult.rotation``) that best turns
    ``model_points`` (M, 3, model space) onto the detector's ``mesh`` (M, 3: x, y, depth, in
    pixels): orthogonal Procrustes after centring both (scale does not change the rotation)."""
    a = np.asarray(mesh, np.float64)
    b = np.asarray(model_points, np.float64)
    ok = np.isfinite(a).all(1) & np.isfinite(b).all(1)
    if ok.sum() < 3:
        raise ValueError("mesh_rotation needs at least 3 finite point pairs")
    a, b = a[ok] - a[ok].mean(0), b[ok] - b[ok].mean(0)
    rot, _ = Rotation.align_vectors(a, b)
    return _FLIP @ rot.as_matrix()


def face_meshes(face: FaceLandmarks) -> list[np.ndarray]:
    """The detector's 3D meshes of ``face`` (M, 3) — its (averaged) reading first, then, for a
    flip-averaged face, the photo's and the mirror image's readings — or [] without depth."""
    depth = face.extra.get("depth")
    if face.dense is None or depth is None or len(depth) != len(face.dense):
        return []
    out = [np.c_[face.dense, depth]]
    readings, depths = face.extra.get("readings"), face.extra.get("reading_depths")
    if readings is not None and depths is not None:
        out += [np.c_[r, d] for r, d in zip(readings, depths)]  # type: ignore[call-overload]
    return out


def mesh_pitch(mesh: np.ndarray, vertices: np.ndarray, dense_index: np.ndarray) -> float:
    """Pitch (degrees) of the detector's ``mesh`` (M, 3) aligned to model-space ``vertices`` (N, 3;
    the fitter uses the mean shape) at the model's ``dense_index`` (M,; -1 where the model has no
    vertex for a point)."""
    ok = dense_index >= 0
    return float(matrix_to_euler(mesh_rotation(mesh[ok], vertices[dense_index[ok]]))[1])
