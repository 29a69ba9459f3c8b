"""Does a recognizer trained on facerot views recognise faces across pose better? (issue 29)

The same compact recognizer (pipeline/evaluation/recognizer.py) is trained from scratch on LFW
peopleDevTrain (at most 10 photos a person: 7,371 photos of 4,038 people) in arms that differ only
in their data, at equal steps, batch and seeds, and evaluated on peopleDevTest (never trained on):
pairsDevTest verification (10-fold thresholds) by pose gap, and rank-1 identification with each
person's most frontal photo as gallery.

    a  photos only                      b  photos + classic 2D augmentation
    c  photos + raw facerot views       d  photos + refined facerot views
    e  photos + raw views + classic 2D  (and a sweep of views per photo for the best arm)

The views are made once by `facerot augment` (as a user makes them: a CSV of photos in, 112 px
crops with --include-originals out), cached, and read through its manifest:
raw and refined: the same poses, yaw -60,-30,30,60 × pitch -15,0,+15 (12 per photo), so that arms
c and d draw the same poses for a seed and differ only in the refiner. Each arm draws 3 views a photo.

    cd bench && python train_recognizer.py [--seeds 10] [--sweep 1,9 --sweep-seeds 3] [--steps 1000] [--time-limit MIN]
    (make recognizer; phases: --only views|train|report; every phase resumes when run again)

At full size on a GPU machine (runs kept apart from the CPU size's, in out/recognizer/runs_w*):
    python train_recognizer.py --device cuda --width 64 --batch 512 --steps 20000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import RESULTS, lfw_people, save, table

from pipeline.evaluation.recognizer import (
    GAPS,
    ArmSpec,
    TrainConfig,
    arm_data,
    evaluate,
    lfw_pairs,
    read_crops,
    save_json,
    seeds_interval,
    train,
)

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "out" / "recognizer"
POOLS = {
    "test": ("DevTest", None, ["--yaws", "0", "--refiner", "none", "--include-originals"]),
    "raw": ("DevTrain", 10, ["--yaws", "-60,-30,30,60", "--pitches", "-15,0,15", "--refiner", "none", "--include-originals"]),
    "refined": ("DevTrain", 10, ["--yaws", "-60,-30,30,60", "--pitches", "-15,0,15", "--refiner", "default"]),
}
ARMS = {
    "a": ArmSpec("a: photos"),
    "b": ArmSpec("b: photos + classic 2D", classic=True),
    "c": ArmSpec("c: photos + raw views", "raw", 3),
    "d": ArmSpec("d: photos + refined views", "refined", 3),
    "e": ArmSpec("e: photos + raw views + classic 2D", "raw", 3, classic=True),
}


def photo_list(split: str, cap: int | None) -> Path:
    """A CSV (path,identity) of the split's photos, at most ``cap`` a person, for `facerot augment`."""
    from face3d.settings import lfw_dir

    root = lfw_dir() / "images"
    out = WORK / f"{split.lower()}.csv"
    rows = []
    for name, k in lfw_people(split):
        rows += [f"{root / name / f'{name}_{i:04d}.jpg'},{name}" for i in range(1, min(k, cap or k) + 1)]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(rows) + "\n")
    return out


def make_views(workers: int, pools: list[str]) -> None:
    """Run `facerot augment` for each pool (resumes: photos already done are skipped)."""
    for name in pools:
        split, cap, args = POOLS[name]
        listing = photo_list(split, cap)
        cmd = [sys.executable, "-m", "pipeline.cli", "augment", str(listing), str(WORK / name)]
        cmd += args + ["--size", "112", "--format", "jpg", "--workers", str(workers), "--max-failures", "0.2"]
        print(" ".join(cmd[2:]), flush=True)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT)
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)


def banks(names: set[str]) -> dict[str, Any]:
    return {name: read_crops(WORK / name, WORK / "cache" / f"{name}.npz") for name in names}


