"""LFW verification (the 6,000-pair protocol, or its first folds): the photos compared as they are,
and compared through pose-matched synthesised views (A rendered at B's pose against B, and B at
A's pose against A)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .features import StageTimer
from .stats import bootstrap_ci


@dataclass(frozen=True)
class Pair:
    fold: int
    a: Path
    b: Path
    same: bool


def read_pairs(lfw: str | os.PathLike[str] | None = None, folds: int | None = None) -> list[Pair]:
    """``pairs.txt`` of LFW (View 2): ``folds`` × (300 matched + 300 mismatched) pairs."""
    from face3d.settings import lfw_dir

    root = lfw_dir(lfw)
    path = root / "pairs.txt"
    if not path.is_file():
        raise FileNotFoundError(f"LFW pairs file not found: {path}")
    lines = path.read_text().splitlines()
    n_folds, n = (int(x) for x in lines[0].split())

    def img(name: str, i: str) -> Path:
        return root / "images" / name / f"{name}_{int(i):04d}.jpg"

    out, k = [], 1
    for f in range(min(n_folds, folds or n_folds)):
        for j in range(2 * n):
            parts = lines[k].split("\t")
            k += 1
            if len(parts) == 3:
                out.append(Pair(f, img(parts[0], parts[1]), img(parts[0], parts[2]), True))
            elif len(parts) == 4:
                out.append(Pair(f, img(parts[0], parts[1]), img(parts[2], parts[3]), False))
            else:
                raise ValueError(f"{path}:{k}: expected 3 or 4 tab-separated fields, got {lines[k - 1]!r}")
    return out


def _devtrain_people(lfw: str | os.PathLike[str] | None) -> set[str]:
    from face3d.settings import lfw_dir

    p = lfw_dir(lfw) / "peopleDevTrain.txt"
    return {r.split("\t")[0] for r in p.read_text().splitlines()[1:] if r.strip()} if p.is_file() else set()


def verification(
    pairs: list[Pair],
    rot: Any,
    ident: Any,
    timer: StageTimer,
    threshold: float = 0.6,
    progress: Any = None,
    lfw: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Accuracy at dlib's fixed threshold (0.6, no tuning on the test pairs) for three scores:
    ``photos`` d(A, B); ``pose-matched views`` mean of d(A at B's pose, B) and d(B at A's pose, A);
    ``fused`` the mean of the two. 95% bootstrap intervals; the difference to ``photos`` is paired.
    (Long on purpose: the three scores of every pair in one pass.)"""
    from .data import EvalPhoto
    from .features import describe_view, photo_features

    cache: dict[Path, Any] = {}

    def photo(path: Path) -> Any:
        if path not in cache:
            f = photo_features(EvalPhoto(path.parent.name, path), rot, ident, timer, keep_prepared=True)
            cache[path] = None if f.error is not None or f.prepared is None else (f.prepared, f.descriptor)
        return cache[path]

    def view_desc(src: Any, dst: Any) -> np.ndarray:
        prep = src[0]
        with timer.stage("render"):
            v = rot.rotate(prep, dst[0].fit.yaw, dst[0].fit.pitch, None, refine=False)
        with timer.stage("refine"):
            v = rot.refine(v)[0]
        with timer.stage("descriptor (dlib)"):
            return describe_view(ident, v.image, v.landmarks68)

    train_people = _devtrain_people(lfw)
    scores, labels, clean, skipped = [], [], [], 0
    for pr in _iter(pairs, progress):
        a, b = photo(pr.a), photo(pr.b)
        if a is None or b is None:
            skipped += 1
            continue
        d_photo = float(np.linalg.norm(a[1] - b[1]))
        d_view = 0.5 * (float(np.linalg.norm(view_desc(a, b) - b[1])) + float(np.linalg.norm(view_desc(b, a) - a[1])))
        scores.append((d_photo, d_view, 0.5 * (d_photo + d_view)))
        labels.append(pr.same)
        clean.append(pr.a.parent.name not in train_people and pr.b.parent.name not in train_people)
        if len(cache) > 4000:  # bound memory on long runs
            cache.clear()
    s, y, c = np.array(scores).reshape(-1, 3), np.array(labels, bool), np.array(clean, bool)
    names = ("photos", "pose-matched views", "fused (mean of both)")
    out: dict[str, Any] = {
        "pairs": len(pairs),
        "used": len(y),
        "skipped": skipped,
        "threshold": threshold,
        "folds": sorted({p.fold for p in pairs}),
        "subsets": {},
    }
    for label, m in (("all pairs", np.ones(len(y), bool)), ("pairs without DevTrain people", c)):
        correct = (s[m] < threshold) == y[m, None]
        row: dict[str, Any] = {"pairs": int(m.sum())}
        for k, n in enumerate(names):
            row[n] = bootstrap_ci(correct[:, k].astype(float))
            if k:
                row[n + " − photos"] = bootstrap_ci(correct[:, k].astype(float) - correct[:, 0])
        out["subsets"][label] = row
    return out


def _iter(pairs: list[Pair], progress: Any) -> Iterator[Pair]:
    for p in pairs:
        yield p
        if progress is not None:
            progress.update(1)
