"""Landmark fit of pose, shape and expression: batched Gauss-Newton in torch, analytic Jacobians.

Minimises, per face, ``sum_l w_l ||proj(R X_l + t) - x_l||^2 / sigma^2 + lambda_s ||alpha||^2 +
lambda_e ||beta||^2`` over the rotation (incremental axis-angle), translation and standardised
shape/expression coefficients, under a perspective camera of fixed focal length. ``sigma`` is the
landmark noise relative to the face's size, so the prior weighs the same at any resolution.

Jaw-contour correspondences (iBUG 1-8, 10-17) are re-chosen each iteration for the current pose,
as eos does: each contour landmark takes the model contour candidate whose projection is nearest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..camera import axis_angle_to_matrix, project_batch
from ..model import IBUG_CONTOUR_LEFT, IBUG_CONTOUR_RIGHT
from ..parametric import FaceModelTensors
from ..shading import vertex_normals

_FLIP = torch.tensor([1.0, -1.0, -1.0])


@dataclass
class LandmarkFitOptions:
    """Settings of the landmark fit (defaults tuned on the synthetic benchmark, see bench/)."""

    n_shape: int | None = None
    n_expr: int | None = None
    shape_prior: float = 1.0
    expr_prior: float = 1.0
    sigma: float = 0.01  # landmark noise, as a fraction of the landmarks' box size
    iterations: int = 5  # converged: 8 gives the same errors on the synthetic benchmarks (bench/)
    rigid_iterations: int = 2
    contour: bool = True
    contour_sides: str = "far"  # "far": only the occluding side, past contour_yaw; "both": always both
    contour_yaw: float = 10.0
    # dense points on surfaces turned away from the camera are guessed by the detector: weight
    # them by how much they face the camera (0 switches this off)
    occlusion_weighting: float = 1.0
    damping: float = 1e-3
    pitch_sigma: float = 0.25  # degrees: how closely a given pitch target holds (see fit_landmarks)


@dataclass
class LandmarkFitState:
    """Batched parameters after the fit (torch tensors)."""

    rotation: torch.Tensor  # (B, 3, 3)
    translation: torch.Tensor  # (B, 3)
    shape: torch.Tensor  # (B, K)
    expr: torch.Tensor  # (B, E)
    vertex_ids: torch.Tensor  # (B, L) correspondences used in the last iteration
    residual_px: torch.Tensor  # (B,) RMS residual in pixels over weighted landmarks
    scale: torch.Tensor  # (B,) landmarks' box size sqrt(w * h)


def _init_pose(
    fm: FaceModelTensors, pts: torch.Tensor, ids: torch.Tensor, w: torch.Tensor, focal: torch.Tensor, centre: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weak-perspective affine fit of the mean shape, turned into a rotation and a translation."""
    x = fm.mean[ids] if ids.dim() == 2 else fm.mean[ids].expand(pts.shape[0], -1, -1)
    xh = torch.cat([x, torch.ones_like(x[..., :1])], -1) * w[..., None]
    a = torch.linalg.lstsq(xh, pts * w[..., None]).solution  # (B, 4, 2)
    r1, r2 = a[:, :3, 0], a[:, :3, 1]
    s = 0.5 * (r1.norm(dim=1) + r2.norm(dim=1))
    row0 = r1 / r1.norm(dim=1, keepdim=True)
    row1 = -r2 / r2.norm(dim=1, keepdim=True)  # image v grows downward, model y upward
    row2 = torch.cross(row0, row1, dim=1)
    u, _, vh = torch.linalg.svd(torch.stack([row0, row1, row2], 1))
    rot = u @ vh
    det = torch.linalg.det(rot)
    rot = torch.where(det[:, None, None] < 0, u @ torch.diag_embed(torch.tensor([1.0, 1.0, -1.0]).expand(len(u), 3)) @ vh, rot)
    tz = focal / s
    off = a[:, 3, :] - centre
    t = torch.stack([off[:, 0] * tz / focal, off[:, 1] * tz / focal, tz], 1)
    return rot, t


