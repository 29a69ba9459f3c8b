"""The surface seen from new viewpoints: the fitted mesh moved back where its model says the fit is too flat.

A model learnt from a landmark detector's own 3D output (the embedded ``facerot-mp468``, from
MediaPipe's meshes) inherits that mesh's depth. Its inner face matches scanned faces (the Surrey
Face Model) to within 2 mm, but its jaw, cheeks and chin lie 10-20 mm in front of where real faces
curve back. The landmark fit must keep that surface — it is the one the detector's points are
consistent with, so it reads the pose of real photos right — but a face rendered from it at a
new yaw turns like a flat face: both detectors tested read such views 10-20% less turned than
they are. The model's ``depth_offset`` says how much deeper each vertex lies on a real face;
:func:`view_surface_offsets` applies it so that the photo itself is unchanged:

* a vertex facing the camera moves along its viewing ray (it keeps its pixel, so the texture
  sampled from the photo stays where it was);
* a vertex turned away (hidden in the photo) moves along the model's depth axis;
* in between, the two are blended by how much the surface faces the camera.
"""

from __future__ import annotations

import numpy as np
import torch

from ..camera import FLIP
from ..shading import vertex_normals


def view_surface_offsets(
    vertices: np.ndarray,
    rotation: np.ndarray,
    translation: np.ndarray,
    triangles: np.ndarray,
    depth_offset: np.ndarray,
    facing_full: float = 0.3,
) -> np.ndarray:
    """(N, 3) model-frame offsets that carry the fitted ``vertices`` onto the view surface.

    Args:
        vertices: (N, 3) fitted vertices, model frame (mm).
        rotation, translation: the fit's model-to-camera pose (:mod:`face3d.camera`).
        triangles: (T, 3) the model's triangles (for the normals).
        depth_offset: (N,) model-frame z offsets (negative: deeper), the model's ``depth_offset``.
        facing_full: the normal's z component (view frame) from which a vertex counts as fully
            facing the camera and moves along its ray alone.
    """
    v = np.asarray(vertices, np.float64)
    dz = np.asarray(depth_offset, np.float64)
    if dz.shape != (len(v),):
        raise ValueError(f"depth_offset has {dz.shape} entries, the mesh {len(v)} vertices")
    r_cam = FLIP @ np.asarray(rotation, np.float64)  # model -> OpenCV camera frame
    pc = v @ r_cam.T + np.asarray(translation, np.float64)
    d_cam = np.stack([np.zeros_like(dz), np.zeros_like(dz), dz], 1) @ r_cam.T  # the model-frame offset, camera frame
    z = np.maximum(pc[:, 2], 1e-6)
    along_ray = pc * (d_cam[:, 2] / z)[:, None]  # the same change of depth, keeping the pixel
    view = torch.as_tensor(v @ np.asarray(rotation, np.float64).T, dtype=torch.float32)[None]
    nz = vertex_normals(view, torch.as_tensor(np.asarray(triangles), dtype=torch.long))[0, :, 2].double().numpy()
    facing = np.clip(nz / facing_full, 0.0, 1.0)[:, None]
    off_cam = facing * along_ray + (1 - facing) * d_cam
    return (off_cam @ r_cam).astype(np.float32)  # back to the model frame (r_cam is orthonormal)