def run_arms(
    arms: list[str],
    seeds: int,
    cfg: TrainConfig,
    deadline: float | None,
    k_sweep: list[int],
    sweep_arm: str = "c",
    sweep_seeds: int = 3,
) -> None:
    """Train and evaluate every (arm, views per photo, seed) not yet done, until ``deadline``."""
    b = banks({"raw", "test"} | {ARMS[a].views for a in [*arms, sweep_arm] if ARMS[a].views})
    photos = b["raw"].subset(b["raw"].original)
    test = b["test"].subset(b["test"].original)
    pairs = lfw_pairs(lfw_root() / "pairsDevTest.txt", test)
    print(f"train: {len(photos)} photos of {len(set(photos.identity))} people; test: {len(test)} photos, {len(pairs.a)} pairs")
    jobs = [(a, ARMS[a].views_per_photo, s) for s in range(seeds) for a in arms]
    jobs += [(sweep_arm, k, s) for k in k_sweep for s in range(sweep_seeds)]
    for arm, k, seed in jobs:
        spec = ARMS[arm]
        spec = ArmSpec(spec.name, spec.views, k, spec.classic)
        tag = f"{arm}_k{k}_s{seed}"
        done = runs_dir(cfg) / f"{tag}.json"
        if done.is_file():
            made = json.loads(done.read_text()).get("steps")
            if made != cfg.steps:
                raise SystemExit(
                    f"{done} was trained for {made} steps, not {cfg.steps}: use --steps {made} or move the runs away"
                )
            continue
        left = None if deadline is None else deadline - time.time()
        if left is not None and left < 60:
            print("time limit reached; run again to go on")
            return
        data = arm_data(spec, photos, b, seed)
        print(f"{tag}: {len(data.images)} rows ({data.photos} photos, {data.classes} people)", flush=True)
        net, info = train(data, spec.classic, seed, cfg, runs_dir(cfg) / f"{tag}.pt", left)
        if not info["finished"]:
            print("time limit reached; run again to go on")
            return
        res = evaluate(net, test, pairs)
        save_json(done, {"arm": arm, "views_per_photo": k, "seed": seed, "rows": len(data.images), **info, **res})
        print(f"{tag}: verification {res['verification']:.3f} rank-1 {res['rank1']:.3f} ({info['seconds']:.0f} s)", flush=True)


def lfw_root() -> Path:
    from face3d.settings import lfw_dir

    return lfw_dir()


def _fmt(m: tuple[float, float, float], pct: bool = True) -> str:
    f = 100 if pct else 1
    if np.isnan(m[1]):
        return f"{f * m[0]:.1f}"
    return f"{f * m[0]:.1f} [{f * m[1]:.1f}, {f * m[2]:.1f}]"


def runs_dir(cfg: TrainConfig) -> Path:
    """Where the runs of a network size and schedule live: ``runs`` for the reported CPU size,
    its own folder for any other (a full-size GPU run)."""
    base = TrainConfig()
    if (cfg.steps, cfg.width, cfg.batch) == (base.steps, base.width, base.batch):
        return WORK / "runs"
    return WORK / f"runs_w{cfg.width}_b{cfg.batch}_s{cfg.steps}"


def report(cfg: TrainConfig) -> None:
    """Tables (mean and 95% interval over seeds; paired differences to a and b, and of d to c) and
    the plot."""
    import json

    runs = [json.loads(p.read_text()) for p in sorted(runs_dir(cfg).glob("*.json"))]
    if not runs:
        print("no finished runs")
        return
    by: dict[tuple[str, int], dict[int, dict[str, Any]]] = {}
    for r in runs:
        by.setdefault((r["arm"], r["views_per_photo"]), {})[r["seed"]] = r
    bands = [f"{lo:g}-{hi:g}" for lo, hi in GAPS]

    def metric(r: dict[str, Any], name: str, band: str | None) -> float:
        return float(r[name] if band is None else r["bands"][band][name])

    rows, out = [], {}
    for (arm, k), seeds in sorted(by.items()):
        rec: dict[str, Any] = {"seeds": len(seeds), "seconds": float(np.mean([r["seconds"] for r in seeds.values()]))}
        cells = [f"{ARMS[arm].name}" + (f" ({k}/photo)" if ARMS[arm].views else ""), len(seeds)]
        for name in ("verification", "rank1"):
            for band in [None, *bands]:
                m = seeds_interval([metric(r, name, band) for r in seeds.values()])
                rec[f"{name}_{band or 'all'}"] = m
                cells.append(_fmt(m))
                for base, ref in _bases(by).items():
                    common = sorted(set(ref) & set(seeds))
                    # differences to a, to b past it, and refined views to raw ones (the same poses)
                    if arm not in ("a", base) and (base != "c" or arm == "d") and common:
                        d = [metric(seeds[s], name, band) - metric(ref[s], name, band) for s in common]
                        rec[f"{name}_{band or 'all'}_minus_{base}"] = seeds_interval(d)
        cells.append(f"{rec['seconds'] / 60:.1f}")
        rows.append(cells)
        out[f"{arm}_k{k}"] = rec
    any_run = runs[0]
    counts = {b: (any_run["bands"][b]["pairs"], any_run["bands"][b]["probes"]) for b in bands}
    heads = ["arm", "seeds", "verif. all"] + [f"verif. gap {b}° ({counts[b][0]} pairs)" for b in bands]
    heads += ["rank-1 all"] + [f"rank-1 gap {b}° ({counts[b][1]} probes)" for b in bands] + ["min/run"]
    print(table(heads, rows, "Recognizer trained on LFW DevTrain, tested on DevTest (% correct, mean [95% interval over seeds])"))
    diff_rows = []
    for key, rec in out.items():
        for base in ("a", "b", "c"):
            if f"verification_all_minus_{base}" in rec:
                cells = [f"{key} - {base}"]
                for name in ("verification", "rank1"):
                    cells += [_fmt(rec[f"{name}_{band}_minus_{base}"]) for band in ["all", *bands]]
                diff_rows.append(cells)
    if diff_rows:
        heads = ["paired difference (points)"] + [f"{m} {b}" for m in ("verif.", "rank-1") for b in ["all", *bands]]
        print(table(heads, diff_rows, "Paired differences over seeds (same seed, same test set)"))
    size = runs_dir(cfg).name.removeprefix("runs")  # "" at the reported CPU size
    save(f"train_recognizer{size}", {"arms": out, "band_counts": counts, "runs": [_run_record(r) for r in runs]})
    print(f"results: {(RESULTS / f'train_recognizer{size}.json').relative_to(ROOT)}")
    plot(out, bands, f"recognizer_pose_gap{size}.png")


