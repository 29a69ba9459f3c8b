"""Shape from shading: refine a fitted surface from the photo's shading (Lambertian, Horn-style).

The unknown is a depth map ``z = z0 + d`` over the face pixels (``z0`` is the rendered depth of the
3DMM fit). Normals come from the back-projected depth under the perspective camera; the energy is

    sum_p (albedo_p * sh_basis(n_p) @ L - I_p)^2  +  smooth * |laplacian(d)|^2  +  anchor * d^2,

Horn's brightness constraint plus a smoothness prior on the correction (so the 3DMM keeps the
low frequencies and shading adds the detail), minimised with Adam in torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..camera import PerspectiveCamera
from ..shading import sh_basis


@dataclass
class SfsResult:
    depth: np.ndarray  # (H, W) refined camera depth (inf outside the mask)
    depth_init: np.ndarray  # (H, W)
    normals: np.ndarray  # (H, W, 3) refined view-frame normals (zero outside)
    mask: np.ndarray  # (H, W) bool pixels where normals are defined
    energy: tuple[float, float]  # shading error before/after


def normals_from_depth(depth: torch.Tensor, camera: PerspectiveCamera) -> torch.Tensor:
    """(H, W, 3) view-frame unit normals (x right, y up, z toward the camera) of a camera depth map
    seen by ``camera``, by central differences of the back-projected points (border pixels replicate)."""
    p = camera.points_from_depth(depth)
    pp = F.pad(p.permute(2, 0, 1)[None], (1, 1, 1, 1), mode="replicate")[0].permute(1, 2, 0)
    du = pp[1:-1, 2:] - pp[1:-1, :-2]
    dv = pp[2:, 1:-1] - pp[:-2, 1:-1]
    n = torch.cross(dv, du, dim=-1)  # camera (OpenCV) frame, facing the camera: z < 0
    n = n * torch.tensor([1.0, -1.0, -1.0], dtype=depth.dtype)
    return F.normalize(n, dim=-1, eps=1e-12)


def _laplacian(x: torch.Tensor) -> torch.Tensor:
    k = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], dtype=x.dtype)[None, None]
    return F.conv2d(F.pad(x[None, None], (1, 1, 1, 1), mode="replicate"), k)[0, 0]


def refine_depth(
    image: np.ndarray,
    depth: np.ndarray,
    albedo: np.ndarray,
    sh: np.ndarray,
    camera: PerspectiveCamera,
    mask: np.ndarray | None = None,
    smooth: float = 0.5,
    anchor: float = 1e-3,
    iterations: int = 200,
    lr: float = 0.05,
) -> SfsResult:
    """Refine ``depth`` (H, W; camera z in mm, inf/0 where undefined) from ``image`` (H, W, 3 float in
    [0, 1]) given per-pixel ``albedo`` (H, W, 3) and SH lighting ``sh`` (9, 3)."""
    img = torch.as_tensor(np.asarray(image), dtype=torch.float32)
    z0 = torch.as_tensor(np.asarray(depth), dtype=torch.float32)
    valid = torch.isfinite(z0) & (z0 > 0)
    if mask is not None:
        valid &= torch.as_tensor(mask, dtype=torch.bool)
    # interior pixels only: all 4 neighbours defined, so every finite difference stays on the surface
    inner = valid.clone()
    inner[1:-1, 1:-1] &= valid[:-2, 1:-1] & valid[2:, 1:-1] & valid[1:-1, :-2] & valid[1:-1, 2:]
    inner[[0, -1], :] = False
    inner[:, [0, -1]] = False
    if int(inner.sum()) < 50:
        raise ValueError("shape from shading needs at least 50 face pixels")
    fill = z0[valid].median()
    zf = torch.where(valid, z0, fill)
    alb = torch.as_tensor(np.asarray(albedo), dtype=torch.float32)
    light = torch.as_tensor(np.asarray(sh), dtype=torch.float32)
    d = torch.zeros_like(zf, requires_grad=True)
    opt = torch.optim.Adam([d], lr=lr)

    def shading_error(z: torch.Tensor) -> torch.Tensor:
        n = normals_from_depth(z, camera)
        pred = alb * (sh_basis(n) @ light)
        return ((pred - img) ** 2).sum(-1)[inner].mean()

    with torch.no_grad():
        e0 = float(shading_error(zf))
    for _ in range(iterations):
        opt.zero_grad()
        dm = d * valid
        loss = shading_error(zf + dm) + smooth * (_laplacian(dm)[inner] ** 2).mean() * 1e-2 + anchor * (dm[inner] ** 2).mean()
        loss.backward()
        opt.step()
    with torch.no_grad():
        z = zf + d * valid
        e1 = float(shading_error(z))
        n = normals_from_depth(z, camera) * inner[..., None]
        out = torch.where(valid, z, torch.full_like(z, float("inf")))
    return SfsResult(
        out.numpy(), torch.where(valid, z0, torch.full_like(z0, float("inf"))).numpy(), n.numpy(), inner.numpy(), (e0, e1)
    )
