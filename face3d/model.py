"""The morphable model type: one representation for every 3DMM facerot reads.

A :class:`MorphableModel` holds numpy arrays only (no torch), in millimetres, in the model
coordinate frame used throughout facerot: ``x`` toward the subject's left (the image's right
when the face is frontal), ``y`` up, ``z`` out of the face toward the camera.

Shape and expression are linear: ``vertices = mean + shape_basis @ (alpha * shape_std)
+ expr_basis @ (beta * expr_std)`` with ``alpha`` and ``beta`` standard-normal under the prior.
Basis columns are unit-norm directions; ``*_std`` carries their scale.

Stored as a versioned ``.npz`` (:meth:`MorphableModel.save` / :func:`load_model`); loading
validates every array and raises :class:`ModelFormatError` naming exactly what is wrong.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_NAME = "facerot-morphable-model"
FORMAT_VERSION = 1

#: iBUG-68 points on the jaw line whose model vertex depends on the pose (0-based).
IBUG_CONTOUR_RIGHT = tuple(range(0, 8))  # ibug 1..8: the subject's right jaw (image left)
IBUG_CONTOUR_LEFT = tuple(range(9, 17))  # ibug 10..17: the subject's left jaw (image right)


class ModelFormatError(ValueError):
    """A model file or array is malformed; the message names the field and the problem."""


@dataclass
class MorphableModel:
    """A linear 3D morphable face model (see the module docstring for conventions).

    Attributes:
        mean: (N, 3) float32 mean shape in millimetres.
        shape_basis: (N, 3, K) float32 unit-norm identity directions.
        shape_std: (K,) float32 standard deviation of each identity component (mm).
        expr_basis: (N, 3, E) float32 unit-norm expression directions (E may be 0).
        expr_std: (E,) float32 scale of each expression component (mm).
        triangles: (T, 3) int32 vertex indices, counter-clockwise seen from outside.
        landmarks68: (68,) int32 vertex index per iBUG-68 point, -1 where the model has none.
        contour_right: (R,) int32 candidate vertices for the subject's right jaw line, top to chin.
        contour_left: (L,) int32 candidate vertices for the subject's left jaw line, top to chin.
        symmetry: (N,) int32 index of each vertex's mirror vertex.
        uv: (N, 2) float32 texture coordinates in [0, 1].
        albedo_mean: optional (N, 3) float32 mean per-vertex albedo in [0, 1] (RGB).
        albedo_basis: optional (N, 3, A) float32 unit-norm albedo directions.
        albedo_std: optional (A,) float32.
        dense_scheme: name of a dense landmark scheme whose point ``i`` is vertex
            ``dense_index[i]`` (e.g. ``"mediapipe468"``), or ``""``.
        dense_index: (M,) int32 vertex index per dense landmark, -1 where absent.
        depth_offset: optional (N,) float32 model-frame depth (z, mm; negative = deeper) by which
            the surface seen from new viewpoints lies behind the fitted one. Models learnt from a
            landmark detector's own 3D output (the embedded one) are as flat at the jaw and chin
            as the detector's mesh — which is what the fit must follow to read the pose from
            that detector — while real faces curve back there; the fit moves each vertex by this
            offset along its viewing ray (:func:`face3d.fitting.view_surface_offsets`), so the
            photo's projection stays the same and novel views see a face of real depth. ``None``
            for models built from 3D scans.
        name: short model name.
        metadata: provenance, licence and units (JSON-serialisable).
    """

    mean: np.ndarray
    shape_basis: np.ndarray
    shape_std: np.ndarray
    expr_basis: np.ndarray
    expr_std: np.ndarray
    triangles: np.ndarray
    landmarks68: np.ndarray
    contour_right: np.ndarray
    contour_left: np.ndarray
    symmetry: np.ndarray
    uv: np.ndarray
    albedo_mean: np.ndarray | None = None
    albedo_basis: np.ndarray | None = None
    albedo_std: np.ndarray | None = None
    dense_scheme: str = ""
    dense_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    depth_offset: np.ndarray | None = None
    name: str = "model"
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ sizes
    @property
    def n_vertices(self) -> int:
        return int(self.mean.shape[0])

    @property
    def n_shape(self) -> int:
        return int(self.shape_basis.shape[2])

    @property
    def n_expr(self) -> int:
        return int(self.expr_basis.shape[2])

    @property
    def n_albedo(self) -> int:
        return 0 if self.albedo_basis is None else int(self.albedo_basis.shape[2])

    @property
    def has_albedo(self) -> bool:
        return self.albedo_mean is not None

    # ------------------------------------------------------------ evaluation
    def vertices(self, shape: np.ndarray | None = None, expr: np.ndarray | None = None) -> np.ndarray:
        """(N, 3) vertices for standardised coefficients (missing trailing ones are zero)."""
        v = self.mean.astype(np.float64).copy()
        if shape is not None and len(shape):
            a = np.asarray(shape, np.float64)[: self.n_shape]
            v += self.shape_basis[:, :, : len(a)] @ (a * self.shape_std[: len(a)])
        if expr is not None and len(expr) and self.n_expr:
            b = np.asarray(expr, np.float64)[: self.n_expr]
            v += self.expr_basis[:, :, : len(b)] @ (b * self.expr_std[: len(b)])
        return v.astype(np.float32)

    def albedo(self, coeffs: np.ndarray | None = None) -> np.ndarray:
        """(N, 3) per-vertex albedo in [0, 1]; a flat skin tone when the model has none."""
        if self.albedo_mean is None:
            return np.full((self.n_vertices, 3), (0.72, 0.56, 0.47), np.float32)
        a = self.albedo_mean.astype(np.float64)
        if coeffs is not None and len(coeffs) and self.albedo_basis is not None:
            c = np.asarray(coeffs, np.float64)[: self.n_albedo]
            a = a + self.albedo_basis[:, :, : len(c)] @ (c * self.albedo_std[: len(c)])
        return np.clip(a, 0.0, 1.0).astype(np.float32)

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly description (what ``facerot model info`` prints)."""
        ext = self.mean.max(0) - self.mean.min(0)
        return {
            "name": self.name,
            "vertices": self.n_vertices,
            "triangles": int(self.triangles.shape[0]),
            "shape_components": self.n_shape,
            "expression_components": self.n_expr,
            "albedo_components": self.n_albedo if self.has_albedo else None,
            "landmarks68_defined": int((self.landmarks68 >= 0).sum()),
            "contour_candidates": [int(self.contour_right.size), int(self.contour_left.size)],
            "dense_scheme": self.dense_scheme or None,
            "view_depth_offset_mm": (
                None
                if self.depth_offset is None
                else [round(float(self.depth_offset.min()), 1), round(float(self.depth_offset.max()), 1)]
            ),
            "extent_mm": [round(float(e), 1) for e in ext],
            "metadata": self.metadata,
        }

    # ------------------------------------------------------------ validation
    def validate(self) -> None:
        """Check every array's shape, dtype and range; raise :class:`ModelFormatError` if any is off.
        (Long on purpose: a flat list of independent checks, one per array.)"""

        def arr(name: str, value: Any, dtype: type, ndim: int) -> np.ndarray:
            if not isinstance(value, np.ndarray):
                raise ModelFormatError(f"{name}: expected a numpy array, got {type(value).__name__}")
            if value.ndim != ndim:
                raise ModelFormatError(f"{name}: expected {ndim} dimensions, got shape {value.shape}")
            kind = "f" if dtype is np.float32 else "i"
            if (value.dtype.kind != "f") if kind == "f" else (value.dtype.kind not in "iu"):
                raise ModelFormatError(f"{name}: expected {'a float' if kind == 'f' else 'an integer'} array, got {value.dtype}")
            if kind == "f" and not np.all(np.isfinite(value)):
                raise ModelFormatError(f"{name}: contains NaN or infinite values")
            return value.astype(dtype, copy=False)

        self.mean = arr("mean", self.mean, np.float32, 2)
        n = self.mean.shape[0]
        if self.mean.shape[1] != 3 or n < 4:
            raise ModelFormatError(f"mean: expected shape (N>=4, 3), got {self.mean.shape}")
        for b, s in (("shape_basis", "shape_std"), ("expr_basis", "expr_std"), ("albedo_basis", "albedo_std")):
            basis, std = getattr(self, b), getattr(self, s)
            if b == "albedo_basis" and basis is None:
                if std is not None:
                    raise ModelFormatError("albedo_std given without albedo_basis")
                continue
            basis = arr(b, basis, np.float32, 3)
            std = arr(s, std, np.float32, 1)
            if basis.shape[:2] != (n, 3):
                raise ModelFormatError(f"{b}: expected shape ({n}, 3, K) to match mean, got {basis.shape}")
            if std.shape[0] != basis.shape[2]:
                raise ModelFormatError(f"{s}: has {std.shape[0]} entries but {b} has {basis.shape[2]} components")
            if np.any(std < 0):
                raise ModelFormatError(f"{s}: standard deviations must be >= 0")
            setattr(self, b, basis)
            setattr(self, s, std)
        if self.albedo_mean is not None:
            self.albedo_mean = arr("albedo_mean", self.albedo_mean, np.float32, 2)
            if self.albedo_mean.shape != (n, 3):
                raise ModelFormatError(f"albedo_mean: expected shape ({n}, 3), got {self.albedo_mean.shape}")
            if self.albedo_mean.min() < -0.01 or self.albedo_mean.max() > 1.01:
                raise ModelFormatError("albedo_mean: values must lie in [0, 1]")
        elif self.albedo_basis is not None:
            raise ModelFormatError("albedo_basis given without albedo_mean")

        self.triangles = arr("triangles", self.triangles, np.int32, 2)
        if self.triangles.shape[1] != 3 or self.triangles.shape[0] < 1:
            raise ModelFormatError(f"triangles: expected shape (T>=1, 3), got {self.triangles.shape}")
        if self.triangles.min() < 0 or self.triangles.max() >= n:
            raise ModelFormatError(
                f"triangles: vertex indices must lie in [0, {n - 1}], found [{self.triangles.min()}, {self.triangles.max()}]"
            )

        self.landmarks68 = arr("landmarks68", self.landmarks68, np.int32, 1)
        if self.landmarks68.shape != (68,):
            raise ModelFormatError(f"landmarks68: expected 68 entries, got {self.landmarks68.shape[0]}")
        if self.landmarks68.min() < -1 or self.landmarks68.max() >= n:
            raise ModelFormatError(f"landmarks68: indices must be -1 (undefined) or in [0, {n - 1}]")
        for c in ("contour_right", "contour_left"):
            v = arr(c, getattr(self, c), np.int32, 1)
            if v.size and (v.min() < 0 or v.max() >= n):
                raise ModelFormatError(f"{c}: vertex indices must lie in [0, {n - 1}]")
            setattr(self, c, v)
        self.symmetry = arr("symmetry", self.symmetry, np.int32, 1)
        if self.symmetry.shape != (n,):
            raise ModelFormatError(f"symmetry: expected {n} entries (one per vertex), got {self.symmetry.shape[0]}")
        if self.symmetry.min() < 0 or self.symmetry.max() >= n:
            raise ModelFormatError(f"symmetry: indices must lie in [0, {n - 1}]")
        self.uv = arr("uv", self.uv, np.float32, 2)
        if self.uv.shape != (n, 2):
            raise ModelFormatError(f"uv: expected shape ({n}, 2), got {self.uv.shape}")
        if self.uv.min() < -1e-3 or self.uv.max() > 1 + 1e-3:
            raise ModelFormatError("uv: texture coordinates must lie in [0, 1]")
        self.dense_index = arr("dense_index", np.asarray(self.dense_index), np.int32, 1)
        if self.dense_index.size and (self.dense_index.min() < -1 or self.dense_index.max() >= n):
            raise ModelFormatError(f"dense_index: indices must be -1 or in [0, {n - 1}]")
        if bool(self.dense_scheme) != bool(self.dense_index.size):
            raise ModelFormatError("dense_scheme and dense_index must be given together")
        if self.depth_offset is not None:
            self.depth_offset = arr("depth_offset", self.depth_offset, np.float32, 1)
            if self.depth_offset.shape != (n,):
                raise ModelFormatError(f"depth_offset: expected {n} entries (one per vertex), got {self.depth_offset.shape[0]}")
            if np.abs(self.depth_offset).max() > 200:
                raise ModelFormatError("depth_offset: offsets beyond 200 mm are not a face")
        if not isinstance(self.metadata, dict):
            raise ModelFormatError("metadata: expected a dict")

    # -------------------------------------------------------------- storage
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model to ``path`` (``.npz``) atomically: a temporary file, then a rename."""
        path = Path(path)
        arrays: dict[str, Any] = {
            "format": np.array(FORMAT_NAME),
            "format_version": np.array(FORMAT_VERSION),
            "name": np.array(self.name),
            "metadata": np.array(json.dumps(self.metadata)),
            "dense_scheme": np.array(self.dense_scheme),
        }
        for k in (*_REQUIRED, *_OPTIONAL):
            v = getattr(self, k)
            if v is not None:
                arrays[k] = v
        from .files import atomic_write, npz_bytes

        return atomic_write(path, npz_bytes(**arrays))


_REQUIRED = (
    "mean",
    "shape_basis",
    "shape_std",
    "expr_basis",
    "expr_std",
    "triangles",
    "landmarks68",
    "contour_right",
    "contour_left",
    "symmetry",
    "uv",
)
#: Arrays a model file may hold besides the required ones.
_OPTIONAL = ("dense_index", "albedo_mean", "albedo_basis", "albedo_std", "depth_offset")


def load_model(path: str | os.PathLike[str] | None = None) -> MorphableModel:
    """Load and validate a model ``.npz``; ``None`` or ``"default"`` gives the active model
    (``$FACEROT_MODEL``, else the embedded default). Raises :class:`ModelFormatError` or
    ``FileNotFoundError`` with the path."""
    from .settings import model_path

    p = model_path(path)
    if not p.is_file():
        raise FileNotFoundError(f"morphable model file not found: {p}")
    try:
        data = np.load(p, allow_pickle=False)
    except Exception as exc:  # zip errors, bad magic ...
        raise ModelFormatError(f"{p}: not a readable .npz file ({exc})") from exc
    with data:
        keys = set(data.files)
        if "format" not in keys or str(data["format"]) != FORMAT_NAME:
            raise ModelFormatError(f"{p}: not a facerot model (missing or wrong 'format' entry)")
        ver = int(data["format_version"]) if "format_version" in keys else -1
        if ver != FORMAT_VERSION:
            raise ModelFormatError(f"{p}: format_version {ver} is not supported (expected {FORMAT_VERSION})")
        missing = [k for k in _REQUIRED if k not in keys]
        if missing:
            raise ModelFormatError(f"{p}: missing arrays: {', '.join(missing)}")
        kw: dict[str, Any] = {k: data[k] for k in _REQUIRED}
        for k in _OPTIONAL:
            if k in keys:
                kw[k] = data[k]
        kw["dense_scheme"] = str(data["dense_scheme"]) if "dense_scheme" in keys else ""
        kw["name"] = str(data["name"]) if "name" in keys else p.stem
        try:
            kw["metadata"] = json.loads(str(data["metadata"])) if "metadata" in keys else {}
        except json.JSONDecodeError as exc:
            raise ModelFormatError(f"{p}: metadata is not valid JSON ({exc})") from exc
    try:
        return MorphableModel(**kw)
    except ModelFormatError as exc:
        raise ModelFormatError(f"{p}: {exc}") from None


def basis_from_columns(cols: np.ndarray, n_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """Split a (3N, K) xyz-interleaved basis (columns scaled or not) into unit directions
    (N, 3, K) and their norms (K,)."""
    cols = np.asarray(cols, np.float64).reshape(3 * n_vertices, -1)
    std = np.linalg.norm(cols, axis=0)
    unit = cols / np.where(std > 0, std, 1.0)
    return unit.reshape(n_vertices, 3, -1).astype(np.float32), std.astype(np.float32)


def symmetry_from_mirror(mean: np.ndarray) -> np.ndarray:
    """Mirror map by nearest neighbour of each vertex reflected through x = 0 (model centred in x)."""
    from scipy.spatial import cKDTree

    v = np.asarray(mean, np.float64)
    c = v - np.array([np.median(v[:, 0]), 0.0, 0.0])
    mirrored = c * np.array([-1.0, 1.0, 1.0])
    _, idx = cKDTree(c).query(mirrored)
    return idx.astype(np.int32)


def cylindrical_uv(mean: np.ndarray) -> np.ndarray:
    """UVs by a cylindrical unwrap of the mean face around the vertical axis, scaled into [0, 1]."""
    v = np.asarray(mean, np.float64)
    c = v - v.mean(0)
    radius = np.ptp(c[:, 0]) / 2 + 1e-9
    depth_centre = c[:, 2].max() - radius
    theta = np.arctan2(c[:, 0], c[:, 2] - depth_centre)
    u = theta
    w = c[:, 1]
    uv = np.stack([(u - u.min()) / (np.ptp(u) + 1e-9), (w - w.min()) / (np.ptp(w) + 1e-9)], 1)
    return (0.02 + 0.96 * uv).astype(np.float32)
