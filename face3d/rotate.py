"""Rotate and relight a fitted face into a complete, photo-sized image.

The face is re-rendered at the target pose and lighting: what the photo saw of each face pixel
comes straight from the photo (found where that surface point was in it, one resampling, re-lit by
the ratio of the new irradiance to the photo's), the rest from the completed UV texture
(:mod:`face3d.texture`: mirrored and inpainted). Everything else in the frame — hair, ears, neck, background — is carried along by
an *extended mesh* in the manner of face profiling (3DDFA/HPEN): rings of anchor points around the
face outline, back-projected to depths behind the face, rotate with the head with a weight that
fades from 0.85 next to the face to 0 at the image border, where anchors stay fixed. The
photo is the texture of that mesh, so the frame deforms continuously: the face's outline is
shared by the face render and the background mesh, and nothing tears at the boundary.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .camera import FLIP, euler_to_matrix, matrix_to_euler
from .inpaint import push_pull
from .landmarks.base import box_of
from .model import MorphableModel
from .region import face_region, upsample_window
from .render import Fragments, MeshRenderer, barycentrics, pixel_attributes, rasterize, to_screen
from .result import FitResult
from .shading import ambient, directional, vertex_normals
from .texture import BACKGROUND, UVTexture, extract_texture
from .topology import render_mesh

#: Named lighting presets: a distant light from a direction in the view frame (x right, y up,
#: z toward the camera) plus ambient; scaled to the brightness of the photo's own lighting.
#: ``keep``: the photo's fitted lighting, attached to the head — the face keeps the shading it has
#: in the photo, so what the photo saw renders as the photo showed it (only mirrored texels are
#: re-lit: illumination compensation). ``scene``: the photo's fitted lighting fixed in the scene,
#: so a face turned away from the light darkens (a Lambertian re-light of the de-lit texture).
LIGHT_PRESETS: dict[str, tuple[tuple[float, float, float], float, float] | None] = {
    "keep": None,
    "scene": None,
    "ambient": ((0.0, 0.0, 1.0), 0.0, 1.0),
    "front": ((0.0, 0.2, 1.0), 0.55, 0.55),
    "left": ((-0.9, 0.2, 0.5), 0.6, 0.5),
    "right": ((0.9, 0.2, 0.5), 0.6, 0.5),
    "top": ((0.0, 0.9, 0.5), 0.6, 0.5),
    "bottom": ((0.0, -0.8, 0.6), 0.5, 0.55),
}

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
#: edge. Where a head turns away from a frame edge, the band between its outer ring and the edge's
#: fixed anchors stretches several-fold, and the edge's own pixels — a funneled crop's
#: anti-aliased padding fringe, too thin to find as padding — became streaks and spikes.
EDGE_MARGIN = 0.015
#: How far (a fraction of the face's width) the background plate's fill continues the photo's
#: edge colours before it fades into the smooth fill.
EDGE_FILL = 0.15
#: Radius (pixels of the 64-pixel image it runs on) of the padding fill's edge-continuing inpainting.
PAD_INPAINT_RADIUS = 3

#: The frame's padding has an anti-aliased, JPEG-ringed edge this fraction of the frame's size
#: wide (on 172 LFW crops, pixels within 5 px of pure-black padding are dark 2-3x as often as the
#: scene further in, 6-7 px: 1.3x): :func:`frame_padding` trusts its looser test that near the
#: pure black, and the background plate fills that much around the padding.
PAD_FRINGE = 0.06


@dataclass
class RotatedView:
    """One synthesised view.

    Attributes:
        image: (H, W, 3) uint8 RGB, the full frame.
        pose: (yaw, pitch, roll) achieved, degrees (facerot convention).
        landmarks68: (68, 2) model landmarks at the new pose, pixels.
        box: (x0, y0, x1, y1) face box at the new pose.
        provenance: (H, W) uint8 per pixel: 0 background (warped photo), 1 seen, 2 mirrored, 3 inpainted.
        face_mask: (H, W) float32 in [0, 1], the face render's coverage.
        lighting: (9, 3) SH lighting of the face render.
    """

    image: np.ndarray
    pose: tuple[float, float, float]
    landmarks68: np.ndarray
    box: tuple[float, float, float, float]
    provenance: np.ndarray
    face_mask: np.ndarray
    lighting: np.ndarray
    source_pose: tuple[float, float, float] = (0.0, 0.0, 0.0)
    extra: dict[str, Any] = field(default_factory=dict)


def lighting_from(spec: str | np.ndarray | None, reference: np.ndarray | None) -> np.ndarray:
    """(9, 3) SH lighting from a preset name, explicit coefficients, or ``None``/``"keep"``/
    ``"scene"`` (the photo's fitted lighting). Presets take the reference lighting's overall level."""
    ref = reference if reference is not None else ambient(1.0)
    if spec is None or (isinstance(spec, str) and spec in ("keep", "scene")):
        return np.asarray(ref, np.float32)
    if isinstance(spec, str):
        if spec not in LIGHT_PRESETS:
            raise ValueError(f"unknown lighting preset {spec!r}; choose one of {', '.join(LIGHT_PRESETS)}")
        direction, strength, amb = LIGHT_PRESETS[spec]  # type: ignore[misc]
        sh = directional(direction, strength, amb)
        level = np.asarray(ref)[0] / max(float(sh[0, 0]), 1e-6)  # match the photo's brightness per channel
        return (sh * level[None, :]).astype(np.float32)
    sh = np.asarray(spec, np.float32)
    if sh.shape != (9, 3):
        raise ValueError(f"lighting coefficients must have shape (9, 3), got {sh.shape}")
    return sh


def target_rotation(fit: FitResult, yaw: float | None, pitch: float | None, roll: float | None,
                    relative: bool) -> np.ndarray:
    """Rotation matrix of the target pose. Absolute: unspecified angles keep the source's. Relative:
    the angles are added to the source's (delta yaw/pitch/roll)."""
    y0, p0, r0 = fit.pose
    if relative:
        return euler_to_matrix(y0 + (yaw or 0.0), p0 + (pitch or 0.0), r0 + (roll or 0.0))
    return euler_to_matrix(y0 if yaw is None else yaw, p0 if pitch is None else pitch, r0 if roll is None else roll)


def _outline_anchors(src_cam: np.ndarray, outline: np.ndarray, width: int, height: int, focal: float, cx: float,
                     cy: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source 2D positions, camera-space 3D positions and rotation weights of the extended mesh's
    anchor points: the face outline, rings around it, and the image border."""
    z = np.maximum(src_cam[:, 2:3], 1e-6)
    p2 = src_cam[:, :2] / z * focal + np.array([cx, cy]) - 0.5
    o2, o3 = p2[outline], src_cam[outline]
    centre2 = o2.mean(0)
    width_mm = float(np.ptp(src_cam[:, 0]))
    pts2, pts3, wts = [o2], [o3], [np.ones(len(o2))]
    for s, wgt in zip(RING_SCALES, RING_WEIGHTS):
        r2 = centre2 + s * (o2 - centre2)
        depth = o3[:, 2] + (s - 1.0) * DEPTH_FACTOR * width_mm  # behind the face outline: the head's sides
        r3 = np.stack([(r2[:, 0] + 0.5 - cx) / focal * depth, (r2[:, 1] + 0.5 - cy) / focal * depth, depth], 1)
        pts2.append(r2)
        pts3.append(r3)
        # below the face is the neck and body: they follow the head much less than hair and ears
        down = np.clip((r2[:, 1] - centre2[1]) / np.maximum(np.linalg.norm(r2 - centre2, axis=1), 1e-6), 0, 1)
        wts.append(wgt * (1 - 0.75 * down))
    nb = 8
    xs, ys = np.linspace(-0.5, width - 0.5, nb + 1), np.linspace(-0.5, height - 0.5, nb + 1)
    border = np.concatenate([np.stack([xs, np.full_like(xs, ys[0])], 1), np.stack([xs, np.full_like(xs, ys[-1])], 1),
                             np.stack([np.full_like(ys[1:-1], xs[0]), ys[1:-1]], 1),
                             np.stack([np.full_like(ys[1:-1], xs[-1]), ys[1:-1]], 1)])
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


def _unfold(p2s: np.ndarray, p2t: np.ndarray, weights: np.ndarray, n_out: int, n_rings: int,
            keep: float = 0.3, frame: tuple[int, int] | None = None) -> np.ndarray:
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


def background_mesh(src_cam: np.ndarray, outline: np.ndarray, width: int, height: int, cam: Any) -> BackgroundMesh:
    """The extended mesh of a source photo (``src_cam``: the fitted render mesh in camera space)."""
    p2s, p3s, wts = _outline_anchors(src_cam, outline, width, height, cam.focal, cam.cx, cam.cy)
    n_out = len(outline)
    # all anchors of one ring share a depth, nearer rings in front where the mesh folds
    order = np.concatenate([np.full(n_out, 1.0), *[np.full(n_out, 2.0 + i) for i in range(len(RING_SCALES))],
                            np.full(len(p2s) - n_out * (1 + len(RING_SCALES)), 10.0)])
    return BackgroundMesh(p2s, p3s, wts, delaunay(p2s), order, n_out)


def _outside_content_hull(grey: np.ndarray, level: int, min_fraction: float) -> np.ndarray | None:
    """The frame outside the convex hull of the content, where the content is what remains once
    the dark (≤ ``level``) regions touching the border and covering ≥ ``min_fraction`` go."""
    import cv2

    dark = (grey <= level).astype(np.uint8)
    if dark.mean() < min_fraction:
        return None
    n, labels, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=4)
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    keep = [int(i) for i in edge if i > 0 and stats[i, cv2.CC_STAT_AREA] >= min_fraction * dark.size]
    if not keep:
        return None
    pad = np.isin(labels, keep).astype(np.uint8)
    # a warped crop's padding is the frame outside a convex quadrilateral (the warped photo): the
    # padding is what lies outside the convex hull of the photo's region. Black scene content
    # (a dark suit, a night sky) lies inside that hull and stays scene. Specks of JPEG noise in the
    # black are opened away first, or the hull reaches out to them.
    content = cv2.morphologyEx(1 - pad, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    contours, _ = cv2.findContours(content, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    inside = np.zeros_like(pad)
    cv2.fillConvexPoly(inside, cv2.convexHull(max(contours, key=cv2.contourArea)), 1)
    outside = inside == 0
    if (outside & (pad > 0)).mean() < min_fraction:
        return None
    return outside


def frame_padding(image: np.ndarray, level: int = 4, min_fraction: float = 0.002) -> np.ndarray | None:
    """(H, W) bool mask of the frame's padding — the part of the frame outside the convex hull of
    the photo's content, where pure black (every channel ≤ ``level``) regions touching the image
    border cover at least ``min_fraction`` of it, as aligned or funneled crops have (LFW
    deep-funneled: most photos) — or ``None`` when there is none. Padding belongs
    to the frame, not the scene: it is filled in the background plate (so a turning head drags
    scene, not black wedges, across the frame) and put back, unmoved, on every view.

    JPEG noise lifts parts of the black to 5-20 grey levels, most near the photo's edge, so pure
    black alone stops short of it (on LFW crops by up to 8 px along a wedge's thin end; that strip
    stayed scene and was dragged into the views as dark streaks). Within
    :data:`PAD_FRINGE` of the frame's size from that padding, the padding also takes what lies
    outside the hull found on a median-filtered image at 3× the level. Further away the looser
    level is not trusted: dark scene (a black backdrop beside the hair) would pass it."""
    import cv2

    r, g, b = cv2.split(np.ascontiguousarray(image))
    grey = cv2.max(cv2.max(r, g), b)  # the brightest channel (numpy's max over the last axis: ~10x slower)
    outside = _outside_content_hull(grey, level, min_fraction)
    if outside is None:
        return None
    loose = _outside_content_hull(cv2.medianBlur(np.ascontiguousarray(grey), 5), 3 * level, min_fraction)
    if loose is not None:
        k = max(3, int(PAD_FRINGE * min(grey.shape)) | 1)
        near = cv2.dilate(outside.astype(np.uint8), np.ones((k, k), np.uint8)) > 0
        outside = outside | (loose & near)
    return outside


def _padding(image: np.ndarray, padding: np.ndarray | bool) -> np.ndarray | None:
    if isinstance(padding, bool):
        return frame_padding(image) if padding else None
    pad = np.asarray(padding, bool)
    if pad.shape != image.shape[:2]:
        raise ValueError(f"padding mask is {pad.shape}, the image {image.shape[:2]}")
    return pad if pad.any() else None


def background_plate(image: np.ndarray, src_cam: np.ndarray, triangles: np.ndarray, cam: Any,
                     grow: float = -0.015, padding: np.ndarray | bool = True) -> np.ndarray:
    """The photo with the fitted face region inpainted away, the texture of the extended mesh:
    where a rotated face no longer covers its old place, hair and background show, not a ghost
    of the source face. The region is grown (``grow`` > 0) or shrunk (< 0) by that fraction of the
    face's width: shrunk by default, so the photo's own pixels around the outline stay (the band
    just outside a rotated face's outline comes from there; a fill there draws a line), and the
    fill continues the photo's edge colours for :data:`EDGE_FILL` of the face's width inward.
    ``padding``: the frame's black padding is filled too — ``True`` finds it
    (:func:`frame_padding`), ``False`` keeps it, or a precomputed mask. The padding's fill
    continues the scene along its edge (a dark backdrop beside it stays dark); the face's is smooth."""
    import cv2

    h, w = image.shape[:2]
    mask, face_w = _face_hole(src_cam, triangles, cam, grow)
    pad = _padding(image, padding)
    pad_mask = None
    if pad is not None:  # the padding's JPEG-ringed, anti-aliased edge goes too (up to 6 px on LFW crops)
        kp = max(5, int(PAD_FRINGE * min(h, w)) | 1)
        pad_mask = cv2.dilate(pad.astype(np.uint8), np.ones((kp, kp), np.uint8))
        mask |= pad_mask
    if not mask.any() or mask.all():
        return image.copy()
    small_fill = _smooth_fill(image, mask, pad_mask)
    # next to its edge the fill continues the photo's own edge pixels (the nearest unfilled pixel's
    # colour), fading into the smooth fill: the band a rotated face's outline drags out of the photo
    # starts at that edge and is stretched several-fold at large yaw, and a smooth fill's colour
    # there (a blend of skin, hair and background) drew a bright or dark line along the face.
    # Worked out in the hole's box only (one pixel larger, so its rim is known): the rest of the
    # frame is the photo.
    bx, by, bw, bh = cv2.boundingRect(mask)
    x0, y0, x1, y1 = max(bx - 1, 0), max(by - 1, 0), min(bx + bw + 1, w), min(by + bh + 1, h)
    hole, photo = mask[y0:y1, x0:x1], image[y0:y1, x0:x1]
    filled = upsample_window(small_fill, (h, w), (x0, y0, x1, y1))
    dist, labels = cv2.distanceTransformWithLabels(hole, cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL)
    yx = np.argwhere(hole == 0)  # the labels of DIST_LABEL_PIXEL number the zero pixels in raster order
    nearest = photo[yx[labels - 1, 0], yx[labels - 1, 1]].astype(np.float32)
    fade = np.clip(1.0 - dist / max(2.0, EDGE_FILL * face_w), 0, 1)[..., None]
    filled = fade * nearest + (1 - fade) * filled
    out = image.copy()
    out[y0:y1, x0:x1] = np.where(hole[..., None] > 0, filled.round().clip(0, 255).astype(np.uint8), photo)
    return out


def _face_hole(src_cam: np.ndarray, triangles: np.ndarray, cam: Any, grow: float) -> tuple[np.ndarray, float]:
    """(H, W) uint8 mask of the fitted face in the photo, grown or shrunk by ``grow`` of its width
    (rasterised on the face's region only), and that width in pixels."""
    import cv2

    scr = to_screen(torch.as_tensor(src_cam, dtype=torch.float32), cam.focal, cam.cx, cam.cy)
    face_w = float(np.ptp(scr[:, 0].numpy()))
    k = max(3, int(abs(grow) * face_w) | 1)
    # the region's margin (a tenth of the face) holds the grown face: nothing is cut at its edge
    region = face_region(None, cam, box_of(scr[:, :2].numpy() + 0.5), margin=0.1 + abs(grow))
    rc = region.camera
    sub = rasterize(to_screen(torch.as_tensor(src_cam, dtype=torch.float32), rc.focal, rc.cx, rc.cy),
                    torch.as_tensor(triangles, dtype=torch.long), rc.height, rc.width, cull_backfaces=False).mask
    mask = np.zeros((cam.height, cam.width), np.uint8)
    mask[region.slices] = (cv2.dilate if grow > 0 else cv2.erode)(sub.numpy().astype(np.uint8), np.ones((k, k), np.uint8))
    return mask, face_w


def _smooth_fill(image: np.ndarray, mask: np.ndarray, pad_mask: np.ndarray | None) -> np.ndarray:
    """The photo at about 128 px with the hole ``mask`` filled smoothly (push-pull), and the
    padding ``pad_mask`` filled by continuing the scene along its edge."""
    import cv2

    h, w = image.shape[:2]
    scale = min(1.0, 128.0 / max(h, w))  # fill at low resolution: the fill is smooth anyway
    small = cv2.resize(image, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
    # a low-resolution pixel that averages in any masked pixel is filled, not used: an area-averaged
    # pixel across the padding's edge is half black and streaked the fill next to it
    small_mask = cv2.resize(mask.astype(np.float32), small.shape[1::-1], interpolation=cv2.INTER_AREA) > 1e-3
    if small_mask.all():
        small_mask[0], small_mask[-1], small_mask[:, 0], small_mask[:, -1] = False, False, False, False
    small_fill = push_pull(small, small_mask)
    if pad_mask is not None:
        # the padding is filled by continuing the scene along its edge (Telea's fast-marching
        # inpainting), not by the smooth fill: a dark backdrop that meets the padding (or is
        # taken for it: it lies outside the content's hull) continues dark. The smooth fill
        # averaged the padding over the whole frame's scene, face and suit included, and the
        # turning head dragged that grey-brown into the view as a halo on dark scenes.
        # (at half the fill's resolution: 2-4 ms instead of 35 at full, and as smooth). It continues
        # the scene with the face's hole already smoothly filled, so what it starts from is the
        # padding's edge alone, which depends on the photo only, not on the fit.
        # (pad_mask is part of mask, so these pixels are among small_mask's)
        small_pad = cv2.resize(pad_mask.astype(np.float32), small.shape[1::-1], interpolation=cv2.INTER_AREA) > 0.5
        half = (max(1, small.shape[1] // 2), max(1, small.shape[0] // 2))
        half_mask = cv2.resize(pad_mask.astype(np.float32), half, interpolation=cv2.INTER_AREA) > 1e-3
        if small_pad.any() and not half_mask.all():
            tel = cv2.inpaint(cv2.resize(small_fill, half, interpolation=cv2.INTER_AREA), half_mask.astype(np.uint8),
                              PAD_INPAINT_RADIUS, cv2.INPAINT_TELEA)
            tel = cv2.resize(tel, small.shape[1::-1], interpolation=cv2.INTER_LINEAR)
            small_fill[small_pad] = tel[small_pad]
    return small_fill


#: OpenCV's remap refuses maps wider than 32,767 pixels (SHRT_MAX): scattered points are sampled
#: as rows of this many.
SAMPLE_ROW = 4096


def sample_points(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """(N, C) bilinear samples of ``image`` (H, W, C) at ``xy`` (N, 2) pixel positions (x, y; pixel
    centres at integers), the border reflected. Any N: the points are laid out as rows of
    :data:`SAMPLE_ROW` for ``cv2.remap``."""
    import cv2

    pts = np.asarray(xy, np.float32).reshape(-1, 2)
    n = len(pts)
    rows = max(1, -(-n // SAMPLE_ROW))
    cols = min(max(n, 1), SAMPLE_ROW)
    grid = np.zeros((rows * cols, 2), np.float32)
    grid[:n] = pts
    out = cv2.remap(np.asarray(image), grid.reshape(rows, cols, 2), None, cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REFLECT)
    return out.reshape(rows * cols, -1)[:n]


def photo_colours(image: np.ndarray, res: Any, triangles: torch.Tensor, src_cam: np.ndarray, uv: torch.Tensor,
                  seen_share: np.ndarray, cam: Any,
                  relight: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """(H, W, 3) the face render ``res`` with the photo's own share of each pixel taken from the photo.

    Each covered pixel's surface point is found where it was in the photo (``src_cam``: the fitted
    render mesh in the photo's camera space) and the photo is sampled there once; that colour
    replaces the UV texture's by the texel's ``seen_share`` (the texture blends seen and mirrored
    colour by it, and it is zero where the photo did not see the point, so occluded points are never
    read). ``relight``: (target normals, target SH, photo normals, photo SH) when the lighting
    changes — the photo's colour is scaled by the ratio of the target's irradiance to the
    photo's, floored as the texture's de-lighting is; ``None`` when the face keeps its shading."""
    from .render.shader import irradiance_at, texture_at

    px = res.face >= 0
    if not bool(px.any()):
        return res.image
    parts = [torch.as_tensor(src_cam, dtype=torch.float32), uv] + ([relight[0], relight[2]] if relight else [])
    attr = pixel_attributes(Fragments(res.face, res.bary, res.depth), triangles, torch.cat(parts, 1))  # one gather
    p, uvp = attr[:, :3], attr[:, 3:5]
    xy = (p[:, :2] / p[:, 2:3].clamp_min(1e-6) * cam.focal + torch.tensor([cam.cx, cam.cy]) - 0.5).numpy()
    colour = torch.from_numpy(sample_points(image, xy).astype(np.float32) / 255.0)
    share = texture_at(uvp, torch.as_tensor(seen_share, dtype=torch.float32)[..., None])[:, 0:1]
    if relight is not None:
        _, sh_new, _, sh_old = relight
        e_new, e_old = irradiance_at(attr[:, 5:8], sh_new), irradiance_at(attr[:, 8:11], sh_old)
        colour = colour * e_new / torch.maximum(e_old, 0.3 * e_old.mean(0).clamp_min(1e-3))
    out = res.image.clone()
    out[px] = share * colour + (1 - share) * out[px]
    return out


def _feathered(alpha: np.ndarray, sigma: float) -> np.ndarray:
    """The face render's coverage faded to 0 just inside its edge (a Gaussian of ``sigma`` pixels;
    0: unchanged), so the face blends into the frame without a hard line."""
    import cv2

    if sigma <= 0 or not alpha.any():
        return alpha
    inner = cv2.GaussianBlur(alpha, (0, 0), sigma)
    return np.minimum(alpha, np.clip(2 * inner - 0.5, 0, 1) + (inner >= 0.75)).clip(0, 1)


def rotate(image: np.ndarray, fit: FitResult, model: MorphableModel, yaw: float | None = None,
           pitch: float | None = None, roll: float | None = None, *, relative: bool = False,
           lighting: str | np.ndarray | None = "keep", expression: np.ndarray | None = None,
           texture: UVTexture | None = None, plate: np.ndarray | None = None, renderer: MeshRenderer | None = None,
           feather: float = 0.015, background: BackgroundMesh | None = None,
           padding: np.ndarray | bool = True, from_photo: bool = True) -> RotatedView:
    """Synthesise the face of ``fit`` at a new pose and lighting as a full frame.

    Args:
        image: the source photo (RGB uint8) the fit was made on.
        yaw, pitch, roll: target angles in degrees (absolute; or deltas with ``relative=True``).
            Angles left ``None`` keep the source's.
        lighting: ``"keep"`` (the photo's fitted lighting, moving with the head: the face keeps
            its shading), ``"scene"`` (the photo's fitted lighting, staying in the scene), another
            preset name (:data:`LIGHT_PRESETS`) or (9, 3) SH coefficients (view frame).
        expression: new standardised expression coefficients (``None`` keeps the fitted expression).
        texture: a precomputed :func:`~face3d.texture.extract_texture` result (reuse it when
            making several views of one photo).
        plate: a precomputed :func:`background_plate` (the photo with the face inpainted away).
        background: a precomputed :func:`background_mesh` of the source photo.
        feather: width of the blend between face render and background, as a fraction of the
            face's width.
        padding: the frame's black padding (aligned crops) belongs to the frame, not the scene:
            it stays in place on the view, and what moves into view from behind it is filled.
            ``True`` finds it (:func:`frame_padding`), ``False`` treats it as scene, or a
            precomputed mask (pass the same to :func:`background_plate` for a precomputed plate).
        from_photo: take the part of each face pixel the photo saw (the texture's ``seen_share``)
            straight from the photo (:func:`photo_colours`), re-lit where the lighting changes;
            ``False`` renders everything from the UV texture (two resamplings: softer).
    """
    import cv2

    image = np.ascontiguousarray(image)
    h, w = image.shape[:2]
    if (h, w) != tuple(fit.image_size):
        raise ValueError(f"image is {w}x{h} but the fit was made on {fit.image_size[1]}x{fit.image_size[0]}")
    renderer = renderer or MeshRenderer()
    tex = texture or extract_texture(image, fit, model)
    sh = lighting_from(lighting, fit.sh)
    r_src = fit.rotation
    r_tgt = target_rotation(fit, yaw, pitch, roll, relative)
    cam = fit.camera
    t = fit.translation
    rm = render_mesh(model)

    verts_src = fit.vertices
    verts_tgt = fit.vertices
    if expression is not None:
        delta = model.vertices(np.zeros(0), expression) - model.vertices(np.zeros(0), fit.expr)
        verts_tgt = (fit.vertices + delta).astype(np.float32)
    v_src = rm.expand(verts_src.astype(np.float64))
    v_tgt = rm.expand(verts_tgt.astype(np.float64))
    src_cam = v_src @ (FLIP @ r_src).T + t
    tgt_cam = v_tgt @ (FLIP @ r_tgt).T + t

    # ---- background: extended mesh textured with the photo
    bg = background or background_mesh(src_cam, rm.outline, w, h, cam)
    p2s, p3s, wts, tri_bg, n_out = bg.points2d, bg.points3d, bg.weights, bg.triangles, bg.n_outline
    delta_r = FLIP @ r_tgt @ r_src.T @ FLIP
    moved3 = (p3s - t) @ delta_r.T + t
    z = np.maximum(moved3[:, 2:3], 1e-6)
    moved2 = moved3[:, :2] / z * cam.focal + np.array([cam.cx, cam.cy]) - 0.5
    moved2[:n_out] = (tgt_cam[rm.outline, :2] / np.maximum(tgt_cam[rm.outline, 2:3], 1e-6) * cam.focal
                      + np.array([cam.cx, cam.cy]) - 0.5)  # the outline follows the face exactly
    p2t = _unfold(p2s, (1 - wts[:, None]) * p2s + wts[:, None] * moved2, wts, n_out, len(RING_SCALES), frame=(w, h))
    frame_pad = _padding(image, padding)  # found once: the plate and the put-back below share it
    if plate is None:
        plate = background_plate(image, src_cam, rm.triangles, cam,
                                 padding=frame_pad if frame_pad is not None else False)
    # the warp is piecewise affine and smooth: compute it on a coarser grid and upsample
    step = max(BG_WARP_STEP, -(-max(h, w) // BG_WARP_MAX_SIDE))
    hs, ws = -(-h // step), -(-w // step)
    k = np.array([ws / w, hs / h])
    p2t_s = (p2t + 0.5) * k - 0.5  # the same points on the coarse grid (pixel centres as cv2.resize)
    scr_bg = torch.as_tensor(np.concatenate([p2t_s, bg.order[:, None]], 1), dtype=torch.float32)
    fr_bg = rasterize(scr_bg, torch.as_tensor(tri_bg), hs, ws, cull_backfaces=False)
    # the depths only order folds; the photo warp itself is affine per triangle (screen-linear)
    from .render._scan import linear_bary, screen_linear_barycentrics

    if linear_bary is not None:
        lin = torch.from_numpy(screen_linear_barycentrics(fr_bg.face.numpy(), p2t_s, tri_bg))
    else:
        flat = torch.cat([scr_bg[:, :2], torch.ones(len(scr_bg), 1)], 1)
        lin = barycentrics(flat, torch.as_tensor(tri_bg), fr_bg.face)
    fr_bg = Fragments(fr_bg.face, lin, fr_bg.depth)
    src_xy = pixel_attributes(fr_bg, torch.as_tensor(tri_bg), torch.as_tensor(p2s, dtype=torch.float32)).numpy()
    mask_bg = fr_bg.mask.numpy()
    if mask_bg.all():  # the extended mesh reaches the image border: it covers every pixel
        warp = src_xy.reshape(hs, ws, 2)
    else:
        gx = (np.arange(ws, dtype=np.float32) + 0.5) / k[0] - 0.5
        gy = (np.arange(hs, dtype=np.float32) + 0.5) / k[1] - 0.5
        warp = np.stack(np.meshgrid(gx, gy), -1).astype(np.float32)
        warp[mask_bg] = src_xy
    if (hs, ws) != (h, w):
        warp = cv2.resize(warp, (w, h), interpolation=cv2.INTER_LINEAR)
    m = EDGE_MARGIN * min(h, w)
    np.clip(warp[..., 0], m, w - 1 - m, out=warp[..., 0])
    np.clip(warp[..., 1], m, h - 1 - m, out=warp[..., 1])
    background = cv2.remap(plate, np.ascontiguousarray(warp, dtype=np.float32), None, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT)

    # ---- face: completed texture, relit at the new pose
    # rendered on the face's region of the frame only (its margin holds the feather's blur)
    tri = torch.as_tensor(rm.triangles, dtype=torch.long)
    pc = torch.as_tensor(tgt_cam, dtype=torch.float32)
    region = face_region(None, cam, box_of(cam.project(tgt_cam)), margin=0.1)
    # shading normals: in the view frame, or in the photo's frame when the light moves with the head
    head_light = lighting is None or (isinstance(lighting, str) and lighting == "keep")
    n_view = vertex_normals(torch.as_tensor(v_tgt @ (r_src if head_light else r_tgt).T, dtype=torch.float32)[None],
                            tri)[0]
    uv = torch.as_tensor(rm.expand(model.uv.astype(np.float32)))
    res = renderer.render(pc, tri, region.camera, uv=uv, texture=torch.as_tensor(tex.albedo), normals=n_view,
                          sh=torch.as_tensor(sh))
    face_rgb = res.image
    if from_photo and tex.seen_share is not None:
        n_src = None if head_light else vertex_normals(
            torch.as_tensor(v_src @ r_src.T, dtype=torch.float32)[None], tri)[0]
        face_rgb = photo_colours(image, res, tri, src_cam, uv, tex.seen_share, cam,
                                 None if head_light else (n_view, torch.as_tensor(sh), n_src,
                                                          torch.as_tensor(tex.sh)))
    sigma = max(0.7, feather * float(np.ptp(p2s[:n_out, 0]))) if feather > 0 else 0.0
    a = _feathered(res.alpha.numpy().astype(np.float32), sigma)
    out_img = background  # written into below: nothing else holds this array
    ys, xs = region.slices
    blend = face_rgb.clamp(0, 1).numpy() * 255.0 * a[..., None] + out_img[ys, xs].astype(np.float32) * (1 - a[..., None])
    out_img[ys, xs] = blend.round().clip(0, 255).astype(np.uint8)  # the remap's own array
    alpha = np.zeros((h, w), np.float32)
    alpha[ys, xs] = a

    if frame_pad is not None:  # the frame's padding stays where it was, over everything
        out_img[frame_pad] = image[frame_pad]

    # ---- provenance: the texture's code at each face pixel
    prov = np.full((h, w), BACKGROUND, np.uint8)
    face_px = res.face.numpy() >= 0
    if face_px.any():
        uvp = pixel_attributes(Fragments(res.face, res.bary, res.depth), tri, uv).numpy()  # face_px order
        s = tex.size
        tu = np.clip((uvp[:, 0] * s).astype(int), 0, s - 1)
        tv = np.clip(((1 - uvp[:, 1]) * s).astype(int), 0, s - 1)
        codes = tex.provenance[tv, tu]
        codes[codes == BACKGROUND] = 3
        prov[ys, xs][face_px] = codes

    proj = tgt_cam[: model.n_vertices]
    p2 = proj[:, :2] / np.maximum(proj[:, 2:3], 1e-6) * cam.focal + np.array([cam.cx, cam.cy])
    lm = p2[np.maximum(model.landmarks68, 0)].astype(np.float32)
    lm[model.landmarks68 < 0] = np.nan
    x0, y0 = p2.min(0)
    x1, y1 = p2.max(0)
    y_, p_, r_ = matrix_to_euler(r_tgt)
    return RotatedView(out_img, (float(y_), float(p_), float(r_)), lm, (float(x0), float(y0), float(x1), float(y1)),
                       prov, alpha, sh, source_pose=fit.pose)
