"""Judge a change to the views by a realism classifier retrained on them (DevTrain only).

A fixed realism scorer rewards removing *its* fingerprint even where a change makes a new one
(docs/design.md, "Tried and rejected"), so a change is judged by the classifier two-sample test
(`pipeline.evaluation.realism`) trained afresh on the changed views: LFW DevTrain photos (real
crops) against pose-matched raw views of other DevTrain people's near-frontal photos, trained on
one half of the people (split by a hash of the name) and tested on the other, both ways, for
several seeds. Every variant draws the same sources, targets, halves and seeds, so variants are
compared run by run (paired). DevTest stays for `realism.py`'s report.

    cd bench
    python realism_ab.py views keep                               # the views as the code makes them now
    python realism_ab.py views scene --rotate '{"lighting": "scene"}'
    python realism_ab.py views keep_fitcrop --crop fit            # views cropped at the landmarks fitted on them
    python realism_ab.py compare keep scene [--seeds 0,1,2,3]

A change in code (not a `rotate` option) is judged by making its views from a worktree with the
change (`--out` the same folder), then `compare`. Real crops and fits are made once per folder
(``real.npz``, ``fits.pkl``); each variant's crops are ``views_NAME.npz``.
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from common import lfw_photos, save, table

from face3d.imageio import read_image
from pipeline.evaluation.realism import BANDS, CropSet, face_crop, two_sample_test

#: near-frontal sources (|yaw| below this) are turned to the real photos' poses
SOURCE_YAW = 10.0


def make_real(out: Path, photos: int, rot: Any) -> list[tuple[str, tuple[float, float, float]]]:
    """Fit ``photos`` DevTrain photos once: their crops (``real.npz``) and poses (``fits.pkl``)."""
    from realism import fit_photos

    fits = out / "fits.pkl"
    if fits.exists():
        return pickle.loads(fits.read_bytes())
    found = fit_photos(lfw_photos(photos, "DevTrain"), rot.fitter)
    crops = np.stack([face_crop(rgb, fit.landmarks68) for _, fit, rgb in found])
    np.savez(out / "real.npz", crops=crops, yaws=[f.yaw for _, f, _ in found], people=[p.parent.name for p, _, _ in found])
    rec = [(str(p), tuple(float(a) for a in fit.pose)) for p, fit, _ in found]
    fits.write_bytes(pickle.dumps(rec))
    return rec


def targets_of(rec: list, sources: int, seed: int = 0) -> dict[int, list[tuple[float, float, float]]]:
    """Each real photo's pose given to a near-frontal photo of another person (deterministic)."""
    rng = np.random.default_rng(seed)
    frontal = [i for i, (_, pose) in enumerate(rec) if abs(pose[0]) < SOURCE_YAW]
    chosen = [frontal[i] for i in rng.permutation(len(frontal))[:sources]]
    out: dict[int, list] = {s: [] for s in chosen}
    for p, pose in rec:
        s = chosen[int(rng.integers(len(chosen)))]
        if Path(rec[s][0]).parent.name == Path(p).parent.name:
            s = chosen[(chosen.index(s) + 1) % len(chosen)]
        out[s].append(pose)
    return out


def view_landmarks(view: Any, rot: Any, crop: str) -> np.ndarray | None:
    """The landmarks a view is cropped at: the model's at the view's pose (``"model"``), or those
    the fitter finds on the view as on a photo (``"fit"``; None when it finds no face)."""
    from face3d.landmarks import NoFaceError

    if crop == "model":
        return view.landmarks68
    try:
        fit = rot.fitter.fit_landmark_batch([rot.fitter.detect(view.image)[0]])[0]
    except (NoFaceError, ValueError):
        return None
    return None if fit.quality == "failed" else fit.landmarks68


