"""The frame's padding: the black border of aligned or funneled crops (LFW deep-funneled: most
photos), which belongs to the frame, not the scene. It is filled in the background plate (so a
turning head drags scene, not black wedges, across the frame) and put back, unmoved, on every view."""

from __future__ import annotations

import numpy as np

#: Width of the padding's anti-aliased, JPEG-ringed edge, as a fraction of the frame's size:
#: :func:`frame_padding` trusts its looser test this near the pure black, and the background plate
#: fills this much around the padding (measured on LFW crops: docs/design.md).
PAD_FRINGE = 0.06


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

    Within :data:`PAD_FRINGE` of the frame's size from that padding, the padding also takes what
    lies outside the hull found on a median-filtered image at 3× the level (JPEG noise lifts the
    black near the photo's edge to 5-20 grey levels); further away only pure black counts, as a
    dark backdrop beside the hair would pass the looser level."""
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


def resolve_padding(image: np.ndarray, padding: np.ndarray | bool) -> np.ndarray | None:
    """The padding mask ``padding`` stands for: ``True`` finds it (:func:`frame_padding`), ``False``
    none, or a precomputed (H, W) mask; ``None`` when there is none."""
    if isinstance(padding, bool):
        return frame_padding(image) if padding else None
    pad = np.asarray(padding, bool)
    if pad.shape != image.shape[:2]:
        raise ValueError(f"padding mask is {pad.shape}, the image {image.shape[:2]}")
    return pad if pad.any() else None
