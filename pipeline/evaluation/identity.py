"""Identity preservation against target yaw, next to what real photos of the same people show at
the same pose gaps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .features import PhotoFeatures
from .gallery import GalleryEntry

GAP_BINS = ((0, 10), (10, 20), (20, 30), (30, 45), (45, 60), (60, 90))


def identity_vs_yaw(gallery: Sequence[GalleryEntry], probes: Sequence[PhotoFeatures], threshold: float = 0.6) -> dict[str, Any]:
    """Per target yaw: dlib distance source → view, same-person rate (< ``threshold``), MobileFaceNet
    cosine (training network, for reference). Per yaw gap: views against real same-person photo pairs
    (gallery photo vs the person's other photos)."""
    per_yaw: dict[float, list[Any]] = {}
    by_gap_views: dict[tuple[int, int], list[float]] = {b: [] for b in GAP_BINS}
    for g in gallery:
        for v in g.views:
            per_yaw.setdefault(v.target_yaw, []).append(v)
            gap = abs(v.yaw - g.features.yaw)
            for b in GAP_BINS:
                if b[0] <= gap < b[1]:
                    by_gap_views[b].append(v.distance)
    rows = []
    for t in sorted(per_yaw):
        vs = per_yaw[t]
        d = np.array([v.distance for v in vs])
        mc = np.array([v.mfn_cosine for v in vs])
        rows.append(
            {
                "target_yaw": t,
                "views": len(vs),
                "dlib_distance": float(d.mean()),
                "same_person": float((d < threshold).mean()),
                "mobilefacenet_cosine": float(np.nanmean(mc)) if np.isfinite(mc).any() else None,
            }
        )
    src = {g.features.photo.identity: g.features for g in gallery if g.features.descriptor is not None}
    by_gap_real: dict[tuple[int, int], list[float]] = {b: [] for b in GAP_BINS}
    for p in probes:
        s = src.get(p.photo.identity)
        if p.descriptor is None or s is None:
            continue
        gap = abs(p.yaw - s.yaw)
        for b in GAP_BINS:
            if b[0] <= gap < b[1]:
                by_gap_real[b].append(float(np.linalg.norm(p.descriptor - s.descriptor)))
    gaps = []
    for b in GAP_BINS:
        v, r = np.array(by_gap_views[b]), np.array(by_gap_real[b])
        gaps.append(
            {
                "gap": f"{b[0]}–{b[1]}°",
                "views": len(v),
                "view_distance": float(v.mean()) if len(v) else None,
                "view_same_person": float((v < threshold).mean()) if len(v) else None,
                "real_pairs": len(r),
                "real_distance": float(r.mean()) if len(r) else None,
                "real_same_person": float((r < threshold).mean()) if len(r) else None,
            }
        )
    return {"per_yaw": rows, "per_gap": gaps, "threshold": threshold}
