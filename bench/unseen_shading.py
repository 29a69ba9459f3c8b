"""Shading of the side a turned photo did not see, with the photo's own lighting kept: the fitted
lighting extrapolated to it ("fitted") against the mirror point's shading ("mirror", the default).

DevTest photos whose fitted |yaw| is at least 25° (the first ``--photos`` in listing order;
``--split DevTrain`` for development, nothing written),
raw renders at yaw -60...60 signed so that negative turns the face to the side the photo did not
see. Per yaw: the artefact census's dark mirrored half and seam (pipeline.evaluation.artefacts),
dlib's distance to the photo and the realism scorer's P(real); paired differences, 95% bootstrap
intervals over photos. Writes docs/unseen_shading.jpg (a row per photo and way).

    cd bench && python unseen_shading.py [--photos 40]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from common import lfw_photos, save, table

from face3d.imageio import read_image
from face3d.landmarks import NoFaceError, box_of
from face3d.synth import rotate
from pipeline.evaluation.artefacts import census
from pipeline.evaluation.realism import RealismScorer, face_crop
from pipeline.evaluation.stats import bootstrap_ci
from pipeline.identity import DlibIdentity
from pipeline.rotator import FaceRotator

ROOT = Path(__file__).resolve().parents[1]
TURNS = (-60, -45, -30, 0, 30, 45, 60)
WAYS = ("fitted", "mirror")
MIN_YAW = 25.0


def turned_photos(rot: FaceRotator, n: int, split: str) -> list[tuple[Path, object]]:
    """(path, fit) of the first ``n`` photos of ``split`` fitted at |yaw| >= MIN_YAW."""
    out = []
    for path in lfw_photos(2000, split):
        try:
            fit = rot.fit(read_image(path))
        except NoFaceError:
            continue
        if abs(fit.pose[0]) >= MIN_YAW:
            out.append((path, fit))
            if len(out) == n:
                break
    return out


def interval(x: np.ndarray) -> str:
    """Mean difference and its 95% bootstrap interval, formatted."""
    m, lo, hi = bootstrap_ci(x)
    return f"{m:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=40)
    ap.add_argument("--split", default="DevTest", choices=["DevTest", "DevTrain"], help="DevTrain: for development")
    ap.add_argument("--no-grid", action="store_true")
    args = ap.parse_args()
    rot, ident, scorer = FaceRotator(refiner=None), DlibIdentity(), RealismScorer()
    photos = turned_photos(rot, args.photos, args.split)
    print(f"{len(photos)} {args.split} photos at |yaw| >= {MIN_YAW:g}°")
    keys = ("dark_mirror", "seam", "dlib", "realism")
    m = {w: {k: np.full((len(photos), len(TURNS)), np.nan) for k in keys} for w in WAYS}
    rows_img = []
    for i, (path, fit) in enumerate(photos):
        image = read_image(path)
        prep = rot.prepare(image, fit)
        own = ident.descriptor(image, box_of(fit.landmarks68))
        side = -1.0 if fit.pose[0] > 0 else 1.0  # negative turns: toward the side the photo did not see
        for way in WAYS:
            views = [rotate(prep, -side * t, 0, 0, renderer=rot.renderer, shade_unseen=way) for t in TURNS]
            for j, (v, c) in enumerate(zip(views, census(prep, views, rot.renderer))):
                m[way]["dark_mirror"][i, j] = float(c["dark_mirror"])
                m[way]["seam"][i, j] = float(c["seam"])
                m[way]["dlib"][i, j] = ident.distance(own, ident.descriptor(v.image, v.box))
                m[way]["realism"][i, j] = scorer.score(v.image, v.landmarks68)
            if i < 6:
                rows_img.append(np.concatenate([face_crop(v.image, v.landmarks68, 128, 1.8) for v in views], 1))
        print(f"{i + 1}/{len(photos)} {path.stem} yaw {fit.pose[0]:+.0f}°", flush=True)
    body, out = [], {}
    for j, t in enumerate(TURNS):
        cells: list[object] = [t]
        for k in keys:
            a, b = m["fitted"][k][:, j], m["mirror"][k][:, j]
            if k in ("dark_mirror", "seam"):
                cells.append(f"{int(a.sum())} → {int(b.sum())} / {len(a)}")
            else:
                cells.append(f"{a.mean():.3f} → {b.mean():.3f}, {interval(b - a)}")
            out[f"{k}_{t}"] = {"fitted": float(a.mean()), "mirror": float(b.mean())}
        body.append(cells)
    cells = ["all"]
    for k in keys:
        a, b = m["fitted"][k], m["mirror"][k]
        if k in ("dark_mirror", "seam"):
            cells.append(f"{int(a.sum())} → {int(b.sum())} / {a.size}")
        else:  # per photo, the mean over its turns
            cells.append(f"{a.mean():.3f} → {b.mean():.3f}, {interval(b.mean(1) - a.mean(1))}")
        out[f"{k}_all"] = {"fitted": float(a.mean()), "mirror": float(b.mean())}
    body.append(cells)
    heads = ["turn (− toward the unseen side)", "dark mirrored half", "seam", "dlib distance to the photo", "P(real)"]
    print(table(heads, body, "Unseen side shaded by the fitted light → by its mirror point (raw renders)"))
    if args.split != "DevTest":
        return
    save("unseen_shading", {"photos": len(photos), "per_turn": out})
    if rows_img and not args.no_grid:
        import cv2

        path = ROOT / "docs" / "unseen_shading.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(rows_img, 0), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
        print(f"grid: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
