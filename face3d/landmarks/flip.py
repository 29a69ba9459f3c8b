"""Flip test-time augmentation: landmarks of the photo and of its mirror image, averaged.

A detector's errors are not mirror-symmetric: MediaPipe, on the same face turned 30° left and
then mirrored to 30° right, places its points so that the fit reads the two poses 1-3° apart in
magnitude. :class:`FlipAveraged` runs the detector on the photo and on its mirror image, maps the
second set back (x -> width - x, each point to its mirror point) and averages the two, so the
landmarks of a mirrored photo are exactly the mirrored landmarks — and so are the fitted poses
(yaw and roll change sign, pitch stays). Averaging two detections also halves the variance of
their independent errors. It costs one more detection per photo. A dense detector's per-point
depths (MediaPipe's) are mirrored and averaged the same way; both readings stay in ``extra``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .base import FaceLandmarks, LandmarkDetector, NoFaceError, box_iou, box_of

#: Mirror point of each iBUG-68 point (0-based): jaw, brows, nose, eyes, mouth.
IBUG68_MIRROR = np.array(
    list(range(16, -1, -1))
    + list(range(26, 16, -1))
    + [27, 28, 29, 30]
    + [35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]
    + [64, 63, 62, 61, 60, 67, 66, 65],
    np.int64,
)


def mirror_face(face: FaceLandmarks, width: int, dense_mirror: np.ndarray | None) -> FaceLandmarks:
    """Landmarks found on the mirror image, expressed in the original image: x -> width - x and
    every point moved to its mirror point's slot."""

    def flip(p: np.ndarray, perm: np.ndarray) -> np.ndarray:
        q = p[perm].copy()
        q[:, 0] = width - q[:, 0]
        return q

    p68 = flip(face.points68, IBUG68_MIRROR)
    dense, extra = None, {}
    if face.dense is not None and dense_mirror is not None and len(dense_mirror) == len(face.dense):
        dense = flip(face.dense, dense_mirror)
        depth = face.extra.get("depth")
        if depth is not None and len(depth) == len(dense_mirror):  # depth does not change sign in a mirror
            extra["depth"] = np.asarray(depth)[dense_mirror].copy()
    x0, y0, x1, y1 = face.box
    return replace(face, points68=p68, dense=dense, box=(width - x1, y0, width - x0, y1), extra=extra)


class FlipAveraged:
    """Wraps a :class:`~face3d.landmarks.base.LandmarkDetector` with flip test-time augmentation.

    Args:
        detector: the detector to wrap.
        dense_mirror: mirror permutation of the detector's dense points (``None``: the dense
            points are taken from the photo alone and only the 68 points are averaged).
        max_disagreement: the two detections are averaged only when their mean point distance
            is below this fraction of the face box's size (else the photo's own is kept: one
            of them has gone wrong, and an average of two different faces is none).
    """

    def __init__(
        self,
        detector: LandmarkDetector,
        dense_mirror: np.ndarray | None = None,
        dense_to_68: np.ndarray | None = None,
        max_disagreement: float = 0.08,
    ) -> None:
        self.detector = detector
        self.name = detector.name
        self.dense_mirror = None if dense_mirror is None else np.asarray(dense_mirror, np.int64)
        if self.dense_mirror is not None and not np.array_equal(
            self.dense_mirror[self.dense_mirror], np.arange(len(self.dense_mirror))
        ):
            raise ValueError("dense_mirror must be an involution (each point the mirror of its mirror)")
        self.dense_to_68 = None if dense_to_68 is None else np.asarray(dense_to_68, np.int64)
        self.max_disagreement = max_disagreement

    def detect(self, image: np.ndarray, all_faces: bool = False) -> list[FaceLandmarks]:
        faces = self.detector.detect(image, all_faces=all_faces)
        width = image.shape[1]
        try:
            mirrored = [
                mirror_face(f, width, self.dense_mirror)
                for f in self.detector.detect(np.ascontiguousarray(image[:, ::-1]), all_faces=all_faces)
            ]
        except NoFaceError:
            return faces
        return [self._average(f, mirrored) for f in faces]

    def _average(self, face: FaceLandmarks, mirrored: list[FaceLandmarks]) -> FaceLandmarks:
        if not mirrored:
            return face
        other = max(mirrored, key=lambda m: box_iou(face.box, m.box))
        if box_iou(face.box, other.box) < 0.5:
            return face
        size = float(np.sqrt(max(face.area, 1.0)))
        if float(np.linalg.norm(face.points68 - other.points68, axis=1).mean()) > self.max_disagreement * size:
            return face
        p68 = 0.5 * (face.points68 + other.points68)
        dense = face.dense
        if face.dense is not None and other.dense is not None:
            dense = 0.5 * (face.dense + other.dense)
            if self.dense_to_68 is not None:
                p68 = dense[self.dense_to_68]
        extra = dict(face.extra)
        extra["flip_averaged"] = True
        both_dense = dense is not face.dense  # the dense points were averaged above
        if both_dense and face.extra.get("depth") is not None and other.extra.get("depth") is not None:
            d0, d1 = np.asarray(face.extra["depth"]), np.asarray(other.extra["depth"])
            extra["depth"] = 0.5 * (d0 + d1)
            extra["reading_depths"] = (d0, d1)
        # both readings, for the fit's uncertainty: how far apart the photo and its mirror image put the face
        extra["readings"] = (
            face.dense if face.dense is not None else face.points68,
            other.dense if other.dense is not None else other.points68,
        )
        box = box_of(dense) if dense is not None else box_of(p68)
        return replace(
            face, points68=p68.astype(np.float32), box=box, dense=None if dense is None else dense.astype(np.float32), extra=extra
        )
