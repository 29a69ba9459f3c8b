"""Face landmark backends behind one interface (:class:`LandmarkDetector`).

``get_detector("mediapipe" | "dlib" | "face-alignment")`` returns a ready detector; detectors are
cached per process, so repeated calls cost nothing. MediaPipe's is flip-averaged by default
(:class:`~face3d.landmarks.flip.FlipAveraged`: the photo and its mirror image, averaged, so a
mirrored photo gets exactly the mirrored landmarks and pose); ``flip_average`` sets it for any
backend.
"""

from __future__ import annotations

from typing import Any

from .base import FaceLandmarks, LandmarkDetector, LandmarkModelMissing, NoFaceError, box_iou, box_of, check_image
from .flip import FlipAveraged

BACKENDS = ("mediapipe", "dlib", "face-alignment")
_CACHE: dict[str, Any] = {}

__all__ = [
    "BACKENDS",
    "FaceLandmarks",
    "LandmarkDetector",
    "LandmarkModelMissing",
    "NoFaceError",
    "get_detector",
    "box_iou",
    "box_of",
    "check_image",
    "FlipAveraged",
]

#: backends flip-averaged unless told otherwise (one more detection per photo: ~5 ms for MediaPipe)
FLIP_BY_DEFAULT = ("mediapipe",)


def get_detector(name: str = "mediapipe", flip_average: bool | None = None) -> LandmarkDetector:
    """The detector for backend ``name`` (created once per process), flip-averaged when
    ``flip_average`` (``None``: the backend's default, :data:`FLIP_BY_DEFAULT`)."""
    key = {"fan": "face-alignment", "face_alignment": "face-alignment"}.get(name, name)
    if key not in BACKENDS:
        raise ValueError(f"unknown landmark backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if flip_average is None:
        flip_average = key in FLIP_BY_DEFAULT
    if flip_average:
        fkey = key + "+flip"
        if fkey not in _CACHE:
            base = get_detector(key, flip_average=False)
            if key == "mediapipe":
                from .mediapipe_backend import ibug68_indices, mirror468

                _CACHE[fkey] = FlipAveraged(base, mirror468(), ibug68_indices())
            else:
                _CACHE[fkey] = FlipAveraged(base)
        return _CACHE[fkey]
    if key not in _CACHE:
        if key == "mediapipe":
            from .mediapipe_backend import MediaPipeLandmarks

            _CACHE[key] = MediaPipeLandmarks()
        elif key == "dlib":
            from .dlib_backend import DlibLandmarks

            _CACHE[key] = DlibLandmarks()
        else:
            from .fan_backend import FanLandmarks

            _CACHE[key] = FanLandmarks()
    return _CACHE[key]
