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
70° as 53° too, so past ~60° the first-pass yaw alone no longer tells the pose. The points still
do: how the detector squeezes the far half of the face changes with the yaw after the reading has
stopped rising. A :class:`YawRegressor` (optional in the file) reads the true yaw from the shape
of the points in the face's frame (mirrored to positive yaw, PCA, then linear least squares,
trained on the same views), and takes over from the inverse curve over a band of first-pass
readings (``blend``). Without one, the table is used only over the curve's rising range and
holds its last offsets beyond.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT_NAME = "facerot-pose-calibration"
DEFAULT_PATH = Path(__file__).resolve().parents[1] / "data" / "mediapipe_pose_calibration.npz"


class CalibrationFormatError(ValueError):
    """A calibration file is malformed; the message names the field."""


@dataclass
class YawRegressor:
    """|true yaw| from the shape of a detection: linear in the first ``k`` principal components of
    the points in the face's frame (centred, in units of the face scale, mirrored to positive yaw)
    and in the first-pass |yaw|.

    Attributes:
        mean: (2M,) mean feature vector of the training views.
        components: (k, 2M) principal directions.
        coef: (k + 2,) weights of the k projections, the first-pass |yaw| and a constant.
        mirror: (M,) index of each point's mirror point (to mirror a face turned the other way).
        blend: (lo, hi) first-pass |yaw| at which the regressor starts and finishes taking over
            from the inverse reading curve (linear in between).
    """

    mean: np.ndarray
    components: np.ndarray
    coef: np.ndarray
    mirror: np.ndarray
    blend: tuple[float, float]

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, np.float32)
        self.components = np.asarray(self.components, np.float32)
        self.coef = np.asarray(self.coef, np.float64)
        self.mirror = np.asarray(self.mirror, np.int64)
        self.blend = (float(self.blend[0]), float(self.blend[1]))
        d, m = self.mean.shape[0], self.mirror.shape[0]
        if self.mean.ndim != 1 or d != 2 * m:
            raise CalibrationFormatError(f"regressor mean: expected ({2 * m},), got {self.mean.shape}")
        if self.components.ndim != 2 or self.components.shape[1] != d:
            raise CalibrationFormatError(f"regressor components: expected (k, {d}), got {self.components.shape}")
        if self.coef.shape != (self.components.shape[0] + 2,):
            raise CalibrationFormatError(f"regressor coef: expected ({self.components.shape[0] + 2},), got {self.coef.shape}")
        if not (np.isfinite(self.mean).all() and np.isfinite(self.components).all() and np.isfinite(self.coef).all()):
            raise CalibrationFormatError("regressor: non-finite weights")
        if sorted(self.mirror.tolist()) != list(range(m)):
            raise CalibrationFormatError("regressor mirror: not a permutation of the points")
        if not 0 <= self.blend[0] < self.blend[1]:
            raise CalibrationFormatError(f"regressor blend: expected 0 <= lo < hi, got {self.blend}")

    def predict(self, points: np.ndarray, rotation: np.ndarray) -> float:
        """Signed true yaw (degrees) of detected ``points`` (M, 2) whose first fit gave ``rotation``."""
        read, feat = pose_features(points, rotation, self.mirror)
        x = regressor_inputs(feat, read, self.mean, self.components)[0]
        return float(np.copysign(float(x @ self.coef), read))


