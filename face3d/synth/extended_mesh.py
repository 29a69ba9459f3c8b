"""The extended mesh that carries the frame, in the manner of face profiling (3DDFA/HPEN).

Rings of anchor points around the face outline, back-projected to depths behind the face, rotate
with the head with a weight that fades from 0.85 next to the face to 0 at the image border, where
anchors stay fixed. The photo (its background plate, :mod:`.plate`) is the texture of that mesh, so
the frame deforms continuously: the face's outline is shared by the face render and the background
mesh, and nothing tears at the boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..camera import PerspectiveCamera
from ..render import MeshRenderer, pixel_attributes

#: The anchor rings around the face outline: their sizes (multiples of the outline about its centre)
#: and how much each turns with the head (1: with the face, 0: fixed like the frame's border).
RING_SCALES = (1.25, 1.6, 2.2)
RING_WEIGHTS = (0.85, 0.5, 0.2)
DEPTH_FACTOR = 1.0  # ring depth behind the outline per unit of ring scale, in face widths
#: The background warp is computed on a grid this many times coarser and upsampled (bilinear):
#: it is piecewise affine and continuous, so the difference stays below a tenth of a pixel
#: except along folds of the extended mesh.
BG_WARP_STEP = 2
#: ... and on a grid no larger than this on its longer side (large photos: a coarser step).
BG_WARP_MAX_SIDE = 1024
#: The background warp reads the photo no nearer than this fraction of the frame's size to its
#: edge: where a head turns away from an edge the band next to it stretches several-fold, and the
#: edge's own pixels (an anti-aliased padding fringe) would be drawn out into streaks.
EDGE_MARGIN = 0.015


def _outline_anchors(
    src_cam: np.ndarray, outline: np.ndarray, cam: PerspectiveCamera
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source 2D positions (pixel centres), camera-space 3D positions and rotation weights of the
    extended mesh's anchor points: the face outline, rings around it, and the image border."""
    width, height = cam.width, cam.height
    o2, o3 = cam.to_pixels(src_cam[outline]), src_cam[outline]
    centre2 = o2.mean(0)
    width_mm = float(np.ptp(src_cam[:, 0]))
    pts2, pts3, wts = [o2], [o3], [np.ones(len(o2))]
    for s, wgt in zip(RING_SCALES, RING_WEIGHTS):
        r2 = centre2 + s * (o2 - centre2)
        depth = o3[:, 2] + (s - 1.0) * DEPTH_FACTOR * width_mm  # behind the face outline: the head's sides
        r3 = cam.from_pixels(r2, depth)
        pts2.append(r2)
        pts3.append(r3)
        # below the face is the neck and body: they follow the head much less than hair and ears
        down = np.clip((r2[:, 1] - centre2[1]) / np.maximum(np.linalg.norm(r2 - centre2, axis=1), 1e-6), 0, 1)
        wts.append(wgt * (1 - 0.75 * down))
    nb = 8
    xs, ys = np.linspace(-0.5, width - 0.5, nb + 1), np.linspace(-0.5, height - 0.5, nb + 1)
    border = np.concatenate(
        [
            np.stack([xs, np.full_like(xs, ys[0])], 1),
            np.stack([xs, np.full_like(xs, ys[-1])], 1),
            np.stack([np.full_like(ys[1:-1], xs[0]), ys[1:-1]], 1),
            np.stack([np.full_like(ys[1:-1], xs[-1]), ys[1:-1]], 1),
        ]
    )
    pts2.append(border)
    pts3.append(np.zeros((len(border), 3)))
    wts.append(np.zeros(len(border)))
    p2a, p3a, wa = np.concatenate(pts2), np.concatenate(pts3), np.concatenate(wts)
    # keep anchors inside the frame (rings of faces near the border would leave it); an anchor
    # moved onto the border is pinned there like the border's own, so the frame's edge stays put
    inside = p2a.copy()
    inside[:, 0] = np.clip(p2a[:, 0], -0.5, width - 0.5)
    inside[:, 1] = np.clip(p2a[:, 1], -0.5, height - 0.5)
    wa[(inside != p2a).any(1)] = 0.0
    return inside, p3a, wa


