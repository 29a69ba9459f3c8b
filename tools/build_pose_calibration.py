"""Measure the landmark detector's pose-dependent bias on views of known pose, and write the table.

    python tools/build_pose_calibration.py [--photos 200] [--step 2.5] [--max-yaw 70] [--from-views]
                                           [--components 320] [--blend 24,32] [--no-regressor]

MediaPipe's points on a face turned beyond ~45° are systematically placed as if the face were
turned less (the fit of our ±60° views read 6-8° short). No real photos of known large yaw are
available here, so the ground truth is synthetic, as in 3DDFA's 300W-LP: near-frontal photos of
LFW ``peopleDevTrain`` people only (``peopleDevTest`` people are never used), each fitted and
rendered by facerot at yaws -70…70 every 2.5° (pitch uniform in ±10°), where the true position of every
mesh point is known (the fitted mesh projected at the target pose, on the surface the fit uses).

For every view: the flip-averaged detection, a first landmark fit without calibration, and the
residual ``detected - true`` of the 468 points in units of the face scale (the landmarks' box
size), in the face's frame. Per target (true) yaw: the mean residual and the mean first-pass yaw
(the reading curve), both made mirror-symmetric. Near yaw 0 the mean residual is the model's
misfit, not a pose bias; it is kept (a least-squares fit's mean residual is orthogonal to its
parameters, so taking it off moves nothing).

The reading curve stops rising near 62° (MediaPipe saturates: beyond it a reading no longer tells
the yaw), so the yaw is also regressed on the shape of the points (``YawRegressor``: PCA of the
mirrored face-frame points of the views at |yaw| >= 15°, then least squares with the first-pass
|yaw|). Its error is measured by 5-fold cross-validation over photos (a photo's views all in one
fold) and printed beside the inverse curve's; the shipped regressor is then fitted on all views,
and the table spans every target yaw. With ``--no-regressor`` the table ends where the curve stops
rising.

The views are kept (``--views``, an ``.npz`` of 11,000 × 468 points, ~70 MB) so the table can be
rebuilt from them without rendering again (``--from-views``).

See :mod:`face3d.fitting.calibration` for how the fitter applies the table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]


def collect(args: argparse.Namespace) -> dict[str, np.ndarray]:
    """Render, detect and fit the views; returns their arrays (see the module docstring)."""
    from face3d.fitting import FitOptions, Fitter
    from face3d.imageio import read_image
    from face3d.landmarks import NoFaceError
    from face3d.settings import lfw_dir
    from face3d.synth import target_rotation
    from pipeline.rotator import FaceRotator

    root = lfw_dir()
    people = [r.split("\t") for r in (root / "peopleDevTrain.txt").read_text().split("\n")[1:] if r.strip()]
    paths = [root / "images" / n / f"{n}_{i:04d}.jpg" for n, k in people for i in range(1, int(k) + 1)]
    paths = paths[:: max(1, len(paths) // (6 * args.photos))]
    rng = np.random.default_rng(args.seed)
    rot = FaceRotator(refiner=None, fit_options=FitOptions(calibration=None))
    fitter = Fitter(options=FitOptions(photometric=False, calibration=None))
    ids = fitter.model.dense_index
    targets = np.arange(-args.max_yaw, args.max_yaw + 1e-6, args.step)
    used = misses = 0
    out: dict[str, list] = {"det": [], "true": [], "rotation": [], "yaw": [], "pitch": [], "photo": [], "nme": []}
    bar = tqdm(total=args.photos, desc="photos", unit="photo")
    for p in paths:
        if used >= args.photos:
            break
        img = read_image(p)
        try:
            prep = rot.prepare(img)
        except NoFaceError:
            continue
        f = prep.fit
        if f.quality != "ok" or abs(f.yaw) > 10 or abs(f.pitch) > 15:
            continue
        used += 1
        bar.update(1)
        flat = f.vertices - (f.view_offsets if f.view_offsets is not None else 0.0)  # the surface the fit uses
        for y in targets:
            pitch = float(rng.uniform(-10, 10))
            view = rot.rotate(prep, float(y), pitch, 0.0)[0]
            try:
                face = fitter.detect(view.image)[0]
            except NoFaceError:
                misses += 1
                continue
            first = fitter.fit_landmark_batch([face])[0]
            true = f.camera.project(f.camera.to_camera(flat, target_rotation(f, float(y), pitch, 0.0, False), f.translation))[ids]
            for k, val in (
                ("det", face.dense),
                ("true", true),
                ("rotation", first.rotation),
                ("yaw", y),
                ("pitch", pitch),
                ("photo", used),
                ("nme", first.nme),
            ):
                out[k].append(val)
    bar.close()
    arrays = {k: np.array(v, np.float32) for k, v in out.items()}
    arrays["misses"] = np.array(misses)
    return arrays


def fit_regressor(feat: np.ndarray, read: np.ndarray, true: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, components, coef) of the PCA + least-squares |yaw| regression on these views."""
    from face3d.fitting.calibration import regressor_inputs

    mu = feat.mean(0)
    comp = np.linalg.svd(feat - mu, full_matrices=False)[2][:k]
    return mu, comp, np.linalg.lstsq(regressor_inputs(feat, read, mu, comp), true, rcond=None)[0]


