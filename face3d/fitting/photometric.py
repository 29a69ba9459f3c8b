"""Photometric fit: per-vertex albedo and 27 spherical-harmonics lighting coefficients.

Analysis by synthesis with the mesh fixed from the landmark fit: vertices are made visible or not
by the rasteriser's z-buffer and their angle to the camera; the photo's colour at each visible
vertex is explained as ``albedo * (sh_basis(normal) @ L)``. Lighting (linear least squares per
channel), the model's albedo coefficients (ridge regression under the prior) and a per-vertex
albedo detail layer (ridge toward the model albedo) are solved in turn. Finally the face is
rendered and compared with the photo inside the rendered face mask.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..camera import FLIP, PerspectiveCamera
from ..model import MorphableModel
from ..render import interpolate, rasterize, to_screen
from ..shading import sh_basis, vertex_normals


@dataclass
class PhotometricResult:
    albedo: np.ndarray  # (N, 3) in [0, 1]
    albedo_coeffs: np.ndarray  # (A,) model albedo coefficients (empty without an albedo model)
    sh: np.ndarray  # (9, 3)
    visible: np.ndarray  # (N,) bool
    error: float  # mean absolute error (0..1) of the model-albedo rendering over the face pixels
    render: np.ndarray  # (H, W, 3) float rendering (zeros outside the face)
    mask: np.ndarray  # (H, W) bool rendered face mask


def vertex_visibility(screen: torch.Tensor, normals_view: torch.Tensor, triangles: torch.Tensor, height: int,
                      width: int, min_cos: float = 0.1) -> tuple[torch.Tensor, object]:
    """(N,) visibility from the z-buffer (the vertex is not behind another surface) and the
    angle to the camera; also returns the fragments."""
    frags = rasterize(screen, triangles, height, width)
    xi = screen[:, 0].round().long().clamp(0, width - 1)
    yi = screen[:, 1].round().long().clamp(0, height - 1)
    zb = frags.depth[yi, xi]
    inside = (screen[:, 0] >= 0) & (screen[:, 0] <= width - 1) & (screen[:, 1] >= 0) & (screen[:, 1] <= height - 1)
    tol = 0.02 * screen[:, 2]
    vis = inside & (screen[:, 2] <= zb + tol) & (normals_view[:, 2] > min_cos)
    return vis, frags


def sample_image(image: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
    """Bilinear colours (N, C) of an (H, W, C) image at pixel-centre coordinates (N, 2)."""
    h, w = image.shape[:2]
    grid = torch.stack([(xy[:, 0] + 0.5) / w * 2 - 1, (xy[:, 1] + 0.5) / h * 2 - 1], -1)
    out = F.grid_sample(image.permute(2, 0, 1)[None], grid[None, None], mode="bilinear", align_corners=False)
    return out[0, :, 0].T


def fit_photometric(image: np.ndarray, model: MorphableModel, vertices: np.ndarray, rotation: np.ndarray,
                    translation: np.ndarray, camera: PerspectiveCamera, rounds: int = 3, albedo_prior: float = 1.0,
                    detail_prior: float = 0.05, noise: float = 0.05) -> PhotometricResult:
    """Fit albedo and SH lighting for a fitted mesh (``vertices`` in model space) in ``image`` (uint8 RGB)."""
    img = torch.as_tensor(np.asarray(image), dtype=torch.float32) / 255.0
    h, w = img.shape[:2]
    v = torch.as_tensor(vertices, dtype=torch.float32)
    rot = torch.as_tensor(rotation, dtype=torch.float32)
    tri = torch.as_tensor(model.triangles, dtype=torch.long)
    pc = v @ (torch.as_tensor(FLIP, dtype=torch.float32) @ rot).T + torch.as_tensor(translation, dtype=torch.float32)
    screen = to_screen(pc, camera.focal, camera.cx, camera.cy)
    n_view = vertex_normals((v @ rot.T)[None], tri)[0]
    vis, frags = vertex_visibility(screen, n_view, tri, h, w)
    colour = sample_image(img, screen[:, :2])
    y = sh_basis(n_view)  # (N, 9)
    mu = torch.as_tensor(model.albedo(), dtype=torch.float32)
    basis = None
    if model.albedo_basis is not None and model.n_albedo:
        basis = torch.as_tensor(model.albedo_basis * model.albedo_std, dtype=torch.float32)  # (N, 3, A)
    coeffs = torch.zeros(model.n_albedo if basis is not None else 0)
    alb = mu.clone()
    m = vis
    if int(m.sum()) < 20:
        raise ValueError(f"only {int(m.sum())} vertices are visible: cannot fit lighting")
    for _ in range(rounds):
        sh = torch.zeros(9, 3)
        for c in range(3):
            a = alb[m, c:c + 1] * y[m]
            hmat = a.T @ a + 1e-4 * torch.eye(9)
            sh[:, c] = torch.linalg.solve(hmat, a.T @ colour[m, c])
        shade = y @ sh  # (N, 3)
        if basis is not None:
            a = (basis[m] * shade[m][:, :, None]).reshape(-1, basis.shape[2])
            rhs = (colour[m] - mu[m] * shade[m]).reshape(-1)
            hmat = a.T @ a / noise ** 2 + albedo_prior * torch.eye(a.shape[1])
            coeffs = torch.linalg.solve(hmat, a.T @ rhs / noise ** 2)
            alb = (mu + torch.einsum("nck,k->nc", basis, coeffs)).clamp(0, 1)
    # detail layer: per-vertex albedo pulled toward the model albedo, mirrored where unseen
    shade = (y @ sh).clamp_min(1e-3)
    detail = ((colour * shade + detail_prior * alb) / (shade * shade + detail_prior)).clamp(0, 1)
    sym = torch.as_tensor(model.symmetry, dtype=torch.long)
    out = torch.where(m[:, None], detail, torch.where(m[sym][:, None], detail[sym], alb))
    mask = frags.mask
    model_render = interpolate(frags, tri, alb * shade)  # the analysis-by-synthesis fit, without detail
    err = float((model_render - img).abs()[mask].mean()) if bool(mask.any()) else float("nan")
    rendered = interpolate(frags, tri, out * shade)
    return PhotometricResult(out.numpy(), coeffs.numpy(), sh.numpy(), vis.numpy(), err,
                             rendered.clamp(0, 1).numpy(), mask.numpy())
