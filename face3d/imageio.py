"""Reading images for face3d: always RGB uint8, EXIF orientation honoured, clear errors.

Whatever a user's folder holds — JPEG, PNG (with alpha, 16-bit, palette), WEBP, TIFF, BMP, GIF,
any of them behind the wrong extension, phone photos stored sideways with an EXIF orientation,
grey or CMYK — is read by its content, not its name. Transparent pixels are composited onto black
(no scene there: the frame's padding). Photos larger than ``max_side`` are decoded at reduced size
where the format allows it (JPEG) and downscaled, so a huge photo never fills memory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

#: Photos with more pixels than this are refused unless they can be read reduced (``max_side``).
MAX_PIXELS = 2**30  # OpenCV's own decoding limit (CV_IO_MAX_IMAGE_PIXELS)


class ImageReadError(ValueError):
    """The file is not a readable image; the message says why."""


def _peek(path: Path) -> tuple[int, int, bool] | None:
    """(width, height, has transparency) from the file's header (PIL), or None when PIL cannot
    parse it. Width and height are as stored (before EXIF rotation)."""
    try:
        from PIL import Image

        Image.MAX_IMAGE_PIXELS = None  # the size is checked here, against MAX_PIXELS
        with Image.open(path) as im:
            alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (im.mode == "P" and "transparency" in im.info)
            return int(im.size[0]), int(im.size[1]), alpha
    except Exception:  # noqa: BLE001 - not parseable by PIL: OpenCV says what is wrong
        return None


def _read_with_alpha(path: Path) -> np.ndarray:
    """RGB uint8 of an image with transparency, composited onto black, EXIF orientation applied."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        rgba = np.asarray(ImageOps.exif_transpose(im).convert("RGBA"), np.float32)
    out = rgba[..., :3] * (rgba[..., 3:] / 255.0)
    return out.round().astype(np.uint8)


def _reduced_flag(side: int, max_side: int | None) -> int:
    import cv2

    red = side / max_side if max_side else 1.0
    return (
        cv2.IMREAD_REDUCED_COLOR_8
        if red >= 8
        else cv2.IMREAD_REDUCED_COLOR_4
        if red >= 4
        else cv2.IMREAD_REDUCED_COLOR_2
        if red >= 2
        else cv2.IMREAD_COLOR
    )


def read_image(path: str | os.PathLike[str], max_side: int | None = None) -> np.ndarray:
    """Read ``path`` as an (H, W, 3) RGB uint8 array (grey, alpha, palette and 16-bit inputs are
    converted; EXIF orientation is applied). ``max_side``: photos whose longer side is larger are
    downscaled (area-averaged) to it; ``None`` keeps the full size.

    Raises:
        ImageReadError: the path is missing, a folder, empty, not a decodable image, or an image
            over :data:`MAX_PIXELS` that cannot be read reduced.
    """
    import cv2

    p = Path(path)
    if not p.exists():
        raise ImageReadError(f"{p}: no such file (or a broken link)")
    if p.is_dir():
        raise ImageReadError(f"{p}: is a folder, not an image")
    if p.stat().st_size == 0:
        raise ImageReadError(f"{p}: empty file (0 bytes)")
    info = _peek(p)
    flag = cv2.IMREAD_COLOR  # applies EXIF orientation, drops alpha, converts to 8 bit
    if info is not None:
        w, h, alpha = info
        flag = _reduced_flag(max(w, h), max_side)
        if w * h > MAX_PIXELS and (flag == cv2.IMREAD_COLOR or alpha):
            raise ImageReadError(
                f"{p}: {w}x{h} pixels is more than facerot reads ({MAX_PIXELS:,}); give a smaller max side to read it reduced"
            )
        if alpha:
            return _fit_side(_read_with_alpha(p), max_side)
    img = cv2.imdecode(np.fromfile(str(p), np.uint8), flag)
    if img is None and info is not None:  # a format OpenCV lacks (GIF in some builds): PIL reads it
        img = _read_pil(p)
    if img is None:
        raise ImageReadError(f"{p}: not a decodable image (corrupt, truncated or not an image)")
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    return _fit_side(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), max_side)


def _read_pil(path: Path) -> np.ndarray | None:
    """BGR uint8 through PIL (first frame), or None."""
    try:
        from PIL import Image, ImageOps

        with Image.open(path) as im:
            rgb = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
        return np.ascontiguousarray(rgb[..., ::-1])
    except Exception:  # noqa: BLE001
        return None


def _fit_side(rgb: np.ndarray, max_side: int | None) -> np.ndarray:
    """``rgb`` downscaled (area-averaged) so its longer side is at most ``max_side``."""
    import cv2

    if max_side is None or max(rgb.shape[:2]) <= max_side:
        return np.ascontiguousarray(rgb)
    s = max_side / max(rgb.shape[:2])
    size = (max(1, round(rgb.shape[1] * s)), max(1, round(rgb.shape[0] * s)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def as_rgb(image: Any) -> np.ndarray:
    """Accept a path, an RGB/grey/RGBA numpy array (uint8, uint16 or float in [0, 1]) or a PIL image."""
    if isinstance(image, (str, os.PathLike)):
        return read_image(image)
    if hasattr(image, "convert") and hasattr(image, "size"):  # PIL
        return np.asarray(image.convert("RGB"))
    a = np.asarray(image)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, 2)
    if a.ndim != 3 or a.shape[2] not in (3, 4) or min(a.shape[:2]) < 1:
        raise ValueError(f"expected an image array (H, W[, 3|4]), got shape {a.shape}")
    a = a[:, :, :3]
    if a.dtype == np.uint16:
        a = (a / 257.0).round().astype(np.uint8)
    elif a.dtype.kind == "f":
        a = (np.clip(a, 0, 1) * 255).round().astype(np.uint8)
    elif a.dtype != np.uint8:
        raise ValueError(f"unsupported image dtype {a.dtype}")
    return np.ascontiguousarray(a)
