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
from ..render import MeshRenderer, default_renderer, pixel_attributes
from ..shading import sh_basis, vertex_normals


@dataclass
class PhotometricResult:
    albedo: np.ndarray  # (N, 3) in [0, 1]
    albedo_coeffs: np.ndarray  # (A,) model albedo coefficients (empty without an albedo model)
    sh: np.ndarray  # (9, 3)
    visible: np.ndarray  # (N,) bool: the vertex covers rendered face pixels
    error: float  # mean absolute error (0..1) of the model-albedo rendering over the face pixels
    render: np.ndarray  # (H, W, 3) float rendering (zeros outside the face)
    mask: np.ndarray  # (H, W) bool rendered face mask


def fit_photometric(
    image: np.ndarray,
    model: MorphableModel,
    vertices: np.ndarray,
    rotation: np.ndarray,
    translation: np.ndarray,
    camera: PerspectiveCamera,
    rounds: int = 3,
    albedo_prior: float = 1.0,
    detail_prior: float = 0.05,
    noise: float = 0.05,
    fit_min_cos: float = 0.3,
    max_pixels: int = 40000,
    renderer: MeshRenderer | None = None,
) -> PhotometricResult:
    """Fit albedo and SH lighting for a fitted mesh (``vertices`` in model space) in ``image`` (uint8 RGB).
    (Long on purpose: the alternating lighting / albedo solves share the gathered pixel tensors.)

    The light is modelled as one 9-coefficient SH shape times a colour gain per channel (27
    coefficients in all, rank one across channels), so a partial view of the face cannot explain
    skin colour with coloured light.

    Works on the rendered face pixels: each pixel's interpolated normal and albedo must explain its
    colour. Grazing pixels (normal's z below ``fit_min_cos``) are left out of the lighting and albedo
    fit; the per-vertex detail layer is the barycentric-weighted average of what the pixels imply.
    """
    img = torch.as_tensor(np.asarray(image), dtype=torch.float32) / 255.0
    h, w = img.shape[:2]
    v = torch.as_tensor(vertices, dtype=torch.float32)
    rot = torch.as_tensor(rotation, dtype=torch.float32)
    tri = torch.as_tensor(model.triangles, dtype=torch.long)
    pc = v @ (torch.as_tensor(FLIP, dtype=torch.float32) @ rot).T + torch.as_tensor(translation, dtype=torch.float32)
    n_view = vertex_normals((v @ rot.T)[None], tri)[0]
    frags = (renderer or default_renderer()).fragments(pc, tri, camera)
    mask = frags.mask
    if int(mask.sum()) < 50:
        raise ValueError(f"the face covers only {int(mask.sum())} pixels: cannot fit lighting")
    ys, xs = torch.nonzero(mask, as_tuple=True)
    face = frags.face[ys, xs]
    bary = frags.bary[ys, xs]  # (P, 3)
    vid = tri[face]  # (P, 3)
    colour = img[ys, xs]  # (P, 3)
    normal = F.normalize(pixel_attributes(frags, tri, n_view), dim=-1)  # pixels in mask (row-major) order
    y = sh_basis(normal)  # (P, 9)
    fit = normal[:, 2] > fit_min_cos
    if int(fit.sum()) > max_pixels:  # a fixed, even subsample keeps large photos fast
        keep = torch.nonzero(fit).squeeze(1)
        fit = torch.zeros_like(fit)
        fit[keep[torch.linspace(0, len(keep) - 1, max_pixels).long()]] = True
    if int(fit.sum()) < 50:
        raise ValueError("too few frontal face pixels to fit lighting")
    mu_v = torch.as_tensor(model.albedo(), dtype=torch.float32)
    interp = lambda attr: pixel_attributes(frags, tri, attr)  # noqa: E731
    mu = interp(mu_v)
    basis_v = None
    if model.albedo_basis is not None and model.n_albedo:
        basis_v = torch.as_tensor(model.albedo_basis * model.albedo_std, dtype=torch.float32)  # (N, 3, A)
    coeffs = torch.zeros(model.n_albedo if basis_v is not None else 0)
    basis_p = None
    if basis_v is not None:  # the albedo basis at every face pixel, interpolated once
        n_alb = basis_v.shape[2]
        basis_p = interp(basis_v.reshape(len(basis_v), -1)).reshape(-1, 3, n_alb)
    # the rounds work on the fitted pixels only: gather them once
    yf, col_f, mu_f = y[fit], colour[fit], mu[fit]
    bp_f = basis_p[fit] if basis_p is not None else None  # (P', 3, A)
    alb_f = mu_f.clone()
    sh = torch.zeros(9, 3)
    gain = torch.ones(3)
    reg_shape = torch.tensor([0.0] + [1e-3] * 3 + [1e-2] * 5)
    for _ in range(rounds):
        # lighting = one 9-coefficient shape x a colour gain per channel (a light has one colour),
        # with a ridge on bands 1 and 2 so a partial view of the face cannot produce wild light
        a = (gain[None, :, None] * alb_f[:, :, None] * yf[:, None, :]).transpose(0, 1).reshape(-1, 9)
        rhs = col_f.T.reshape(-1)
        hmat = a.T @ a
        reg = reg_shape * torch.trace(hmat) / 9
        light = torch.linalg.solve(hmat + torch.diag(reg) + 1e-6 * torch.eye(9), a.T @ rhs)
        s_mono = yf @ light
        q = alb_f * s_mono[:, None]  # (P', 3)
        gain = (q * col_f).sum(0) / (q * q).sum(0).clamp_min(1e-9)
        gain = gain / gain.mean().clamp_min(1e-6)
        sh = light[:, None] * gain[None, :]
        shade_f = yf @ sh  # (P', 3)
        if bp_f is not None:
            a = (bp_f * shade_f[:, :, None]).reshape(-1, bp_f.shape[2])
            rhs = (col_f - mu_f * shade_f).reshape(-1)
            scale = len(rhs) / 1000.0  # the prior weighs like 1000 independent observations
            hmat = a.T @ a / (noise**2 * scale) + albedo_prior * torch.eye(a.shape[1])
            coeffs = torch.linalg.solve(hmat, a.T @ rhs / (noise**2 * scale))
            alb_f = (mu_f + torch.einsum("pck,k->pc", bp_f, coeffs)).clamp(0, 1)
    alb_v = mu_v if basis_v is None else (mu_v + torch.einsum("nck,k->nc", basis_v, coeffs)).clamp(0, 1)
    shade = (y @ sh).clamp_min(1e-3)
    # detail layer: splat each pixel's implied albedo to its triangle's vertices
    wts = bary.clamp_min(0).reshape(-1)
    idx = vid.reshape(-1)
    num = torch.zeros(len(v), 3).index_add_(0, idx, (wts[:, None] * (colour * shade).repeat_interleave(3, 0)))
    den = torch.zeros(len(v), 3).index_add_(0, idx, (wts[:, None] * (shade * shade).repeat_interleave(3, 0)))
    seen = den[:, 0] > 1e-3 * den[:, 0].max()
    lam = detail_prior * den[seen].mean(0)
    detail = ((num + lam * alb_v) / (den + lam)).clamp(0, 1)
    sym = torch.as_tensor(model.symmetry, dtype=torch.long)
    out = torch.where(seen[:, None], detail, torch.where(seen[sym][:, None], detail[sym], alb_v))
    alb = mu if basis_p is None else (mu + torch.einsum("pck,k->pc", basis_p, coeffs)).clamp(0, 1)
    err = float((alb * shade - colour).abs().mean())  # the analysis-by-synthesis fit, without detail
    rendered = torch.zeros(h, w, 3)
    rendered[ys, xs] = interp(out) * shade
    return PhotometricResult(
        out.numpy(), coeffs.numpy(), sh.numpy(), seen.numpy(), err, rendered.clamp(0, 1).numpy(), mask.numpy()
    )
