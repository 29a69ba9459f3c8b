"""Shading: turn rasterised fragments into colours (kept apart from cameras and rasterisation).

All functions take :class:`~face3d.render.rasterize.Fragments` and per-vertex or texture data and
return (H, W, C) tensors, zero on background pixels; all are differentiable in their inputs.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..shading import sh_basis
from .rasterize import Fragments, interpolate


def vertex_colours(frags: Fragments, triangles: torch.Tensor, colours: torch.Tensor) -> torch.Tensor:
    """Gouraud interpolation of (N, C) vertex colours."""
    return interpolate(frags, triangles, colours)


def sample_texture(frags: Fragments, triangles: torch.Tensor, uv: torch.Tensor, texture: torch.Tensor) -> torch.Tensor:
    """Bilinear lookup of an (S, S, C) texture (v = 0 at the bottom row) at interpolated UVs."""
    uvp = interpolate(frags, triangles, uv)
    grid = torch.stack([uvp[..., 0] * 2 - 1, (1 - uvp[..., 1]) * 2 - 1], -1)[None]
    out = F.grid_sample(texture.permute(2, 0, 1)[None], grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out[0].permute(1, 2, 0) * frags.mask[..., None]


def sh_irradiance(frags: Fragments, triangles: torch.Tensor, normals: torch.Tensor, sh: torch.Tensor) -> torch.Tensor:
    """(H, W, 3) SH irradiance of interpolated, renormalised (N, 3) view-frame vertex normals."""
    n = F.normalize(interpolate(frags, triangles, normals), dim=-1, eps=1e-12)
    return (sh_basis(n) @ sh) * frags.mask[..., None]
