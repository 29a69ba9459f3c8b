"""Refiner networks and losses: shapes, gradients, identity start, and each loss doing its job."""

import numpy as np
import pytest
import torch

from ganrefine import losses
from ganrefine.networks import (
    CoupleAgentDiscriminator,
    GeneratorConfig,
    PatchDiscriminator,
    TwoPathwayGenerator,
    _crop,
    _paste,
    landmark_heatmaps,
    region_boxes,
    widen_inputs,
)

from .test_identity_net import requires_weights


def _inputs(b=2, size=128):
    torch.manual_seed(0)
    render = torch.rand(b, 3, size, size)
    prov = torch.zeros(b, 4, size, size)
    prov[:, 1] = 1
    lm = torch.tensor(np.stack([np.linspace(30, 98, 68), np.linspace(40, 100, 68)], 1), dtype=torch.float32)
    return render, prov, lm[None].expand(b, -1, -1).clone()


def test_generator_shapes_gradients_and_near_identity_start():
    g = TwoPathwayGenerator(GeneratorConfig(width=8, local_width=8, res_blocks=1))
    render, prov, lm = _inputs()
    out = g(render, prov, lm)
    assert out.shape == render.shape and 0 <= out.min() and out.max() <= 1
    assert (out - render).abs().mean() < 0.5  # residual design: starts near the input
    out.mean().backward()
    assert all(p.grad is not None for p in g.local_paths["mouth"].parameters())
    assert sum(p.numel() for p in TwoPathwayGenerator().parameters()) < 25e6 / 4  # fits the 25 MB budget in fp32


def test_crop_and_paste_round_trip():
    x = torch.rand(1, 3, 64, 64)
    box = torch.tensor([[16.0, 8.0, 48.0, 40.0]])
    patch = _crop(x, box, (32, 32))
    back = _paste(patch, box, (64, 64))
    inner = back[..., 12:36, 20:44]  # well inside the box: resampling twice at the same scale is exact
    assert torch.allclose(inner, x[..., 12:36, 20:44], atol=1e-5)
    assert back[..., :4, :].abs().max() == 0
    boxes = region_boxes(_inputs()[2], 128)
    assert set(boxes) == {"left_eye", "right_eye", "nose", "mouth"}


def test_discriminator_scales():
    d = PatchDiscriminator(width=8)
    outs = d(torch.rand(2, 3, 128, 128))
    assert len(outs) == 2 and outs[0].shape[0] == 2 and outs[1].shape[-1] < outs[0].shape[-1]


def test_pose_guidance_heatmaps_peak_at_the_landmarks():
    lm = torch.full((1, 68, 2), 32.0)
    lm[0, 0] = torch.tensor([10.5, 20.5])
    lm[0, 30] = torch.tensor([40.5, 5.5])  # a nose point
    h = landmark_heatmaps(lm, 64, 2.0)
    assert h.shape == (1, 5, 64, 64) and float(h.max()) <= 1
    assert float(h[0, 0, 20, 10]) > 0.99 and float(h[0, 0, 20, 20]) < 1e-4  # jaw point 0 here; 10 px away: gone
    assert float(h[0, 2, 5, 40]) > 0.99 and float(h[0, 0, 5, 40]) < 1e-4  # the nose point in the nose channel only
    assert float(h[0, 4, 31, 31]) > 0.9  # the other points (all at 32, 32) in their parts


def test_guided_generator_widened_from_unguided_weights_starts_identical():
    cfg = GeneratorConfig(size=64, width=8, local_width=8)
    plain = TwoPathwayGenerator(cfg).eval()
    guided = TwoPathwayGenerator(GeneratorConfig(size=64, width=8, local_width=8, heatmap_sigma=2.0)).eval()
    with torch.no_grad():  # random non-zero weights everywhere, so the comparison means something
        for p in plain.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    guided.load_state_dict(widen_inputs(plain.state_dict(), guided))
    render, prov, lm = _inputs(size=64)
    lm = lm * 0.5
    assert torch.allclose(plain(render, prov, lm), guided(render, prov, lm), atol=1e-6)
    with torch.no_grad():  # the guidance channels are live once they have weights
        guided.global_path.inp[0].weight[:, 7:].normal_()
    assert not torch.allclose(plain(render, prov, lm), guided(render, prov, lm), atol=1e-3)


