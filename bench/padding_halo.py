"""Halo of the frame's padding: how much of the photo's dark scene a view shows bright.

    python bench/padding_halo.py [--photos 400] [--min-padding 0.25] [--names A_0001 B_0002 ...]

A pure-black backdrop that reaches the frame's border lies outside the content's hull and is
taken for padding; what the background plate fills it with is dragged in beside the turning
head. For each view at -60, -30, +30 and +60 degrees, among the view's background pixels (not
the face, not the padding) that are dark in the photo (max channel <= 20), the share shown bright
(>= 60). Photos: the DevTest photos (a fixed shuffle of the first ``--photos``) whose padding
covers at least ``--min-padding`` of the frame, or the ``--names`` given. To compare two trees,
run it in each (``git worktree``; the numbers in the README came from the tree before the
padding's continuing fill and the one after it).
"""

from __future__ import annotations

import argparse
import random

import numpy as np
from common import lfw_people, save, table

from face3d.imageio import read_image
from face3d.settings import lfw_dir
from face3d.synth import frame_padding
from pipeline.rotator import FaceRotator

YAWS = (-60, -30, 30, 60)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=400)
    ap.add_argument("--min-padding", type=float, default=0.25)
    ap.add_argument("--names", nargs="*", default=None, help="LFW photo names (Person_Name_0001) instead")
    args = ap.parse_args()
    root = lfw_dir() / "images"
    if args.names:
        paths = [root / n.rsplit("_", 1)[0] / f"{n}.jpg" for n in args.names]
    else:
        paths = [root / name / f"{name}_{i:04d}.jpg" for name, k in lfw_people("DevTest") for i in range(1, k + 1)]
        random.Random(3).shuffle(paths)
        paths = paths[: args.photos]
    rot = FaceRotator(refiner=None)
    rows, per = [], {}
    for p in paths:
        img = read_image(p)
        pad = frame_padding(img)
        share = 0.0 if pad is None else float(pad.mean())
        if not args.names and share < args.min_padding:
            continue
        grey = img.max(2)
        shares = []
        for v in rot.rotate(img, yaws=list(YAWS)):
            bg = v.provenance == 0
            if pad is not None:
                bg &= ~pad
            dark = bg & (grey <= 20)
            shares.append(float(((v.image.max(2) >= 60) & dark).sum() / max(int(dark.sum()), 1)))
        per[p.stem] = {"padding": share, "dark_shown_bright": shares}
        rows.append([p.stem, f"{100 * share:.0f}%", *[f"{100 * s:.1f}%" for s in shares]])
    if per:
        mean = np.mean([r["dark_shown_bright"] for r in per.values()], 0)
        rows.append(["mean", "", *[f"{100 * s:.1f}%" for s in mean]])
    print(
        table(["photo", "padding", *[f"{y:+d}°" for y in YAWS]], rows, "photo-dark background pixels shown bright in the views")
    )
    save("padding_halo", {"yaws": list(YAWS), "min_padding": args.min_padding, "photos": per})


if __name__ == "__main__":
    main()
