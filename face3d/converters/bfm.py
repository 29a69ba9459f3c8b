"""Basel Face Model converters: BFM2009 (``01_MorphableModel.mat``) and BFM2017/2019 (``.h5``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..model import ModelFormatError, MorphableModel
from .common import assemble


def _load_mat(path: Path) -> dict[str, Any]:
    import scipy.io

    try:
        return {k: v for k, v in scipy.io.loadmat(str(path)).items() if not k.startswith("__")}
    except NotImplementedError:  # MATLAB v7.3 files are HDF5
        import h5py

        with h5py.File(path, "r") as f:
            return {k: np.asarray(f[k]).T for k in f.keys() if isinstance(f[k], h5py.Dataset)}
    except ValueError as exc:
        raise ModelFormatError(f"{path}: not a readable MATLAB file ({exc})") from exc


def convert_bfm2009(
    path: str | Path,
    mapping: str | Path | None = None,
    contours: str | Path | None = None,
    expression: str | Path | None = None,
    units: str = "auto",
) -> MorphableModel:
    """BFM2009: ``shapeMU``, ``shapePC``, ``shapeEV`` (standard deviations), ``texMU/PC/EV``, ``tl``
    (1-based triangles). ``expression`` optionally names a ``.mat`` with ``w_exp``/``exp`` columns
    (e.g. a FaceWarehouse-derived basis) on the same vertices."""
    path = Path(path)
    d = _load_mat(path)
    need = ["shapeMU", "shapePC", "shapeEV", "tl"]
    miss = [k for k in need if k not in d]
    if miss:
        raise ModelFormatError(f"{path}: not a BFM2009 file, missing {', '.join(miss)}")
    expr = None
    if expression is not None:
        e = _load_mat(Path(expression))
        key = next((k for k in ("w_exp", "exp", "expPC") if k in e), None)
        if key is None:
            raise ModelFormatError(f"{expression}: no 'w_exp', 'exp' or 'expPC' array")
        expr = np.asarray(e[key], np.float64)
    return assemble(
        d["shapeMU"],
        d["shapePC"],
        np.asarray(d["tl"]) - 1,
        shape_std=d["shapeEV"],
        expr_cols=expr,
        albedo_mean=d.get("texMU"),
        albedo_cols=d.get("texPC"),
        albedo_std=d.get("texEV"),
        units=units,
        mapping=mapping,
        contours=contours,
        name="bfm2009",
        metadata={
            "source": "Basel Face Model 2009",
            "files": [path.name],
            "terms": "BFM licence: non-commercial research use; registration required",
        },
    )


def convert_bfm2017(
    path: str | Path, mapping: str | Path | None = None, contours: str | Path | None = None, units: str = "auto"
) -> MorphableModel:
    """BFM2017/2019 statismo ``.h5``: ``shape|color|expression/model/{mean,pcaBasis,pcaVariance}`` and
    ``shape/representer/cells``."""
    import h5py

    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ModelFormatError(f"{path}: not a readable HDF5 file ({exc})") from exc
    with f:

        def grab(group: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
            if f"{group}/model/mean" not in f:
                return None
            g = f[f"{group}/model"]
            return np.asarray(g["mean"]), np.asarray(g["pcaBasis"]), np.asarray(g["pcaVariance"])

        shape = grab("shape")
        if shape is None or "shape/representer/cells" not in f:
            raise ModelFormatError(f"{path}: not a BFM2017 file (no shape/model/mean or shape/representer/cells)")
        cells = np.asarray(f["shape/representer/cells"])
        expr, color = grab("expression"), grab("color")
    std = np.sqrt(np.clip(shape[2], 0, None))
    kw: dict[str, Any] = {}
    if expr is not None:
        kw.update(expr_cols=expr[1], expr_std=np.sqrt(np.clip(expr[2], 0, None)))
    if color is not None:
        kw.update(albedo_mean=color[0], albedo_cols=color[1], albedo_std=np.sqrt(np.clip(color[2], 0, None)))
    return assemble(
        shape[0],
        shape[1],
        cells,
        shape_std=std,
        units=units,
        mapping=mapping,
        contours=contours,
        name="bfm2017",
        metadata={
            "source": "Basel Face Model 2017/2019",
            "files": [path.name],
            "terms": "BFM licence: non-commercial research use; registration required",
        },
        **kw,
    )
