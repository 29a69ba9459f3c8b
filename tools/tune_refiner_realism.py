"""Realism fine-tune of a refiner (ganrefine.realism_tune), resumable:

    python tools/tune_refiner_realism.py --config configs/realism_tune_cpu.json \\
        [--set out/realism_set] [--photos 3700] [--time-limit MIN] [--export out/refiner_realism/refiner.pt]

Builds (once) the set of raw DevTrain views at the poses of real DevTrain photos and those photos'
crops, trains from the run's checkpoint if there is one, and exports the generator.

On a machine without the photos or the fitter (an accelerator's), carry the set packed:
``--pack gpu/realism_set.npz`` writes it (crops as JPEG, about 45 MB for 3,700 views) and stops;
``--packed gpu/realism_set.npz`` trains from it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ganrefine.realism_tune import (
    RealismTuneConfig,
    RealismTuner,
    build_realism_set,
    load_packed_realism_set,
    pack_realism_set,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--set", default="out/realism_set")
    ap.add_argument("--photos", type=int, default=3700)
    ap.add_argument("--time-limit", type=float, default=None, help="minutes (default: the config's)")
    ap.add_argument("--export", default=None, help="default: OUT/refiner.pt")
    ap.add_argument("--pack", default=None, help="write the set packed to this file and stop")
    ap.add_argument("--packed", default=None, help="train from a packed set instead of --set")
    args = ap.parse_args()
    cfg = RealismTuneConfig(**json.loads(Path(args.config).read_text()))
    if args.time_limit is not None:
        cfg.time_limit_min = args.time_limit
    data = load_packed_realism_set(args.packed) if args.packed else build_realism_set(args.set, photos=args.photos)
    if args.pack:
        print(pack_realism_set(data, args.pack))
        return
    tuner = RealismTuner(cfg, data)
    tuner.run()
    print(tuner.export(args.export or Path(cfg.out) / "refiner.pt"))


if __name__ == "__main__":
    main()
