"""Face landmark backends behind one interface (:class:`LandmarkDetector`).

``get_detector("mediapipe" | "dlib" | "face-alignment")`` returns a ready detector; detectors are
cached per process, so repeated calls cost nothing.
"""
from __future__ import annotations

from typing import Any

from .base import FaceLandmarks, LandmarkDetector, LandmarkModelMissing, NoFaceError, box_of, check_image

BACKENDS = ("mediapipe", "dlib", "face-alignment")
_CACHE: dict[str, Any] = {}

__all__ = ["BACKENDS", "FaceLandmarks", "LandmarkDetector", "LandmarkModelMissing", "NoFaceError", "get_detector",
           "box_of", "check_image"]


def get_detector(name: str = "mediapipe") -> LandmarkDetector:
    """The detector for backend ``name`` (created once per process)."""
    key = {"fan": "face-alignment", "face_alignment": "face-alignment"}.get(name, name)
    if key not in BACKENDS:
        raise ValueError(f"unknown landmark backend {name!r}; choose one of {', '.join(BACKENDS)}")
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
