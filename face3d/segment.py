"""Person segmentation: which pixels of an image show a person (head, hair, body) rather than the
scene, from MediaPipe's selfie-segmentation model (shipped inside the ``mediapipe`` package)."""

from __future__ import annotations

from typing import Any

import numpy as np

_MODEL: Any = None


def person_mask(rgb: np.ndarray) -> np.ndarray | None:
    """(H, W) float32 in [0, 1], the probability that each pixel of ``rgb`` (uint8) shows a person;
    None when MediaPipe is not installed."""
    global _MODEL
    if _MODEL is None:
        try:
            import mediapipe as mp
        except ImportError:
            return None
        _MODEL = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
    out = _MODEL.process(np.ascontiguousarray(rgb, dtype=np.uint8)).segmentation_mask
    return None if out is None else np.asarray(out, np.float32)
