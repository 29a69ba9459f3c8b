"""Identity judged by a network facerot never trains with: dlib's ResNet face descriptor.

Distances below 0.6 mean "same person" (dlib's threshold). The face is located with the
caller's box (e.g. a view's known face box), so large poses the HOG detector misses still count.
"""

from __future__ import annotations

import numpy as np


class DlibIdentity:
    """128-D dlib face descriptors (needs ``facerot[dlib]``)."""

    threshold = 0.6

    def __init__(self) -> None:
        import dlib

        from face3d.landmarks.dlib_backend import dlib_model_file

        self._dlib = dlib
        self._sp = dlib.shape_predictor(str(dlib_model_file("shape_predictor_5_face_landmarks.dat")))
        self._net = dlib.face_recognition_model_v1(str(dlib_model_file("dlib_face_recognition_resnet_model_v1.dat")))

    def descriptor(self, image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        """Descriptor of the face in ``box`` (x0, y0, x1, y1) of an RGB uint8 image."""
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        rect = self._dlib.rectangle(x0, y0, x1, y1)
        shape = self._sp(np.ascontiguousarray(image), rect)
        return np.asarray(self._net.compute_face_descriptor(np.ascontiguousarray(image), shape), np.float32)

    @staticmethod
    def distance(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.linalg.norm(a - b))
