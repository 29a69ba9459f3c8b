"""3DDFA's ``bfm_noneck_v3.pkl`` (BFM without neck, with a 29-dim expression basis)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..model import ModelFormatError, MorphableModel
from .common import assemble
from .safe_pickle import as_array, safe_load


def convert_3ddfa(
    path: str | Path, mapping: str | Path | None = None, contours: str | Path | None = None, units: str = "auto"
) -> MorphableModel:
    """Keys: ``u`` (3N mean), ``w_shp`` (3N x K), ``w_exp`` (3N x E), ``tri`` ((3, T) or (T, 3)),
    ``keypoints`` (68 indices into the flat 3N vector). Basis columns are taken as scaled by their
    standard deviation (each column's norm is its scale)."""
    path = Path(path)
    d = safe_load(path.read_bytes())
    if not isinstance(d, dict):
        raise ModelFormatError(f"{path}: expected a pickled dict, got {type(d).__name__}")
    miss = [k for k in ("u", "w_shp", "tri") if k not in d]
    if miss:
        raise ModelFormatError(f"{path}: not a 3DDFA BFM pickle, missing {', '.join(miss)}")
    u = as_array(d["u"]).astype(np.float64).ravel()
    tri = as_array(d["tri"]).astype(np.int64)
    if tri.min() == 1:
        tri = tri - 1
    lm = None
    if "keypoints" in d:
        kp = as_array(d["keypoints"]).astype(np.int64).ravel()
        if kp.size in (68, 204):
            lm = (kp[::3] // 3 if kp.size == 204 else kp).astype(np.int32)
    return assemble(
        u,
        as_array(d["w_shp"]),
        tri,
        expr_cols=as_array(d["w_exp"]) if "w_exp" in d else None,
        units=units,
        mapping=mapping,
        contours=contours,
        landmarks68=lm,
        name="3ddfa-bfm",
        metadata={
            "source": "3DDFA bfm_noneck_v3.pkl (derived from BFM2009)",
            "files": [path.name],
            "terms": "BFM licence: non-commercial research use; registration required",
        },
    )
