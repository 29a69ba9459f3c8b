"""How far a fitted pose is expected to be off on a real photo, per photo.

A linear model of the absolute difference between our fit and an independent head-pose reader
(WHENet) on real photos, from what the fit itself knows: the face's |yaw|, its pose spread (the
two readings of the flip-averaged detector, fitted apart: :attr:`FitResult.pose_spread`) and its
landmark residual (``nme``). It is fitted on LFW DevTrain photos (``bench/pose_real.py
--fit-uncertainty``) and stored in ``face3d/data/pose_uncertainty.json``; its calibration on DevTest
photos is in docs/results.md. The reader is not ground truth, so the numbers include its own error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "pose_uncertainty.json"
ANGLES = ("yaw", "pitch")
#: The smallest expected error the model reports (degrees).
FLOOR = 0.5


def features(abs_yaw: float, spread: tuple[float, ...], nme: float) -> np.ndarray:
    """(2, 4): for yaw and pitch, the model's inputs (1, |yaw|, that angle's spread, nme × 100)."""
    return np.array([[1.0, abs_yaw, spread[k], 100.0 * nme] for k in range(len(ANGLES))])


@dataclass(frozen=True)
class PoseErrorModel:
    """Expected absolute pose error (degrees) per angle: ``coef`` (2, 4) on :func:`features`."""

    coef: np.ndarray
    description: str = ""

    def predict(self, abs_yaw: float, spread: tuple[float, ...], nme: float) -> dict[str, float]:
        x = features(abs_yaw, spread, nme)
        est = np.maximum((x * self.coef).sum(1), FLOOR)
        return {a: round(float(e), 2) for a, e in zip(ANGLES, est)}

    def save(self, path: str | Path, **info: object) -> None:
        from ..files import atomic_write

        atomic_write(
            path,
            json.dumps(
                {
                    "angles": ANGLES,
                    "inputs": ["1", "|yaw|", "spread", "nme x 100"],
                    "coef": np.round(self.coef, 5).tolist(),
                    "description": self.description,
                    **info,
                },
                indent=1,
            ),
        )


@lru_cache(maxsize=1)
def load_error_model(path: str | None = None) -> PoseErrorModel | None:
    """The shipped model (None when the file is absent)."""
    p = Path(path) if path else DEFAULT_PATH
    if not p.is_file():
        return None
    d = json.loads(p.read_text())
    return PoseErrorModel(np.asarray(d["coef"], np.float64), d.get("description", ""))


def fit_error_model(
    abs_yaw: np.ndarray, spread: np.ndarray, nme: np.ndarray, abs_error: np.ndarray, description: str = ""
) -> PoseErrorModel:
    """Least squares of ``abs_error`` (N, 2) on :func:`features` of N photos."""
    coef = []
    for k in range(len(ANGLES)):
        x = np.stack([np.ones_like(abs_yaw), abs_yaw, spread[:, k], 100.0 * nme], 1)
        coef.append(np.linalg.lstsq(x, abs_error[:, k], rcond=None)[0])
    return PoseErrorModel(np.asarray(coef), description)