def _add_pitch_term(
    h: torch.Tensor, g: torch.Tensor, rot: torch.Tensor, target: torch.Tensor, sigma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gauss-Newton normal equations with the residual ``(pitch(rot) - target) / sigma`` added
    (faces whose target is NaN untouched). Pitch is ``-atan2(R21, R22)`` in degrees; the update
    ``R <- exp([w]x) R`` moves row 2 of ``R`` by ``-w_y R0 + w_x R1``."""
    y, x = rot[:, 2, 1], rot[:, 2, 2]
    n2 = (x * x + y * y).clamp_min(1e-12)
    k = -180.0 / torch.pi / n2
    jac = torch.zeros_like(g)
    jac[:, 0] = k * (x * rot[:, 1, 1] - y * rot[:, 1, 2])
    jac[:, 1] = k * (-x * rot[:, 0, 1] + y * rot[:, 0, 2])
    res = -torch.rad2deg(torch.atan2(y, x)) - target
    use = torch.isfinite(target)
    jac = torch.where(use[:, None], jac / sigma, torch.zeros_like(jac))
    res = torch.where(use, res / sigma, torch.zeros_like(res))
    return h + jac[:, :, None] * jac[:, None, :], g + jac * res[:, None]


def _contour_slots(
    model_ids: np.ndarray, contour_right: np.ndarray, contour_left: np.ndarray, ibug_positions: np.ndarray | None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(landmark positions, candidate vertices) per side for the correspondences in use."""
    if ibug_positions is None:
        return []
    out = []
    for slots, cand in ((IBUG_CONTOUR_RIGHT, contour_right), (IBUG_CONTOUR_LEFT, contour_left)):
        pos = np.array([np.where(ibug_positions == s)[0][0] for s in slots if s in ibug_positions], np.int64)
        if cand.size and pos.size:
            out.append((pos, cand.astype(np.int64)))
    return out


def fit_landmarks(
    fm: FaceModelTensors,
    points: torch.Tensor,
    vertex_ids: np.ndarray,
    weights: torch.Tensor,
    focal: torch.Tensor,
    centre: torch.Tensor,
    options: LandmarkFitOptions | None = None,
    ibug_positions: np.ndarray | None = None,
    pitch_target: torch.Tensor | None = None,
) -> LandmarkFitState:
    """Fit a batch of faces to 2D landmarks.

    (Long on purpose: one Gauss-Newton loop whose per-iteration tensors — correspondences,
    residuals, Jacobians, weights — feed each other; split up, the update would no longer read as
    the algorithm.)

    Args:
        fm: the tensor model.
        points: (B, L, 2) observed landmarks in pixels.
        vertex_ids: (L,) model vertex per landmark (-1: unused).
        weights: (B, L) per-landmark weights (0 for missing points).
        focal: (B,) focal lengths in pixels; centre: (B, 2) principal points.
        ibug_positions: (L,) iBUG-68 index of each landmark when contour handling applies, else None.
        pitch_target: (B,) pitch in degrees each face's pose is held to (a residual of
            ``options.pitch_sigma`` degrees weighs as one landmark off by ``sigma``); NaN: free.
    """
    opt = options or LandmarkFitOptions()
    dt = fm.mean.dtype
    if pitch_target is not None and not bool(torch.isfinite(pitch_target).any()):
        pitch_target = None  # no face held: the free fit
    b, n_l = points.shape[:2]
    vid = np.asarray(vertex_ids, np.int64)
    w = weights.to(dt) * torch.as_tensor(vid >= 0, dtype=dt)[None]
    ids = torch.as_tensor(np.where(vid >= 0, vid, 0)).expand(b, n_l).clone()
    base_ids = ids.clone()
    shared_basis = fm.basis()[ids[0]]  # (L, 3, K) used when no correspondence changes per face
    shared_mean = fm.mean[ids[0]]
    pts = points.to(dt)
    box = pts.amax(1) - pts.amin(1)
    scale = (box[:, 0] * box[:, 1]).clamp_min(1.0).sqrt()
    sig = (opt.sigma * scale)[:, None]
    k, e = fm.n_shape, fm.n_expr
    basis = fm.basis()
    slots = _contour_slots(vid, fm.model.contour_right, fm.model.contour_left, ibug_positions) if opt.contour else []

    rot, t = _init_pose(fm, pts, ids, w, focal, centre)
    coeff = torch.zeros(b, k + e, dtype=dt)
    prior = torch.cat(
        [torch.zeros(6, dtype=dt), torch.full((k,), opt.shape_prior, dtype=dt), torch.full((e,), opt.expr_prior, dtype=dt)]
    )
    flip = _FLIP.to(dt)
    eye3 = torch.eye(3, dtype=dt)
    total = opt.rigid_iterations + opt.iterations
    for it in range(total):
        rigid = it < opt.rigid_iterations
        if slots and it >= 1:  # re-choose contour correspondences for the current pose
            yaw = torch.rad2deg(torch.asin((-rot[:, 2, 0]).clamp(-1, 1)))
            for side, (pos, cand) in enumerate(slots):
                # the far side's jaw is the occluding contour once the head is turned; the near
                # side's jaw line (and both sides of a frontal face) stay on the default vertices
                far = (yaw > opt.contour_yaw) if side == 0 else (yaw < -opt.contour_yaw)
                if opt.contour_sides == "both":
                    far = torch.ones_like(far)
                if not bool(far.any()):
                    continue
                cand_t = torch.as_tensor(cand)
                xc = fm.mean[cand_t] + torch.einsum("cdk,bk->bcd", basis[cand_t], coeff)
                pc = project_batch((xc @ rot.transpose(1, 2)) * flip + t[:, None], focal, centre)  # (B, C, 2)
                d = (pts[:, pos, None, :] - pc[:, None, :, :]).pow(2).sum(-1)  # (B, P, C)
                chosen = cand_t[d.argmin(-1)]
                ids[:, pos] = torch.where(far[:, None], chosen, base_ids[:, pos])
        w_it = w
        if opt.occlusion_weighting > 0 and ibug_positions is None and it >= 1:
            verts = fm.mean + torch.einsum("nck,bk->bnc", basis, coeff)
            nz = vertex_normals(verts @ rot.transpose(1, 2), fm.triangles)[..., 2]  # view-frame z of the normals
            facing = torch.gather(nz, 1, ids).clamp(0.0, 0.3) / 0.3  # 1 when facing, 0 when edge-on or away
            w_it = w * (1 - opt.occlusion_weighting + opt.occlusion_weighting * (0.05 + 0.95 * facing))
        if slots:  # per-face correspondences
            b_l = basis[ids]  # (B, L, 3, K)
            x = fm.mean[ids] + torch.einsum("blck,bk->blc", b_l, coeff)
        else:  # one set for the whole batch: gather once
            b_l = shared_basis
            x = shared_mean + torch.einsum("lck,bk->blc", b_l, coeff)
        y = x @ rot.transpose(1, 2)
        p = y * flip + t[:, None]
        z = p[..., 2].clamp_min(1e-3)
        proj = project_batch(p, focal, centre)
        r = ((proj - pts) * (w_it[..., None].sqrt() / sig[..., None])).reshape(b, 2 * n_l)
        # d proj / d p: (B, L, 2, 3)
        fz = focal[:, None] / z
        dproj = torch.zeros(b, n_l, 2, 3, dtype=dt)
        dproj[..., 0, 0] = fz
        dproj[..., 1, 1] = fz
        dproj[..., 0, 2] = -fz * p[..., 0] / z
        dproj[..., 1, 2] = -fz * p[..., 1] / z
        # d p / d omega = F (-[y]x)
        yx = torch.zeros(b, n_l, 3, 3, dtype=dt)
        yx[..., 0, 1], yx[..., 0, 2] = y[..., 2], -y[..., 1]
        yx[..., 1, 0], yx[..., 1, 2] = -y[..., 2], y[..., 0]
        yx[..., 2, 0], yx[..., 2, 1] = y[..., 1], -y[..., 0]
        dp_dw = yx * flip[:, None]
        dp_dt = eye3.expand(b, n_l, 3, 3)
        parts = [dp_dw, dp_dt]
        if not rigid:
            if slots:
                dp_dc = torch.einsum("bij,bljk->blik", rot, b_l) * flip[:, None]
            else:
                dp_dc = torch.einsum("bij,ljk->blik", rot, b_l) * flip[:, None]
            parts.append(dp_dc)
        dp = torch.cat(parts, -1)  # (B, L, 3, P')
        jac = (dproj @ dp) * (w_it[..., None, None].sqrt() / sig[..., None, None])
        jac = jac.reshape(b, 2 * n_l, -1)
        m = jac.shape[-1]
        h = jac.transpose(1, 2) @ jac
        g = (jac.transpose(1, 2) @ r[..., None])[..., 0]
        if pitch_target is not None:
            h, g = _add_pitch_term(h, g, rot, pitch_target.to(dt), opt.pitch_sigma)
        if not rigid:
            h = h + torch.diag(prior[:m])
            g = g + torch.cat([torch.zeros(b, 6, dtype=dt), coeff], 1) * prior[:m]
        h = h + opt.damping * torch.diag_embed(torch.diagonal(h, dim1=1, dim2=2)) + 1e-9 * torch.eye(m, dtype=dt)
        delta = -torch.linalg.solve(h, g[..., None])[..., 0]
        rot = axis_angle_to_matrix(delta[:, :3]) @ rot
        t = t + delta[:, 3:6]
        if not rigid:
            coeff = coeff + delta[:, 6:]
    # final residual with the final parameters
    x = fm.mean[ids] + torch.einsum("blck,bk->blc", basis[ids], coeff)
    proj = project_batch((x @ rot.transpose(1, 2)) * flip + t[:, None], focal, centre)
    res = ((proj - pts).pow(2).sum(-1) * w).sum(1) / w.sum(1).clamp_min(1)
    return LandmarkFitState(rot, t, coeff[:, :k], coeff[:, k:], ids, res.sqrt(), scale)
