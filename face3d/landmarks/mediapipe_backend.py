"""MediaPipe FaceMesh backend (default): 478 points (468 mesh + 10 iris) and the iBUG-68 subset.

The iBUG-68 subset is a fixed vertex table (``face3d/data/mediapipe_ibug68.json``) measured by
``tools/build_default_model.py``: for each iBUG point, the mesh vertex closest on average to
dlib's 68-point detections on LFW training photos.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from .base import FaceLandmarks, NoFaceError, box_of, check_image

MAPPING_PATH = Path(__file__).resolve().parent.parent / "data" / "mediapipe_ibug68.json"


@lru_cache(maxsize=1)
def ibug68_indices() -> np.ndarray:
    """(68,) MediaPipe vertex index of each iBUG-68 point."""
    if not MAPPING_PATH.is_file():
        raise FileNotFoundError(f"{MAPPING_PATH} is missing; rebuild it with: python tools/build_default_model.py")
    idx = np.asarray(json.loads(MAPPING_PATH.read_text())["ibug68"], np.int64)
    if idx.shape != (68,):
        raise ValueError(f"{MAPPING_PATH}: expected 68 indices")
    return idx


class MediaPipeLandmarks:
    """FaceMesh in static-image mode. One instance per process/thread (MediaPipe graphs are not shared)."""

    name = "mediapipe"

    def __init__(self, max_faces: int = 4, min_confidence: float = 0.5) -> None:
        try:
            from mediapipe.python.solutions import face_mesh
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise ImportError("the mediapipe backend needs mediapipe==0.10.14 (pip install mediapipe==0.10.14)") from exc
        self._mesh = face_mesh.FaceMesh(static_image_mode=True, max_num_faces=max_faces, refine_landmarks=True,
                                        min_detection_confidence=min_confidence)

    def close(self) -> None:
        self._mesh.close()

    def detect(self, image: np.ndarray, all_faces: bool = False) -> list[FaceLandmarks]:
        image = check_image(image)
        h, w = image.shape[:2]
        res = self._mesh.process(image)
        if not res.multi_face_landmarks:
            raise NoFaceError("no face detected (mediapipe)")
        idx = ibug68_indices()
        faces = []
        for lms in res.multi_face_landmarks:
            pts = np.array([(p.x * w, p.y * h, p.z * w) for p in lms.landmark], np.float32)
            faces.append(FaceLandmarks(points68=pts[idx, :2].copy(), box=box_of(pts[:468, :2]), image_size=(h, w),
                                       backend=self.name, dense=pts[:468, :2].copy(), dense_scheme="mediapipe468",
                                       extra={"depth": pts[:468, 2].copy(), "iris": pts[468:, :2].copy()}))
        faces.sort(key=lambda f: -f.area)
        return faces if all_faces else faces[:1]
