"""face3d — 3D morphable-model fitting for facerot.

The data flow inside face3d: image → :mod:`face3d.landmarks` → :mod:`face3d.fitting` (landmark
fit, photometric fit, shape from shading) → :class:`face3d.FitResult`. Everything here is
independent of GANs and batch jobs.
"""

from __future__ import annotations

from .camera import PerspectiveCamera, euler_to_matrix, matrix_to_euler
from .landmarks import FaceLandmarks, NoFaceError, get_detector
from .model import ModelFormatError, MorphableModel, load_model

__all__ = [
    "MorphableModel",
    "ModelFormatError",
    "load_model",
    "FaceLandmarks",
    "NoFaceError",
    "get_detector",
    "PerspectiveCamera",
    "euler_to_matrix",
    "matrix_to_euler",
    "FitResult",
    "fit_image",
    "Fitter",
    "FitOptions",
    "FitError",
]

_FITTING = ("FitResult", "fit_image", "Fitter", "FitOptions", "FitError")


def __getattr__(name: str):  # lazy: the fitter pulls in torch
    if name in _FITTING:
        from . import fitting

        return getattr(fitting, name)
    raise AttributeError(name)
