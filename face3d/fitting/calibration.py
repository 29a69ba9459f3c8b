"""Pose calibration of a dense landmark detector: its systematic, yaw-dependent bias, removed.

MediaPipe places its points on a face turned beyond ~45° as if the face were turned less: fits
of facerot's own ±60° views read 6-8° short although their pose is known exactly. The bias is
the detector's (fitting the true positions of the same points reads the right yaw to 0.2°), and
it is systematic, so it can be measured and taken off. A :class:`PoseCalibration` holds the mean
residual ``detected - true`` of every dense point, in units of the face's scale (the landmarks'
box size) and the face's own image frame, on a grid of first-pass yaws; it is built from views of
known pose (``tools/build_pose_calibration.py``: facerot renders of LFW DevTrain photos, the
synthetic ground truth 3DDFA's 300W-LP also uses).

The table is indexed by the *true* yaw, and carries the detector's reading curve (the mean
first-pass yaw of views at each true yaw), so the fitter uses it in two passes
(:func:`calibrated_points`): fit; turn the fitted yaw into the true yaw it stands for, through
the inverse of the reading curve; subtract that yaw's offsets (rotated by the fitted roll, scaled
by the face's size); fit again. (A table indexed by the fitted yaw instead — the regression of
the residual on the reading — is right on average over its training views, but wrong at any one
true yaw: views of ±30° came out 1.4° over-turned.)

The reading curve also shows the detector's limit: MediaPipe reads views of 60° as 53° and of
70° as 53° too, so past ~60° no calibration can recover the pose; the table stops where the
curve stops rising and holds its last offsets beyond.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT_NAME = "facerot-pose-calibration"
DEFAULT_PATH = Path(__file__).resolve().parents[1] / "data" / "mediapipe_pose_calibration.npz"


class CalibrationFormatError(ValueError):
    """A calibration file is malformed; the message names the field."""


@dataclass
class PoseCalibration:
    """Per-point, yaw-dependent landmark offsets of one (detector scheme, model) pair.

    Attributes:
        yaw_grid: (K,) increasing true yaws (degrees) at which offsets are tabulated.
        read_yaw: (K,) increasing: the mean yaw the uncalibrated fit reads at each of them.
        offsets: (K, M, 2) mean residual of each of the M dense points, fraction of the face scale,
            in the face's frame (x along the model's x axis as seen in the image, y down).
        counts: (K,) views behind each bin (informative).
        model_name, dense_scheme: what the table was measured for; it applies to nothing else.
        description: how it was built.
    """

    yaw_grid: np.ndarray
    read_yaw: np.ndarray
    offsets: np.ndarray
    counts: np.ndarray
    model_name: str
    dense_scheme: str
    description: str = ""

    def __post_init__(self) -> None:
        self.yaw_grid = np.asarray(self.yaw_grid, np.float32)
        self.read_yaw = np.asarray(self.read_yaw, np.float32)
        self.offsets = np.asarray(self.offsets, np.float32)
        self.counts = np.asarray(self.counts, np.float32)
        k = len(self.yaw_grid)
        if self.yaw_grid.ndim != 1 or k < 2 or not np.all(np.diff(self.yaw_grid) > 0):
            raise CalibrationFormatError("yaw_grid: expected >= 2 increasing yaws")
        if self.read_yaw.shape != (k,) or not np.all(np.diff(self.read_yaw) > 0):
            raise CalibrationFormatError(f"read_yaw: expected {k} increasing yaws")
        if self.offsets.ndim != 3 or self.offsets.shape[0] != k or self.offsets.shape[2] != 2:
            raise CalibrationFormatError(f"offsets: expected ({k}, M, 2), got {self.offsets.shape}")
        if not np.isfinite(self.offsets).all() or np.abs(self.offsets).max() > 0.5:
            raise CalibrationFormatError("offsets: non-finite or beyond half the face's size")
        if self.counts.shape != (k,):
            raise CalibrationFormatError(f"counts: expected ({k},), got {self.counts.shape}")

    def true_yaw(self, read: float) -> float:
        """The true yaw a first-pass reading ``read`` stands for (inverse reading curve, held at its ends)."""
        return float(np.interp(read, self.read_yaw, self.yaw_grid))

    def offsets_at(self, yaw: float) -> np.ndarray:
        """(M, 2) offsets at true ``yaw`` (linear between bins; the end bins beyond the grid)."""
        g = self.yaw_grid
        u = float(np.interp(yaw, g, np.arange(len(g))))
        i0 = min(int(u), len(g) - 2)
        a = u - i0
        return (1 - a) * self.offsets[i0] + a * self.offsets[i0 + 1]

    def applies_to(self, model_name: str, dense_scheme: str) -> bool:
        return model_name == self.model_name and dense_scheme == self.dense_scheme

    def save(self, path: str | Path) -> None:
        """Write as ``.npz`` (to a temporary name, then renamed)."""
        path = Path(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
        os.close(fd)
        try:
            np.savez_compressed(tmp, format=np.array(FORMAT_NAME), yaw_grid=self.yaw_grid, read_yaw=self.read_yaw,
                                offsets=self.offsets, counts=self.counts, model_name=np.array(self.model_name),
                                dense_scheme=np.array(self.dense_scheme), description=np.array(self.description))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)


def load_calibration(path: str | Path | None = None) -> PoseCalibration:
    """Read a calibration file (``None``: the shipped one for MediaPipe + the embedded model)."""
    path = Path(path) if path is not None else DEFAULT_PATH
    if not path.is_file():
        raise FileNotFoundError(f"pose calibration file {path} not found (build it with tools/build_pose_calibration.py)")
    with np.load(path, allow_pickle=False) as z:
        if "format" not in z or str(z["format"]) != FORMAT_NAME:
            raise CalibrationFormatError(f"{path} is not a {FORMAT_NAME} file")
        missing = [k for k in ("yaw_grid", "read_yaw", "offsets", "counts", "model_name", "dense_scheme") if k not in z]
        if missing:
            raise CalibrationFormatError(f"{path} lacks {', '.join(missing)}")
        return PoseCalibration(z["yaw_grid"], z["read_yaw"], z["offsets"], z["counts"], str(z["model_name"]), str(z["dense_scheme"]),
                               str(z["description"]) if "description" in z else "")


def calibrated_points(cal: PoseCalibration, points: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """``points`` (M, 2, pixels) with the detector's bias at the pose ``rotation`` removed.

    The offsets are looked up at the true yaw the rotation's yaw stands for, turned into the image
    by the direction in which the model's x axis appears (the face's roll) and scaled by the
    points' box size.
    """
    pts = np.asarray(points, np.float64)
    yaw, rot2, scale = face_frame(pts, rotation)
    off = cal.offsets_at(cal.true_yaw(yaw)).astype(np.float64)
    if off.shape[0] != len(pts):
        raise ValueError(f"calibration has {off.shape[0]} points, the detection {len(pts)}")
    return pts - scale * off @ rot2.T


def face_frame(points: np.ndarray, rotation: np.ndarray) -> tuple[float, np.ndarray, float]:
    """(yaw in degrees, 2x2 rotation from the face's frame to the image, face scale in pixels) of
    detected ``points`` (M, 2) fitted at ``rotation``: the frame's x axis is the model's x axis as
    it appears in the image (the roll), the scale the points' box size sqrt(w * h)."""
    from ..camera import FLIP, matrix_to_euler

    r = np.asarray(rotation, np.float64)
    yaw = float(matrix_to_euler(r)[0])
    ax = (FLIP @ r)[:2, 0]  # the model's x axis in the image (camera frame: x right, y down)
    n = float(np.hypot(*ax))
    c, s = (ax / n) if n > 1e-6 else (1.0, 0.0)
    box = np.asarray(points).max(0) - np.asarray(points).min(0)
    return yaw, np.array([[c, -s], [s, c]]), float(np.sqrt(max(box[0] * box[1], 1.0)))