def _unfold(
    p2s: np.ndarray,
    p2t: np.ndarray,
    weights: np.ndarray,
    n_out: int,
    n_rings: int,
    keep: float = 0.3,
    frame: tuple[int, int] | None = None,
) -> np.ndarray:
    """Keep the extended mesh from folding over: along each ray from the face's centre, every ring
    stays outside the ring within it by at least ``keep`` of their spacing in the photo (a ring
    that rotates at a greater depth than the face outline can otherwise overtake it at large
    angles, and the triangles between them flip), and no ring leaves the ``frame`` (width,
    height), whose border anchors stay put. Pinned anchors (weight 0) do not move."""
    c_s, c_t = p2s[:n_out].mean(0), p2t[:n_out].mean(0)
    u = p2s[:n_out] - c_s
    u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-9)
    prev_s = ((p2s[:n_out] - c_s) * u).sum(1)
    prev_t = ((p2t[:n_out] - c_t) * u).sum(1)
    out = p2t.copy()
    for k in range(1, n_rings + 1):
        sl = slice(k * n_out, (k + 1) * n_out)
        r_s = ((p2s[sl] - c_s) * u).sum(1)
        r_t = ((out[sl] - c_t) * u).sum(1)
        deficit = np.maximum(prev_t + keep * np.maximum(r_s - prev_s, 0) - r_t, 0) * (weights[sl] > 0)
        out[sl] += deficit[:, None] * u
        prev_s, prev_t = r_s, r_t + deficit
    if frame is not None:
        moving = weights > 0
        out[moving, 0] = np.clip(out[moving, 0], -0.5, frame[0] - 0.5)
        out[moving, 1] = np.clip(out[moving, 1], -0.5, frame[1] - 0.5)
    return out


@dataclass
class BackgroundMesh:
    """The extended mesh that carries the frame, built once per source photo: anchor points in the
    photo (``points2d``), their camera-space positions (``points3d``), how much each follows the
    head (``weights``), its triangles and the depth order used where it folds. The first
    ``n_outline`` anchors are the face outline's vertices."""

    points2d: np.ndarray
    points3d: np.ndarray
    weights: np.ndarray
    triangles: np.ndarray
    order: np.ndarray
    n_outline: int


def delaunay(points: np.ndarray) -> np.ndarray:
    """(T, 3) Delaunay triangles over (N, 2) points (OpenCV's Subdiv2D: every worker has OpenCV
    loaded already, while importing scipy.spatial costs a quarter of a second). Repeated points
    are used once."""
    import cv2

    p32 = np.asarray(points, np.float32)
    lo, hi = np.floor(p32.min(0)) - 2, np.ceil(p32.max(0)) + 2
    sub = cv2.Subdiv2D((int(lo[0]), int(lo[1]), int(hi[0] - lo[0]) + 1, int(hi[1] - lo[1]) + 1))
    index: dict[tuple[float, float], int] = {}
    for i, (x, y) in enumerate(p32.tolist()):
        if (x, y) not in index:
            index[(x, y)] = i
            sub.insert((x, y))
    tris = []
    for t in sub.getTriangleList().astype(np.float32).reshape(-1, 3, 2).tolist():
        ids = [index.get((a, b)) for a, b in t]
        if None not in ids:  # drop triangles on Subdiv2D's outer, virtual vertices
            tris.append(ids)
    return np.array(tris, np.int64).reshape(-1, 3)


