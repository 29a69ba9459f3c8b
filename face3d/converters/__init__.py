"""Converters from published morphable-model formats to :class:`face3d.MorphableModel`.

``convert(format, sources, ...)`` is what ``facerot model convert`` calls.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..model import MorphableModel
from .bfm import convert_bfm2009, convert_bfm2017
from .ddfa import convert_3ddfa
from .flame import convert_flame
from .safe_pickle import UnsafePickleError, safe_load
from .sfm import convert_sfm

FORMATS = ("sfm", "bfm2009", "bfm2017", "3ddfa", "flame")

__all__ = [
    "FORMATS",
    "convert",
    "convert_sfm",
    "convert_bfm2009",
    "convert_bfm2017",
    "convert_3ddfa",
    "convert_flame",
    "safe_load",
    "UnsafePickleError",
]


def convert(fmt: str, sources: list[str | Path], **options: Any) -> MorphableModel:
    """Convert ``sources`` (the main file first, then companions by name) in format ``fmt``.

    For ``sfm`` a second source is the blendshapes file; for ``bfm2009`` a second source is an
    expression basis. Options: ``mapping`` (iBUG-68 file), ``contours`` (contour JSON), ``units``.
    """
    if not sources:
        raise ValueError("no source files given")
    opts = {k: v for k, v in options.items() if v is not None}
    src = [Path(s) for s in sources]
    for s in src:
        if not s.is_file():
            raise FileNotFoundError(f"source file not found: {s}")
    if fmt == "sfm":
        opts.pop("units", None)
        return convert_sfm(src[0], blendshapes=src[1] if len(src) > 1 else None, **opts)
    if fmt == "bfm2009":
        return convert_bfm2009(src[0], expression=src[1] if len(src) > 1 else None, **opts)
    if fmt == "bfm2017":
        return convert_bfm2017(src[0], **opts)
    if fmt == "3ddfa":
        return convert_3ddfa(src[0], **opts)
    if fmt == "flame":
        return convert_flame(src[0], **opts)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
