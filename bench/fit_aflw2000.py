"""Accuracy on annotated large-pose photos (AFLW2000-3D: pose and 68 3D landmarks).

    FACEROT_AFLW2000=/path/to/AFLW2000 python bench/fit_aflw2000.py

Yaw/pitch/roll MAE against ``Pose_Para`` and the 68-point NME normalised by the size
(sqrt(w * h)) of the annotated landmarks' box, for our fitted (projected) landmarks. AFLW2000's
angle signs are not facerot's: each angle's sign is taken from its correlation with ours, and
the table says which were flipped.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from common import save, table
from face3d.fitting import Fitter, FitOptions
from face3d.imageio import read_image
from face3d.landmarks import NoFaceError
from pipeline.datasets import iter_aflw2000


def main() -> None:
    folder = Path(os.environ.get("FACEROT_AFLW2000", "../shared/data/AFLW2000"))
    if not folder.is_dir():
        print(f"AFLW2000-3D not found at {folder} (set FACEROT_AFLW2000); nothing measured.")
        return
    fitter = Fitter(options=FitOptions(photometric=False))
    gt, est, nme, missed = [], [], [], 0
    for s in iter_aflw2000(folder):
        try:
            fit = fitter.fit(read_image(s.image))
        except NoFaceError:
            missed += 1
            continue
        box = np.ptp(s.landmarks68, 0)
        nme.append(np.linalg.norm(fit.landmarks68 - s.landmarks68, axis=1).mean() / np.sqrt(box[0] * box[1]))
        gt.append((s.yaw, s.pitch, s.roll))
        est.append(fit.pose)
    gt, est = np.array(gt), np.array(est)
    signs = np.sign([np.corrcoef(gt[:, k], est[:, k])[0, 1] for k in range(3)])
    mae = np.abs(gt * signs - est).mean(0)
    print(table(["photos", "no face", "yaw MAE °", "pitch MAE °", "roll MAE °", "NME 68 %", "signs flipped"],
                [[len(gt) + missed, missed, *mae.round(2).tolist(), round(100 * float(np.mean(nme)), 2),
                  ",".join(n for n, s in zip(("yaw", "pitch", "roll"), signs) if s < 0) or "none"]],
                "AFLW2000-3D"))
    save("fit_aflw2000", {"n": len(gt), "missed": missed, "mae": mae.tolist(), "nme68": float(np.mean(nme))})


if __name__ == "__main__":
    main()
