"""Helpers shared by the converters: unit scaling, triangle orientation, assembling a model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..model import ModelFormatError, MorphableModel, basis_from_columns, cylindrical_uv, symmetry_from_mirror
from .sfm import contour_landmarks, read_contours, read_landmark_mapping


def to_millimetres(mean: np.ndarray, units: str = "auto") -> float:
    """Scale factor to millimetres: ``auto`` picks by the face's width (µm, mm or m)."""
    table = {"mm": 1.0, "um": 1e-3, "m": 1e3, "cm": 10.0}
    if units != "auto":
        if units not in table:
            raise ValueError(f"units must be one of auto, {', '.join(table)}; got {units!r}")
        return table[units]
    width = float(np.ptp(mean[:, 0]))
    if width > 2000:
        return 1e-3  # micrometres (BFM2009, 3DDFA)
    if width < 2:
        return 1e3  # metres (FLAME)
    return 1.0


def orient_triangles(vertices: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Flip the winding if most face normals point toward the mesh centre (we want outward)."""
    v = vertices.astype(np.float64)
    n = np.cross(v[tri[:, 1]] - v[tri[:, 0]], v[tri[:, 2]] - v[tri[:, 0]])
    centre = v.mean(0) - np.array([0, 0, np.ptp(v[:, 2])])  # a point behind the face
    out = v[tri].mean(1) - centre
    return tri[:, [0, 2, 1]] if np.sum(np.einsum("ij,ij->i", n, out) > 0) < len(tri) / 2 else tri


def assemble(
    mean: np.ndarray,
    shape_cols: np.ndarray,
    triangles: np.ndarray,
    *,
    expr_cols: np.ndarray | None = None,
    shape_std: np.ndarray | None = None,
    expr_std: np.ndarray | None = None,
    albedo_mean: np.ndarray | None = None,
    albedo_cols: np.ndarray | None = None,
    albedo_std: np.ndarray | None = None,
    units: str = "auto",
    mapping: str | Path | None = None,
    contours: str | Path | None = None,
    landmarks68: np.ndarray | None = None,
    name: str = "model",
    metadata: dict[str, Any] | None = None,
) -> MorphableModel:
    """Build a :class:`MorphableModel` from raw arrays.

    ``*_cols`` are (3N, K) xyz-interleaved bases. When ``*_std`` is given the columns are
    treated as orthonormal directions with that scale; otherwise each column's norm is its scale.
    (Long on purpose: every array a model holds, converted and checked in turn.)
    """
    mean = np.asarray(mean, np.float64).reshape(-1, 3)
    n = mean.shape[0]
    s = to_millimetres(mean, units)
    mean = mean * s

    def basis(cols: np.ndarray | None, std: np.ndarray | None, scale: float, what: str) -> tuple[np.ndarray, np.ndarray]:
        if cols is None or np.asarray(cols).size == 0:
            return np.zeros((n, 3, 0), np.float32), np.zeros(0, np.float32)
        cols = np.asarray(cols, np.float64)
        if cols.shape[0] != 3 * n:
            raise ModelFormatError(f"{what}: has {cols.shape[0]} rows, expected 3 x {n} vertices")
        unit, norm = basis_from_columns(cols, n)
        if std is not None:
            std = np.asarray(std, np.float64).ravel()
            if std.size != cols.shape[1]:
                raise ModelFormatError(f"{what}: {std.size} standard deviations for {cols.shape[1]} components")
            norm = norm * std
        return unit, (norm * scale).astype(np.float32)

    sb, ss = basis(shape_cols, shape_std, s, "shape basis")
    eb, es = basis(expr_cols, expr_std, s, "expression basis")
    tri = np.asarray(triangles, np.int64)
    if tri.ndim != 2 or 3 not in tri.shape:
        raise ModelFormatError(f"triangles: expected (T, 3) or (3, T), got {tri.shape}")
    if tri.shape[1] != 3:
        tri = tri.T
    tri = orient_triangles(mean, tri.astype(np.int32))
    lm = np.full(68, -1, np.int32) if landmarks68 is None else np.asarray(landmarks68, np.int32)
    if mapping is not None:
        for k, v in read_landmark_mapping(mapping).items():
            if 1 <= k <= 68 and v < n:
                lm[k - 1] = v
    right, left = read_contours(contours) if contours is not None else (np.zeros(0, np.int32), np.zeros(0, np.int32))
    for k, v in contour_landmarks(mean, right, left).items():
        if lm[k] < 0:
            lm[k] = v
    alb: dict[str, Any] = {}
    if albedo_mean is not None:
        am = np.asarray(albedo_mean, np.float64).reshape(n, 3)
        cscale = 1.0 / 255.0 if am.max() > 1.5 else 1.0
        ab, ast = basis(albedo_cols, albedo_std, cscale, "albedo basis")
        alb = dict(albedo_mean=np.clip(am * cscale, 0, 1), albedo_basis=ab, albedo_std=ast)
    return MorphableModel(
        mean=mean,
        shape_basis=sb,
        shape_std=ss,
        expr_basis=eb,
        expr_std=es,
        triangles=tri,
        landmarks68=lm,
        contour_right=right,
        contour_left=left,
        symmetry=symmetry_from_mirror(mean),
        uv=cylindrical_uv(mean),
        name=name,
        metadata={"units": "mm", **(metadata or {})},
        **alb,
    )
