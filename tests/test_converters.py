"""Every converter on small files the tests write in the real layout (and the real SFM when present)."""

import json
import pickle
import struct
import sys
import types

import numpy as np
import pytest

from face3d.converters import UnsafePickleError, convert, safe_load
from face3d.model import ModelFormatError

from .conftest import SFM_BIN, requires_sfm, tiny_model_arrays

A = tiny_model_arrays(n=16, k=4, e=2)
N = 16


def _eigen(m: np.ndarray) -> bytes:
    m = np.atleast_2d(np.asarray(m, np.float32))
    if m.shape[0] == 1 and m.size > 1:
        m = m.T
    return struct.pack("<ii", *m.shape) + m.T.astype("<f4").tobytes()  # column-major


def _pca(mean, basis, ev, tri) -> bytes:
    return (
        _eigen(mean.reshape(-1, 1))
        + _eigen(basis)
        + _eigen(ev.reshape(-1, 1))
        + struct.pack("<Q", len(tri))
        + np.asarray(tri, "<i4").tobytes()
    )


def write_sfm_files(folder):
    basis = A["shape_basis"].reshape(3 * N, -1)
    q, _ = np.linalg.qr(basis)
    ev = np.array([9.0, 4.0, 1.0, 0.25])
    blob = struct.pack("<I", 1) + _pca(A["mean"].ravel(), q, ev, A["triangles"])
    blob += _pca(np.zeros(0), np.zeros((0, 0)), np.zeros(0), np.zeros((0, 3)))
    uv = np.random.default_rng(0).random((N, 2))
    blob += struct.pack("<Q", N) + uv.astype("<f8").tobytes()
    (folder / "model.bin").write_bytes(blob)
    bs = struct.pack("<Q", 2)
    for i, name in enumerate(["smile", "frown"]):
        bs += struct.pack("<Q", len(name)) + name.encode() + _eigen(A["expr_basis"][:, :, i].reshape(-1, 1) * 3)
    (folder / "bs.bin").write_bytes(bs)
    (folder / "map.txt").write_text("[landmark_mappings]\n# comment\n31 = 5  # nose\n37 = 2\n")
    (folder / "contours.json").write_text(json.dumps({"model_contour": {"right_contour": [0, 4, 8], "left_contour": [3, 7, 11]}}))
    (folder / "sym.txt").write_text("# 1-based\n" + "\n".join(str(i + 1) for i in range(8)))
    return q, ev, uv


def test_sfm_layout(tmp_path):
    q, ev, uv = write_sfm_files(tmp_path)
    m = convert(
        "sfm",
        [tmp_path / "model.bin", tmp_path / "bs.bin"],
        mapping=tmp_path / "map.txt",
        contours=tmp_path / "contours.json",
        symmetry=None,
    )
    np.testing.assert_allclose(m.mean, A["mean"], atol=1e-5)
    np.testing.assert_allclose(m.shape_std, np.sqrt(ev), rtol=1e-6)
    np.testing.assert_allclose(m.shape_basis.reshape(3 * N, -1), q, atol=1e-5)
    assert m.n_expr == 2 and m.metadata["expressions"] == ["smile", "frown"]
    np.testing.assert_allclose(m.expr_basis[:, :, 0] * m.expr_std[0], A["expr_basis"][:, :, 0] * 3, atol=1e-4)
    assert m.landmarks68[30] == 5 and m.landmarks68[36] == 2
    assert list(m.contour_right) == [0, 4, 8] and m.landmarks68[0] == 0  # contour defaults filled
    np.testing.assert_allclose(m.uv, uv, atol=1e-6)
    np.testing.assert_array_equal(m.triangles, A["triangles"])


def test_sfm_truncated_and_wrong_version(tmp_path):
    write_sfm_files(tmp_path)
    blob = (tmp_path / "model.bin").read_bytes()
    (tmp_path / "trunc.bin").write_bytes(blob[:200])
    with pytest.raises(ModelFormatError, match="file ends inside"):
        convert("sfm", [tmp_path / "trunc.bin"])
    (tmp_path / "v9.bin").write_bytes(struct.pack("<I", 9) + blob[4:])
    with pytest.raises(ModelFormatError, match="class version 9"):
        convert("sfm", [tmp_path / "v9.bin"])


def test_bfm2009_mat(tmp_path):
    import scipy.io

    um = A["mean"].ravel()[:, None] * 1000.0  # BFM2009 stores micrometres
    pc = np.linalg.qr(A["shape_basis"].reshape(3 * N, -1))[0]
    tex = np.full((3 * N, 1), 128.0)
    scipy.io.savemat(
        tmp_path / "01_MorphableModel.mat",
        dict(
            shapeMU=um,
            shapePC=pc,
            shapeEV=np.array([[3000.0], [2000.0], [1000.0], [500.0]]),
            texMU=tex,
            texPC=pc,
            texEV=np.array([[10.0], [5.0], [2.0], [1.0]]),
            tl=A["triangles"] + 1,
        ),
    )
    m = convert("bfm2009", [tmp_path / "01_MorphableModel.mat"], contours=None)
    np.testing.assert_allclose(m.mean, A["mean"], atol=1e-3)
    np.testing.assert_allclose(m.shape_std, [3, 2, 1, 0.5], rtol=1e-5)  # µm -> mm
    np.testing.assert_allclose(m.albedo_mean, 128 / 255, atol=1e-6)
    assert m.triangles.min() == 0 and m.triangles.max() == N - 1
    scipy.io.savemat(tmp_path / "bad.mat", dict(foo=np.zeros(3)))
    with pytest.raises(ModelFormatError, match="missing shapeMU"):
        convert("bfm2009", [tmp_path / "bad.mat"])