def make_views(out: Path, name: str, rec: list, rot: Any, rotate_kwargs: dict, sources: int, crop: str = "model") -> None:
    """Raw views of every source at its targets' poses, cropped at ``crop``'s landmarks
    (:func:`view_landmarks`) as the real photos are at their fit's (``views_NAME.npz``)."""
    from tqdm import tqdm

    crops, yaws, people, failed, unfound = [], [], [], 0, 0
    t0 = time.perf_counter()
    for s, poses in tqdm(targets_of(rec, sources).items(), desc=f"views {name}", mininterval=10):
        if not poses:
            continue
        path = Path(rec[s][0])
        try:
            prep = rot.prepare(read_image(path))
            views = rot.rotate(prep, *map(list, zip(*poses)), refine=False, **rotate_kwargs)
        except Exception as e:  # noqa: BLE001 - a source that fails is skipped, and counted
            failed += 1
            print(f"{path.name}: {e}")
            continue
        for v in views:
            lm = view_landmarks(v, rot, crop)
            if lm is None:
                unfound += 1
                continue
            crops.append(face_crop(v.image, lm))
            yaws.append(v.pose[0])
            people.append(path.parent.name)
    np.savez(out / f"views_{name}.npz", crops=np.stack(crops), yaws=yaws, people=people)
    took = time.perf_counter() - t0
    print(f"{name}: {len(crops)} views in {took:.0f} s ({failed} sources failed, {unfound} views without a face found)")


def _crop_set(data: Any, half: int) -> CropSet:
    out = CropSet()
    for c, y, p in zip(data["crops"], data["yaws"], data["people"]):
        if zlib.crc32(str(p).encode()) % 2 == half:
            out.add(c, float(y), str(p))
    return out


def runs(out: Path, name: str, seeds: list[int], epochs: int) -> list[dict[str, Any]]:
    """The two-sample test of one variant: for each seed, train on each half and test on the other."""
    real, views = np.load(out / "real.npz"), np.load(out / f"views_{name}.npz")
    halves = [(_crop_set(real, h), _crop_set(views, h)) for h in (0, 1)]
    res = []
    for seed in seeds:
        for h in (0, 1):
            (tr, tv), (er, ev) = halves[h], halves[1 - h]
            r = two_sample_test(tr, tv, er, ev, epochs=epochs, seed=seed)
            res.append(
                {"seed": seed, "train_half": h, "overall": r["overall"]["accuracy"], "bands": [b["accuracy"] for b in r["bands"]]}
            )
    return res


def _mean_where_known(a: np.ndarray) -> np.ndarray:
    """Column means over the runs that had crops in that band (NaN for a band none had)."""
    known = np.isfinite(a)
    return np.where(known.any(0), np.where(known, a, 0).sum(0) / np.maximum(known.sum(0), 1), np.nan)


def compare(out: Path, names: list[str], seeds: list[int], epochs: int) -> dict[str, Any]:
    """Accuracy of every variant (mean of its runs) and each variant's paired difference from the first."""
    got = {n: runs(out, n, seeds, epochs) for n in names}
    base = np.array([r["overall"] for r in got[names[0]]])
    rows, summary = [], {}
    for n in names:
        acc = np.array([r["overall"] for r in got[n]])
        bands = _mean_where_known(np.array([r["bands"] for r in got[n]], dtype=float))
        d = acc - base
        summary[n] = {"overall": float(acc.mean()), "bands": bands.tolist(), "minus_first": d.tolist(), "runs": got[n]}
        diff = "–" if n == names[0] else f"{d.mean():+.3f} (runs {', '.join(f'{x:+.3f}' for x in d)})"
        rows.append([n, f"{acc.mean():.3f}", *[f"{b:.3f}" for b in bands], diff])
    heads = ["variant", "all", *[f"{lo}–{hi}°" for lo, hi in BANDS], f"− {names[0]}, paired"]
    print(table(heads, rows, "Classifier two-sample test on DevTrain halves (0.5: indistinguishable)"))
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("stage", choices=["views", "compare"])
    ap.add_argument("names", nargs="+", help="views: the variant's name; compare: variants, the first the baseline")
    ap.add_argument("--rotate", default="{}", help="views: FaceRotator.rotate keyword arguments (JSON)")
    ap.add_argument("--crop", choices=["model", "fit"], default="model", help="views: at the model's landmarks or the fitter's")
    ap.add_argument("--out", default="../out/realism_ab")
    ap.add_argument("--photos", type=int, default=3700)
    ap.add_argument("--sources", type=int, default=400)
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--epochs", type=int, default=12)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.stage == "views":
        from pipeline import FaceRotator

        rot = FaceRotator(refiner=None)
        rec = make_real(out, args.photos, rot)
        make_views(out, args.names[0], rec, rot, json.loads(args.rotate), args.sources, args.crop)
        return
    summary = compare(out, args.names, [int(s) for s in args.seeds.split(",")], args.epochs)
    save("realism_ab", {"variants": summary, "seeds": args.seeds, "epochs": args.epochs, "photos": args.photos})


if __name__ == "__main__":
    main()
