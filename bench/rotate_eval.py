"""Synthesised views of near-frontal LFW DevTest photos: pose and identity against the target yaw.

    python bench/rotate_eval.py [--photos 60]

* Pose: each view is re-fitted by our fitter (MediaPipe + facerot-mp468, flip-averaged) and read
  by two estimators that are not ours: WHENet (a head-pose network, no landmarks, in BlazeFace's
  face box: :mod:`pipeline.evaluation.headpose`, when its weights are installed) and dlib 68
  landmarks + the Surrey Face Model (when ../shared has it). Each is taken as it is and made
  mirror-symmetric: (yaw of the view - yaw of its mirror image) / 2 (neither estimator is: on
  real photos dlib + SFM's two readings sum to -1.9° on average, WHENet's reads frontal views of
  ours about 2° apart). On the real source photos the estimators' yaws are compared with ours too
  (slope and MAE), so an estimator that reads the views right but real photos differently shows.
* Calibration: our re-fit with the detector's pose calibration (the default,
  ``face3d.fitting.calibration``, measured on DevTrain renders) and without it. Since the table is
  learnt from views like these, the real photos decide whether it transfers: every DevTest photo
  our fit reads at |yaw| >= 25° is also read by WHENet and dlib + SFM (mirror-symmetric), with
  and without.
* Identity: dlib's face descriptor (never used in training), distance source → view, and the
  same-person rate (< 0.6); beside it, the distances between *real* photos of the same people whose
  fitted yaws differ by a similar gap.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np
from common import lfw_people, lfw_photos, save, table

from face3d.fitting import FitOptions, Fitter
from face3d.imageio import read_image
from face3d.landmarks import NoFaceError, box_of
from face3d.settings import lfw_dir, sfm_dir
from pipeline.evaluation.headpose import WHENetEstimator
from pipeline.identity import DlibIdentity
from pipeline.rotator import FaceRotator, view_face

TARGETS = (-60, -45, -30, -15, 15, 30, 45, 60)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=60)
    ap.add_argument("--refiner", default="none", help="none (raw renders), default, or a weights file")
    ap.add_argument("--real-photos", type=int, default=4000, help="DevTest photos scanned for large-yaw real faces")
    args = ap.parse_args()
    rot = FaceRotator(refiner=args.refiner)
    ours = Fitter(options=FitOptions(photometric=False, calibration="default"))  # reads renders: calibrated
    plain = Fitter(options=FitOptions(photometric=False, calibration=None))
    other = None
    if (sfm_dir() / "sfm_shape_3448.bin").is_file():
        from face3d.converters import convert_sfm

        other = Fitter(convert_sfm(sfm_dir() / "sfm_shape_3448.bin"), "dlib", FitOptions(photometric=False))
    try:
        whenet = WHENetEstimator()
    except FileNotFoundError as e:
        print(f"WHENet not used: {e}")
        whenet = None
    ident = DlibIdentity()
    per = defaultdict(lambda: defaultdict(list))
    used = 0
    t0 = time.perf_counter()
    n_views = 0
    source_yaws = []  # (ours, dlib + SFM) on the real photos
    source_whenet = []  # (ours, WHENet mirror-symmetric) on the real photos
    for p in lfw_photos(20 * args.photos):
        if used >= args.photos:
            break
        img = read_image(p)
        try:
            prep = rot.prepare(img)
        except NoFaceError:
            continue
        if other is not None:
            try:
                source_yaws.append((prep.fit.yaw, other.fit(img).yaw))
            except NoFaceError:
                pass
        if whenet is not None:
            try:
                source_whenet.append((prep.fit.yaw, whenet.estimate(img, mirror=True).yaw))
            except NoFaceError:
                pass
        if abs(prep.fit.yaw) > 10 or abs(prep.fit.pitch) > 15:
            continue  # near-frontal sources only
        used += 1
        d_src = ident.descriptor(img, box_of(prep.fit.landmarks68))
        for y in TARGETS:
            v = rot.rotate(prep, y, 0, 0)[0]
            n_views += 1
            d = ident.distance(d_src, ident.descriptor(v.image, box_of(v.landmarks68)))
            per[y]["identity"].append(d)
            try:
                faces = [view_face(ours, v)]  # the view's own face, not one of its scene's
            except NoFaceError:
                per[y]["ours_miss"].append(1)
            else:
                per[y]["ours"].append(ours.fit_landmark_batch(faces)[0].yaw - y)
                per[y]["plain"].append(plain.fit_landmark_batch(faces)[0].yaw - y)
            if whenet is not None:
                try:
                    as_is, sym = whenet.readings(v.image)
                except NoFaceError:
                    per[y]["whenet_miss"].append(1)
                else:
                    per[y]["whenet_raw"].append(as_is.yaw - y)
                    per[y]["whenet"].append(sym.yaw - y)
            if other is not None:
                try:
                    oy = other.fit(v.image).yaw
                    per[y]["other"].append(oy - y)
                except NoFaceError:
                    per[y]["other_miss"].append(1)
                else:
                    try:
                        per[y]["other_flip"].append(mirror_symmetric_yaw(other, v.image, oy) - y)
                    except NoFaceError:
                        pass
    elapsed = time.perf_counter() - t0
    # real photos of the same people: distance against the difference of their fitted yaws
    real = defaultdict(list)
    root = lfw_dir() / "images"
    for name, k in lfw_people("DevTest"):
        if k < 2:
            continue
        items = []
        for i in range(1, min(k, 6) + 1):
            img = read_image(root / name / f"{name}_{i:04d}.jpg")
            try:
                fit = ours.fit(img)
            except NoFaceError:
                continue
            items.append((fit.yaw, ident.descriptor(img, box_of(fit.landmarks68))))
        for a in range(len(items)):
            for b in range(a + 1, len(items)):
                gap = abs(items[a][0] - items[b][0])
                real[min(int(gap // 15) * 15 + 15, 60)].append(ident.distance(items[a][1], items[b][1]))
        if sum(len(v) for v in real.values()) > 3000:
            break
    rows = []
    res = {"photos": used, "views": n_views, "seconds": elapsed, "targets": {}}
    for y in TARGETS:
        r = per[y]
        ids = np.array(r["identity"])
        o = np.abs(r["ours"]) if r["ours"] else np.array([np.nan])
        o_plain = np.abs(r["plain"]) if r["plain"] else np.array([np.nan])
        x = np.abs(r["other"]) if r["other"] else np.array([np.nan])
        xf = np.abs(r["other_flip"]) if r["other_flip"] else np.array([np.nan])
        wh = np.abs(r["whenet"]) if r["whenet"] else np.array([np.nan])
        wr = np.abs(r["whenet_raw"]) if r["whenet_raw"] else np.array([np.nan])
        gap = min(int(abs(y) // 15) * 15, 60) if abs(y) % 15 else abs(y)
        rd = np.array(real.get(gap, [np.nan]))
        rows.append(
            [
                y,
                len(ids),
                round(float(np.mean(r["ours"])), 2) if r["ours"] else "",
                round(float(o.mean()), 2),
                round(float(np.mean(r["plain"])), 2) if r["plain"] else "",
                round(float(o_plain.mean()), 2),
                round(float(np.mean(r["whenet"])), 2) if r["whenet"] else "",
                round(float(wh.mean()), 2),
                round(float(wr.mean()), 2),
                len(r["whenet_miss"]),
                round(float(x.mean()), 2),
                round(float(xf.mean()), 2),
                len(r["other_miss"]),
                round(float(ids.mean()), 3),
                f"{100 * float((ids < 0.6).mean()):.0f}%",
                round(float(np.nanmean(rd)), 3),
                f"{100 * float(np.nanmean(rd < 0.6)):.0f}%" if len(rd) > 1 else "",
            ]
        )
        res["targets"][y] = {
            "ours_bias": float(np.mean(r["ours"])) if r["ours"] else None,
            "ours_mae": float(o.mean()),
            "ours_within_2": float(np.mean(o <= 2)) if r["ours"] else None,
            "uncalibrated_bias": float(np.mean(r["plain"])) if r["plain"] else None,
            "uncalibrated_mae": float(o_plain.mean()),
            "other_mae": float(x.mean()),
            "other_flip_mae": float(xf.mean()),
            "other_bias": float(np.mean(r["other"])) if r["other"] else None,
            "other_flip_bias": float(np.mean(r["other_flip"])) if r["other_flip"] else None,
            "other_misses": len(r["other_miss"]),
            "ours_misses": len(r["ours_miss"]),
            "whenet_mae": float(wh.mean()),
            "whenet_raw_mae": float(wr.mean()),
            "whenet_bias": float(np.mean(r["whenet"])) if r["whenet"] else None,
            "whenet_within_3": float(np.mean(wh <= 3)) if r["whenet"] else None,
            "whenet_misses": len(r["whenet_miss"]),
            "identity_mean": float(ids.mean()),
            "same_person_rate": float((ids < 0.6).mean()),
            "identity": ids.tolist(),
            "real_pairs": len(rd),
            "real_mean": float(np.nanmean(rd)),
        }
    print(
        table(
            [
                "target yaw",
                "views",
                "re-fit bias (ours) °",
                "re-fit MAE (ours) °",
                "bias, uncalibrated °",
                "MAE, uncalibrated °",
                "WHENet bias (mirror-symmetric) °",
                "WHENet MAE (mirror-symmetric) °",
                "WHENet MAE (as is) °",
                "WHENet misses",
                "re-fit MAE (dlib+SFM) °",
                "re-fit MAE (dlib+SFM, mirror-symmetric) °",
                "dlib+SFM misses",
                "dlib distance to source",
                "same person",
                "real same-person pairs at this yaw gap",
                "real: same person",
            ],
            rows,
            f"Synthesised views of {used} near-frontal LFW DevTest photos ({n_views} views, {n_views / elapsed:.1f} views/s "
            "including the re-fits and descriptors)",
        )
    )
    misses = {y: len(per[y]["ours_miss"]) for y in TARGETS if per[y]["ours_miss"]}
    if misses:  # views where our detector finds no face of the view's own (not in the re-fit columns)
        print("\nViews our re-fit found no face of their own in:", ", ".join(f"{n} at {y:+d}" for y, n in misses.items()))
    if len(source_yaws) > 2:
        sy = np.array(source_yaws)
        slope = float(np.polyfit(sy[:, 1], sy[:, 0], 1)[0])
        res["source_photos"] = {
            "n": len(sy),
            "slope_ours_vs_dlib_sfm": slope,
            "mae_ours_vs_dlib_sfm": float(np.abs(sy[:, 0] - sy[:, 1]).mean()),
        }
        print(
            f"\nReal source photos ({len(sy)}): our yaw against dlib + SFM's: slope {slope:.3f}, "
            f"mean difference {res['source_photos']['mae_ours_vs_dlib_sfm']:.2f}°"
        )
    if len(source_whenet) > 2:
        sw = np.array(source_whenet)
        res["source_photos_whenet"] = {
            "n": len(sw),
            "slope_ours_vs_whenet": float(np.polyfit(sw[:, 1], sw[:, 0], 1)[0]),
            "mae_ours_vs_whenet": float(np.abs(sw[:, 0] - sw[:, 1]).mean()),
        }
        print(
            f"Real source photos ({len(sw)}): our yaw against WHENet's (mirror-symmetric): slope "
            f"{res['source_photos_whenet']['slope_ours_vs_whenet']:.3f}, mean difference "
            f"{res['source_photos_whenet']['mae_ours_vs_whenet']:.2f}°"
        )
    readers = {}
    if whenet is not None:
        readers["WHENet"] = lambda img: whenet.estimate(img, mirror=True).yaw
    if other is not None:
        readers["dlib+SFM"] = lambda img: mirror_symmetric_yaw(other, img)
    if readers and args.real_photos > 0:
        res["real_large_yaw"] = real_large_yaw(ours, plain, readers, args.real_photos)
    save("rotate_eval", res)
    save("real_pairs", {"by_gap": {k: v for k, v in real.items()}})


def mirror_symmetric_yaw(fitter: Fitter, img: np.ndarray, yaw: float | None = None) -> float:
    """The mean of ``fitter``'s yaw of ``img`` (``yaw`` when already read) and of its mirror image's, negated."""
    if yaw is None:
        yaw = fitter.fit(img).yaw
    return 0.5 * (yaw - fitter.fit(np.ascontiguousarray(img[:, ::-1])).yaw)


def real_large_yaw(ours: Fitter, plain: Fitter, readers: dict, n: int) -> dict:
    """Real DevTest photos our fit reads at |yaw| >= 25°: our yaw, calibrated and not, against each
    estimator in ``readers`` (name -> mirror-symmetric yaw of an image), by |yaw| band.

    A photo's band is that of the mean of our uncalibrated |yaw| and the other's (Bland-Altman):
    banding by one reader's yaw alone selects the photos that reader over-reads (regression to the
    mean), which would count as a difference between the two."""
    rows_raw = []
    for p in lfw_photos(n):
        img = read_image(p)
        try:
            faces = ours.detect(img)
        except NoFaceError:
            continue
        a, b = ours.fit_landmark_batch(faces)[0].yaw, plain.fit_landmark_batch(faces)[0].yaw
        if max(abs(a), abs(b)) < 25:
            continue
        row = [a, b]
        for read in readers.values():
            try:
                row.append(read(img))
            except NoFaceError:
                row.append(np.nan)
        rows_raw.append(row)
    arr = np.array(rows_raw).reshape(-1, 2 + len(readers))
    out, rows = {"n": len(arr), "estimators": {}}, []
    for k, name in enumerate(readers, start=2):
        bands = out["estimators"].setdefault(name, {})
        for lo, hi in ((25, 35), (35, 45), (45, 90)):
            mid = 0.5 * (np.abs(arr[:, 1]) + np.abs(arr[:, k]))
            sel = arr[(mid >= lo) & (mid < hi) & np.isfinite(arr[:, k])]
            if not len(sel):
                continue
            d_cal, d_plain = np.abs(sel[:, 0]) - np.abs(sel[:, k]), np.abs(sel[:, 1]) - np.abs(sel[:, k])
            b = bands[f"{lo}-{hi}"] = {
                "n": len(sel),
                "calibrated_minus_other": float(d_cal.mean()),
                "uncalibrated_minus_other": float(d_plain.mean()),
                "calibrated_mae": float(np.abs(sel[:, 0] - sel[:, k]).mean()),
                "uncalibrated_mae": float(np.abs(sel[:, 1] - sel[:, k]).mean()),
            }
            rows.append(
                [
                    name,
                    f"{lo}-{hi}°",
                    len(sel),
                    round(b["uncalibrated_minus_other"], 2),
                    round(b["uncalibrated_mae"], 2),
                    round(b["calibrated_minus_other"], 2),
                    round(b["calibrated_mae"], 2),
                ]
            )
    print(
        table(
            [
                "estimator",
                "|yaw| (mean of ours, uncalibrated, and other)",
                "photos",
                "uncalibrated: |ours| - |other| °",
                "uncalibrated MAE °",
                "calibrated: |ours| - |other| °",
                "calibrated MAE °",
            ],
            rows,
            f"Real DevTest photos at |yaw| >= 25° (of {n} scanned), against each estimator (mirror-symmetric)",
        )
    )
    return out


if __name__ == "__main__":
    main()