def test_couple_agent_discriminator_sees_source_and_landmarks():
    d = CoupleAgentDiscriminator(width=8).eval()  # eval: spectral norm does not step between calls
    render, _, lm = _inputs(size=64)
    lm = lm * 0.5
    img = torch.rand_like(render)
    outs = d(img, render, lm)
    assert len(outs) == 4 and all(o.shape[0] == 2 for o in outs)
    other = d(img, render.flip(-1), lm)  # another source: the identity agent's logits change, the pose agent's not
    assert not torch.allclose(outs[0], other[0]) and torch.allclose(outs[2], other[2])
    moved = d(img, render, lm + 6)  # other landmarks: the pose agent's logits change
    assert torch.allclose(outs[0], moved[0]) and not torch.allclose(outs[2], moved[2])


def test_losses_behave():
    a = torch.rand(2, 3, 32, 32)
    assert losses.multiscale_l1(a, a) == 0 and losses.multiscale_l1(a, 1 - a) > 0
    sym = torch.cat([a[..., :16], a[..., :16].flip(-1)], -1)
    p, lap = losses.symmetry(sym, torch.tensor([True, True]))
    assert p < 1e-6 and lap < 1e-6
    p2, _ = losses.symmetry(a, torch.tensor([True, False]))
    assert p2 > 0.1 and losses.symmetry(a, torch.tensor([False, False]))[0] == 0
    real, fake = [torch.full((2, 1, 4, 4), 2.0)], [torch.full((2, 1, 4, 4), -2.0)]
    assert losses.hinge_d(real, fake) == 0 and losses.hinge_g(fake) == 2.0
    assert losses.total_variation(torch.ones(1, 3, 8, 8)) == 0


def test_identity_loss_is_zero_for_the_same_image():
    from ganrefine.identity_net import MobileFaceNet

    net = MobileFaceNet().eval()
    x = torch.rand(2, 3, 112, 112)
    cos, feat = losses.identity(net, x, x)
    assert abs(float(cos)) < 1e-5 and float(feat) < 1e-6


@requires_weights
def test_identity_loss_separates_and_has_gradients(astronaut):
    from ganrefine.identity_net import load_mobilefacenet, normalise

    net = load_mobilefacenet()
    face = torch.tensor(astronaut[40:240, 140:340], dtype=torch.float32).permute(2, 0, 1)[None] / 255
    a = normalise(torch.nn.functional.interpolate(face, size=(112, 112), mode="bilinear"))
    noise = normalise(torch.rand(1, 3, 112, 112))
    x = a.clone().requires_grad_(True)
    same, _ = losses.identity(net, x, a)
    other, _ = losses.identity(net, noise.clone().requires_grad_(True), a)
    assert float(same) < 1e-5 < float(other)
    d, _ = losses.identity(net, x + 0.3 * torch.randn_like(x), a)
    d.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_a_refiner_takes_its_stored_mean_change_off_every_output(tmp_path):
    from ganrefine import Refiner, RefinerError
    from ganrefine.train import _save

    blob = torch.load(Refiner().path, map_location="cpu", weights_only=True)
    stamp = torch.zeros(3, 128, 128)
    stamp[1, 40:60, 30:50] = 0.2  # a green mark in every crop
    _save({**blob, "mean_change": stamp.half()}, tmp_path / "destamped.pt")
    rng = np.random.default_rng(0)
    render = rng.integers(60, 190, (2, 128, 128, 3), dtype=np.uint8)
    prov = np.ones((2, 128, 128), np.uint8)
    lm = np.stack([np.stack(np.meshgrid(np.linspace(30, 98, 17), np.linspace(40, 100, 4)), -1).reshape(-1, 2)[:68]] * 2)
    plain = Refiner().refine_crops(render, prov, lm).astype(int)
    off = Refiner(tmp_path / "destamped.pt").refine_crops(render, prov, lm).astype(int)
    diff = plain - off
    mark, room = diff[:, 40:60, 30:50, 1], plain[:, 40:60, 30:50, 1] >= 52  # (not clamped at 0)
    assert room.mean() > 0.9 and np.abs(mark[room] - 51).max() <= 1  # 0.2 × 255 off the mark's pixels
    diff[:, 40:60, 30:50, 1] = 0
    assert np.abs(diff).max() <= 1  # and nothing else
    _save({**blob, "mean_change": stamp[:, :64].half()}, tmp_path / "wrong.pt")
    with pytest.raises(RefinerError, match="mean_change is"):
        Refiner(tmp_path / "wrong.pt")
