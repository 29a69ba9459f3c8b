"""The mesh renderer: camera → rasteriser (built-in numba/torch, or PyTorch3D) → shader.

``MeshRenderer(backend).render(...)`` draws a mesh given in camera coordinates and returns a
:class:`RenderResult` with the image, alpha mask, depth, face-index and barycentric buffers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..camera import PerspectiveCamera
from . import shader
from .rasterize import Fragments, pixel_attributes, rasterize, scatter

BACKENDS = ("auto", "numba", "torch", "pytorch3d")


@dataclass
class RenderResult:
    """Buffers of one rendered view (torch tensors; background: image 0, depth inf, face -1)."""

    image: torch.Tensor  # (H, W, C)
    alpha: torch.Tensor  # (H, W) float 0/1
    depth: torch.Tensor  # (H, W)
    face: torch.Tensor  # (H, W) long
    bary: torch.Tensor  # (H, W, 3)

    def to_uint8(self) -> np.ndarray:
        return (self.image.detach().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()


class MeshRenderer:
    """Render meshes with one of the rasteriser backends (``auto``: PyTorch3D when it imports and a
    CUDA tensor is rendered, else numba on CPU, else torch). One renderer, its backend chosen once,
    is passed to everything that rasterises: face renders, texture and UV passes, the background's
    warp mesh, the photometric fit."""

    def __init__(self, backend: str = "auto") -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown renderer backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if backend == "pytorch3d":
            from .pytorch3d_backend import available

            if not available():
                raise ImportError("the pytorch3d backend needs pytorch3d, which is not installed")
        self.backend = backend

    def rasterize(
        self,
        screen: torch.Tensor,
        triangles: torch.Tensor,
        height: int,
        width: int,
        cull_backfaces: bool = True,
        perspective_correct: bool = True,
    ) -> Fragments:
        """Screen-space rasterisation (see :func:`~face3d.render.rasterize.rasterize`)."""
        b = self.backend
        if b == "auto" and screen.is_cuda:
            from .pytorch3d_backend import available

            b = "pytorch3d" if available() else "torch"
        if b == "pytorch3d":
            from .pytorch3d_backend import rasterize_pytorch3d

            return rasterize_pytorch3d(screen, triangles, height, width, cull_backfaces, perspective_correct)
        return rasterize(screen, triangles, height, width, cull_backfaces, backend=b, perspective_correct=perspective_correct)

    def fragments(
        self, points_cam: torch.Tensor, triangles: torch.Tensor, camera: PerspectiveCamera, cull_backfaces: bool = True
    ) -> Fragments:
        """Rasterise a mesh given in camera coordinates into ``camera``'s image."""
        return self.rasterize(camera.to_screen(points_cam), triangles, camera.height, camera.width, cull_backfaces)

    def render(
        self,
        points_cam: torch.Tensor,
        triangles: torch.Tensor,
        camera: PerspectiveCamera,
        *,
        colours: torch.Tensor | None = None,
        uv: torch.Tensor | None = None,
        texture: torch.Tensor | None = None,
        normals: torch.Tensor | None = None,
        sh: torch.Tensor | None = None,
        cull_backfaces: bool = True,
    ) -> RenderResult:
        """Render a mesh in camera coordinates.

        Colour comes from ``texture`` at ``uv`` (texture (S, S, C), uv (N, 2)) or from per-vertex
        ``colours`` (N, C); it is multiplied by the SH irradiance when ``normals`` (N, 3, view
        frame) and ``sh`` (9, 3) are given.
        """
        frags = self.fragments(points_cam, triangles, camera, cull_backfaces)
        lit = normals is not None and sh is not None
        textured = texture is not None and uv is not None
        # one gather for every per-vertex attribute, then shading on the covered pixels only
        parts = [uv] if textured else ([colours] if colours is not None else [])
        if lit:
            parts.append(normals)
        if parts:
            attr = pixel_attributes(frags, triangles, torch.cat(parts, 1))
            k = parts[0].shape[1]
            col = shader.texture_at(attr[:, :k], texture) if textured else attr[:, :k]
            if lit:
                col = col * shader.irradiance_at(attr[:, k:], sh)
            img = scatter(frags, col)
        else:
            img = frags.mask[..., None].to(points_cam.dtype).expand(-1, -1, 3)
        return RenderResult(img, frags.mask.to(points_cam.dtype), frags.depth, frags.face, frags.bary)


_DEFAULT: dict[str, MeshRenderer] = {}


def default_renderer() -> MeshRenderer:
    """The ``auto`` renderer, shared by callers that were given none."""
    return _DEFAULT.setdefault("auto", MeshRenderer("auto"))
