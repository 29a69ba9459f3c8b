"""dlib backend (extra ``facerot[dlib]``): HOG face detector + the 68-point shape predictor
shipped by ``face-recognition-models`` (located with importlib, no pkg_resources needed)."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .base import FaceLandmarks, LandmarkModelMissing, NoFaceError, check_image


def dlib_model_file(name: str) -> Path:
    """Path of a model file shipped by ``face-recognition-models``."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise LandmarkModelMissing("the dlib backend needs face-recognition-models: pip install 'facerot[dlib]'")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / name
    if not path.is_file():
        raise LandmarkModelMissing(f"dlib model file missing: {path}")
    return path


class DlibLandmarks:
    name = "dlib"

    def __init__(self, upsample: int = 1) -> None:
        try:
            import dlib
        except ImportError as exc:
            raise ImportError("the dlib backend needs dlib: pip install 'facerot[dlib]' (dlib-bin)") from exc
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(dlib_model_file("shape_predictor_68_face_landmarks.dat")))
        self.upsample = upsample

    def detect(self, image: np.ndarray, all_faces: bool = False) -> list[FaceLandmarks]:
        image = check_image(image)
        h, w = image.shape[:2]
        rects = list(self._detector(image, self.upsample))
        if not rects:
            raise NoFaceError("no face detected (dlib HOG)")
        rects.sort(key=lambda r: -r.area())
        out = []
        for r in rects if all_faces else rects[:1]:
            shape = self._predictor(image, r)
            pts = np.array([(p.x, p.y) for p in shape.parts()], np.float32)
            out.append(
                FaceLandmarks(points68=pts, box=(r.left(), r.top(), r.right(), r.bottom()), image_size=(h, w), backend=self.name)
            )
        return out


@lru_cache(maxsize=1)
def _predictor() -> Any:
    import dlib

    return dlib.shape_predictor(str(dlib_model_file("shape_predictor_68_face_landmarks.dat")))


def landmarks_in_box(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """(68, 2) dlib's iBUG-68 points of the face in ``box`` (x0, y0, x1, y1) of an RGB image."""
    import dlib

    rect = dlib.rectangle(*(int(round(v)) for v in box))
    shape = _predictor()(np.ascontiguousarray(image), rect)
    return np.array([(q.x, q.y) for q in shape.parts()], np.float32)
