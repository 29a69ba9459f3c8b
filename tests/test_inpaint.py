import numpy as np
import pytest

from face3d.inpaint import push_pull


def test_push_pull_fills_smoothly_and_keeps_known_pixels():
    img = np.zeros((40, 60, 3), np.uint8)
    img[:, :30], img[:, 30:] = 200, 50
    hole = np.zeros((40, 60), bool)
    hole[10:30, 20:40] = True
    out = push_pull(img, hole)
    assert out.dtype == np.uint8 and out.shape == img.shape
    np.testing.assert_array_equal(out[~hole], img[~hole])  # known pixels untouched
    row = out[20, 20:40, 0].astype(int)
    assert (np.diff(row) <= 0).all() and row[0] > 150 and row[-1] < 100  # a ramp from one side to the other
    assert (out[hole] >= 50).all() and (out[hole] <= 200).all()  # no colour from nowhere
    grey = push_pull(img[..., 0].astype(np.float32), hole)
    assert grey.shape == (40, 60) and abs(float(grey[20, 30]) - float(out[20, 30, 0])) <= 1
    with pytest.raises(ValueError, match="every pixel is a hole"):
        push_pull(img, np.ones((40, 60), bool))
