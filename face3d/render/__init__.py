"""Rendering: cameras (:mod:`face3d.camera`), rasterisers (:mod:`.rasterize`, built-in numba/torch,
optional PyTorch3D) and shaders (:mod:`.shader`), joined by :class:`MeshRenderer`."""

from __future__ import annotations

from .rasterize import Fragments, barycentrics, interpolate, pixel_attributes, rasterize, scatter
from .renderer import BACKENDS, MeshRenderer, RenderResult, default_renderer

__all__ = [
    "Fragments",
    "rasterize",
    "barycentrics",
    "interpolate",
    "pixel_attributes",
    "scatter",
    "MeshRenderer",
    "RenderResult",
    "BACKENDS",
    "default_renderer",
]
