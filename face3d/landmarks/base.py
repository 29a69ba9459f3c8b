"""The landmark interface: one result type, one protocol, one exception for "no face"."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


class NoFaceError(RuntimeError):
    """No usable face in the image. ``reason`` says why (``"no face detected"``, ``"image too small"``...)."""

    def __init__(self, reason: str, source: str | None = None) -> None:
        self.reason = reason
        self.source = source
        super().__init__(f"{source}: {reason}" if source else reason)


class LandmarkModelMissing(FileNotFoundError):
    """A backend's weights file is missing; the message names the file and where to put it."""


@dataclass
class FaceLandmarks:
    """Landmarks of one face in input-image pixels.

    Attributes:
        points68: (68, 2) iBUG-68 points (x, y).
        box: (x0, y0, x1, y1) face box.
        image_size: (height, width) of the image the points refer to.
        backend: the backend's name.
        dense: optional (M, 2) dense points of ``dense_scheme`` (e.g. MediaPipe's 468).
        dense_scheme: name of the dense scheme or ``""``.
        score: detector confidence where the backend has one.
    """

    points68: np.ndarray
    box: tuple[float, float, float, float]
    image_size: tuple[int, int]
    backend: str
    dense: np.ndarray | None = None
    dense_scheme: str = ""
    score: float = 1.0
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)


def box_of(points: np.ndarray) -> tuple[float, float, float, float]:
    """The (x0, y0, x1, y1) box around (N, 2) points; NaN points (landmarks a view lost) are ignored."""
    pts = np.asarray(points, np.float64)
    x0, y0 = np.nanmin(pts, 0)
    x1, y1 = np.nanmax(pts, 0)
    return float(x0), float(y0), float(x1), float(y1)


def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class LandmarkDetector(Protocol):
    """What every backend provides."""

    name: str

    def detect(self, image: np.ndarray, all_faces: bool = False) -> list[FaceLandmarks]:
        """Landmarks of the largest face (or of all faces, largest first) in an RGB uint8 image.
        Raises :class:`NoFaceError` when there is none."""
        ...


def check_image(image: np.ndarray, min_size: int = 32) -> np.ndarray:
    """Validate an RGB image for the detectors: uint8 (H, W, 3), at least ``min_size`` pixels a side."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got {getattr(image, 'shape', type(image))}")
    if min(image.shape[:2]) < min_size:
        raise NoFaceError(f"image too small for face detection ({image.shape[1]}x{image.shape[0]} pixels, need {min_size})")
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    return np.ascontiguousarray(image)
