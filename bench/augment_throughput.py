"""Throughput of ``facerot augment`` on this machine: LFW photos x 9 yaws, 1 and 2 workers.

    python bench/augment_throughput.py [--photos 100] [--refiner default] [--repeat 3]

Also measures the floor in the same run: only decoding the inputs and encoding 9 outputs each
(the I/O no engine can avoid), and the ratio of the engine's time to it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from common import lfw_photos, save, table

from face3d.files import encode_image
from pipeline.augment import AugmentOptions, make_targets, run_augment

YAWS = "-60:60:15"


def _run_one(workers: int, refiner: str | None, src: Path, out: Path) -> None:
    """One timed run in this (fresh) process, as `facerot augment` runs it; prints JSON."""
    targets = make_targets(YAWS, "0", "0", "keep")
    s = run_augment(
        src, out, AugmentOptions(targets=targets, refiner=refiner), workers=workers, progress=False, start_method="auto"
    )
    print(json.dumps({"seconds": s.seconds, "views": s.ok, "failed": s.failed, "start_method": s.start_method}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=100)
    ap.add_argument("--refiner", default="default", help="also run 2 workers with this refiner (none: skip)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of every run (this machine is noisy: medians)")
    ap.add_argument("--run-one", nargs=4, metavar=("WORKERS", "REFINER", "SRC", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run_one:
        w, r, src_dir, out_dir = args.run_one
        _run_one(int(w), None if r == "none" else r, Path(src_dir), Path(out_dir))
        return
    work = Path(tempfile.mkdtemp(prefix="facerot-bench-"))
    src = work / "in"
    for p in lfw_photos(args.photos):
        (src / p.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(p, src / p.parent.name / p.name)
    targets = make_targets(YAWS, "0", "0", "keep")
    n_views = args.photos * len(targets)
    t0 = time.perf_counter()  # floor: decode every input, encode every output
    for p in sorted(src.rglob("*.jpg")):
        img = cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
        for _ in targets:  # the engine's own encoder settings
            (work / "floor.png").write_bytes(encode_image(img, ".png"))
    floor = time.perf_counter() - t0
    # every run in a fresh process, its imports done before the clock starts, workers started as
    # `facerot augment` starts them; the rounds interleave the runs so drifts hit them alike
    runs = [(2, "none"), (1, "none")] + ([(2, args.refiner)] if args.refiner != "none" else [])
    times: dict[tuple[int, str], list[dict]] = {r: [] for r in runs}
    for rnd in range(args.repeat):
        for workers, refiner in runs:
            if refiner != "none" and rnd > 0:
                continue  # the refined run is slow and far from its goal's edge: once
            out = work / f"out{rnd}_{workers}{refiner}"
            cmd = [sys.executable, __file__, "--run-one", str(workers), refiner, str(src), str(out)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            times[(workers, refiner)].append(json.loads(done.stdout.strip().splitlines()[-1]))
            shutil.rmtree(out, ignore_errors=True)
    rows, res = [["decode + encode only (floor)", "-", n_views, round(floor, 1), round(n_views / floor, 1), "-", "1.0x"]], {}
    for (workers, refiner), rs in times.items():
        rates = sorted(r["views"] / r["seconds"] for r in rs)
        med = float(np.median(rates))
        label = (
            f"facerot augment, {workers} worker(s)"
            + (f" ({rs[0]['start_method']})" if rs[0]["start_method"] else "")
            + (f", refiner {refiner}" if refiner != "none" else ", no refiner")
        )
        rows.append(
            [
                label,
                rs[0]["views"],
                n_views,
                round(float(np.median([r["seconds"] for r in rs])), 1),
                round(med, 1),
                f"{rates[0]:.1f}-{rates[-1]:.1f}" if len(rates) > 1 else "-",
                f"{n_views / med / floor:.1f}x",
            ]
        )
        key = str(workers) if refiner == "none" else f"{workers}_refined"
        res[key] = {
            "views_per_s_median": med,
            "views_per_s_runs": rates,
            "failed": max(r["failed"] for r in rs),
            "start_method": rs[0]["start_method"],
        }
    scaling = [a["views"] / a["seconds"] / (b["views"] / b["seconds"]) for a, b in zip(times[(2, "none")], times[(1, "none")])]
    res["floor_seconds"] = floor
    res["scaling_2_vs_1_runs"] = sorted(scaling)
    res["scaling_2_vs_1"] = float(np.median(scaling))
    print(
        table(
            ["run", "views written", "views asked", "seconds (median)", "views/s (median)", "views/s (range)", "time vs floor"],
            rows,
            f"{args.photos} LFW DevTest photos x {len(targets)} yaws (-60..60), full 250x250 frames, {args.repeat} "
            f"rounds; 2 workers / 1 worker = {res['scaling_2_vs_1']:.2f}x (median; rounds: "
            + ", ".join(f"{x:.2f}" for x in sorted(scaling))
            + ")",
        )
    )
    save("augment_throughput", res)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
