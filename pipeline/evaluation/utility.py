"""Recognition utility: rank-1 identification of probes against a gallery of one photo per person,
with the gallery as is, augmented the classic 2D way, and augmented with facerot views."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .features import PhotoFeatures
from .gallery import GalleryEntry
from .stats import bootstrap_ci

#: gallery variants: name -> what it says
METHODS = {
    "plain": "the gallery photo's descriptor",
    "classic 2D": "mean template: photo + flip, ±10° rotation, 0.9×/1.1× scale",
    "facerot": "mean template: photo + its facerot views",
    "facerot + classic": "mean template: photo + views + classic augmentations",
    "facerot, pose-matched": "per probe: the photo or the view whose yaw is nearest the probe's",
}
POSE_BINS = ((0.0, "all probes"), (20.0, "pose gap ≥ 20°"), (30.0, "pose gap ≥ 30°"))


def _mean_template(descs: Sequence[np.ndarray]) -> np.ndarray:
    return np.mean(np.stack(descs), axis=0)


def recognition_utility(
    gallery: Sequence[GalleryEntry], probes: Sequence[PhotoFeatures], seed: int = 0, chunk: int = 256
) -> dict[str, Any]:
    """Rank-1 per method, overall and by the probe's yaw gap to its own gallery photo, with 95%
    bootstrap intervals on each rate and on each method's paired difference to ``plain``. (Long on
    purpose: the galleries of every method built and scored in one pass over the probes.)"""
    usable = [g for g in gallery if g.error is None and g.features.descriptor is not None]
    ids = np.array([g.features.photo.identity for g in usable])
    index = {k: i for i, k in enumerate(ids)}
    g_yaw = np.array([g.features.yaw for g in usable])
    templates = {
        "plain": np.stack([g.features.descriptor for g in usable]),
        "classic 2D": np.stack([_mean_template([g.features.descriptor, *g.classic]) for g in usable]),
        "facerot": np.stack([_mean_template([g.features.descriptor, *[v.descriptor for v in g.views]]) for g in usable]),
        "facerot + classic": np.stack(
            [_mean_template([g.features.descriptor, *[v.descriptor for v in g.views], *g.classic]) for g in usable]
        ),
    }
    # pose-matched: every identity's candidates (photo + views) and their yaws
    n_c = 1 + max((len(g.views) for g in usable), default=0)
    cand = np.zeros((len(usable), n_c, templates["plain"].shape[1]), np.float32)
    cand_yaw = np.full((len(usable), n_c), np.inf)
    for i, g in enumerate(usable):
        cand[i, 0], cand_yaw[i, 0] = g.features.descriptor, g.features.yaw
        for j, v in enumerate(g.views, 1):
            cand[i, j], cand_yaw[i, j] = v.descriptor, v.yaw

    ok = [p for p in probes if p.descriptor is not None and p.photo.identity in index]
    skipped = {
        "probe not usable (no face / fit failed)": sum(p.descriptor is None for p in probes),
        "identity's gallery photo not usable": sum(p.descriptor is not None and p.photo.identity not in index for p in probes),
    }
    if not ok:
        return {"probes": 0, "skipped": skipped, "gallery": len(usable), "bins": {}}
    pd = np.stack([p.descriptor for p in ok]).astype(np.float32)
    p_ids = np.array([p.photo.identity for p in ok])
    p_yaw = np.array([p.yaw for p in ok])
    gap = np.abs(p_yaw - g_yaw[[index[k] for k in p_ids]])
    hits: dict[str, np.ndarray] = {}
    for name, t in templates.items():
        hits[name] = np.concatenate(
            [np.linalg.norm(pd[s : s + chunk, None] - t[None], axis=2).argmin(1) for s in range(0, len(pd), chunk)]
        )
        hits[name] = ids[hits[name]] == p_ids
    pm = []
    for s in range(0, len(pd), chunk):
        sel = np.abs(cand_yaw[None] - p_yaw[s : s + chunk, None, None]).argmin(2)  # (p, G)
        t = np.take_along_axis(cand[None], sel[:, :, None, None], axis=2)[:, :, 0]  # (p, G, D)
        pm.append(ids[np.linalg.norm(pd[s : s + chunk, None] - t, axis=2).argmin(1)] == p_ids[s : s + chunk])
    hits["facerot, pose-matched"] = np.concatenate(pm)

    bins = {}
    for lo, label in POSE_BINS:
        m = gap >= lo
        row: dict[str, Any] = {"probes": int(m.sum()), "people": len(set(p_ids[m]))}
        for name, h in hits.items():
            row[name] = bootstrap_ci(h[m].astype(float), seed=seed)
            if name != "plain":
                row[name + " − plain"] = bootstrap_ci(h[m].astype(float) - hits["plain"][m], seed=seed)
        bins[label] = row
    return {
        "probes": len(ok),
        "gallery": len(usable),
        "skipped": skipped,
        "bins": bins,
        "methods": METHODS,
        "gap_quantiles": np.quantile(gap, [0.5, 0.9, 0.99]).round(1).tolist(),
    }
