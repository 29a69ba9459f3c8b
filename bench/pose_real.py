"""Pose on real photos, read against an estimator that is not ours: our fit with and without the
pose calibration against WHENet (mirror-symmetric), on LFW photos, per |yaw| band of WHENet's
reading; yaw and pitch. (dlib's 68 points + the Surrey Face Model, the second opinion, is read in
bench/rotate_eval.py.)

    cd bench && python pose_real.py [--split DevTest] [--photos 3708]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from common import lfw_photos, save, table

from face3d.imageio import read_image

BANDS = ((0, 15), (15, 25), (25, 35), (35, 45), (45, 90))


def readings(paths: list, progress: bool = True) -> dict[str, np.ndarray]:
    """Per photo: WHENet's (yaw, pitch), our fit's with and without calibration, the fit's residual
    and its pose spread (the fits of the detector's two readings, half their difference)."""
    from tqdm import tqdm

    from face3d.fitting import FitOptions, Fitter
    from face3d.landmarks import NoFaceError
    from pipeline.evaluation.headpose import WHENetEstimator

    cal = Fitter(options=FitOptions(photometric=False, calibration="default"))
    plain = Fitter(options=FitOptions(photometric=False, calibration=None))
    whenet = WHENetEstimator()
    rows: dict[str, list[Any]] = {k: [] for k in ("whenet", "cal", "plain", "residual", "spread_cal", "spread_plain", "name")}
    for p in tqdm(paths, disable=not progress, desc="photos"):
        try:
            img = read_image(p)
            face = cal.detect(img)[0]
            w = whenet.estimate(img, mirror=True)
        except (NoFaceError, ValueError):
            continue
        fc, fp = cal.fit_landmark_batch([face])[0], plain.fit_landmark_batch([face])[0]
        rows["whenet"].append((w.yaw, w.pitch))
        rows["cal"].append(fc.pose[:2])
        rows["plain"].append(fp.pose[:2])
        rows["residual"].append(fp.nme)
        rows["spread_cal"].append(fc.pose_spread[:2] if fc.pose_spread else (np.nan, np.nan))
        rows["spread_plain"].append(fp.pose_spread[:2] if fp.pose_spread else (np.nan, np.nan))
        rows["name"].append(f"{p.parent.name}/{p.name}")
    return {k: np.asarray(v) for k, v in rows.items()}


def band_table(r: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    out = []
    wy = np.abs(r["whenet"][:, 0])
    for lo, hi in BANDS:
        m = (wy >= lo) & (wy < hi)
        row: dict[str, Any] = {"band": f"{lo}–{hi}°", "n": int(m.sum())}
        for k in ("cal", "plain"):
            d = r[k][m] - r["whenet"][m]
            sign = np.sign(r["whenet"][m, 0])
            row[f"{k}_yaw_mae"] = float(np.abs(d[:, 0]).mean()) if m.any() else None
            row[f"{k}_yaw_more_turned"] = float((d[:, 0] * sign).mean()) if m.any() else None
            row[f"{k}_pitch_mae"] = float(np.abs(d[:, 1]).mean()) if m.any() else None
            row[f"{k}_pitch_bias"] = float(d[:, 1].mean()) if m.any() else None
        out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="DevTest")
    ap.add_argument("--photos", type=int, default=3708)
    args = ap.parse_args()
    t0 = time.perf_counter()
    r = readings(lfw_photos(args.photos, args.split))
    rows = band_table(r)

    def f(x: float | None) -> str:
        return "–" if x is None else f"{x:.2f}"

    print(
        table(
            [
                "WHENet |yaw|",
                "photos",
                "yaw MAE calibrated",
                "uncalibrated",
                "more turned than WHENet: cal.",
                "uncal.",
                "pitch MAE cal.",
                "uncal.",
                "pitch bias cal.",
                "uncal.",
            ],
            [
                [
                    x["band"],
                    x["n"],
                    f(x["cal_yaw_mae"]),
                    f(x["plain_yaw_mae"]),
                    f(x["cal_yaw_more_turned"]),
                    f(x["plain_yaw_more_turned"]),
                    f(x["cal_pitch_mae"]),
                    f(x["plain_pitch_mae"]),
                    f(x["cal_pitch_bias"]),
                    f(x["plain_pitch_bias"]),
                ]
                for x in rows
            ],
            f"Our fit against WHENet on LFW {args.split} photos (degrees)",
        )
    )
    slope = {k: float(np.polyfit(r["whenet"][:, i], r["plain"][:, i], 1)[0]) for i, k in enumerate(("yaw", "pitch"))}
    print("slope of our uncalibrated fit against WHENet:", slope)
    save(
        f"pose_real_{args.split.lower()}",
        {"bands": rows, "slope_plain_vs_whenet": slope, "photos": len(r["name"]), "seconds": round(time.perf_counter() - t0)},
    )
    np.savez_compressed(f"/tmp/pose_real_{args.split.lower()}.npz", **r)


if __name__ == "__main__":
    main()
