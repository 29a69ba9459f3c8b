"""Accuracy on annotated large-pose photos (AFLW2000-3D: pose and 68 3D landmarks).

    FACEROT_AFLW2000=/path/to/AFLW2000 python bench/fit_aflw2000.py

Yaw/pitch/roll MAE against ``Pose_Para`` and the 68-point NME normalised by the size
(sqrt(w * h)) of the annotated landmarks' box, for our fitted (projected) landmarks
(:func:`pipeline.evaluation.pose.aflw2000_accuracy`, which ``facerot eval --aflw2000`` also runs).
AFLW2000's angle signs are not facerot's: each angle's sign is taken from its correlation with
ours, and the table says which were flipped.
"""

from __future__ import annotations

import os
from pathlib import Path

from common import save, table

from face3d.fitting import FitOptions, Fitter
from pipeline.evaluation.pose import aflw2000_accuracy


def main() -> None:
    folder = Path(os.environ.get("FACEROT_AFLW2000", "../shared/data/AFLW2000"))
    if not folder.is_dir():
        print(f"AFLW2000-3D not found at {folder} (set FACEROT_AFLW2000); nothing measured.")
        return
    r = aflw2000_accuracy(folder, Fitter(options=FitOptions(photometric=False)))
    if "yaw_mae" not in r:
        print(f"no photo could be fitted: {r}")
        return
    print(
        table(
            ["photos", "no face", "unreadable", "yaw MAE °", "pitch MAE °", "roll MAE °", "NME 68 %", "signs flipped"],
            [
                [
                    r["photos"],
                    r["no_face"],
                    r["unreadable"],
                    round(r["yaw_mae"], 2),
                    round(r["pitch_mae"], 2),
                    round(r["roll_mae"], 2),
                    round(100 * r["nme68"], 2),
                    ",".join(r["signs_flipped"]) or "none",
                ]
            ],
            "AFLW2000-3D",
        )
    )
    save("fit_aflw2000", r)


if __name__ == "__main__":
    main()
