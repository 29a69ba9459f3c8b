"""The refiner's acceptance on LFW DevTest people (never trained on), judged with dlib (never trained with).

    python bench/refiner_eval.py [--photos 150] [--people 150] [--refiner default]

1. Identity: near-frontal photos rotated to yaw ±15…±60; dlib distance source → view for raw
   renders and refined views (with a paired bootstrap interval of the difference), and the
   same-person rate (< 0.6).
2. Realism: Fréchet distance, in dlib descriptor space, between the views (raw / refined) and real
   LFW DevTest photos (other photos than the sources).
3. Ground truth: each person's most frontal photo F rotated to the pose of another photo O of the
   same person: distance of the raw and of the refined view to O.
4. Speed: refiner ms per 128x128 face in batches of 16, beside the raw render of the same views.
Also writes docs/refiner_before_after.jpg (raw | refined at several yaws).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from common import GAP_BANDS, lfw_photos, multi_photo_people, near_frontal_sources, pose_pairs, save, table

from face3d.imageio import read_image
from face3d.landmarks import NoFaceError, box_of
from pipeline.evaluation.stats import bootstrap_ci
from pipeline.identity import DlibIdentity
from pipeline.rotator import FaceRotator

TARGETS = (-60, -45, -30, -15, 15, 30, 45, 60)
DOCS = Path(__file__).resolve().parent.parent / "docs"


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of descriptors."""
    from scipy import linalg

    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = np.real(linalg.sqrtm(s1 @ s2))
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def main() -> None:
    import cv2

    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=150)
    ap.add_argument("--people", type=int, default=150)
    ap.add_argument("--refiner", default="default")
    args = ap.parse_args()
    rot = FaceRotator(refiner=args.refiner)
    ref = rot.refiner
    ident = DlibIdentity()
    desc = lambda v: ident.descriptor(v.image, box_of(v.landmarks68))  # noqa: E731

    # 1 + 2: identity per target yaw, descriptors for realism
    per: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    raw_desc, ref_desc, sources, grid_rows = [], [], set(), []
    t_render = t_refine = 0.0
    n_views = used = 0
    for p, prep in near_frontal_sources(rot, args.photos):
        used += 1
        sources.add(p.name)
        d_src = ident.descriptor(prep.image, box_of(prep.fit.landmarks68))
        t0 = time.perf_counter()
        raw = rot.rotate(prep, list(TARGETS), 0, 0, refine=False)
        t1 = time.perf_counter()
        refined = rot.refine(raw)
        t2 = time.perf_counter()
        t_render += t1 - t0
        t_refine += t2 - t1
        n_views += len(raw)
        for y, vr, vf in zip(TARGETS, raw, refined):
            dr, df = desc(vr), desc(vf)
            raw_desc.append(dr)
            ref_desc.append(df)
            per[y]["raw"].append(ident.distance(d_src, dr))
            per[y]["ref"].append(ident.distance(d_src, df))
        if used <= 6:
            from face3d.region import crop_matrix, warp_crop
            from pipeline.rotator import crop_view

            pick = [0, 2, 5, 7]  # -60, -30, +30, +60
            box = box_of(prep.fit.project())  # the source cropped as the views are (crop_view: the face box, 1.8x)
            tiles = [warp_crop(prep.image, crop_matrix(box, 128, 1.8), 128)]
            for i in pick:
                tiles += [crop_view(raw[i], 128).image, crop_view(refined[i], 128).image]
            grid_rows.append(np.concatenate(tiles, 1))
    rows = []
    res: dict = {"photos": used, "views": n_views, "refiner": ref.name if ref else None, "identity": {}}
    for y in TARGETS:
        r, f = np.array(per[y]["raw"]), np.array(per[y]["ref"])
        _, lo, hi = bootstrap_ci(f - r)  # paired: the same sources, raw vs refined
        rows.append(
            [
                y,
                len(r),
                round(float(r.mean()), 4),
                round(float(f.mean()), 4),
                f"{float((f - r).mean()):+.4f} [{lo:+.4f}, {hi:+.4f}]",
                f"{100 * float((r < 0.6).mean()):.1f}%",
                f"{100 * float((f < 0.6).mean()):.1f}%",
                "yes" if f.mean() <= r.mean() and (f < 0.6).mean() >= (r < 0.6).mean() else "no",
            ]
        )
        res["identity"][y] = {
            "raw_mean": float(r.mean()),
            "refined_mean": float(f.mean()),
            "difference_ci95": [lo, hi],
            "raw_same": float((r < 0.6).mean()),
            "refined_same": float((f < 0.6).mean()),
        }
    print(
        table(
            [
                "target yaw",
                "views",
                "dlib distance, raw",
                "dlib distance, refined",
                "refined − raw [95% paired bootstrap]",
                "same person, raw",
                "same person, refined",
                "refined no worse",
            ],
            rows,
            f"Identity: {used} near-frontal LFW DevTest photos (refiner: {res['refiner']})",
        )
    )

    real = []
    for p in lfw_photos(3000):
        if p.name in sources:
            continue
        img = read_image(p)
        try:
            fit = rot.fitter.fit_landmark_batch([rot.fitter.detect(img)[0]])[0]
        except NoFaceError:
            continue
        real.append(ident.descriptor(img, box_of(fit.landmarks68)))
        if len(real) >= 1000:
            break
    real_a = np.array(real)
    fd_raw, fd_ref = frechet(np.array(raw_desc), real_a), frechet(np.array(ref_desc), real_a)
    half = len(real_a) // 2
    fd_real = frechet(real_a[:half], real_a[half:])
    res["frechet"] = {"raw": fd_raw, "refined": fd_ref, "real_vs_real": fd_real, "real_photos": len(real_a)}
    print(
        table(
            ["views", "Fréchet distance to real LFW photos (dlib space)"],
            [["raw renders", round(fd_raw, 4)], ["refined", round(fd_ref, 4)], ["(real vs real, two halves)", round(fd_real, 4)]],
            f"Realism: {len(raw_desc)} views vs {len(real_a)} real DevTest photos",
        )
    )

    # 3: ground truth
    gt = []
    people = multi_photo_people(args.people)
    for gap, (f_prep, f_desc), (o_prep, o_desc) in pose_pairs(rot, ident, people):
        raw = rot.rotate(f_prep, o_prep.fit.yaw, o_prep.fit.pitch, None, refine=False)
        fine = rot.refine(raw)
        d_raw, d_fine = ident.distance(desc(raw[0]), o_desc), ident.distance(desc(fine[0]), o_desc)
        gt.append((gap, ident.distance(f_desc, o_desc), d_raw, d_fine))
    g = np.array(gt)
    rows = []
    for label, lo, hi in GAP_BANDS:
        s = (g[:, 0] >= lo) & (g[:, 0] < hi)
        if s.any():
            rows.append(
                [
                    label,
                    int(s.sum()),
                    round(float(g[s, 1].mean()), 4),
                    round(float(g[s, 2].mean()), 4),
                    round(float(g[s, 3].mean()), 4),
                    f"{100 * float((g[s, 3] < g[s, 2]).mean()):.0f}%",
                ]
            )
    res["groundtruth"] = {
        "pairs": len(g),
        "frontal": float(g[:, 1].mean()),
        "raw": float(g[:, 2].mean()),
        "refined": float(g[:, 3].mean()),
        "refined_closer": float((g[:, 3] < g[:, 2]).mean()),
    }
    print(
        table(
            ["yaw gap", "pairs", "frontal photo F → O", "raw view → O", "refined view → O", "refined closer than raw"],
            rows,
            f"Ground truth: {len(people)} DevTest people, F rotated to the pose of their other photos O (dlib distance)",
        )
    )

    # 4: speed, in batches of 16 crops
    if ref is not None:
        crops = np.random.default_rng(0).integers(0, 255, (64, ref.size, ref.size, 3), dtype=np.uint8)
        prov = np.ones((64, ref.size, ref.size), np.uint8)
        lm = np.tile(np.stack([np.linspace(40, 88, 68), np.linspace(45, 100, 68)], 1), (64, 1, 1)).astype(np.float32)
        ref.refine_crops(crops[:16], prov[:16], lm[:16])
        t0 = time.perf_counter()
        for _ in range(3):
            ref.refine_crops(crops, prov, lm)
        ms = (time.perf_counter() - t0) / (3 * 64) * 1e3
        res["speed"] = {
            "ms_per_face_batch16": ms,
            "render_ms_per_view": t_render / max(n_views, 1) * 1e3,
            "refine_ms_per_view_fullframe": t_refine / max(n_views, 1) * 1e3,
        }
        print(
            table(
                ["stage", "ms per face"],
                [
                    ["refiner, 128x128, batch 16", round(ms, 1)],
                    ["raw render of a full-frame view (same run)", round(res["speed"]["render_ms_per_view"], 1)],
                    ["refine a full-frame view (crop, refine, paste)", round(res["speed"]["refine_ms_per_view_fullframe"], 1)],
                ],
                "Speed on this machine",
            )
        )
    if grid_rows:
        head = np.full((22, grid_rows[0].shape[1], 3), 255, np.uint8)
        labels = ["source"] + [f"{y:+d} {k}" for y in (-60, -30, 30, 60) for k in ("raw", "refined")]
        for i, lab in enumerate(labels):
            cv2.putText(head, lab, (i * 128 + 4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
        out = np.concatenate([head] + grid_rows, 0)
        DOCS.mkdir(exist_ok=True)
        cv2.imwrite(str(DOCS / "refiner_before_after.jpg"), cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    save("refiner_eval", res)


if __name__ == "__main__":
    main()
