"""Pitch read on views of known pose: near-frontal LFW DevTest photos re-rendered at yaw -45..45
and at their own pitch -15, +0, +15; read by our fit as photos are fitted (pitch held to the
detector mesh's), by our fit on the detector's 2D points alone, by our fit given the view's exact
model points instead of the detector's (isolates the detector from the fit) and by WHENet. Tells
whose pitch is off: the bias and the slope of each reader's pitch against the true one, per yaw.

    cd bench && python pitch_renders.py [--photos 80]
"""

from __future__ import annotations

import argparse

import numpy as np
from common import lfw_photos, save, table

from face3d.camera import euler_to_matrix
from face3d.fitting import FitOptions, Fitter
from face3d.imageio import read_image
from face3d.landmarks import FaceLandmarks, NoFaceError

YAWS = (-45, -30, -15, 0, 15, 30, 45)


def true_points(fit, pose, model, like: FaceLandmarks) -> FaceLandmarks:  # type: ignore[no-untyped-def]
    """The detector's points replaced by the model's own points at ``pose`` (what a perfect
    detector would report on the render)."""
    cam = fit.camera
    pts = cam.project(cam.to_camera(fit.vertices, euler_to_matrix(*pose), fit.translation)).astype(np.float32)
    dense = pts[np.maximum(model.dense_index, 0)]
    return FaceLandmarks(pts[np.maximum(model.landmarks68, 0)], like.box, like.image_size, "truth", dense, model.dense_scheme)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=80)
    args = ap.parse_args()
    from pipeline import FaceRotator
    from pipeline.evaluation.headpose import WHENetEstimator

    rot = FaceRotator(refiner=None)
    plain = Fitter(options=FitOptions(photometric=False))
    points = Fitter(options=FitOptions(photometric=False, mesh_pitch=False))
    whenet = WHENetEstimator()
    rows = []
    for p in lfw_photos(args.photos, "DevTest"):
        try:
            prep = rot.prepare(read_image(p))
        except NoFaceError:
            continue
        if abs(prep.fit.yaw) > 10:
            continue
        for y in YAWS:
            for dp in (-15, 0, 15):
                v = rot.rotate(prep, yaws=y, pitches=prep.fit.pitch + dp, refine=False)[0]
                try:
                    det = plain.detect(v.image)[0]
                    w = whenet.estimate(v.image, mirror=True)
                except NoFaceError:
                    continue
                ours, exact = plain.fit_landmark_batch([det, true_points(prep.fit, v.pose, plain.model, det)])
                pts2d = points.fit_landmark_batch([det])[0]
                rows.append((v.pose[0], v.pose[1], ours.pose[1], w.pitch, exact.pose[1], pts2d.pose[1]))
    r = np.array(rows)
    out, body = [], []
    for y in YAWS:
        m = np.abs(r[:, 0] - y) < 1
        row = {
            "yaw": y,
            "views": int(m.sum()),
            "ours_bias": float(np.mean(r[m, 2] - r[m, 1])),
            "ours_slope": float(np.polyfit(r[m, 1], r[m, 2], 1)[0]),
            "ours_mae": float(np.mean(np.abs(r[m, 2] - r[m, 1]))),
            "points_2d_bias": float(np.mean(r[m, 5] - r[m, 1])),
            "points_2d_slope": float(np.polyfit(r[m, 1], r[m, 5], 1)[0]),
            "points_2d_mae": float(np.mean(np.abs(r[m, 5] - r[m, 1]))),
            "whenet_bias": float(np.mean(r[m, 3] - r[m, 1])),
            "whenet_slope": float(np.polyfit(r[m, 1], r[m, 3], 1)[0]),
            "exact_points_bias": float(np.mean(r[m, 4] - r[m, 1])),
            "exact_points_slope": float(np.polyfit(r[m, 1], r[m, 4], 1)[0]),
        }
        out.append(row)
        body.append(
            [
                f"{y:+d}°",
                row["views"],
                f"{row['ours_bias']:+.2f}°",
                f"{row['ours_slope']:.2f}",
                f"{row['ours_mae']:.2f}°",
                f"{row['points_2d_bias']:+.2f}°",
                f"{row['points_2d_slope']:.2f}",
                f"{row['points_2d_mae']:.2f}°",
                f"{row['whenet_bias']:+.2f}°",
                f"{row['whenet_slope']:.2f}",
                f"{row['exact_points_bias']:+.2f}°",
                f"{row['exact_points_slope']:.2f}",
            ]
        )
    print(
        table(
            [
                "view yaw",
                "views",
                "our pitch bias",
                "our pitch slope",
                "our pitch MAE",
                "2D points only: bias",
                "slope",
                "MAE",
                "WHENet pitch bias",
                "WHENet pitch slope",
                "exact points: bias",
                "exact points: slope",
            ],
            body,
            "Pitch read on views of known pitch (source pitch -15, +0, +15)",
        )
    )
    save("pitch_renders", {"rows": out})


if __name__ == "__main__":
    main()
