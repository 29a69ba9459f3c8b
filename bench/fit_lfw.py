"""Real photos: LFW DevTest people (never used to build the default model).

    python bench/fit_lfw.py [--n 500] [--scan-all]

Reports the landmark reprojection NME (normalised by the landmarks' box size), fits per second
per stage, and how large-yaw photos (|yaw| >= 45 by our fit) are handled: how many, how many
fits fail their quality checks (reported as errors, not as poses), and how well the yaw agrees
with an independent estimate (dlib's 68 landmarks fitted with the Surrey Face Model).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import lfw_photos, require, save, table

from face3d.fitting import FitOptions, Fitter
from face3d.imageio import read_image
from face3d.landmarks import NoFaceError
from face3d.settings import lfw_dir, sfm_dir


def run(fitter, photos, batch=64):
    imgs, faces, errors = [], [], []
    t0 = time.perf_counter()
    for p in photos:
        img = read_image(p)
        try:
            faces.append(fitter.detect(img)[0])
            imgs.append((p, img))
        except NoFaceError as exc:
            errors.append((p, str(exc)))
    t_det = time.perf_counter() - t0
    t0 = time.perf_counter()
    fits = []
    for i in range(0, len(faces), batch):
        fits += fitter.fit_landmark_batch(faces[i : i + batch])
    t_fit = time.perf_counter() - t0
    return imgs, faces, fits, errors, t_det, t_fit


def nme68(fit):
    p = fit.landmarks_input
    box = np.ptp(p, 0)
    return float(np.nanmean(np.linalg.norm(fit.landmarks68 - p, axis=1)) / np.sqrt(box[0] * box[1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--scan-all", action="store_true", help="also scan every DevTest photo for large yaw")
    args = ap.parse_args()
    require(lfw_dir() / "images", "LFW")
    photos = lfw_photos(args.n)
    fitter = Fitter(options=FitOptions(photometric=False))
    fitter.fit(read_image(photos[0]))  # warm-up
    imgs, faces, fits, errors, t_det, t_fit = run(fitter, photos)
    n = len(photos)
    # per-photo single-call timings of the full chain (detect + fit + photometric) on 100 photos
    full = Fitter()
    t0 = time.perf_counter()
    ph_err = []
    for p, img in imgs[:100]:
        r = full.fit(img)
        ph_err.append(r.photometric_error)
    t_full = (time.perf_counter() - t0) / min(100, len(imgs))
    q = [f.quality for f in fits]
    rows = [
        [
            "mediapipe 468 + facerot-mp468 (dense)",
            n,
            len(errors),
            q.count("failed"),
            q.count("poor"),
            round(100 * np.mean([f.nme for f in fits]), 3),
            round(100 * np.mean([nme68(f) for f in fits]), 2),
            round(n / t_det, 1),
            round(len(fits) / t_fit, 1),
            round(1 / t_full, 1),
        ]
    ]
    result = {
        "n": n,
        "no_face": len(errors),
        "failed": q.count("failed"),
        "poor": q.count("poor"),
        "nme_dense": float(np.mean([f.nme for f in fits])),
        "nme68": float(np.mean([nme68(f) for f in fits])),
        "detect_per_s": n / t_det,
        "landmark_fit_per_s_batched": len(fits) / t_fit,
        "full_chain_per_s": 1 / t_full,
        "photometric_error": float(np.mean(ph_err)),
        "yaws": [f.yaw for f in fits],
    }
    sfm_bin = sfm_dir() / "sfm_shape_3448.bin"
    dlib_fitter = None
    try:
        if sfm_bin.is_file():
            from face3d.converters import convert_sfm

            dlib_fitter = Fitter(convert_sfm(sfm_bin), "dlib", FitOptions(photometric=False))
    except ImportError:
        pass
    if dlib_fitter is not None:
        d_imgs, d_faces, d_fits, d_err, d_tdet, d_tfit = run(dlib_fitter, photos)
        dq = [f.quality for f in d_fits]
        rows.append(
            [
                "dlib 68 + SFM 3448 (contour)",
                n,
                len(d_err),
                dq.count("failed"),
                dq.count("poor"),
                "",
                round(100 * np.mean([nme68(f) for f in d_fits]), 2),
                round(n / d_tdet, 1),
                round(len(d_fits) / d_tfit, 1),
                "",
            ]
        )
        result["dlib_sfm"] = {"no_face": len(d_err), "nme68": float(np.mean([nme68(f) for f in d_fits]))}
    print(
        table(
            [
                "landmarks + model",
                "photos",
                "no face",
                "fit failed",
                "fit poor",
                "NME dense %",
                "NME 68 %",
                "detections/s",
                "landmark fits/s (batched)",
                "full fits/s (one at a time, with photometric)",
            ],
            rows,
            f"LFW DevTest photos: fitting accuracy and speed (photometric error {np.mean(ph_err):.3f})",
        )
    )
    # ---- large yaw
    scan = lfw_photos(100000) if args.scan_all else photos
    if args.scan_all:
        imgs, faces, fits, errors, _, _ = run(fitter, scan)
    large = [(p, f) for (p, _), f in zip(imgs, fits) if abs(f.yaw) >= 45]
    lrows = []
    agree = []
    if dlib_fitter is not None:
        for p, f in large:
            try:
                g = dlib_fitter.fit_landmark_batch([dlib_fitter.detect(read_image(p))[0]])[0]
                agree.append((f.yaw, g.yaw, g.quality))
            except NoFaceError:
                agree.append((f.yaw, float("nan"), "no face (dlib)"))
    lq = [f.quality for _, f in large]
    mirror = []  # self-consistency: the mirrored photo must get the opposite yaw
    for p, f in large:
        img = read_image(p)
        try:
            mirror.append(abs(f.yaw + fitter.fit(img[:, ::-1].copy()).yaw) / 2)
        except NoFaceError:
            pass
    ag = np.array([(a, b) for a, b, _ in agree if np.isfinite(b)])
    lrows.append(
        [
            len(scan),
            len(large),
            lq.count("failed"),
            lq.count("poor"),
            round(float(np.mean(np.abs([f.yaw for _, f in large]))), 1) if large else "",
            len(ag),
            round(float(np.abs(ag[:, 0] - ag[:, 1]).mean()), 1) if len(ag) else "",
            round(float(np.median(np.abs(ag[:, 0] - ag[:, 1]))), 1) if len(ag) else "",
            round(float(np.mean(mirror)), 2) if mirror else "",
        ]
    )
    print(
        table(
            [
                "photos scanned",
                "abs(yaw) ≥ 45 (ours)",
                "failed",
                "poor",
                "mean abs(yaw) °",
                "also fitted by dlib+SFM",
                "yaw disagreement MAE °",
                "median °",
                "mirror inconsistency °",
            ],
            lrows,
            "Large-yaw LFW photos (dlib's HOG detector is frontal: its fits at these poses are not ground truth)",
        )
    )
    result["large_yaw"] = {
        "scanned": len(scan),
        "count": len(large),
        "failed": lq.count("failed"),
        "mirror_inconsistency_deg": float(np.mean(mirror)) if mirror else None,
        "pairs": [[float(a), float(b), q] for a, b, q in agree],
        "photos": [str(p.name) for p, _ in large],
    }
    save("fit_lfw", result)


if __name__ == "__main__":
    main()
