"""Drawing fits on photos (mesh wireframe, landmarks) for demos, docs and debugging."""

from __future__ import annotations

import numpy as np

from .model import MorphableModel
from .result import FitResult


def draw_fit(
    image: np.ndarray, fit: FitResult, model: MorphableModel, wireframe: bool = True, landmarks: bool = True
) -> np.ndarray:
    """A copy of ``image`` (RGB uint8) with the fitted mesh's front-facing edges and the 68
    landmarks (detected: green, fitted: red) drawn on it, and the pose written in a corner."""
    import cv2

    out = image.copy()
    h, w = out.shape[:2]
    thick = max(1, round(max(h, w) / 500))
    if wireframe:
        pc = fit.vertices_camera()
        p2 = fit.camera.project(pc)
        tri = model.triangles
        a, b, c = (p2[tri[:, i]] for i in range(3))
        front = ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])) < 0
        overlay = out.copy()
        polys = [np.round(p2[t] * 16).astype(np.int32) for t in tri[front]]
        cv2.polylines(overlay, polys, True, (255, 230, 120), 1, cv2.LINE_AA, shift=4)
        out = cv2.addWeighted(overlay, 0.6, out, 0.4, 0)
    if landmarks:
        r = max(2, thick + 1)
        for p in fit.landmarks_input:
            cv2.circle(out, (int(round(p[0])), int(round(p[1]))), r, (40, 220, 40), -1, cv2.LINE_AA)
        for p in fit.landmarks68:
            if np.all(np.isfinite(p)):
                cv2.circle(out, (int(round(p[0])), int(round(p[1]))), max(1, r - 1), (230, 40, 40), -1, cv2.LINE_AA)
    y, p, rl = fit.pose
    cv2.putText(
        out,
        f"yaw {y:+.1f} pitch {p:+.1f} roll {rl:+.1f}",
        (6, 6 + 14 * thick),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.45 * thick,
        (255, 255, 255),
        thick,
        cv2.LINE_AA,
    )
    return out
