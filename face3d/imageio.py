"""Reading images for face3d: always RGB uint8, EXIF orientation honoured, clear errors."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np


class ImageReadError(ValueError):
    """The file is not a readable image; the message says why."""


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read ``path`` as an (H, W, 3) RGB uint8 array (grey, alpha and 16-bit inputs are converted;
    EXIF orientation is applied)."""
    import cv2

    p = Path(path)
    if not p.is_file():
        raise ImageReadError(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise ImageReadError(f"{p}: empty file (0 bytes)")
    data = np.fromfile(str(p), np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)  # applies EXIF orientation, drops alpha, converts to 8 bit
    if img is None:
        raise ImageReadError(f"{p}: not a decodable image (corrupt, truncated or not an image)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def as_rgb(image: Any) -> np.ndarray:
    """Accept a path, an RGB/grey/RGBA numpy array (uint8, uint16 or float in [0, 1]) or a PIL image."""
    if isinstance(image, (str, os.PathLike)):
        return read_image(image)
    if hasattr(image, "convert") and hasattr(image, "size"):  # PIL
        return np.asarray(image.convert("RGB"))
    a = np.asarray(image)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, 2)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"expected an image array (H, W[, 3|4]), got shape {a.shape}")
    a = a[:, :, :3]
    if a.dtype == np.uint16:
        a = (a / 257.0).round().astype(np.uint8)
    elif a.dtype.kind == "f":
        a = (np.clip(a, 0, 1) * 255).round().astype(np.uint8)
    elif a.dtype != np.uint8:
        raise ValueError(f"unsupported image dtype {a.dtype}")
    return np.ascontiguousarray(a)
