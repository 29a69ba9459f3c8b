"""Rendering building blocks: rasteriser and screen-space helpers (the full renderer arrives with issue 3)."""
from __future__ import annotations

import torch

from .rasterize import Fragments, barycentrics, interpolate, rasterize

__all__ = ["Fragments", "rasterize", "barycentrics", "interpolate", "to_screen"]


def to_screen(points_cam: torch.Tensor, focal: float, cx: float, cy: float) -> torch.Tensor:
    """(N, 3) OpenCV camera coordinates to rasteriser screen space: (x, y) with pixel centres at
    integer coordinates (the camera's pixel ``c`` spans [c, c + 1)), and camera depth."""
    z = points_cam[:, 2:3].clamp_min(1e-6)
    xy = points_cam[:, :2] / z * focal + torch.tensor([cx, cy], dtype=points_cam.dtype) - 0.5
    return torch.cat([xy, points_cam[:, 2:3]], 1)
