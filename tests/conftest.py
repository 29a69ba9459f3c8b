"""Shared fixtures. Tests that need ../shared skip cleanly when it is absent."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

os.environ.setdefault("GLOG_minloglevel", "2")
warnings.filterwarnings("ignore", module="google.protobuf")

from face3d.settings import lfw_dir, sfm_dir  # noqa: E402

SFM_BIN = sfm_dir() / "sfm_shape_3448.bin"
LFW = lfw_dir()

requires_sfm = pytest.mark.skipif(not SFM_BIN.is_file(), reason=f"Surrey Face Model not found at {SFM_BIN}")
requires_lfw = pytest.mark.skipif(not (LFW / "images").is_dir(), reason=f"LFW not found at {LFW}")


@pytest.fixture(scope="session")
def default_model():
    from face3d.model import load_model

    return load_model()


@pytest.fixture(scope="session")
def sfm_model():
    if not SFM_BIN.is_file():
        pytest.skip(f"Surrey Face Model not found at {SFM_BIN}")
    from face3d.converters import convert_sfm

    return convert_sfm(SFM_BIN)


@pytest.fixture(scope="session")
def astronaut():
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def fitter():
    from face3d.fitting import Fitter

    return Fitter()


def tiny_model_arrays(n: int = 12, k: int = 3, e: int = 2, seed: int = 0) -> dict:
    """Arrays of a small valid model (a bumpy grid facing +z)."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n)))
    xs, ys = np.meshgrid(np.linspace(-50, 50, side), np.linspace(-60, 60, side))
    mean = np.stack([xs.ravel(), ys.ravel(), 10 * rng.random(side * side)], 1)[:n]
    tri = []
    for r in range(side - 1):
        for c in range(side - 1):
            a, b, d, f = r * side + c, r * side + c + 1, (r + 1) * side + c, (r + 1) * side + c + 1
            if max(a, b, d, f) < n:
                tri += [[a, b, f], [a, f, d]]
    return dict(
        mean=mean.astype(np.float32),
        shape_basis=rng.standard_normal((n, 3, k)).astype(np.float32),
        shape_std=np.ones(k, np.float32),
        expr_basis=rng.standard_normal((n, 3, e)).astype(np.float32),
        expr_std=np.ones(e, np.float32),
        triangles=np.array(tri, np.int32),
        landmarks68=np.full(68, -1, np.int32),
        contour_right=np.zeros(0, np.int32),
        contour_left=np.zeros(0, np.int32),
        symmetry=np.arange(n, dtype=np.int32),
        uv=rng.random((n, 2)).astype(np.float32),
    )
