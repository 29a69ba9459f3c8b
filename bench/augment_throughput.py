"""Throughput of ``facerot augment`` on this machine: LFW photos x 9 yaws, 1 and 2 workers.

    python bench/augment_throughput.py [--photos 100]

Also measures the floor in the same run: only decoding the inputs and encoding 9 outputs each
(the I/O no engine can avoid), and the ratio of the engine's time to it.
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import cv2

from common import lfw_photos, save, table
from pipeline.batch import AugmentOptions, encode_image, make_targets, run_augment

YAWS = "-60:60:15"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=100)
    ap.add_argument("--refiner", default="default", help="also run 2 workers with this refiner (none: skip)")
    args = ap.parse_args()
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
    rows, res = [["decode + encode only (floor)", "-", n_views, round(floor, 1), round(n_views / floor, 1), "1.0x"]], {}
    # worker processes start as `facerot augment` starts them (fork while this process has no
    # thread pool); the 1-worker run works in this process, so it goes last
    runs = [(2, None)] + ([(2, args.refiner)] if args.refiner != "none" else []) + [(1, None)]
    for workers, refiner in runs:
        out = work / f"out{workers}{refiner or ''}"
        s = run_augment(src, out, AugmentOptions(targets=targets, refiner=refiner), workers=workers, progress=False,
                        start_method="auto")
        label = (f"facerot augment, {workers} worker(s)" + (f" ({s.start_method})" if s.start_method else "")
                 + (f", refiner {refiner}" if refiner else ", no refiner"))
        rows.append([label, s.ok, n_views, round(s.seconds, 1), round(s.ok / s.seconds, 1), f"{s.seconds / floor:.1f}x"])
        key = workers if refiner is None else f"{workers}_refined"
        res[key] = {"views": s.ok, "seconds": s.seconds, "views_per_s": s.ok / s.seconds, "failed": s.failed,
                    "start_method": s.start_method}
    res["floor_seconds"] = floor
    res["scaling_2_vs_1"] = res[2]["views_per_s"] / res[1]["views_per_s"]
    print(table(["run", "views written", "views asked", "seconds", "views/s", "time vs floor"], rows,
                f"{args.photos} LFW DevTest photos x {len(targets)} yaws (-60..60), full 250x250 frames; "
                f"2 workers / 1 worker = {res['scaling_2_vs_1']:.2f}x"))
    save("augment_throughput", res)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
