"""Rank-1 identification and bootstrap confidence intervals."""

from __future__ import annotations

import numpy as np


def rank1_hits(probes: np.ndarray, probe_ids: np.ndarray, gallery: np.ndarray, gallery_ids: np.ndarray) -> np.ndarray:
    """Boolean per probe: is the nearest gallery template (Euclidean) the probe's identity?

    ``gallery`` is (G, D) — one template per identity — or (P, G, D) when every probe has its own
    templates (pose-matched galleries)."""
    if gallery.ndim == 2:
        d = np.linalg.norm(probes[:, None, :] - gallery[None], axis=2)
    else:
        d = np.linalg.norm(probes[:, None, :] - gallery, axis=2)
    return gallery_ids[np.argmin(d, axis=1)] == probe_ids


def bootstrap_ci(x: np.ndarray, n: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``x`` and its percentile-bootstrap interval (resampling the rows of ``x``). For a
    paired difference pass ``a - b``."""
    x = np.asarray(x, np.float64)
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, (n, x.size))].mean(1)
    a = (1 - level) / 2
    return float(x.mean()), float(np.quantile(means, a)), float(np.quantile(means, 1 - a))
