"""Artefact census of the views (pipeline.evaluation.artefacts) on a fixed DevTest set: seams at
the face outline, stretched far cheeks, dark mirrored halves, per target yaw; raw renders and
refined views; and a grid of examples (docs/artefact_grid.jpg) for what is not counted.

    cd bench && python artefacts.py [--photos 60]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from common import lfw_photos, save, table

from face3d.imageio import read_image
from pipeline.evaluation.artefacts import census, summarise

YAWS = (-60, -45, -30, 30, 45, 60)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=60)
    ap.add_argument("--grid", default=str(Path(__file__).resolve().parent.parent / "docs" / "artefact_grid.jpg"))
    args = ap.parse_args()
    from face3d.files import write_image
    from pipeline import FaceRotator
    from pipeline.rotator import crop_view

    rot = FaceRotator()
    rows = {"raw": [], "refined": []}
    tiles = []
    for p in lfw_photos(args.photos, "DevTest"):
        try:
            prep = rot.prepare(read_image(p))
        except Exception:  # noqa: BLE001 - photos without a face are left out
            continue
        raw = rot.rotate(prep, yaws=list(YAWS), refine=False)
        refined = rot.refine(raw)
        rows["raw"] += census(prep, raw, rot.renderer)
        rows["refined"] += census(prep, refined, rot.renderer)
        if len(tiles) < 12:
            tiles.append(np.concatenate([crop_view(v, 128).image for v in raw], 1))
    res = {k: {"summary": summarise(v), "views": len(v)} for k, v in rows.items()}
    for k in ("seam_ratio", "stretched_share", "dark_mirror_ratio"):
        for kind in rows:
            vals = np.array([r[k] for r in rows[kind] if r[k] is not None], float)
            res[kind][f"{k}_median"] = float(np.median(vals)) if len(vals) else None
    heads = [
        "|target yaw|",
        "seam (raw)",
        "stretched (raw)",
        "dark mirror (raw)",
        "seam (refined)",
        "stretched (refined)",
        "dark mirror (refined)",
    ]
    body = []
    for y in res["raw"]["summary"]:
        a, b = res["raw"]["summary"][y], res["refined"]["summary"][y]
        body.append([y, a["seam"], a["stretched"], a["dark_mirror"], b["seam"], b["stretched"], b["dark_mirror"]])
    print(table(heads, body, "Artefact census (views with the artefact / views)"))
    print({k: {m: res[k][m] for m in res[k] if m.endswith("median")} for k in res})
    if tiles:
        write_image(Path(args.grid), np.concatenate(tiles, 0), jpeg_quality=90)
    save("artefacts", res)


if __name__ == "__main__":
    main()