def build_regressor(
    v: dict[str, np.ndarray], good: np.ndarray, table: Any, k: int, blend: tuple[float, float], min_yaw: float = 15.0
) -> tuple[Any, list[list]]:
    """The yaw regressor from the views, and its cross-validated errors beside the inverse curve's
    (rows: true |yaw|, views, curve MAE/bias, regressor MAE/bias, blended MAE/bias)."""
    from face3d.fitting.calibration import YawRegressor, blend_weight, pose_features, regressor_inputs
    from face3d.landmarks.mediapipe_backend import mirror468

    mir = mirror468()
    fr = [pose_features(v["det"][i], v["rotation"][i], mir) for i in range(len(v["yaw"]))]
    read, feat = np.abs([f[0] for f in fr]), np.stack([f[1] for f in fr])
    true, photo = np.abs(v["yaw"]).astype(np.float64), v["photo"].astype(int)
    train = good & (true >= min_yaw)
    pred = np.full(len(true), np.nan)
    for fold in range(5):  # cross-validation over photos
        tr, te = train & (photo % 5 != fold), photo % 5 == fold
        mu, comp, coef = fit_regressor(feat[tr], read[tr], true[tr], k)
        pred[te] = regressor_inputs(feat[te], read[te], mu, comp) @ coef
    curve = np.abs([table.true_yaw(r) for r in read])
    w = blend_weight(read, blend)
    both = (1 - w) * curve + w * pred
    rows = []
    for t in np.unique(true):
        s = good & (true == t)
        if t >= 20 and s.any():
            rows.append(
                [f"{t:g}", int(s.sum())]
                + [round(float(f(e[s] - t)), 2) for e in (curve, pred, both) for f in (lambda d: np.abs(d).mean(), np.mean)]
            )
    mu, comp, coef = fit_regressor(feat[train], read[train], true[train], k)
    return YawRegressor(mu, comp, coef, mir, blend), rows


