"""Pose on real photos, read against an estimator that is not ours: our fit as shipped for photos
(pitch held to the detector mesh's), on the 2D points alone, and with the pose calibration (2D
points), against WHENet (mirror-symmetric), on LFW photos, per |yaw| band of WHENet's reading; yaw
and pitch, with pitch's offset and slope against WHENet's. (dlib's 68 points + the Surrey Face
Model, the second opinion, is read in bench/rotate_eval.py.)

    cd bench && python pose_real.py [--split DevTest] [--photos 3708]
    cd bench && python pose_real.py --split realworld   # the 54 real-world photos, every size
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import lfw_photos, save, table

from face3d.imageio import read_image

BANDS = ((0, 15), (15, 25), (25, 35), (35, 45), (45, 90), (0, 90))


def readings(paths: list, progress: bool = True) -> dict[str, np.ndarray]:
    """Per photo: WHENet's (yaw, pitch); our fit's as shipped ("plain"), on the 2D points alone
    ("points") and calibrated on the 2D points ("cal"); the shipped fit's residual and pose spread
    (of the detector's two readings, half their difference), and the calibrated fit's."""
    from tqdm import tqdm

    from face3d.fitting import FitOptions, Fitter
    from face3d.landmarks import NoFaceError
    from pipeline.evaluation.headpose import WHENetEstimator

    cal = Fitter(options=FitOptions(photometric=False, calibration="default", mesh_pitch=False))
    points = Fitter(options=FitOptions(photometric=False, calibration=None, mesh_pitch=False))
    plain = Fitter(options=FitOptions(photometric=False, calibration=None))
    whenet = WHENetEstimator()
    keys = ("whenet", "cal", "points", "plain", "residual", "spread_cal", "spread_plain", "name", "other_face")
    rows: dict[str, list[Any]] = {k: [] for k in keys}
    for p in tqdm(paths, disable=not progress, desc="photos"):
        try:
            img = read_image(p)
            face = cal.detect(img)[0]
            w = whenet.estimate(img, mirror=True)
        except (NoFaceError, ValueError, OSError):
            continue
        if not same_face(face.box, w.box):  # a group photo: the two detectors' main faces differ
            rows["other_face"].append(f"{p.parent.name}/{p.name}")
            continue
        fc, fp = cal.fit_landmark_batch([face])[0], plain.fit_landmark_batch([face])[0]
        rows["whenet"].append((w.yaw, w.pitch))
        rows["cal"].append(fc.pose[:2])
        rows["points"].append(points.fit_landmark_batch([face])[0].pose[:2])
        rows["plain"].append(fp.pose[:2])
        rows["residual"].append(fp.nme)
        rows["spread_cal"].append(fc.pose_spread[:2] if fc.pose_spread else (np.nan, np.nan))
        rows["spread_plain"].append(fp.pose_spread[:2] if fp.pose_spread else (np.nan, np.nan))
        rows["name"].append(f"{p.parent.name}/{p.name}")
    return {k: np.asarray(v) for k, v in rows.items()}


def same_face(ours: tuple[float, ...], theirs: tuple[float, ...]) -> bool:
    """WHENet's face box's centre lies in our face's box."""
    cx, cy = (theirs[0] + theirs[2]) / 2, (theirs[1] + theirs[3]) / 2
    return ours[0] <= cx <= ours[2] and ours[1] <= cy <= ours[3]


def photos(split: str, n: int) -> list[Path]:
    """LFW ``split`` photos, or with ``realworld`` the real-world photos of ../shared (tests and
    benchmarks only: nothing is fitted on them)."""
    if split == "realworld":
        from face3d.settings import shared_dir

        return sorted(p for p in (shared_dir() / "data" / "realworld" / "images").iterdir() if p.is_file())
    return lfw_photos(n, split)


def band_table(r: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    out = []
    wy = np.abs(r["whenet"][:, 0])
    for lo, hi in BANDS:
        m = (wy >= lo) & (wy < hi)
        row: dict[str, Any] = {"band": f"{lo}–{hi}°", "n": int(m.sum())}
        for k in ("cal", "points", "plain"):
            if k not in r or m.sum() < 3:
                continue
            d = r[k][m] - r["whenet"][m]
            sign = np.sign(r["whenet"][m, 0])
            row[f"{k}_yaw_mae"] = float(np.abs(d[:, 0]).mean())
            row[f"{k}_yaw_more_turned"] = float((d[:, 0] * sign).mean())
            row[f"{k}_pitch_mae"] = float(np.abs(d[:, 1]).mean())
            row[f"{k}_pitch_bias"] = float(d[:, 1].mean())
            # the error left once the constant offset between the two readers' zero pitch is taken out
            row[f"{k}_pitch_mae_offset_free"] = float(np.abs(d[:, 1] - d[:, 1].mean()).mean())
            row[f"{k}_pitch_slope"] = float(np.polyfit(r["whenet"][m, 1], r[k][m, 1], 1)[0])
        out.append(row)
    return out


def uncertainty(r: dict[str, np.ndarray], fit: bool, split: str) -> dict[str, Any]:
    """Fit the per-photo pose-error model on these photos (``fit``: DevTrain only), or report how
    the shipped one predicts them: mean actual |error| against WHENet per fifth of the predicted."""
    from face3d.fitting.uncertainty import DEFAULT_PATH, fit_error_model, load_error_model

    ok = np.isfinite(r["spread_plain"]).all(1)
    err = np.abs(r["plain"][ok] - r["whenet"][ok])
    ay, sp, nme = np.abs(r["plain"][ok, 0]), r["spread_plain"][ok], r["residual"][ok]
    if fit:
        if split != "DevTrain":  # never the test photos, never the real-world ones
            raise SystemExit("the error model is fitted on DevTrain photos only")
        model = fit_error_model(ay, sp, nme, err, f"least squares on {int(ok.sum())} LFW DevTrain photos, |ours - WHENet|")
        model.save(DEFAULT_PATH, photos=int(ok.sum()), bench="bench/pose_real.py --split DevTrain --fit-uncertainty")
        load_error_model.cache_clear()
    model = load_error_model()
    if model is None:
        return {}
    pred = np.array([[model.predict(a, s, n)[k] for k in ("yaw", "pitch")] for a, s, n in zip(ay, sp, nme)])
    out: dict[str, Any] = {}
    for k, name in enumerate(("yaw", "pitch")):
        q = np.quantile(pred[:, k], np.linspace(0, 1, 6))
        rows = []
        for a, b in zip(q[:-1], q[1:]):
            m = (pred[:, k] >= a) & (pred[:, k] <= b)
            rows.append(
                {"predicted": round(float(pred[m, k].mean()), 2), "actual": round(float(err[m, k].mean()), 2), "n": int(m.sum())}
            )
        out[name] = {"by_fifth": rows, "correlation": round(float(np.corrcoef(pred[:, k], err[:, k])[0, 1]), 3)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="DevTest")
    ap.add_argument("--photos", type=int, default=3708)
    ap.add_argument("--fit-uncertainty", action="store_true", help="fit face3d/data/pose_uncertainty.json (DevTrain)")
    ap.add_argument("--reuse", action="store_true", help="reuse the readings the last run saved (/tmp/pose_real_<split>.npz)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    cache = Path(f"/tmp/pose_real_{args.split.lower()}.npz")
    if args.reuse and cache.is_file():
        r = dict(np.load(cache))
    else:
        r = readings(photos(args.split, args.photos))
    rows = band_table(r)
    print(f"{len(r['name'])} photos; {len(r['other_face'])} left out: WHENet's face is not ours (group photos)")

    def f(x: float | None) -> str:
        return "–" if x is None else f"{x:.2f}"

    fits = ("cal", "points", "plain")
    names = ("calibrated", "2D points", "shipped")
    print(
        table(
            ["WHENet |yaw|", "photos"] + [f"yaw MAE: {n}" for n in names] + [f"more turned than WHENet: {n}" for n in names],
            [
                [x["band"], x["n"]] + [f(x.get(f"{k}_yaw_mae")) for k in fits] + [f(x.get(f"{k}_yaw_more_turned")) for k in fits]
                for x in rows
            ],
            f"Yaw: our fits against WHENet on LFW {args.split} photos (degrees)",
        )
    )
    print(
        table(
            ["WHENet |yaw|", "photos"]
            + [f"pitch {q}: {n}" for q in ("MAE", "MAE offset-free", "offset", "slope") for n in names[1:]],
            [
                [x["band"], x["n"]]
                + [f(x.get(f"{k}_pitch_{q}")) for q in ("mae", "mae_offset_free", "bias", "slope") for k in fits[1:]]
                for x in rows
            ],
            f"Pitch: our fits against WHENet on LFW {args.split} photos (degrees; slope: ours against WHENet's)",
        )
    )
    slope = {k: float(np.polyfit(r["whenet"][:, i], r["plain"][:, i], 1)[0]) for i, k in enumerate(("yaw", "pitch"))}
    unc = uncertainty(r, args.fit_uncertainty, args.split)
    for name, u in unc.items():
        print(
            table(
                ["predicted |error|", "actual |error| (mean)", "photos"],
                [[x["predicted"], x["actual"], x["n"]] for x in u["by_fifth"]],
                f"{name}: the pose-error model against WHENet, by fifth of the prediction (r = {u['correlation']})",
            )
        )
    save(
        f"pose_real_{args.split.lower()}",
        {
            "bands": rows,
            "slope_plain_vs_whenet": slope,
            "photos": len(r["name"]),
            "left_out_other_face": [str(x) for x in r["other_face"]],
            "uncertainty": unc,
            "seconds": round(time.perf_counter() - t0),
        },
    )
    np.savez_compressed(cache, **r)


if __name__ == "__main__":
    main()
