"""Shading: turn rasterised fragments into colours (kept apart from cameras and rasterisation).

Functions with an ``_at`` suffix work on the list of covered pixels (``Fragments.mask`` order) and
return (P, C); the others return (H, W, C) images, zero on background. All are differentiable.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..shading import sh_basis
from .rasterize import Fragments, interpolate, pixel_attributes, scatter


def vertex_colours(frags: Fragments, triangles: torch.Tensor, colours: torch.Tensor) -> torch.Tensor:
    """Gouraud interpolation of (N, C) vertex colours."""
    return interpolate(frags, triangles, colours)


def texture_at(uv: torch.Tensor, texture: torch.Tensor) -> torch.Tensor:
    """(P, C) bilinear lookup of an (S, S, C) texture (v = 0 at the bottom row) at (P, 2) UVs."""
    grid = torch.stack([uv[:, 0] * 2 - 1, (1 - uv[:, 1]) * 2 - 1], -1)[None, None]
    out = F.grid_sample(texture.permute(2, 0, 1)[None], grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out[0, :, 0].T


def irradiance_at(normals: torch.Tensor, sh: torch.Tensor) -> torch.Tensor:
    """(P, 3) SH irradiance of (P, 3) view-frame normals (renormalised)."""
    return sh_basis(F.normalize(normals, dim=-1, eps=1e-12)) @ sh


def sample_texture(frags: Fragments, triangles: torch.Tensor, uv: torch.Tensor, texture: torch.Tensor) -> torch.Tensor:
    """(H, W, C) texture lookup at interpolated UVs."""
    return scatter(frags, texture_at(pixel_attributes(frags, triangles, uv), texture))


def sh_irradiance(frags: Fragments, triangles: torch.Tensor, normals: torch.Tensor, sh: torch.Tensor) -> torch.Tensor:
    """(H, W, 3) SH irradiance of interpolated (N, 3) view-frame vertex normals."""
    return scatter(frags, irradiance_at(pixel_attributes(frags, triangles, normals), sh))
