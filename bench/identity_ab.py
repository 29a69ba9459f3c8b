"""Judge a change to the views by identity (dlib, never trained with): variants against a baseline, paired.

Each variant is a set of `FaceRotator.rotate` keyword arguments (JSON); the first is the baseline.
On LFW DevTest people (never trained or calibrated on), raw renders:

1. Source → view: near-frontal photos turned to yaw ±15…±60; dlib distance of each view to its
   source photo, per yaw, and the paired difference variant − baseline with a bootstrap interval.
2. Ground truth: each person's most frontal photo F turned to the pose of another photo O of the
   same person; dlib distance of the view to O (a photo taken elsewhere, in its own light), paired.

    cd bench
    python identity_ab.py keep='{}' scene='{"lighting": "scene"}' [--photos 150] [--people 150]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import numpy as np
from common import GAP_BANDS, multi_photo_people, near_frontal_sources, pose_pairs, save, table

from face3d.landmarks import box_of
from pipeline.evaluation.stats import bootstrap_ci
from pipeline.identity import DlibIdentity
from pipeline.rotator import FaceRotator

TARGETS = (-60, -45, -30, -15, 15, 30, 45, 60)


def parse_variants(items: list[str]) -> dict[str, dict]:
    """``NAME=JSON`` items, in order (the first is the baseline)."""
    out = {}
    for item in items:
        name, _, kwargs = item.partition("=")
        out[name] = json.loads(kwargs or "{}")
    if len(out) < 2:
        raise SystemExit("give a baseline and at least one variant: NAME=JSON NAME=JSON ...")
    return out


def source_distances(rot: FaceRotator, ident: DlibIdentity, variants: dict, photos: int) -> dict[str, dict[int, list]]:
    """dlib distance source → view per variant and target yaw (the same sources for every variant)."""
    dist: dict[str, dict[int, list]] = {v: defaultdict(list) for v in variants}
    for _, prep in near_frontal_sources(rot, photos):
        d_src = ident.descriptor(prep.image, box_of(prep.fit.landmarks68))
        for name, kw in variants.items():
            for y, v in zip(TARGETS, rot.rotate(prep, list(TARGETS), 0, 0, refine=False, **kw)):
                dist[name][y].append(ident.distance(d_src, ident.descriptor(v.image, box_of(v.landmarks68))))
    return dist


def groundtruth_distances(rot: FaceRotator, ident: DlibIdentity, variants: dict, people: int) -> tuple[np.ndarray, dict]:
    """(yaw gaps, {variant: distances of F's view at O's pose to O}) for every pair F, O 10° or more apart."""
    gaps, dist = [], {v: [] for v in variants}
    for gap, (f_prep, _), (o_prep, o_desc) in pose_pairs(rot, ident, multi_photo_people(people)):
        gaps.append(gap)
        for name, kw in variants.items():
            v = rot.rotate(f_prep, o_prep.fit.yaw, o_prep.fit.pitch, None, refine=False, **kw)[0]
            dist[name].append(ident.distance(ident.descriptor(v.image, box_of(v.landmarks68)), o_desc))
    return np.asarray(gaps), {k: np.asarray(v) for k, v in dist.items()}


def paired(a: np.ndarray, b: np.ndarray) -> tuple[str, dict]:
    m, lo, hi = bootstrap_ci(b - a)
    return f"{a.mean():.4f} → {b.mean():.4f}, {m:+.4f} [{lo:+.4f}, {hi:+.4f}]", {
        "baseline": float(a.mean()),
        "variant": float(b.mean()),
        "difference": m,
        "ci95": [lo, hi],
        "n": len(a),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("variants", nargs="+", help="NAME=JSON (rotate keyword arguments); the first is the baseline")
    ap.add_argument("--photos", type=int, default=150)
    ap.add_argument("--people", type=int, default=150)
    args = ap.parse_args()
    variants = parse_variants(args.variants)
    base, *others = variants
    rot, ident = FaceRotator(refiner="none"), DlibIdentity()
    res: dict = {"variants": variants, "source": {}, "groundtruth": {}}

    src = source_distances(rot, ident, variants, args.photos)
    for name in others:
        rows = []
        for y in (*TARGETS, "all"):
            a = np.concatenate([src[base][t] for t in TARGETS]) if y == "all" else np.asarray(src[base][y])
            b = np.concatenate([src[name][t] for t in TARGETS]) if y == "all" else np.asarray(src[name][y])
            cell, res["source"].setdefault(name, {})[str(y)] = paired(a, b)
            rows.append([y, len(a), cell])
        print(table(["target yaw", "views", f"dlib source → view: {base} → {name}, difference [95%]"], rows, "Source → view"))

    gaps, gt = groundtruth_distances(rot, ident, variants, args.people)
    for name in others:
        rows = []
        for label, lo, hi in GAP_BANDS:
            s = (gaps >= lo) & (gaps < hi)
            if s.any():
                cell, res["groundtruth"].setdefault(name, {})[label] = paired(gt[base][s], gt[name][s])
                rows.append([label, int(s.sum()), cell])
        print(table(["yaw gap", "pairs", f"dlib view → O: {base} → {name}, difference [95%]"], rows, "Ground truth"))
    save("identity_ab", res)


if __name__ == "__main__":
    main()
