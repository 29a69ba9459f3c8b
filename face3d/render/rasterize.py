"""A vectorised triangle rasteriser in torch (CPU or GPU, no compile step).

Produces the buffers PyTorch3D's rasteriser produces: per pixel the index of the nearest face
(-1 for background), its barycentric coordinates and depth. Triangles are binned by the size of
their screen bounding box; each bin is tested against all pixels of its boxes at once and the
nearest fragment per pixel wins through a ``scatter_reduce`` min. Barycentrics are returned as a
differentiable function of the screen-space vertices.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Fragments:
    """Rasterisation buffers of one image: ``face`` (H, W) long, ``bary`` (H, W, 3), ``depth`` (H, W)
    (camera z; +inf for background), ``mask`` (H, W) bool."""

    face: torch.Tensor
    bary: torch.Tensor
    depth: torch.Tensor

    @property
    def mask(self) -> torch.Tensor:
        return self.face >= 0


def rasterize(
    screen: torch.Tensor,
    triangles: torch.Tensor,
    height: int,
    width: int,
    cull_backfaces: bool = True,
    backend: str = "auto",
    perspective_correct: bool = True,
) -> Fragments:
    """Rasterise one mesh.

    Args:
        screen: (N, 3) vertices as (x pixel, y pixel, camera depth z > 0).
        triangles: (T, 3) long vertex indices.
        cull_backfaces: drop triangles facing away (counter-clockwise in model space appears
            clockwise on screen because the image's y axis points down).
        backend: ``"numba"`` (compiled scan loop, CPU), ``"torch"`` (vectorised, any device) or
            ``"auto"`` (numba for CPU tensors when it is installed).
        perspective_correct: barycentrics corrected for depth (a 3D mesh's); ``False``: affine in
            screen space (a 2D mesh whose depths only order its folds, such as a warp).
    """
    from ._scan import scan

    if backend == "numba" or (backend == "auto" and scan is not None and screen.device.type == "cpu"):
        if scan is None:
            raise ImportError("the numba rasteriser needs numba (pip install numba)")
        from ._scan import scan_buffers, screen_linear_barycentrics

        face_np, depth_np, bary_np = scan_buffers(
            screen.detach().cpu().numpy(), triangles.cpu().numpy(), height, width, cull_backfaces
        )
        face = torch.from_numpy(face_np)
        if screen.requires_grad:
            bary = barycentrics(screen, triangles, face, perspective_correct)
        elif not perspective_correct:
            bary = torch.from_numpy(screen_linear_barycentrics(face_np, screen.detach().cpu().numpy(), triangles.cpu().numpy()))
        else:
            bary = torch.from_numpy(bary_np)
        return Fragments(face, bary.to(screen.dtype), torch.from_numpy(depth_np).to(screen.dtype))
    frags = _rasterize_torch(screen, triangles, height, width, cull_backfaces)
    if not perspective_correct:
        frags = Fragments(frags.face, barycentrics(screen, triangles, frags.face, False), frags.depth)
    return frags


def _rasterize_torch(screen: torch.Tensor, triangles: torch.Tensor, height: int, width: int, cull_backfaces: bool) -> Fragments:
    """The vectorised torch rasteriser (CPU or GPU)."""
    dev = screen.device
    with torch.no_grad():
        s = screen.detach()
        tri = s[triangles]  # (T, 3, 3)
        x, y, z = tri[..., 0], tri[..., 1], tri[..., 2]
        area = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0])
        keep = (z.min(1).values > 0) & (area.abs() > 1e-12)
        if cull_backfaces:
            keep &= area < 0
        x0 = x.min(1).values.ceil().clamp(0, width - 1)
        x1 = x.max(1).values.floor().clamp(-1, width - 1)
        y0 = y.min(1).values.ceil().clamp(0, height - 1)
        y1 = y.max(1).values.floor().clamp(-1, height - 1)
        keep &= (x1 >= x0) & (y1 >= y0)
        idx = torch.nonzero(keep).squeeze(1)
        zbuf = torch.full((height * width,), float("inf"), device=dev)
        fbuf = torch.full((height * width,), -1, dtype=torch.long, device=dev)
        bw = (x1 - x0 + 1).long()
        bh = (y1 - y0 + 1).long()
        size = torch.maximum(bw, bh)
        cand_pix, cand_face, cand_z = [], [], []
        lo = 0
        for hi in (2, 4, 8, 16, 32, 64, 128, 256, 512, 1 << 30):
            sel = idx[(size[idx] > lo) & (size[idx] <= hi)]
            lo = hi
            if sel.numel() == 0:
                continue
            side = int(size[sel].max())
            off = torch.arange(side, device=dev)
            px = x0[sel, None, None] + off[None, None, :]  # (S, 1, side)
            py = y0[sel, None, None] + off[None, :, None]  # (S, side, 1)
            px, py = torch.broadcast_to(px, (len(sel), side, side)), torch.broadcast_to(py, (len(sel), side, side))
            tx, ty, tz = x[sel][:, :, None, None], y[sel][:, :, None, None], z[sel][:, :, None, None]
            a = area[sel][:, None, None]
            w0 = ((tx[:, 1] - px) * (ty[:, 2] - py) - (tx[:, 2] - px) * (ty[:, 1] - py)) / a
            w1 = ((tx[:, 2] - px) * (ty[:, 0] - py) - (tx[:, 0] - px) * (ty[:, 2] - py)) / a
            w2 = 1 - w0 - w1
            eps = -1e-5  # pixels exactly on a shared edge belong to both triangles despite rounding
            inside = (w0 >= eps) & (w1 >= eps) & (w2 >= eps) & (px <= x1[sel, None, None]) & (py <= y1[sel, None, None])
            # perspective-correct depth: interpolate 1/z
            zz = 1.0 / (w0 / tz[:, 0] + w1 / tz[:, 1] + w2 / tz[:, 2])
            f = torch.broadcast_to(sel[:, None, None], inside.shape)
            cand_pix.append((py * width + px).long()[inside])
            cand_face.append(f[inside])
            cand_z.append(zz[inside])
        if cand_pix:
            pix, fac, dep = torch.cat(cand_pix), torch.cat(cand_face), torch.cat(cand_z)
            zbuf.scatter_reduce_(0, pix, dep, reduce="amin")
            win = dep <= zbuf[pix]
            fbuf[pix[win]] = fac[win]
        face = fbuf.view(height, width)
        depth = zbuf.view(height, width)
    bary = barycentrics(screen, triangles, face)
    return Fragments(face, bary, depth)


def barycentrics(
    screen: torch.Tensor, triangles: torch.Tensor, face: torch.Tensor, perspective_correct: bool = True
) -> torch.Tensor:
    """(H, W, 3) perspective-correct (or, ``False``, screen-affine) barycentric coordinates of
    pixel centres in ``face``, differentiable with respect to ``screen`` (zero for background)."""
    h, w = face.shape
    dev = screen.device
    valid = face >= 0
    fi = face[valid]
    ys, xs = torch.nonzero(valid, as_tuple=True)
    t = screen[triangles[fi]]  # (P, 3, 3)
    px, py = xs.to(screen.dtype), ys.to(screen.dtype)
    x, y, z = t[..., 0], t[..., 1], t[..., 2]
    a = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0])
    w0 = ((x[:, 1] - px) * (y[:, 2] - py) - (x[:, 2] - px) * (y[:, 1] - py)) / a
    w1 = ((x[:, 2] - px) * (y[:, 0] - py) - (x[:, 0] - px) * (y[:, 2] - py)) / a
    w2 = 1 - w0 - w1
    lin = torch.stack([w0, w1, w2], -1)
    if perspective_correct:
        lin = lin / z
        lin = lin / lin.sum(-1, keepdim=True)
    out = torch.zeros(h, w, 3, dtype=screen.dtype, device=dev)
    out = out.index_put((ys, xs), lin)
    return out


def interpolate(fragments: Fragments, triangles: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
    """(H, W, C) per-pixel interpolation of (N, C) vertex attributes (zero for background)."""
    return scatter(fragments, pixel_attributes(fragments, triangles, attributes))


def pixel_attributes(fragments: Fragments, triangles: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
    """(P, C) interpolated attributes at the P covered pixels, in ``fragments.mask`` order."""
    m = fragments.mask
    if not (attributes.requires_grad or fragments.bary.requires_grad) and attributes.device.type == "cpu":
        from ._scan import gather

        if gather is not None:  # compiled loop: no (P, 3, C) temporaries
            from ._scan import gather_attributes

            out = gather_attributes(
                fragments.face.numpy(),
                fragments.bary.detach().numpy(),
                triangles.numpy(),
                attributes.detach().numpy(),
                int(m.sum()),
            )
            return torch.from_numpy(out).to(attributes.dtype)
    tri_attr = attributes[triangles[fragments.face[m]]]  # (P, 3, C)
    return torch.einsum("pk,pkc->pc", fragments.bary[m].to(attributes.dtype), tri_attr)


def scatter(fragments: Fragments, values: torch.Tensor) -> torch.Tensor:
    """(H, W, C) image holding (P, C) per-covered-pixel ``values``, zero elsewhere."""
    h, w = fragments.face.shape
    out = torch.zeros(h, w, values.shape[-1], dtype=values.dtype, device=values.device)
    return out.masked_scatter(fragments.mask[..., None].expand(-1, -1, values.shape[-1]), values)
