import numpy as np
import pytest
import scipy.io

from pipeline.datasets import DatasetFormatError, iter_aflw2000, read_aflw2000_mat


def _write(folder, name, pose_rad, pts=None):
    pts = np.random.default_rng(0).uniform(0, 450, (3, 68)) if pts is None else pts
    scipy.io.savemat(
        folder / f"{name}.mat", {"Pose_Para": np.array([[*pose_rad, 0, 0, 0, 0.001]]), "pt3d_68": pts, "pt2d": np.zeros((2, 21))}
    )
    (folder / f"{name}.jpg").write_bytes(b"\xff\xd8placeholder")
    return pts


def test_aflw2000_reader(tmp_path):
    pts = _write(tmp_path, "image00002", [0.1, -0.5, 0.2])
    _write(tmp_path, "image00004", [0.0, 1.9, 0.0])  # 109 degrees of yaw: left out by the protocol
    (tmp_path / "image00006.mat").write_bytes(b"junk")  # no image beside it: ignored
    samples = list(iter_aflw2000(tmp_path))
    assert len(samples) == 1
    s = samples[0]
    assert s.image.name == "image00002.jpg"
    assert np.isclose(s.pitch, np.degrees(0.1)) and np.isclose(s.yaw, np.degrees(-0.5)) and np.isclose(s.roll, np.degrees(0.2))
    np.testing.assert_allclose(s.landmarks68, pts[:2].T, rtol=1e-6)
    assert s.landmarks68_3d.shape == (68, 3)
    assert len(list(iter_aflw2000(tmp_path, max_angle=180))) == 2


def test_aflw2000_bad_files(tmp_path):
    (tmp_path / "bad.mat").write_bytes(b"junk")
    with pytest.raises(DatasetFormatError, match="not a readable MATLAB file"):
        read_aflw2000_mat(tmp_path / "bad.mat")
    scipy.io.savemat(tmp_path / "nopose.mat", {"pt3d_68": np.zeros((3, 68))})
    with pytest.raises(DatasetFormatError, match="missing Pose_Para"):
        read_aflw2000_mat(tmp_path / "nopose.mat")
    with pytest.raises(FileNotFoundError):
        list(iter_aflw2000(tmp_path / "absent"))
