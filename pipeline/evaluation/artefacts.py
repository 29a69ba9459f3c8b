"""An artefact census of synthesised views: what can be counted automatically, per view.

- **seam**: the face render's outline shows as an edge the photo does not have. The mean gradient
  magnitude of the view in a 3 px band along the face render's outline, over the same measure of
  the source photo along its own face outline (the face rendered at the photo's pose); a view
  counts when the ratio exceeds :data:`SEAM_RATIO`.
- **stretched**: the share of the face's pixels drawn from the photo (provenance "seen") at a
  magnification over :data:`STRETCH` (in area): a triangle that covered few photo pixels covers many
  in the view (the far cheek and ear at large yaw). A view counts when that share exceeds
  :data:`STRETCH_SHARE`.
- **dark mirror**: the mirrored part of the face is much darker than the seen part, relative to
  how the photo's own two halves compare (a photo lit from one side has a darker half, but its
  mirror image put on the lit side should not be darker still). A view counts when its
  mirrored / seen luminance ratio is below :data:`DARK_RATIO` times the photo's darker / brighter
  half ratio.

What cannot be counted this way (doubled features, painted-on glasses) is shown in a grid.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

SEAM_RATIO = 1.5
STRETCH = 3.0
STRETCH_SHARE = 0.10
DARK_RATIO = 0.75


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def _outline_gradient(image: np.ndarray, coverage: np.ndarray, band: int = 3) -> float:
    """Mean gradient magnitude of ``image`` in a ``band`` px band around the edge of ``coverage``."""
    import cv2

    m = (coverage > 0.5).astype(np.uint8)
    k = np.ones((2 * band + 1, 2 * band + 1), np.uint8)
    ring = (cv2.dilate(m, k) > 0) & ~(cv2.erode(m, k) > 0)
    if not ring.any():
        return float("nan")
    g = _luma(image)
    gx, gy = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    return float(np.hypot(gx, gy)[ring].mean())


def _triangle_areas(points2d: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    a, b, c = points2d[triangles[:, 0]], points2d[triangles[:, 1]], points2d[triangles[:, 2]]
    return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1]))


def stretched_share(source: Any, view: Any, renderer: Any = None) -> float:
    """Share of the view's face pixels that are drawn from the photo (provenance "seen") on
    triangles magnified more than :data:`STRETCH` (in area) from the photo."""
    from face3d.camera import euler_to_matrix
    from face3d.render import default_renderer

    fit, cam, rm = source.fit, source.fit.camera, source.mesh
    tgt = cam.to_camera(rm.expand(fit.vertices.astype(np.float64)), euler_to_matrix(*view.pose), fit.translation)
    a_src = _triangle_areas(cam.to_pixels(source.mesh_cam), rm.triangles)
    a_tgt = _triangle_areas(cam.to_pixels(tgt), rm.triangles)
    seen_src = a_src < 0  # facing the camera in the photo (clockwise on screen: see the rasteriser)
    magnified = seen_src & (a_tgt < 0) & (np.abs(a_tgt) > STRETCH * np.maximum(np.abs(a_src), 1e-6))
    frags = (renderer or default_renderer()).fragments(
        torch.as_tensor(tgt, dtype=torch.float32), torch.as_tensor(rm.triangles, dtype=torch.long), cam
    )
    face = frags.face.numpy()
    covered = face >= 0
    if not covered.any():
        return 0.0
    from_photo = view.provenance[covered] == 1
    return float((magnified[face[covered]] & from_photo).mean())


def dark_mirror_ratio(source: Any, view: Any) -> float | None:
    """The view's mirrored / seen face luminance over the photo's darker / brighter half-face
    luminance (split at the nose); None when the view shows too little of either."""
    lum = _luma(view.image)
    mirrored, seen = view.provenance == 2, view.provenance == 1
    if mirrored.sum() < 50 or seen.sum() < 50:
        return None
    view_ratio = float(lum[mirrored].mean() / max(lum[seen].mean(), 1e-3))
    lm = source.fit.landmarks68
    x_nose = float(lm[30, 0])
    own = _luma(source.image)
    h, w = own.shape
    y0, y1 = int(max(np.nanmin(lm[:, 1]), 0)), int(min(np.nanmax(lm[:, 1]), h))
    x0, x1 = int(max(np.nanmin(lm[:, 0]), 0)), int(min(np.nanmax(lm[:, 0]), w))
    xn = int(np.clip(x_nose, x0 + 1, x1 - 1))
    left, right = own[y0:y1, x0:xn], own[y0:y1, xn:x1]
    if left.size < 50 or right.size < 50:
        return None
    a, b = float(left.mean()), float(right.mean())
    photo_ratio = min(a, b) / max(a, b, 1e-3)
    return view_ratio / max(photo_ratio, 1e-3)


def census(source: Any, views: list[Any], renderer: Any = None) -> list[dict[str, Any]]:
    """Per view of one source: its seam ratio, stretched share and dark-mirror ratio, and which of
    the three artefacts it counts as having."""
    from face3d.synth import rotate

    own = rotate(source, None, renderer=renderer)
    base = _outline_gradient(source.image, own.face_mask)
    out = []
    for v in views:
        seam = _outline_gradient(v.image, v.face_mask) / max(base, 1e-3)
        stretch = stretched_share(source, v, renderer)
        dark = dark_mirror_ratio(source, v)
        out.append(
            {
                "yaw": round(v.pose[0], 1),
                "seam_ratio": round(seam, 3),
                "stretched_share": round(stretch, 3),
                "dark_mirror_ratio": None if dark is None else round(dark, 3),
                "seam": bool(seam > SEAM_RATIO),
                "stretched": bool(stretch > STRETCH_SHARE),
                "dark_mirror": bool(dark is not None and dark < DARK_RATIO),
            }
        )
    return out


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts of each artefact per target |yaw| (views with it / views)."""
    by_yaw: dict[float, list[dict[str, Any]]] = {}
    for r in rows:
        by_yaw.setdefault(abs(round(r["yaw"] / 15) * 15), []).append(r)
    out = {}
    for y in sorted(by_yaw):
        rs = by_yaw[y]
        out[f"{y:g}"] = {k: f"{sum(r[k] for r in rs)}/{len(rs)}" for k in ("seam", "stretched", "dark_mirror")}
    out["all"] = {k: f"{sum(r[k] for r in rows)}/{len(rows)}" for k in ("seam", "stretched", "dark_mirror")}
    return out