def build_table(
    v: dict[str, np.ndarray], step: float, model_name: str, dense_scheme: str, note: str, full_grid: bool = False
) -> Any:
    """The calibration table from the views' arrays (over the reading curve's rising range, or
    over every target yaw with ``full_grid``)."""
    from face3d.fitting.calibration import PoseCalibration, face_frame
    from face3d.landmarks.mediapipe_backend import mirror468

    n = len(v["yaw"])
    frames = [face_frame(v["det"][i], v["rotation"][i]) for i in range(n)]
    read = np.array([fr[0] for fr in frames])
    res = np.stack([(v["det"][i] - v["true"][i]) / frames[i][2] @ frames[i][1] for i in range(n)])  # face frame
    good = (v["nme"] <= 0.06) & (np.linalg.norm(res, axis=2).mean(1) <= 0.25)  # else a detection gone wrong
    grid = np.unique(np.round(v["yaw"] / step) * step)
    if not np.allclose(grid, -grid[::-1]):
        raise SystemExit("target yaws must be symmetric about 0")
    k = len(grid)
    off, rd, cnt = np.zeros((k, res.shape[1], 2)), np.zeros(k), np.zeros(k)
    b = np.searchsorted(grid, np.round(v["yaw"] / step) * step)
    np.add.at(off, b[good], res[good])
    np.add.at(rd, b[good], read[good])
    np.add.at(cnt, b[good], 1)
    off /= np.maximum(cnt, 1)[:, None, None]
    rd /= np.maximum(cnt, 1)
    # mirror-symmetric: the bin at -yaw mirrored (x negated, each point to its mirror point)
    mir, cf = mirror468(), cnt[::-1]
    off = (off * cnt[:, None, None] + off[::-1][:, mir] * np.array([-1.0, 1.0]) * cf[:, None, None]) / np.maximum(cnt + cf, 1e-9)[
        :, None, None
    ]
    rd = (rd * cnt - rd[::-1] * cf) / np.maximum(cnt + cf, 1e-9)
    cnt = cnt + cf
    lo, hi = int(np.argmin(rd)), int(np.argmax(rd))  # where the reading curve stops rising
    if not np.all(np.diff(rd[lo : hi + 1]) > 0):
        raise SystemExit("the reading curve is not increasing inside its range; use more photos")
    sl = slice(None) if full_grid else slice(lo, hi + 1)
    desc = (
        f"{note}; {int(good.sum())} views kept of {n} ({n - int(good.sum())} outliers); table over true yaws "
        f"{grid[sl][0]:g}..{grid[sl][-1]:g} (the reading curve rises over {grid[lo]:g}..{grid[hi]:g}: "
        f"{rd[lo]:.1f}..{rd[hi]:.1f})"
    )
    return PoseCalibration(grid[sl], rd[sl], off[sl], cnt[sl], model_name, dense_scheme, desc), grid, rd, cnt, good


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=200)
    ap.add_argument("--step", type=float, default=2.5)
    ap.add_argument("--max-yaw", type=float, default=70.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--views",
        type=Path,
        default=ROOT / "out" / "pose_calibration_views.npz",
        help="where the views' arrays are written (or read, with --from-views)",
    )
    ap.add_argument("--from-views", action="store_true", help="rebuild the table from --views without rendering")
    ap.add_argument("--components", type=int, default=320, help="principal components of the yaw regressor")
    ap.add_argument("--blend", default="24,32", help="first-pass |yaw| band over which the regressor takes over")
    ap.add_argument("--no-regressor", action="store_true", help="the inverse reading curve only (the table stops where it does)")
    ap.add_argument("--out", type=Path, default=ROOT / "face3d" / "data" / "mediapipe_pose_calibration.npz")
    args = ap.parse_args()

    from face3d.model import load_model

    m = load_model()
    t0 = time.perf_counter()
    if args.from_views:
        views = dict(np.load(args.views))
    else:
        views = collect(args)
        args.views.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(args.views, **views)
    n_photos = int(views["photo"].max()) if len(views["photo"]) else 0
    note = (
        f"facerot views of {n_photos} near-frontal LFW peopleDevTrain photos at yaws {views['yaw'].min():g}.."
        f"{views['yaw'].max():g} every {args.step:g} (pitch U(-10, 10)), flip-averaged MediaPipe "
        f"({int(views['misses'])} views without a detection), tools/build_pose_calibration.py, {time.strftime('%Y-%m-%d')}"
    )
    cal, grid, rd, cnt, good = build_table(views, args.step, m.name, m.dense_scheme, note, full_grid=not args.no_regressor)
    cv_rows: list[list] = []
    if not args.no_regressor:
        blend = tuple(float(x) for x in args.blend.split(","))
        cal.regressor, cv_rows = build_regressor(views, good, cal, args.components, blend)
        cal.description += (
            f"; yaw regressor: {args.components} principal components of the views at |yaw| >= 15, "
            f"taking over from the inverse curve across first-pass |yaw| {blend[0]:g}..{blend[1]:g}"
        )
        print(
            "True-yaw estimate of the views from their detection (5-fold cross-validation over photos), degrees\n"
            "  true |yaw|  views  curve MAE / bias  regressor MAE / bias  blended MAE / bias"
        )
        for r in cv_rows:
            print(
                f"  {r[0]:>10}  {r[1]:5d}  {r[2]:9.2f} / {r[3]:+5.2f}  {r[4]:13.2f} / {r[5]:+5.2f}  {r[6]:11.2f} / {r[7]:+5.2f}"
            )
    cal.save(args.out)
    import json

    # the full reading curve, for docs/refit_vs_yaw.png (beside --out when it is not the shipped file)
    shipped = args.out.resolve() == (ROOT / "face3d" / "data" / "mediapipe_pose_calibration.npz").resolve()
    curve = ROOT / "bench" / "results" / "pose_calibration.json" if shipped else args.out.with_suffix(".curve.json")
    curve.write_text(
        json.dumps(
            {
                "date": time.strftime("%Y-%m-%d"),
                "description": cal.description,
                "true_yaw": grid.tolist(),
                "read_yaw": rd.tolist(),
                "views": cnt.tolist(),
                "regressor_cv": [
                    dict(
                        zip(
                            [
                                "true_yaw",
                                "views",
                                "curve_mae",
                                "curve_bias",
                                "regressor_mae",
                                "regressor_bias",
                                "blended_mae",
                                "blended_bias",
                            ],
                            r,
                        )
                    )
                    for r in cv_rows
                ],
            },
            indent=1,
        )
    )
    print(f"{cal.description}\n-> {args.out} ({time.perf_counter() - t0:.0f} s)")
    mag = dict(zip(cal.yaw_grid.tolist(), np.linalg.norm(cal.offsets, axis=-1).mean(1)))
    for g, r, c in zip(grid, rd, cnt):
        if g % 10 == 0 or abs(g) >= 50:
            extra = f", mean |offset| {100 * mag[float(g)]:.2f}% of the face scale" if float(g) in mag else " (beyond the table)"
            print(f"  true yaw {g:+6.1f}: read {r:+6.1f} over {int(c)} views{extra}")


if __name__ == "__main__":
    sys.exit(main())