def _bases(by: dict[tuple[str, int], dict[int, dict[str, Any]]]) -> dict[str, dict[int, dict[str, Any]]]:
    """The runs (by seed) that differences are taken to: a, b, and c at its reported views a photo."""
    return {"a": by.get(("a", 0), {}), "b": by.get(("b", 0), {}), "c": by.get(("c", ARMS["c"].views_per_photo), {})}


def _run_record(r: dict[str, Any]) -> dict[str, Any]:
    """One run's identity and measures (not its training curve), kept with the tables so that
    paired differences can be recomputed after the run files are gone."""
    keep = ("arm", "views_per_photo", "seed", "steps", "seconds", "verification", "rank1", "bands")
    return {k: r[k] for k in keep if k in r}


def plot(out: dict[str, Any], bands: list[str], filename: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, name, title in ((axes[0], "verification", "pairsDevTest verification"), (axes[1], "rank1", "rank-1 identification")):
        for key, rec in out.items():
            m = np.array([rec[f"{name}_{b}"] for b in bands]) * 100
            ax.errorbar(range(len(bands)), m[:, 0], yerr=np.abs(m[:, 1:].T - m[:, 0]), capsize=3, marker="o", label=key)
        ax.set_xticks(range(len(bands)), [f"{b}°" for b in bands])
        ax.set_xlabel("yaw gap between the two photos")
        ax.set_ylabel("% correct")
        ax.set_title(title)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    target = ROOT / "docs" / filename
    fig.savefig(target, dpi=110)
    print(f"plot: {target.relative_to(ROOT)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=["views", "train", "report"], help="one phase (default: all)")
    ap.add_argument("--arms", default="a,b,c,d,e")
    ap.add_argument("--seeds", type=int, default=10, help="seeds per arm (the reported table: 10)")
    ap.add_argument("--steps", type=int, default=TrainConfig.steps)
    ap.add_argument("--width", type=int, default=TrainConfig.width)
    ap.add_argument("--batch", type=int, default=TrainConfig.batch)
    ap.add_argument("--device", default="auto", help="cpu, cuda, or auto (cuda when there is one)")
    ap.add_argument("--sweep", default="", help="views per photo for the sweep (e.g. 1,9)")
    ap.add_argument("--sweep-arm", default="d", choices=sorted(ARMS), help="the arm the sweep varies")
    ap.add_argument("--sweep-seeds", type=int, default=3, help="seeds per sweep point (the reported table: 3)")
    ap.add_argument("--pools", default="test,raw,refined", help="the view pools the views phase makes")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--time-limit", type=float, default=None, help="minutes for the training phase")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(max(1, min(torch.get_num_threads(), args.workers)))
    if args.only in (None, "views"):
        make_views(args.workers, args.pools.split(","))
    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    cfg = TrainConfig(steps=args.steps, width=args.width, batch=args.batch, device=device)
    if args.only in (None, "train"):
        deadline = None if args.time_limit is None else time.time() + 60 * args.time_limit
        sweep = [int(k) for k in args.sweep.split(",") if k]
        run_arms(args.arms.split(","), args.seeds, cfg, deadline, sweep, args.sweep_arm, args.sweep_seeds)
    if args.only in (None, "report"):
        report(cfg)


if __name__ == "__main__":
    main()
