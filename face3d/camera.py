"""Pose convention and the perspective camera — used everywhere in facerot.

**Pose convention** (degrees, relative to the camera; (0, 0, 0) is frontal):

* ``yaw > 0``: the nose points toward the image's right edge;
* ``pitch > 0``: the chin is raised (the face tilts up);
* ``roll > 0``: the face turns clockwise in the image.

Model space is x = image right (frontal), y = up, z = toward the camera. The head rotation is
``R = Rz(-roll) @ Ry(yaw) @ Rx(-pitch)`` (standard right-handed axis rotations). The camera
looks along -z of model space; camera (OpenCV) coordinates are ``P = F @ R @ X + t`` with
``F = diag(1, -1, -1)`` and ``t[2] > 0``, projected as ``u = f x / z + cx``, ``v = f y / z + cy``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

#: Default focal length as a multiple of the image's longer side (a ~12.6° field of view,
#: as Deep3DFaceRecon's 1015 px at 224 px; typical of portrait photos).
DEFAULT_FOCAL_FACTOR = 1015.0 / 224.0
FLIP = np.diag([1.0, -1.0, -1.0])


def euler_to_matrix(yaw: float | np.ndarray, pitch: float | np.ndarray, roll: float | np.ndarray) -> np.ndarray:
    """Rotation matrix (..., 3, 3) from pose angles in degrees (facerot convention)."""
    y, p, r = (np.radians(np.asarray(a, np.float64)) for a in (yaw, pitch, roll))
    a, b, c = -p, y, -r
    ca, sa, cb, sb, cc, sc = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(c), np.sin(c)
    one, zero = np.ones_like(ca), np.zeros_like(ca)
    rx = np.stack([one, zero, zero, zero, ca, -sa, zero, sa, ca], -1).reshape(*ca.shape, 3, 3)
    ry = np.stack([cb, zero, sb, zero, one, zero, -sb, zero, cb], -1).reshape(*cb.shape, 3, 3)
    rz = np.stack([cc, -sc, zero, sc, cc, zero, zero, zero, one], -1).reshape(*cc.shape, 3, 3)
    return rz @ ry @ rx


def matrix_to_euler(rot: np.ndarray) -> np.ndarray:
    """(yaw, pitch, roll) in degrees from rotation matrices (..., 3, 3) (inverse of :func:`euler_to_matrix`)."""
    r = np.asarray(rot, np.float64)
    b = np.arcsin(np.clip(-r[..., 2, 0], -1.0, 1.0))
    a = np.arctan2(r[..., 2, 1], r[..., 2, 2])
    c = np.arctan2(r[..., 1, 0], r[..., 0, 0])
    return np.degrees(np.stack([b, -a, -c], -1))


def default_focal(height: int, width: int) -> float:
    """Default focal length in pixels for an image of this size."""
    return DEFAULT_FOCAL_FACTOR * max(height, width)


@dataclass(frozen=True)
class PerspectiveCamera:
    """A pinhole camera in pixel units (principal point defaults to the image centre): the one
    thing in facerot that projects.

    Two pixel conventions, both from here: :meth:`project` gives continuous image coordinates in
    which pixel ``c`` spans ``[c, c + 1)`` (landmarks, face boxes, fit results); :meth:`to_pixels`
    and :meth:`to_screen` give the same points with pixel *centres* at integers, ``project - 0.5``
    (OpenCV's sampling and warping convention, and the rasteriser's screen space)."""

    focal: float
    cx: float
    cy: float
    width: int
    height: int

    @classmethod
    def for_image(cls, height: int, width: int, focal: float | None = None) -> "PerspectiveCamera":
        return cls(float(focal or default_focal(height, width)), width / 2.0, height / 2.0, int(width), int(height))

    def crop(self, x0: int, y0: int, width: int, height: int, scale: float = 1.0) -> "PerspectiveCamera":
        """The camera of the image region ``[x0, x0 + width) x [y0, y0 + height)`` resized by
        ``scale`` (to ``round(width * scale)`` x ``round(height * scale)`` pixels, as
        ``cv2.resize`` does): the same rays, with pixel ``c`` spanning ``[c, c + 1)`` in both."""
        return PerspectiveCamera(
            self.focal * scale,
            (self.cx - x0) * scale,
            (self.cy - y0) * scale,
            max(1, round(width * scale)),
            max(1, round(height * scale)),
        )

    def to_camera(self, vertices: np.ndarray, rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
        """Model-space vertices (N, 3) to OpenCV camera coordinates (N, 3)."""
        return (vertices @ (FLIP @ rotation).T) + translation

    def project(self, points_cam: np.ndarray) -> np.ndarray:
        """Camera coordinates (N, 3) to continuous image coordinates (N, 2)."""
        z = np.maximum(points_cam[:, 2:3], 1e-6)
        return np.concatenate([self.focal * points_cam[:, :1] / z + self.cx, self.focal * points_cam[:, 1:2] / z + self.cy], 1)

    def to_pixels(self, points_cam: np.ndarray) -> np.ndarray:
        """Camera coordinates (N, 3) to pixel-centre coordinates (N, 2) (``project - 0.5``)."""
        return self.project(points_cam) - 0.5

    def from_pixels(self, pixels: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """(N, 3) camera coordinates of the points at pixel-centre coordinates ``pixels`` (N, 2)
        and camera depths ``depth`` (N,): the inverse of :meth:`to_pixels`."""
        d = np.asarray(depth, np.float64)
        xy = (np.asarray(pixels, np.float64) + 0.5 - np.array([self.cx, self.cy])) / self.focal * d[:, None]
        return np.concatenate([xy, d[:, None]], 1)

    def points_from_depth(self, depth: torch.Tensor) -> torch.Tensor:
        """(H, W, 3) camera coordinates of every pixel centre of an (H, W) camera depth map (the
        inverse of the projection, per pixel; differentiable in ``depth``)."""
        h, w = depth.shape
        v, u = torch.meshgrid(torch.arange(h, dtype=depth.dtype), torch.arange(w, dtype=depth.dtype), indexing="ij")
        return torch.stack([(u + 0.5 - self.cx) / self.focal * depth, (v + 0.5 - self.cy) / self.focal * depth, depth], -1)

    def to_screen(self, points_cam: torch.Tensor) -> torch.Tensor:
        """(N, 3) torch camera coordinates to the rasteriser's screen space: pixel-centre (x, y)
        and camera depth (differentiable)."""
        z = points_cam[:, 2:3].clamp_min(1e-6)
        xy = (
            points_cam[:, :2] / z * self.focal
            + torch.tensor([self.cx, self.cy], dtype=points_cam.dtype, device=points_cam.device)
            - 0.5
        )
        return torch.cat([xy, points_cam[:, 2:3]], 1)


def project_batch(points_cam: torch.Tensor, focal: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """(B, N, 2) continuous image coordinates of (B, N, 3) camera points for B cameras with
    focal lengths ``focal`` (B,) and principal points ``centre`` (B, 2): :meth:`PerspectiveCamera.project`
    batched and differentiable (the landmark fit's)."""
    z = points_cam[..., 2:3].clamp_min(1e-3)
    return points_cam[..., :2] / z * focal[:, None, None] + centre[:, None, :]


def axis_angle_to_matrix(omega: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula for (..., 3) axis-angle vectors (batched, differentiable)."""
    import kornia.geometry.conversions as kc

    shape = omega.shape[:-1]
    return kc.axis_angle_to_rotation_matrix(omega.reshape(-1, 3)).reshape(*shape, 3, 3)


def uv_screen(uv: torch.Tensor, size: int) -> torch.Tensor:
    """(N, 3) rasteriser screen space of a ``size`` px texture for (N, 2) UV coordinates (v = 0 at
    the bottom row, as OBJ), depth 1: the texture's own camera."""
    return torch.stack([uv[:, 0] * size - 0.5, (1 - uv[:, 1]) * size - 0.5, torch.ones(len(uv), dtype=uv.dtype)], 1)
