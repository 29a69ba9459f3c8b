"""The frozen MobileFaceNet for the refiner's identity loss (skips without ../shared's weights)."""

import numpy as np
import pytest
import torch

from ganrefine.identity_net import MobileFaceNet, align_112, align_matrix, default_weights, load_mobilefacenet, normalise

requires_weights = pytest.mark.skipif(not default_weights().is_file(), reason=f"no MobileFaceNet weights at {default_weights()}")


def test_architecture_shapes():
    net = MobileFaceNet().eval()
    with torch.no_grad():
        emb, feats = net.embed_with_features(torch.zeros(2, 3, 112, 112), taps=(4, 14))
    assert emb.shape == (2, 128) and [f.shape[1] for f in feats] == [64, 128]


def test_missing_weights_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_mobilefacenet(tmp_path / "none.pt")


@requires_weights
def test_weights_load_and_match_onnx():
    net = load_mobilefacenet()
    assert not any(p.requires_grad for p in net.parameters())
    ort = pytest.importorskip("onnxruntime")
    onnx_path = default_weights().with_name("mobilefacenet_foamliu_112x112_128d.onnx")
    if not onnx_path.is_file():
        pytest.skip("no ONNX export beside the weights")
    x = torch.randn(2, 3, 112, 112)
    with torch.no_grad():
        ours = net(x).numpy()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    ref = np.concatenate([sess.run(None, {"input0": x[i : i + 1].numpy()})[0] for i in range(2)])
    np.testing.assert_allclose(ours, ref, atol=1e-4)


@requires_weights
def test_same_face_is_closer_than_another_image(astronaut, fitter):
    net = load_mobilefacenet()

    def embed(img):
        lm = fitter.detect(img)[0].points68
        x = torch.tensor(img, dtype=torch.float32).permute(2, 0, 1)[None] / 255
        a = align_112(x, torch.tensor(align_matrix(lm))[None])
        with torch.no_grad():
            return torch.nn.functional.normalize(net(normalise(a)), dim=1)[0]

    a = embed(astronaut)
    b = embed(np.ascontiguousarray(astronaut[20:480, 30:490]))
    c = embed(np.ascontiguousarray(astronaut[:, ::-1]))
    assert float(a @ b) > 0.8 and float(a @ c) > 0.5
