"""Quality filters of ``augment``: a view is dropped (recorded with the reason) when it is not the
same person as its photo by dlib's descriptor (``--min-identity``) or when its face, fitted again,
does not have the pose it was made at (``--max-pose-error``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .options import AugmentOptions


def identity_score(identity: Any, source_descriptor: np.ndarray, view: Any) -> float:
    """1 - dlib descriptor distance between the photo's face and the view's face."""
    from face3d.landmarks import box_of

    return round(1.0 - identity.distance(source_descriptor, identity.descriptor(view.image, box_of(view.landmarks68))), 4)


def pose_error(fitter: Any, view: Any) -> float | None:
    """The largest difference (degrees) between the view's pose and its face read back
    (:func:`pipeline.rotator.refit_pose`), or None when no face of the view is found."""
    from ..rotator import refit_pose

    refit = refit_pose(view, fitter.model)
    return None if refit is None else max(abs(a - b) for a, b in zip(refit, view.pose))


def drop_reason(
    view: Any, opts: AugmentOptions, fitter: Any, identity: Any, source_descriptor: np.ndarray | None
) -> tuple[str | None, float | None]:
    """(why the view is dropped, or None; its identity score when measured)."""
    score = None
    if identity is not None and source_descriptor is not None:
        score = identity_score(identity, source_descriptor, view)
        if opts.min_identity is not None and score < opts.min_identity:
            return f"identity score {score:.3f} below --min-identity {opts.min_identity}", score
    if opts.max_pose_error is not None:
        err = pose_error(fitter, view)
        if err is None:
            return "no face found when re-fitting the view (--max-pose-error)", score
        if err > opts.max_pose_error:
            return f"re-fitted pose misses the target by {err:.1f} deg (> --max-pose-error {opts.max_pose_error})", score
    return None, score
