import numpy as np
import pytest

from face3d.model import FORMAT_VERSION, ModelFormatError, MorphableModel, load_model

from .conftest import tiny_model_arrays


def test_roundtrip(tmp_path):
    m = MorphableModel(**tiny_model_arrays(), name="tiny", metadata={"k": 1})
    p = m.save(tmp_path / "m.npz")
    back = load_model(p)
    assert back.name == "tiny" and back.metadata == {"k": 1}
    for k in ("mean", "shape_basis", "shape_std", "expr_basis", "triangles", "symmetry", "uv"):
        np.testing.assert_array_equal(getattr(back, k), getattr(m, k))
    assert not list(tmp_path.glob(".tmp-*")), "temporary file left behind"


def test_depth_offset_roundtrip(tmp_path):
    a = tiny_model_arrays()
    a["depth_offset"] = -np.linspace(0, 15, 12).astype(np.float32)
    back = load_model(MorphableModel(**a).save(tmp_path / "m.npz"))
    np.testing.assert_array_equal(back.depth_offset, a["depth_offset"])
    assert load_model(MorphableModel(**tiny_model_arrays()).save(tmp_path / "n.npz")).depth_offset is None


def test_default_model_view_depth(default_model):
    """The embedded model carries its view depth: jaw and chin moved back, the inner face kept."""
    d = default_model.depth_offset
    assert d is not None and d.shape == (default_model.n_vertices,) and d.max() <= 0
    lm = default_model.landmarks68
    jaw, inner = d[lm[[3, 4, 5, 11, 12, 13]]], d[lm[[30, 36, 39, 42, 45, 51]]]
    assert jaw.mean() < -8 and np.abs(inner).max() < 3, (jaw, inner)
    np.testing.assert_allclose(d, d[default_model.symmetry], atol=1e-4)  # mirror-symmetric


def test_vertices_linear():
    a = tiny_model_arrays()
    m = MorphableModel(**a)
    alpha = np.array([1.0, -2.0, 0.5])
    expect = a["mean"] + a["shape_basis"] @ alpha
    np.testing.assert_allclose(m.vertices(alpha), expect, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(m.vertices(), a["mean"], atol=1e-6)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("mean", np.zeros((12, 2), np.float32), "mean"),
        ("shape_std", np.ones(4, np.float32), "shape_std: has 4 entries"),
        ("triangles", np.array([[0, 1, 99]], np.int32), "triangles: vertex indices"),
        ("symmetry", np.arange(5, dtype=np.int32), "symmetry: expected 12"),
        ("landmarks68", np.zeros(60, np.int32), "landmarks68: expected 68"),
        ("uv", np.full((12, 2), 3.0, np.float32), "uv: texture coordinates"),
        ("shape_basis", np.full((12, 3, 3), np.nan, np.float32), "shape_basis: contains NaN"),
        ("triangles", np.zeros((4, 3), np.float32), "triangles: expected an integer"),
        ("depth_offset", np.zeros(11, np.float32), "depth_offset: expected 12 entries"),
        ("depth_offset", np.full(12, -500.0, np.float32), "depth_offset: offsets beyond 200 mm"),
    ],
)
def test_validation_names_the_problem(field, value, message):
    a = tiny_model_arrays()
    a[field] = value
    with pytest.raises(ModelFormatError) as ei:
        MorphableModel(**a)
    assert message in str(ei.value)


def test_load_rejects_malformed_files(tmp_path):
    bad = tmp_path / "notnpz.npz"
    bad.write_bytes(b"hello")
    with pytest.raises(ModelFormatError, match="not a readable .npz"):
        load_model(bad)
    a = tiny_model_arrays()
    np.savez(tmp_path / "nofmt.npz", **a)
    with pytest.raises(ModelFormatError, match="not a facerot model"):
        load_model(tmp_path / "nofmt.npz")
    a2 = dict(a)
    del a2["uv"]
    np.savez(tmp_path / "missing.npz", format=np.array("facerot-morphable-model"), format_version=np.array(FORMAT_VERSION), **a2)
    with pytest.raises(ModelFormatError, match="missing arrays: uv"):
        load_model(tmp_path / "missing.npz")
    np.savez(tmp_path / "ver.npz", format=np.array("facerot-morphable-model"), format_version=np.array(99), **a)
    with pytest.raises(ModelFormatError, match="format_version 99"):
        load_model(tmp_path / "ver.npz")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "absent.npz")


def test_default_model_is_embedded_and_valid(default_model):
    m = default_model
    assert m.n_vertices == 468 and m.triangles.shape == (852, 3)
    assert m.n_shape + m.n_expr >= 40
    assert m.dense_scheme == "mediapipe468" and (m.landmarks68 >= 0).all()
    assert m.has_albedo and m.contour_right.size and m.contour_left.size
    # mirror map is an involution for almost all vertices and mirrors the mean across x = 0
    sym = m.symmetry
    assert (sym[sym] == np.arange(468)).mean() > 0.95
    err = np.abs(m.mean[sym] * [-1, 1, 1] - m.mean).max(1)
    assert np.median(err) < 1.0  # mm
    # nose tip in front, face in millimetres
    assert 120 < np.ptp(m.mean[:, 0]) < 170
    assert m.mean[m.landmarks68[30], 2] > m.mean[m.landmarks68[36], 2]


def test_model_setting_env(monkeypatch, tmp_path):
    m = MorphableModel(**tiny_model_arrays(), name="envmodel")
    m.save(tmp_path / "x.npz")
    monkeypatch.setenv("FACEROT_MODEL", str(tmp_path / "x.npz"))
    assert load_model().name == "envmodel"
    monkeypatch.setenv("FACEROT_MODEL", "default")
    assert load_model().name == "facerot-mp468"
