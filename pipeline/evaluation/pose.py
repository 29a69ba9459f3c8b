"""Pose accuracy: synthesised views re-fitted against their targets, and the fitter on photos
annotated in the AFLW2000-3D ``.mat`` format."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .gallery import GalleryEntry


def view_pose_accuracy(gallery: Sequence[GalleryEntry]) -> list[dict[str, Any]]:
    """Per target yaw: how far the re-fitted yaw of the views lies from the target (MAE, and the
    signed mean: negative = the views read as less turned than asked), and the same for the
    independent estimator's reading (``other_*``; ``None`` where it read no view)."""
    per: dict[float, list[tuple[float, float, float]]] = {}
    for g in gallery:
        for v in g.views:
            per.setdefault(v.target_yaw, []).append((v.yaw, v.refit_yaw, v.other_yaw))
    rows = []
    for t in sorted(per):
        a = np.array(per[t])
        row: dict[str, Any] = {"target_yaw": t, "views": len(a)}
        for col, prefix, missed in ((1, "", "refit_missed"), (2, "other_", "other_missed")):
            found = np.isfinite(a[:, col])
            err = a[found, col] - a[found, 0]
            row[missed] = int((~found).sum())
            row[prefix + "yaw_mae"] = float(np.abs(err).mean()) if found.any() else None
            row[prefix + "signed"] = float((err * np.sign(t or 1)).mean()) if found.any() else None
        rows.append(row)
    return rows


def aflw2000_accuracy(folder: str | os.PathLike[str], fitter: Any, limit: int | None = None) -> dict[str, Any]:
    """Yaw/pitch/roll MAE against ``Pose_Para`` and the 68-point NME (normalised by the size,
    sqrt(w·h), of the annotated landmarks' box) of the fitted landmarks. AFLW2000's angle signs
    differ from facerot's: each angle's sign is taken from its correlation with ours (reported)."""
    from face3d.imageio import ImageReadError, read_image
    from face3d.landmarks import NoFaceError

    from ..datasets import iter_aflw2000

    gt, est, nme, missed, unreadable, n = [], [], [], 0, 0, 0
    for s in iter_aflw2000(folder):
        if limit is not None and n >= limit:
            break
        n += 1
        try:
            fit = fitter.fit(read_image(s.image))
        except ImageReadError:
            unreadable += 1
            continue
        except NoFaceError:
            missed += 1
            continue
        if fit.quality == "failed":
            missed += 1
            continue
        box = np.ptp(s.landmarks68, 0)
        nme.append(np.linalg.norm(fit.landmarks68 - s.landmarks68, axis=1).mean() / np.sqrt(box[0] * box[1]))
        gt.append((s.yaw, s.pitch, s.roll))
        est.append(fit.pose)
    if not gt:
        return {"photos": n, "no_face": missed, "unreadable": unreadable}
    g, e = np.array(gt), np.array(est)
    signs = np.array([np.sign(np.corrcoef(g[:, k], e[:, k])[0, 1]) if len(g) > 2 else 1.0 for k in range(3)])
    signs[~np.isfinite(signs) | (signs == 0)] = 1.0
    mae = np.abs(g * signs - e).mean(0)
    return {
        "photos": n,
        "no_face": missed,
        "unreadable": unreadable,
        "yaw_mae": float(mae[0]),
        "pitch_mae": float(mae[1]),
        "roll_mae": float(mae[2]),
        "nme68": float(np.mean(nme)),
        "signs_flipped": [k for k, s in zip(("yaw", "pitch", "roll"), signs) if s < 0],
    }
