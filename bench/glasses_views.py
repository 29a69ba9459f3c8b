"""Views of faces with glasses: frames kept out of the texture (``--remove-glasses``) against textured like skin (the default).

DevTest photos labelled with glasses (``bench/data/glasses_labels.json``) on which the shipped
detector finds them, turned to yaw -60...60 (raw renders), both ways. Per yaw, paired differences
(kept out - textured, 95% bootstrap interval over photos) of: dlib's distance to the photo itself
(which wears the glasses), dlib's distance to up to 3 other photos of the person (where LFW has
them), and the realism scorer's P(real). Writes ``docs/glasses_before_after.jpg``.

    python bench/glasses_views.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from common import save, table

from face3d.imageio import read_image
from face3d.landmarks import NoFaceError, box_of
from face3d.settings import lfw_dir
from face3d.synth import prepare_source, rotate
from pipeline.evaluation.realism import RealismScorer
from pipeline.evaluation.stats import bootstrap_ci
from pipeline.identity import DlibIdentity
from pipeline.rotator import FaceRotator

ROOT = Path(__file__).resolve().parents[1]
YAWS = [-60, -45, -30, 0, 30, 45, 60]
GRID_PEOPLE = 5


def others(name: str, rot: FaceRotator, ident: DlibIdentity) -> list[np.ndarray]:
    """dlib descriptors of up to 3 other photos of the person."""
    out = []
    for path in sorted((lfw_dir() / "images" / name).glob("*.jpg"))[1:4]:
        image = read_image(path)
        try:
            fit = rot.fit(image)
        except NoFaceError:
            continue
        out.append(ident.descriptor(image, box_of(fit.landmarks68)))
    return out


def measure(name: str, rot: FaceRotator, ident: DlibIdentity, scorer: RealismScorer) -> tuple[dict, dict] | None:
    """Per way ("textured", "kept_out"): distances and scores per yaw, and the views; None when the
    detector finds no glasses or there is no face."""
    image = read_image(lfw_dir() / "images" / name / f"{name}_0001.jpg")
    try:
        fit = rot.fit(image)
    except NoFaceError:
        return None
    own = ident.descriptor(image, box_of(fit.landmarks68))
    other = others(name, rot, ident)
    res: dict = {}
    views: dict = {}
    for way, remove in (("textured", False), ("kept_out", True)):
        prep = prepare_source(image, fit, rot.model, rot.renderer, remove_glasses=remove)
        if remove and not prep.glasses.present:
            return None
        rec: dict = {"own": [], "other": [], "realism": []}
        for yaw in YAWS:
            v = rotate(prep, yaw, 0, 0, renderer=rot.renderer)
            d = ident.descriptor(v.image, v.box)
            rec["own"].append(ident.distance(own, d))
            rec["other"].append(float(np.mean([ident.distance(o, d) for o in other])) if other else None)
            rec["realism"].append(scorer.score(v.image, v.landmarks68))
            views.setdefault(way, []).append(v)
        res[way] = rec
    return res, views


def grid(rows: list[tuple[str, dict]], path: Path) -> None:
    """Per person two rows (textured, kept out) of face crops at the yaws."""
    import cv2

    from pipeline.evaluation.realism import face_crop

    lines = []
    for _, views in rows:
        for way in ("textured", "kept_out"):
            lines.append(np.concatenate([face_crop(v.image, v.landmarks68, 144, 1.8) for v in views[way]], 1))
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(lines, 0), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])


def main() -> None:
    labels = json.loads((Path(__file__).resolve().parent / "data" / "glasses_labels.json").read_text())["DevTest"]
    rot, ident, scorer = FaceRotator(refiner=None), DlibIdentity(), RealismScorer()
    results, shown, t0 = {}, [], time.time()
    names = [n for n, v in labels.items() if v]
    for i, name in enumerate(names):
        out = measure(name, rot, ident, scorer)
        print(f"{i + 1}/{len(names)} {name}: {'measured' if out else 'no glasses found'} ({time.time() - t0:.0f} s)", flush=True)
        if out is None:
            continue
        results[name] = out[0]
        if len(shown) < GRID_PEOPLE:
            shown.append((name, out[1]))
    rows, summary = [], {}
    for key, what in (("own", "dlib distance to the photo"), ("other", "dlib distance to other photos"), ("realism", "P(real)")):
        people = [r for r in results.values() if r["textured"][key][0] is not None]
        a = np.array([r["textured"][key] for r in people], float)
        b = np.array([r["kept_out"][key] for r in people], float)
        for j, yaw in enumerate(YAWS):
            m = bootstrap_ci(b[:, j] - a[:, j])
            summary[f"{key}_{yaw}"] = {"textured": float(a[:, j].mean()), "kept_out": float(b[:, j].mean()), "difference": m}
            diff = f"{m[0]:+.3f} [{m[1]:+.3f}, {m[2]:+.3f}]"
            rows.append([what, len(people), yaw, f"{a[:, j].mean():.3f}", f"{b[:, j].mean():.3f}", diff])
    heads = ["measure", "photos", "yaw", "frames textured", "frames kept out", "difference"]
    print(table(heads, rows, "Faces with glasses: frames kept out of the texture against textured (raw renders)"))
    save("glasses_views", {"photos": len(results), "per_yaw": summary})
    grid(shown, ROOT / "docs" / "glasses_before_after.jpg")
    print("grid: docs/glasses_before_after.jpg")


if __name__ == "__main__":
    main()
