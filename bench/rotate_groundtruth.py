"""Real photos as ground truth for synthesised views (LFW DevTest people with several photos).

    python bench/rotate_groundtruth.py [--people 300]

A. From each person's most frontal photo F, synthesise a view at the yaw (and pitch) of another
   photo O of the same person: is the view closer to O (dlib distance) than F itself is?
B. Frontalise each photo O at 15-60° of yaw: is the frontal view closer to F than O is, and under
   0.6 (same person)?
"""

from __future__ import annotations

import argparse

import numpy as np
from common import frontal_and_others, multi_photo_people, save, table

from face3d.landmarks import box_of
from pipeline.identity import DlibIdentity
from pipeline.rotator import FaceRotator


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=300)
    ap.add_argument("--refiner", default="none", help="none (raw renders), default, or a weights file")
    args = ap.parse_args()
    rot = FaceRotator(refiner=args.refiner)
    ident = DlibIdentity()
    a_rows, b_rows = [], []
    people = multi_photo_people(args.people)
    for (f_prep, f_desc), others in frontal_and_others(rot, ident, people):
        for o_prep, o_desc in others:
            gap = abs(o_prep.fit.yaw - f_prep.fit.yaw)
            if gap >= 10:  # A: synthesise F at O's pose
                v = rot.rotate(f_prep, o_prep.fit.yaw, o_prep.fit.pitch, None)[0]
                d_view = ident.distance(ident.descriptor(v.image, box_of(v.landmarks68)), o_desc)
                a_rows.append((gap, ident.distance(f_desc, o_desc), d_view))
            if 15 <= abs(o_prep.fit.yaw) <= 60:  # B: frontalise O
                v = rot.rotate(o_prep, 0.0, f_prep.fit.pitch, None)[0]
                d_front = ident.distance(ident.descriptor(v.image, box_of(v.landmarks68)), f_desc)
                b_rows.append((abs(o_prep.fit.yaw), ident.distance(o_desc, f_desc), d_front))
    a, b = np.array(a_rows), np.array(b_rows)
    rows = []
    for label, lo, hi in (("10-20°", 10, 20), ("20-35°", 20, 35), ("35-60°", 35, 90)):
        s = (a[:, 0] >= lo) & (a[:, 0] < hi) if len(a) else np.zeros(0, bool)
        if s.any():
            rows.append(
                [
                    "A: F rotated to O's pose vs O",
                    label,
                    int(s.sum()),
                    round(float(a[s, 1].mean()), 3),
                    round(float(a[s, 2].mean()), 3),
                    f"{100 * float((a[s, 2] < a[s, 1]).mean()):.0f}%",
                    "",
                ]
            )
    for label, lo, hi in (("15-30°", 15, 30), ("30-45°", 30, 45), ("45-60°", 45, 61)):
        s = (b[:, 0] >= lo) & (b[:, 0] < hi) if len(b) else np.zeros(0, bool)
        if s.any():
            rows.append(
                [
                    "B: O frontalised vs F",
                    label,
                    int(s.sum()),
                    round(float(b[s, 1].mean()), 3),
                    round(float(b[s, 2].mean()), 3),
                    f"{100 * float((b[s, 2] < b[s, 1]).mean()):.0f}%",
                    f"{100 * float((b[s, 2] < 0.6).mean()):.0f}%",
                ]
            )
    print(
        table(
            [
                "test",
                "yaw (gap)",
                "pairs",
                "dlib distance, real photo",
                "dlib distance, synthesised",
                "synthesised closer",
                "synthesised < 0.6",
            ],
            rows,
            f"Real other-pose photos as ground truth ({len(people)} LFW DevTest people with >= 2 photos)",
        )
    )
    save("rotate_groundtruth", {"A": a.tolist(), "B": b.tolist()})


if __name__ == "__main__":
    main()
