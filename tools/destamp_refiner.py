"""Take a refiner's fixed stamp off: the mean of its change over the realism set's DevTrain views
(render crops at the poses of real DevTrain photos), stored in the refiner file as ``mean_change``
and subtracted from every output by :class:`ganrefine.Refiner`.

    python tools/destamp_refiner.py --refiner default --out out/refiner_destamp.pt [--set out/realism_set]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from ganrefine import Refiner
from ganrefine.realism_tune import build_realism_set
from ganrefine.train import _save


def mean_change(refiner: Refiner, render: np.ndarray, provenance: np.ndarray, landmarks: np.ndarray) -> torch.Tensor:
    """(3, S, S) float32: the generator's change (output − render) averaged over the crops, with
    no stamp taken off: a ``mean_change`` the refiner already holds is cleared first."""
    refiner.mean_change = None
    total = torch.zeros(3, refiner.size, refiner.size, dtype=torch.float64)
    for i in range(0, len(render), 256):
        out = refiner.refine_crops(render[i : i + 256], provenance[i : i + 256], landmarks[i : i + 256])
        total += torch.from_numpy(out.astype(np.float64) - render[i : i + 256]).sum(0).permute(2, 0, 1) / 255
    return (total / max(len(render), 1)).float()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--refiner", default="default")
    ap.add_argument("--set", default="out/realism_set")
    ap.add_argument("--photos", type=int, default=3700)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    ref = Refiner(args.refiner)
    data = build_realism_set(args.set, photos=args.photos)
    mean = mean_change(ref, data.render, data.provenance, data.landmarks)
    blob = torch.load(ref.path, map_location="cpu", weights_only=True)
    blob["mean_change"] = mean.half()
    blob.setdefault("training", {})["mean_change"] = f"{len(data.render)} realism-set views (DevTrain), {args.set}"
    _save(blob, Path(args.out))
    print(args.out, f"mean |stamp| {float(mean.abs().mean()) * 255:.2f}/255")


if __name__ == "__main__":
    main()
