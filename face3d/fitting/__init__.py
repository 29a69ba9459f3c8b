"""Fitting: landmarks → pose, shape and expression → albedo and lighting → (optional) shape from shading.

:class:`Fitter` is the thin façade: configured once (model, landmark backend, options), then
``fit(image)`` or ``fit_batch(images)``; :func:`fit_image` is the one-call version.
"""

from ..landmarks import NoFaceError
from ..result import FitResult
from .calibration import PoseCalibration, YawRegressor, calibrated_points, load_calibration
from .fitter import FitError, FitOptions, Fitter, fit_image
from .landmark_fit import LandmarkFitOptions, LandmarkFitState, fit_landmarks
from .photometric import PhotometricResult, fit_photometric
from .sfs import SfsResult, refine_depth
from .view_surface import view_surface_offsets

__all__ = [
    "Fitter",
    "FitOptions",
    "FitResult",
    "FitError",
    "NoFaceError",
    "fit_image",
    "LandmarkFitOptions",
    "LandmarkFitState",
    "fit_landmarks",
    "fit_photometric",
    "refine_depth",
    "PhotometricResult",
    "SfsResult",
    "view_surface_offsets",
    "PoseCalibration",
    "YawRegressor",
    "load_calibration",
    "calibrated_points",
]
