"""pipeline — facerot's Python API, command line and batch engine.

Data flow: image → landmarks → fit → texture → render → (refine) → write; see :mod:`pipeline.rotator`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FaceRotator", "View", "view_metadata"]


def __getattr__(name: str) -> Any:  # lazy: importing pipeline must stay cheap for the CLI's --help
    if name in __all__:
        from . import rotator

        return getattr(rotator, name)
    raise AttributeError(name)