def test_bfm2017_h5(tmp_path):
    import h5py

    pc = np.linalg.qr(A["shape_basis"].reshape(3 * N, -1))[0]
    with h5py.File(tmp_path / "model2017.h5", "w") as f:
        f["shape/model/mean"] = A["mean"].ravel()
        f["shape/model/pcaBasis"] = pc
        f["shape/model/pcaVariance"] = np.array([16.0, 9.0, 4.0, 1.0])
        f["shape/representer/cells"] = A["triangles"].T
        f["expression/model/mean"] = np.zeros(3 * N)
        f["expression/model/pcaBasis"] = pc[:, :2]
        f["expression/model/pcaVariance"] = np.array([4.0, 1.0])
        f["color/model/mean"] = np.full(3 * N, 0.5)
        f["color/model/pcaBasis"] = pc
        f["color/model/pcaVariance"] = np.array([0.01, 0.01, 0.01, 0.01])
    m = convert("bfm2017", [tmp_path / "model2017.h5"])
    np.testing.assert_allclose(m.shape_std, [4, 3, 2, 1], rtol=1e-5)
    assert m.n_expr == 2 and m.n_albedo == 4
    np.testing.assert_allclose(m.expr_std, [2, 1], rtol=1e-5)
    with h5py.File(tmp_path / "empty.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(ModelFormatError, match="not a BFM2017 file"):
        convert("bfm2017", [tmp_path / "empty.h5"])


def test_3ddfa_pickle(tmp_path):
    u = (A["mean"].ravel() * 1000)[:, None].astype(np.float32)
    w_shp = (A["shape_basis"].reshape(3 * N, -1) * 1000).astype(np.float32)
    w_exp = (A["expr_basis"].reshape(3 * N, -1) * 1000).astype(np.float32)
    kp = np.array([3 * v + c for v in range(68) for c in range(3)]) % (3 * N)
    d = {"u": u, "w_shp": w_shp, "w_exp": w_exp, "tri": A["triangles"].T.copy(), "keypoints": kp}
    (tmp_path / "bfm_noneck_v3.pkl").write_bytes(pickle.dumps(d, protocol=2))
    m = convert("3ddfa", [tmp_path / "bfm_noneck_v3.pkl"])
    np.testing.assert_allclose(m.mean, A["mean"], atol=1e-3)
    assert m.n_shape == 4 and m.n_expr == 2
    np.testing.assert_allclose(m.vertices(np.array([1.0, 0, 0, 0])), A["mean"] + A["shape_basis"][:, :, 0], atol=1e-3)
    assert m.landmarks68[1] == (3 % (3 * N)) // 3


class _Ch:  # stands in for chumpy.ch.Ch when writing the test pickle
    def __init__(self, x):
        self.x = x

    def __getstate__(self):
        return {"x": self.x, "_dirty_vars": set()}


def test_flame_chumpy_pickle_without_chumpy(tmp_path, monkeypatch):
    mod = types.ModuleType("chumpy.ch")
    _Ch.__module__, _Ch.__qualname__ = "chumpy.ch", "Ch"
    mod.Ch = _Ch
    monkeypatch.setitem(sys.modules, "chumpy", types.ModuleType("chumpy"))
    monkeypatch.setitem(sys.modules, "chumpy.ch", mod)
    metres = A["mean"] / 1000.0
    dirs = np.concatenate([A["shape_basis"], A["expr_basis"]], 2) / 1000.0
    d = {
        "v_template": _Ch(metres),
        "f": A["triangles"].astype(np.uint32),
        "shapedirs": _Ch(dirs),
        "posedirs": np.zeros((N, 3, 1)),
        "kintree_table": np.zeros((2, 5)),
    }
    blob = pickle.dumps(d, protocol=2)
    monkeypatch.delitem(sys.modules, "chumpy.ch")
    monkeypatch.delitem(sys.modules, "chumpy")
    (tmp_path / "generic_model.pkl").write_bytes(blob)
    m = convert("flame", [tmp_path / "generic_model.pkl"], n_shape=4)
    np.testing.assert_allclose(m.mean, A["mean"], atol=1e-3)  # metres -> mm
    assert m.n_shape == 4 and m.n_expr == 2
    assert "chumpy" not in sys.modules


def test_pickles_cannot_execute_code(tmp_path):
    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    blob = pickle.dumps({"u": Evil()})
    with pytest.raises(UnsafePickleError, match="refusing to load global"):
        safe_load(blob)
    (tmp_path / "evil.pkl").write_bytes(blob)
    with pytest.raises(UnsafePickleError):
        convert("3ddfa", [tmp_path / "evil.pkl"])
    assert not (tmp_path / "pwned").exists()


def test_unknown_format_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="unknown format"):
        convert("obj", [__file__])
    with pytest.raises(FileNotFoundError, match="source file not found"):
        convert("sfm", [tmp_path / "nope.bin"])


@requires_sfm
def test_real_sfm(sfm_model):
    m = sfm_model
    assert m.n_vertices == 3448 and m.n_shape == 63 and m.n_expr == 6 and m.triangles.shape == (6736, 3)
    assert (m.landmarks68 >= 0).sum() >= 64
    assert m.mean[m.contour_right, 0].mean() < 0 < m.mean[m.contour_left, 0].mean()  # subject's right = -x


@requires_sfm
def test_real_sfm_matches_eos():
    eos = pytest.importorskip("eos")
    from face3d.converters import convert_sfm

    m = convert_sfm(SFM_BIN)
    em = eos.morphablemodel.load_model(str(SFM_BIN))
    a = np.random.default_rng(3).standard_normal(63).astype(np.float32)
    ref = np.asarray(em.get_shape_model().draw_sample(a)).reshape(-1, 3)
    np.testing.assert_allclose(m.vertices(a), ref, atol=1e-3)
