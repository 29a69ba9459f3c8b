"""Optional PyTorch3D rasteriser behind facerot's rasteriser interface (used when pytorch3d imports).

Converts facerot's screen space (pixel centres at integer coordinates, camera depth) to PyTorch3D's
NDC (+x left, +y up; the shorter image side spans [-1, 1]) and returns the same
:class:`~face3d.render.rasterize.Fragments`.
"""

from __future__ import annotations

import torch

from .rasterize import Fragments


def available() -> bool:
    try:
        import pytorch3d.renderer.mesh.rasterize_meshes  # noqa: F401
    except ImportError:
        return False
    return True


def rasterize_pytorch3d(
    screen: torch.Tensor,
    triangles: torch.Tensor,
    height: int,
    width: int,
    cull_backfaces: bool = True,
    perspective_correct: bool = True,
) -> Fragments:
    from pytorch3d.renderer.mesh.rasterize_meshes import rasterize_meshes
    from pytorch3d.structures import Meshes

    s = float(min(height, width))
    x = (width - 2 * screen[:, 0] - 1) / s
    y = (height - 2 * screen[:, 1] - 1) / s
    verts = torch.stack([x, y, screen[:, 2]], -1)
    # PyTorch3D culls faces whose NDC winding is clockwise seen from the camera; flipping x and y
    # keeps the winding, so facerot's front faces stay front faces.
    meshes = Meshes(verts=[verts], faces=[triangles])
    p2f, zbuf, bary, _ = rasterize_meshes(
        meshes,
        image_size=(height, width),
        blur_radius=0.0,
        faces_per_pixel=1,
        perspective_correct=perspective_correct,
        cull_backfaces=cull_backfaces,
    )
    face = p2f[0, ..., 0]
    depth = torch.where(face >= 0, zbuf[0, ..., 0], torch.full_like(zbuf[0, ..., 0], float("inf")))
    return Fragments(face, bary[0, :, :, 0, :] * (face >= 0)[..., None], depth)