def regressor_inputs(feat: np.ndarray, read: np.ndarray | float, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    """(N, k + 2) inputs of the linear yaw regression for N views' shape features ``feat`` (N, 2M)
    and first-pass yaws ``read`` (N,): the k projections on ``components``, |read| and a constant."""
    feat, read = np.atleast_2d(feat), np.abs(np.atleast_1d(read))
    return np.c_[(feat - mean) @ components.T, read, np.ones(len(feat))]


def blend_weight(read: np.ndarray | float, blend: tuple[float, float]) -> np.ndarray:
    """The regressor's share (0…1, linear across ``blend``) of the true-yaw estimate at first-pass yaw ``read``."""
    return np.clip((np.abs(read) - blend[0]) / (blend[1] - blend[0]), 0.0, 1.0)


@dataclass
class PoseCalibration:
    """Per-point, yaw-dependent landmark offsets of one (detector scheme, model) pair.

    Attributes:
        yaw_grid: (K,) increasing true yaws (degrees) at which offsets are tabulated.
        read_yaw: (K,) the mean yaw the uncalibrated fit reads at each of them: the reading curve,
            increasing from its minimum to its maximum (beyond them it saturates and is not inverted).
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
    regressor: YawRegressor | None = None

    def __post_init__(self) -> None:
        self.yaw_grid = np.asarray(self.yaw_grid, np.float32)
        self.read_yaw = np.asarray(self.read_yaw, np.float32)
        self.offsets = np.asarray(self.offsets, np.float32)
        self.counts = np.asarray(self.counts, np.float32)
        k = len(self.yaw_grid)
        if self.yaw_grid.ndim != 1 or k < 2 or not np.all(np.diff(self.yaw_grid) > 0):
            raise CalibrationFormatError("yaw_grid: expected >= 2 increasing yaws")
        if self.read_yaw.shape != (k,):
            raise CalibrationFormatError(f"read_yaw: expected {k} yaws")
        lo, hi = int(np.argmin(self.read_yaw)), int(np.argmax(self.read_yaw))
        if hi - lo < 1 or not np.all(np.diff(self.read_yaw[lo : hi + 1]) > 0):
            raise CalibrationFormatError("read_yaw: expected yaws increasing from their minimum to their maximum")
        self._rising = slice(lo, hi + 1)
        if self.offsets.ndim != 3 or self.offsets.shape[0] != k or self.offsets.shape[2] != 2:
            raise CalibrationFormatError(f"offsets: expected ({k}, M, 2), got {self.offsets.shape}")
        if not np.isfinite(self.offsets).all() or np.abs(self.offsets).max() > 0.5:
            raise CalibrationFormatError("offsets: non-finite or beyond half the face's size")
        if self.counts.shape != (k,):
            raise CalibrationFormatError(f"counts: expected ({k},), got {self.counts.shape}")
        if self.regressor is not None and self.regressor.mirror.shape[0] != self.offsets.shape[1]:
            raise CalibrationFormatError(f"regressor: {self.regressor.mirror.shape[0]} points, the table {self.offsets.shape[1]}")

    def true_yaw(self, read: float) -> float:
        """The true yaw a first-pass reading ``read`` stands for (inverse reading curve over its
        rising range, held at its ends)."""
        return float(np.interp(read, self.read_yaw[self._rising], self.yaw_grid[self._rising]))

    def true_yaw_of(self, points: np.ndarray, rotation: np.ndarray) -> float:
        """The true yaw of detected ``points`` (M, 2) whose first fit gave ``rotation``: the inverse
        reading curve, handing over to the regressor (when the file has one) across its blend band."""
        from ..camera import matrix_to_euler

        read = float(matrix_to_euler(np.asarray(rotation, np.float64))[0])
        curve = self.true_yaw(read)
        if self.regressor is None:
            return curve
        w = float(blend_weight(read, self.regressor.blend))
        if w == 0.0:
            return curve
        reg = self.regressor.predict(points, rotation)
        return float(np.copysign((1 - w) * abs(curve) + w * abs(reg), read))

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
        from ..files import atomic_write, npz_bytes

        extra = {}
        if self.regressor is not None:
            r = self.regressor
            extra = {
                "reg_mean": r.mean,
                "reg_components": r.components,
                "reg_coef": r.coef,
                "reg_mirror": r.mirror,
                "reg_blend": np.array(r.blend, np.float64),
            }
        atomic_write(
            path,
            npz_bytes(
                format=np.array(FORMAT_NAME),
                yaw_grid=self.yaw_grid,
                read_yaw=self.read_yaw,
                offsets=self.offsets,
                counts=self.counts,
                model_name=np.array(self.model_name),
                dense_scheme=np.array(self.dense_scheme),
                description=np.array(self.description),
                **extra,
            ),
        )


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
        reg_keys = ("reg_mean", "reg_components", "reg_coef", "reg_mirror", "reg_blend")
        present = [k for k in reg_keys if k in z]
        if present and len(present) < len(reg_keys):
            raise CalibrationFormatError(
                f"{path} has a partial yaw regressor (lacks {', '.join(sorted(set(reg_keys) - set(present)))})"
            )
        reg = YawRegressor(*(z[k] for k in reg_keys[:4]), tuple(z["reg_blend"].tolist())) if present else None
        return PoseCalibration(
            z["yaw_grid"],
            z["read_yaw"],
            z["offsets"],
            z["counts"],
            str(z["model_name"]),
            str(z["dense_scheme"]),
            str(z["description"]) if "description" in z else "",
            reg,
        )


def calibrated_points(cal: PoseCalibration, points: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """``points`` (M, 2, pixels) with the detector's bias at the pose ``rotation`` removed.

    The offsets are looked up at the true yaw the detection stands for
    (:meth:`PoseCalibration.true_yaw_of`), turned into the image by the direction in which the
    model's x axis appears (the face's roll) and scaled by the points' box size.
    """
    pts = np.asarray(points, np.float64)
    _, rot2, scale = face_frame(pts, rotation)
    off = cal.offsets_at(cal.true_yaw_of(pts, rotation)).astype(np.float64)
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


def pose_features(points: np.ndarray, rotation: np.ndarray, mirror: np.ndarray) -> tuple[float, np.ndarray]:
    """(first-pass yaw, (2M,) shape feature) of detected ``points`` (M, 2) fitted at ``rotation``:
    the points centred, divided by the face scale and turned into the face's frame
    (:func:`face_frame`); a face turned to negative yaw is mirrored (x negated, each point swapped
    with its ``mirror`` point) so that one regressor serves both sides."""
    pts = np.asarray(points, np.float64)
    yaw, rot2, scale = face_frame(pts, rotation)
    q = (pts - pts.mean(0)) / scale @ rot2
    if yaw < 0:
        q = q[mirror] * np.array([-1.0, 1.0])
    return yaw, q.ravel()
