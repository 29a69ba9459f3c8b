"""FLAME ``generic_model.pkl`` (chumpy pickles, read without chumpy through the restricted unpickler)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..model import ModelFormatError, MorphableModel
from .common import assemble
from .safe_pickle import as_array, safe_load


def convert_flame(
    path: str | Path,
    mapping: str | Path | None = None,
    contours: str | Path | None = None,
    n_shape: int = 300,
    units: str = "auto",
) -> MorphableModel:
    """Keys: ``v_template`` (N, 3) metres, ``f`` (T, 3), ``shapedirs`` (N, 3, 300 shape + 100
    expression; a chumpy ``Ch`` or an array). Pose-dependent parts (joints, skinning) are dropped:
    facerot poses the head rigidly."""
    path = Path(path)
    d = safe_load(path.read_bytes())
    if not isinstance(d, dict):
        raise ModelFormatError(f"{path}: expected a pickled dict, got {type(d).__name__}")
    miss = [k for k in ("v_template", "f", "shapedirs") if k not in d]
    if miss:
        raise ModelFormatError(f"{path}: not a FLAME model, missing {', '.join(miss)}")
    v = as_array(d["v_template"]).astype(np.float64)
    dirs = as_array(d["shapedirs"]).astype(np.float64)
    if dirs.ndim != 3 or dirs.shape[:2] != v.shape:
        raise ModelFormatError(f"{path}: shapedirs has shape {dirs.shape}, expected ({v.shape[0]}, 3, K)")
    k = min(n_shape, dirs.shape[2])
    cols = dirs.reshape(-1, dirs.shape[2])
    return assemble(
        v,
        cols[:, :k],
        as_array(d["f"]),
        expr_cols=cols[:, k:],
        units=units,
        mapping=mapping,
        contours=contours,
        name="flame",
        metadata={
            "source": "FLAME",
            "files": [path.name],
            "terms": "FLAME licence: non-commercial scientific research; registration required",
        },
    )
