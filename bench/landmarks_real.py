"""The 68 landmarks of `facerot fit` on real photos against independent points: dlib's 68-point
shape predictor (trained on iBUG 300-W) on LFW DevTest photos (issue 28, part 4).

NME = mean point distance over sqrt(w·h) of dlib's points' box. Two conventions for the jaw line:
dlib's points follow the *visible* silhouette; ours (the model's fixed vertices, as AFLW2000-3D
annotates the occluded side) are the *3D* points projected. They agree on near-frontal photos and
part past ~20° of yaw on the far side of the jaw, so the table gives the jaw (0-16) and the inner
face (17-67) apart, by our fit's |yaw|.

    cd bench && python landmarks_real.py [--photos 1500]
"""

from __future__ import annotations

import argparse

import numpy as np
from common import lfw_photos, save, table

from face3d.fitting import FitOptions, Fitter
from face3d.imageio import read_image
from face3d.landmarks import NoFaceError, get_detector

BANDS = ((0, 10), (10, 20), (20, 30), (30, 90))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=1500)
    args = ap.parse_args()
    fitter = Fitter(options=FitOptions(photometric=False))
    dlib68 = get_detector("dlib", flip_average=False)
    rows = []
    for p in lfw_photos(args.photos, "DevTest"):
        img = read_image(p)
        try:
            fit = fitter.fit_landmark_batch([fitter.detect(img)[0]])[0]
            ref = dlib68.detect(img)[0].points68
        except NoFaceError:
            continue
        size = float(np.sqrt(np.prod(np.ptp(ref, 0))))
        d = np.linalg.norm(fit.landmarks68 - ref, axis=1) / size
        rows.append((abs(fit.yaw), float(np.nanmean(d)), float(np.nanmean(d[:17])), float(np.nanmean(d[17:]))))
    r = np.array(rows)
    out, body = [], []
    for lo, hi in BANDS:
        m = (r[:, 0] >= lo) & (r[:, 0] < hi)
        row = {
            "band": f"{lo}–{hi}°",
            "photos": int(m.sum()),
            "nme68": float(r[m, 1].mean()),
            "jaw": float(r[m, 2].mean()),
            "inner": float(r[m, 3].mean()),
        }
        out.append(row)
        body.append(
            [row["band"], row["photos"], f"{100 * row['nme68']:.2f}%", f"{100 * row['jaw']:.2f}%", f"{100 * row['inner']:.2f}%"]
        )
    allr = {"photos": len(r), "nme68": float(r[:, 1].mean()), "jaw": float(r[:, 2].mean()), "inner": float(r[:, 3].mean())}
    body.append(["all", allr["photos"], *(f"{100 * allr[k]:.2f}%" for k in ("nme68", "jaw", "inner"))])
    print(
        table(
            ["our |yaw|", "photos", "NME 68", "jaw (0-16)", "inner (17-67)"],
            body,
            "facerot fit's 68 landmarks against dlib's 68 points (LFW DevTest; box-normalised)",
        )
    )
    save("landmarks_real", {"bands": out, "all": allr})


if __name__ == "__main__":
    main()
