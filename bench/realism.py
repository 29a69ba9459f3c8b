"""Realism of the views: a classifier two-sample test (pipeline.evaluation.realism) per yaw band,
raw renders and refined views, and views at the photo's own pose.

Real crops: LFW photos at their fitted pose. Views: for every real photo, another person's
near-frontal photo synthesised at its yaw, pitch and roll (pose-matched). The classifier trains on
DevTrain people and is tested on DevTest people; 0.5 is indistinguishable.

    cd bench && python realism.py [--train-photos 3000] [--test-photos 3700] [--epochs 12]
        [--export-scorer ../pipeline/data/realism_scorer.pt] [--rotate '{"lighting": "scene"}']
        [--refiner none] [--name realism_scene]

``--rotate`` gives every view `FaceRotator.rotate` keyword arguments (JSON); with ``--refiner none``
only raw views are tested.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from common import lfw_photos, save, table

from face3d.imageio import read_image
from pipeline.evaluation.realism import BANDS, CropSet, face_crop, save_scorer, two_sample_test


def fit_photos(paths: list, fitter: Any) -> list[tuple[Any, Any, np.ndarray]]:
    """(path, fit, RGB) of every photo whose face is found and fitted (landmarks only)."""
    from face3d.landmarks import NoFaceError

    out = []
    for p in paths:
        try:
            rgb = read_image(p)
            fit = fitter.fit_landmark_batch([fitter.detect(rgb)[0]])[0]
        except (NoFaceError, ValueError):
            continue
        if fit.quality != "failed":
            out.append((p, fit, rgb))
    return out


def collect(paths: list, rot: Any, seed: int, max_sources: int = 400, rotate: dict | None = None) -> dict[str, CropSet]:
    """Real crops and pose-matched views (raw, refined) and own-pose views of one LFW split
    (``rotate``: keyword arguments of every view's `FaceRotator.rotate`)."""
    kw = {"refine": False, **(rotate or {})}
    rng = np.random.default_rng(seed)
    photos = fit_photos(paths, rot.fitter)
    sets = {k: CropSet() for k in ("real", "raw", "refined", "own")}
    for p, fit, rgb in photos:
        sets["real"].add(face_crop(rgb, fit.landmarks68), fit.yaw, p.parent.name)
    frontal = [i for i, (_, f, _) in enumerate(photos) if abs(f.yaw) < 10]
    sources = [frontal[i] for i in rng.permutation(len(frontal))[:max_sources]]
    targets: dict[int, list[tuple[float, float, float]]] = {s: [] for s in sources}
    for i, (p, fit, _) in enumerate(photos):  # each real photo: a view of another person at its pose
        s = sources[int(rng.integers(len(sources)))]
        if photos[s][0].parent.name == p.parent.name:
            s = sources[(sources.index(s) + 1) % len(sources)]
        targets[s].append(fit.pose)
    for s, poses in targets.items():
        path, _, rgb = photos[s]
        try:
            prep = rot.prepare(rgb)
            raw = (
                rot.rotate(prep, [y for y, _, _ in poses], [q for _, q, _ in poses], [r for _, _, r in poses], **kw)
                if poses
                else []
            )
            own = rot.rotate(prep, None, **kw)[0]
        except Exception:  # noqa: BLE001 - a source that fails is skipped (its targets too)
            continue
        for v, w in zip(raw, rot.refine(raw)):
            sets["raw"].add(face_crop(v.image, v.landmarks68), v.pose[0], path.parent.name)
            sets["refined"].add(face_crop(w.image, w.landmarks68), w.pose[0], path.parent.name)
        sets["own"].add(face_crop(own.image, own.landmarks68), own.pose[0], path.parent.name)
    return sets


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-photos", type=int, default=3000)
    ap.add_argument("--test-photos", type=int, default=3700)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--refiner", default="default", help="default, none (raw views only) or a weights file")
    ap.add_argument("--rotate", default="{}", help="FaceRotator.rotate keyword arguments of every view (JSON)")
    ap.add_argument("--name", default="realism", help="the results file's name (bench/results/NAME.json)")
    ap.add_argument(
        "--export-scorer",
        default=None,
        help="save the classifier trained on DevTrain real photos against raw views (augment --min-realism's scorer)",
    )
    args = ap.parse_args()
    import json

    import torch

    from pipeline import FaceRotator

    torch.set_num_threads(2)
    t0 = time.perf_counter()
    rot = FaceRotator(refiner=args.refiner)
    rotate = json.loads(args.rotate)
    train = collect(lfw_photos(args.train_photos, "DevTrain"), rot, seed=0, rotate=rotate)
    test = collect(lfw_photos(args.test_photos, "DevTest"), rot, seed=1, rotate=rotate)
    t_data = time.perf_counter() - t0
    results: dict[str, Any] = {"rotate": rotate, "counts": {k: {"train": len(train[k]), "test": len(test[k])} for k in train}}
    kinds = ("raw", "refined") if rot.refiner is not None else ("raw",)
    for kind in kinds:
        results[kind] = two_sample_test(train["real"], train[kind], test["real"], test[kind], epochs=args.epochs, keep_net=True)
        net = results[kind].pop("net")
        if kind == "raw" and args.export_scorer:
            meta = {
                "trained_on": f"LFW DevTrain: {len(train['real'])} photos against as many pose-matched raw views",
                "epochs": args.epochs,
                "devtest": {"overall": results[kind]["overall"], "bands": results[kind]["bands"]},
            }
            save_scorer(net, args.export_scorer, meta)
            print(f"scorer: {args.export_scorer}")
    near = [CropSet(), CropSet()]  # own-pose views against real photos of the same band
    for dst, src in zip(near, (train["real"], test["real"])):
        for c, y, pp in zip(src.crops, src.yaws, src.people):
            if abs(y) < 10:
                dst.add(c, y, pp)
    results["own"] = two_sample_test(near[0], train["own"], near[1], test["own"], epochs=args.epochs)
    results["seconds"] = {"data": round(t_data), "total": round(time.perf_counter() - t0)}

    def cell(r: dict | None) -> str:
        if r is None:
            return "–"
        return "–" if r["accuracy"] is None else f"{r['accuracy']:.3f} [{r['lo']:.3f}, {r['hi']:.3f}] ({r['real']}/{r['views']})"

    refined = results.get("refined", {"bands": [None] * len(BANDS), "overall": None})
    rows = [[f"{lo}–{hi}°", cell(results["raw"]["bands"][i]), cell(refined["bands"][i])] for i, (lo, hi) in enumerate(BANDS)]
    rows.append(["all", cell(results["raw"]["overall"]), cell(refined["overall"])])
    print(
        table(
            ["|yaw| band", "raw renders: accuracy [95%] (real/views tested)", "refined"],
            rows,
            "Classifier two-sample test: real DevTest photos against pose-matched views (0.5: indistinguishable)",
        )
    )
    print(table(["views at the photo's own pose", "accuracy [95%] (real/views)"], [["0–10°", cell(results["own"]["overall"])]]))
    print("counts (train / test):", results["counts"], "seconds:", results["seconds"])
    save(args.name, results)


if __name__ == "__main__":
    main()
