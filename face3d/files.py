"""Writing files so that they are never half-written: the one home of atomic writes and of
encoding images to files."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def atomic_write(
    path: str | os.PathLike[str], data: bytes | str, tmp_dir: str | os.PathLike[str] | None = None, durable: bool = False
) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename, so the file is either the
    old one or complete, never half-written. The temporary file is made in ``tmp_dir`` (on the same
    file system; default: ``path``'s folder); ``durable`` flushes it to disk before the rename (a
    record that names the file may follow). Parent folders are made."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=tmp_dir or path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 is for the temporary name only
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def encode_image(rgb: np.ndarray, suffix: str, jpeg_quality: int = 95) -> bytes:
    """An RGB (or grey) uint8 image as the bytes of a ``suffix`` file (``.png``, ``.jpg`` ...). PNG
    is written with fast zlib level 1 and run-length matching (on renders ~10% faster and ~7%
    smaller than the default strategy). Raises ``ValueError`` for a type OpenCV cannot write."""
    import cv2

    suffix = suffix.lower()
    if suffix == ".png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
    elif suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
    else:
        params = []
    img = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.ndim == 3 else rgb
    try:
        ok, buf = cv2.imencode(suffix, img, params)
    except cv2.error:
        ok = False
    if not ok:
        raise ValueError(f"cannot write images of type {suffix!r}")
    return buf.tobytes()


def write_image(
    path: str | os.PathLike[str],
    rgb: np.ndarray,
    tmp_dir: str | os.PathLike[str] | None = None,
    durable: bool = False,
    jpeg_quality: int = 95,
) -> Path:
    """Encode ``rgb`` by ``path``'s suffix and write it atomically (:func:`atomic_write`)."""
    path = Path(path)
    return atomic_write(path, encode_image(rgb, path.suffix or ".png", jpeg_quality), tmp_dir, durable)


def npz_bytes(compressed: bool = True, **arrays: Any) -> bytes:
    """The bytes of an ``.npz`` file holding ``arrays`` (for :func:`atomic_write`)."""
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()
