"""pipeline — facerot's Python API, command line and batch engine.

The data flow, one step per place::

    image      face3d.imageio.read_image          any format, EXIF, --max-side
    landmarks  face3d.landmarks (MediaPipe)       Fitter.detect
    fit        face3d.fitting.Fitter              pose, shape, expression, lighting, albedo
    texture    face3d.synth.prepare_source        UV texture, background plate, extended mesh
    render     face3d.synth.rotate                one view per target pose and lighting
    refine     ganrefine.Refiner                  the GAN refiner on the face crop
    write      pipeline.augment (worker.py)       files and manifest records

:mod:`pipeline.rotator` (``FaceRotator``) runs it for one photo, :mod:`pipeline.augment` for a
dataset, :mod:`pipeline.cli` from the command line, :mod:`pipeline.evaluation` measures it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FaceRotator", "View", "view_metadata"]


def __getattr__(name: str) -> Any:  # lazy: importing pipeline must stay cheap for the CLI's --help
    if name in __all__:
        from . import rotator

        return getattr(rotator, name)
    raise AttributeError(name)