def background_mesh(src_cam: np.ndarray, outline: np.ndarray, cam: PerspectiveCamera) -> BackgroundMesh:
    """The extended mesh of a source photo (``src_cam``: the fitted render mesh in camera space;
    ``outline``: its outline's vertex indices)."""
    p2s, p3s, wts = _outline_anchors(src_cam, outline, cam)
    n_out = len(outline)
    # all anchors of one ring share a depth, nearer rings in front where the mesh folds
    order = np.concatenate(
        [
            np.full(n_out, 1.0),
            *[np.full(n_out, 2.0 + i) for i in range(len(RING_SCALES))],
            np.full(len(p2s) - n_out * (1 + len(RING_SCALES)), 10.0),
        ]
    )
    return BackgroundMesh(p2s, p3s, wts, delaunay(p2s), order, n_out)


def moved_anchors(
    bg: BackgroundMesh, cam: PerspectiveCamera, head_turn: np.ndarray, translation: np.ndarray, outline_cam: np.ndarray
) -> np.ndarray:
    """(N, 2) pixel-centre positions of the extended mesh's anchors in the view: each anchor turns
    with the head (``head_turn``: the camera-space rotation from the photo's pose to the view's,
    about the head at ``translation``) by its weight; the face outline follows the rendered face
    exactly (``outline_cam``: its vertices in camera space at the view's pose); the mesh is kept
    from folding and within the frame (:func:`_unfold`)."""
    moved = cam.to_pixels((bg.points3d - translation) @ head_turn.T + translation)
    moved[: bg.n_outline] = cam.to_pixels(outline_cam)
    w = bg.weights[:, None]
    return _unfold(
        bg.points2d, (1 - w) * bg.points2d + w * moved, bg.weights, bg.n_outline, len(RING_SCALES), frame=(cam.width, cam.height)
    )


def warp_frame(plate: np.ndarray, bg: BackgroundMesh, targets: np.ndarray, renderer: MeshRenderer) -> np.ndarray:
    """The frame of the view: ``plate`` (the photo, face inpainted) carried by the extended mesh
    from its anchors' places in the photo to ``targets`` (:func:`moved_anchors`). The warp is
    piecewise affine: it is worked out on a grid :data:`BG_WARP_STEP` times coarser (at most
    :data:`BG_WARP_MAX_SIDE` px) and upsampled."""
    import cv2

    h, w = plate.shape[:2]
    step = max(BG_WARP_STEP, -(-max(h, w) // BG_WARP_MAX_SIDE))
    hs, ws = -(-h // step), -(-w // step)
    k = np.array([ws / w, hs / h])
    coarse = (targets + 0.5) * k - 0.5  # the same points on the coarse grid (pixel centres as cv2.resize)
    # the depths only order folds; the warp itself is affine per triangle (screen-linear)
    scr = torch.as_tensor(np.concatenate([coarse, bg.order[:, None]], 1), dtype=torch.float32)
    tri = torch.as_tensor(bg.triangles)
    frags = renderer.rasterize(scr, tri, hs, ws, cull_backfaces=False, perspective_correct=False)
    src_xy = pixel_attributes(frags, tri, torch.as_tensor(bg.points2d, dtype=torch.float32)).numpy()
    covered = frags.mask.numpy()
    if covered.all():  # the extended mesh reaches the image border: it covers every pixel
        warp = src_xy.reshape(hs, ws, 2)
    else:
        gx = (np.arange(ws, dtype=np.float32) + 0.5) / k[0] - 0.5
        gy = (np.arange(hs, dtype=np.float32) + 0.5) / k[1] - 0.5
        warp = np.stack(np.meshgrid(gx, gy), -1).astype(np.float32)
        warp[covered] = src_xy
    if (hs, ws) != (h, w):
        warp = cv2.resize(warp, (w, h), interpolation=cv2.INTER_LINEAR)
    m = EDGE_MARGIN * min(h, w)
    np.clip(warp[..., 0], m, w - 1 - m, out=warp[..., 0])
    np.clip(warp[..., 1], m, h - 1 - m, out=warp[..., 1])
    return cv2.remap(plate, np.ascontiguousarray(warp, dtype=np.float32), None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
