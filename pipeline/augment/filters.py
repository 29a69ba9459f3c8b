"""Quality filters of ``augment``: a view is flagged when it is not the same person as its photo by
dlib's descriptor (``--min-identity``), when its face, fitted again, does not have the pose it was
made at (``--max-pose-error``), or when the realism scorer finds it unlike a real photo
(``--min-realism``). A flagged view is dropped (recorded with its reasons), or written with its
reasons in the record's ``flags`` (``--keep-flagged``)."""

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


def flag_reasons(
    view: Any,
    opts: AugmentOptions,
    fitter: Any,
    identity: Any,
    source_descriptor: np.ndarray | None,
    realism: Any = None,
) -> tuple[list[str], dict[str, float]]:
    """(every reason the filters flag the view for, empty when none; the scores measured:
    ``identity_score``, ``realism_score``)."""
    reasons, scores = [], {}
    if identity is not None and source_descriptor is not None:
        score = scores["identity_score"] = identity_score(identity, source_descriptor, view)
        if opts.min_identity is not None and score < opts.min_identity:
            reasons.append(f"identity score {score:.3f} below --min-identity {opts.min_identity}")
    if realism is not None:
        score = scores["realism_score"] = realism.score(view.image, view.landmarks68)
        if opts.min_realism is not None and score < opts.min_realism:
            reasons.append(f"realism score {score:.3f} below --min-realism {opts.min_realism}")
    if opts.max_pose_error is not None:
        err = pose_error(fitter, view)
        if err is None:
            reasons.append("no face found when re-fitting the view (--max-pose-error)")
        elif err > opts.max_pose_error:
            reasons.append(f"re-fitted pose misses the target by {err:.1f} deg (> --max-pose-error {opts.max_pose_error})")
    return reasons, scores
