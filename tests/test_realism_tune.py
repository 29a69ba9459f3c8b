"""Realism fine-tuning (SimGAN-style): band-matched real crops, view weights, train / resume / export."""

import json
from pathlib import Path

import numpy as np
import pytest

from ganrefine.realism_tune import RealismSet, RealismTuneConfig, RealismTuner, band, shared_change

from .test_identity_net import requires_weights


def _set(n_views=24, n_real=30, size=128, seed=0):
    rng = np.random.default_rng(seed)
    lm = np.stack([np.stack(np.meshgrid(np.linspace(30, 98, 17), np.linspace(40, 100, 4)), -1).reshape(-1, 2)[:68]] * n_views)
    return RealismSet(
        render=rng.integers(0, 256, (n_views, size, size, 3), dtype=np.uint8),
        provenance=rng.integers(0, 4, (n_views, size, size), dtype=np.uint8),
        landmarks=lm.astype(np.float32),
        yaw=rng.uniform(-60, 60, n_views).astype(np.float32),
        real=rng.integers(0, 256, (n_real, size, size, 3), dtype=np.uint8),
        real_yaw=rng.uniform(-30, 30, n_real).astype(np.float32),
    )


def test_reals_come_from_the_views_yaw_band():
    data = _set()
    data.real_yaw[:] = [3, -12, 18, 42, -45, 25] * 5
    rng = np.random.default_rng(0)
    yaw = np.array([5.0, -15.0, 30.0, 48.0, 70.0])
    got = data.real_yaw[data.reals_like(yaw, rng)]
    assert list(band(got)) == [0, 1, 2, 3, 3]  # no real past 50°: the nearest band below


def test_reals_drawn_only_from_the_allowed_ones():
    data = _set()
    data.real_yaw[:] = 5.0
    allowed = np.arange(len(data.real_yaw)) % 3 == 0
    got = data.reals_like(np.full(50, 4.0), np.random.default_rng(0), allowed)
    assert allowed[got].all() and len(set(got.tolist())) > 3
    with pytest.raises(ValueError, match="no real crops"):
        data.reals_like(np.full(2, 4.0), np.random.default_rng(0), np.zeros_like(allowed))


def test_large_yaw_power_evens_the_bands():
    data = _set()
    data.yaw[:] = [2.0] * 20 + [40.0] * 4
    even = data.weights(1.0)
    assert np.isclose(even[:20].sum(), even[20:].sum())
    assert np.isclose(data.weights(0.0)[20:].sum(), 4 / 24)


@requires_weights
def test_tune_resumes_and_exports_a_refiner(tmp_path):
    from ganrefine import Refiner

    data = _set()
    cfg = RealismTuneConfig(out=str(tmp_path / "run"), steps=2, batch=4, history=8, threads=1)
    tuner = RealismTuner(cfg, data)
    tuner.run(progress=False)
    assert (tmp_path / "run" / "checkpoint.pt").is_file() and tuner.step == 2
    again = RealismTuner(RealismTuneConfig(**{**cfg.__dict__, "steps": 3}), data)
    assert again.step == 2 and len(again.history) == 4
    again.run(progress=False)
    assert again.step == 3
    ref = Refiner(again.export(tmp_path / "tuned.pt"))
    out = ref.refine_crops(data.render[:2], data.provenance[:2], data.landmarks[:2])
    assert out.shape == (2, 128, 128, 3) and out.dtype == np.uint8


@requires_weights
def test_critic_takes_d_steps_per_refiner_step_on_current_and_past_fakes(tmp_path):
    cfg = RealismTuneConfig(out=str(tmp_path / "run"), steps=3, batch=4, d_steps=3, d_batch=6, history=8, threads=1)
    tuner = RealismTuner(cfg, _set())
    seen = []
    d_loss = tuner._d_loss
    tuner._d_loss = lambda real, fake: seen.append((len(real), len(fake))) or d_loss(real, fake)
    tuner.run(progress=False)
    assert seen == [(6, 6)] * 9  # 3 critic steps of 6 real and 6 fake crops per refiner step
    state = next(iter(tuner.opt_d.state.values()))
    assert int(state["step"]) == 9 and len(tuner.history) == 6


@requires_weights
def test_r1_penalty_and_augmented_critic_train(tmp_path):
    import torch

    data = _set()
    real, fake = torch.rand(4, 3, 128, 128), torch.rand(4, 3, 128, 128)
    losses = {}
    for r1 in (0.0, 10.0):
        tuner = RealismTuner(RealismTuneConfig(out=str(tmp_path / f"r1_{r1}"), critic="global", r1=r1, threads=1), data)
        losses[r1] = float(tuner._d_loss(real, fake))
    assert losses[10.0] > losses[0.0]  # the same critic (seeded) with the gradient penalty added
    aug = dict(critic="global", r1=1.0, d_shift=0.06, threads=1)
    cfg = RealismTuneConfig(out=str(tmp_path / "aug"), steps=3, d_warmup=1, batch=4, **aug)
    tuner = RealismTuner(cfg, data)
    tuner.run(progress=False)
    assert tuner.step == 3 and len(tuner.history) == 4


@requires_weights
def test_feature_matching_trains_and_needs_the_global_critic(tmp_path):
    import torch

    fm = dict(critic="global", generator_loss="feature_matching", threads=1)
    tuner = RealismTuner(RealismTuneConfig(out=str(tmp_path / "fm"), batch=4, **fm), _set())
    before = [p.detach().clone() for p in tuner.gen.parameters()]
    terms = tuner.train_step(np.random.default_rng(0))
    assert 0 < terms["adv"] < float("inf")  # a squared gap between feature means
    assert any(not torch.equal(a, p) for a, p in zip(before, tuner.gen.parameters()))
    with pytest.raises(ValueError, match="needs critic 'global'"):
        RealismTuner(RealismTuneConfig(out=str(tmp_path / "p"), generator_loss="feature_matching"), _set())


def test_shared_change_counts_a_stamp_not_changes_that_differ():
    import torch

    raw = torch.rand(2, 3, 8, 8)
    stamp = torch.zeros_like(raw)
    stamp[:, :, :2, :2] = 0.4  # the same mark in both crops
    assert torch.isclose(shared_change(raw + stamp, raw), torch.tensor(0.4 * 4 / 64))
    opposite = torch.stack([stamp[0], -stamp[1]])
    assert float(shared_change(raw + opposite, raw)) < 1e-6


CONFIGS = sorted((Path(__file__).resolve().parent.parent / "configs").glob("realism_tune*.json"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_realism_tune_configs_load(path):
    cfg = RealismTuneConfig(**json.loads(path.read_text()))
    assert cfg.init == "default" and cfg.d_warmup < cfg.steps and cfg.critic in ("patch", "global")


@requires_weights
def test_global_critic_learns_what_tells_views_from_photos(tmp_path):
    data = _set(n_views=60, n_real=60)
    rng = np.random.default_rng(1)
    data.real[:] = rng.integers(150, 200, data.real.shape)  # photos bright, views dark: easy to tell
    data.render[:] = rng.integers(40, 90, data.render.shape)
    data.real_yaw[:] = data.yaw[:60]
    cfg = RealismTuneConfig(out=str(tmp_path / "run"), steps=30, d_warmup=30, batch=8, critic="global", holdout=0.3, threads=1)
    tuner = RealismTuner(cfg, data)
    assert not (tuner.held_views & (tuner.p > 0)).any()  # held-out views never drawn for training
    assert tuner.fresh_critic_accuracy(views=40, steps=40) > 0.95  # a critic trained from scratch, apart
    tuner.run(progress=False)
    assert tuner.critic_accuracy() > 0.95


@requires_weights
def test_critics_see_the_change_as_it_is_pasted(tmp_path):
    import torch

    tuner = RealismTuner(RealismTuneConfig(out=str(tmp_path / "run"), threads=1), _set())
    raw, refined = torch.zeros(1, 3, 128, 128), torch.ones(1, 3, 128, 128)
    shown = tuner.shown(refined, raw)
    assert shown[0, :, 64, 64].eq(1).all() and shown[0, :, 0, 0].lt(0.01).all()  # the centre changed, not the border


@requires_weights
def test_critic_restarts_keep_past_critics_as_frozen_judges(tmp_path):
    import torch

    data = _set()
    kw = dict(critic="global", d_warmup=1, restart_every=2, restart_steps=3, keep_critics=1, batch=4, threads=1)
    cfg = RealismTuneConfig(out=str(tmp_path / "run"), steps=6, **kw)
    tuner = RealismTuner(cfg, data)
    first = tuner.disc
    tuner.run(progress=False)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    restarted = [r["step"] for r in log if "restart_critic_accuracy" in r]
    assert restarted == [4, 6]  # before the refiner steps 3 and 5 after the warm-up
    assert tuner.disc is not first and len(tuner.judges) == 1 and tuner.judges[0] is not first  # only the last kept
    assert not any(p.requires_grad for p in tuner.judges[0].parameters())
    again = RealismTuner(RealismTuneConfig(**{**cfg.__dict__, "steps": 7}), data)
    assert len(again.judges) == 1 and torch.equal(
        next(iter(again.judges[0].state_dict().values())), next(iter(tuner.judges[0].state_dict().values()))
    )
    with pytest.raises(ValueError, match="restart_every needs critic 'global'"):
        RealismTuner(RealismTuneConfig(out=str(tmp_path / "p"), restart_every=2), data)


def test_a_packed_set_reads_back_close_and_smaller(tmp_path):
    from ganrefine.realism_tune import load_packed_realism_set, pack_realism_set

    data = _set(n_views=6, n_real=5)
    yy, xx = np.mgrid[:128, :128]
    smooth = np.stack([xx * 2, yy * 2, (xx + yy)], -1).clip(0, 255).astype(np.uint8)  # JPEG keeps a smooth image
    data.render[:], data.real[:] = smooth, smooth[::-1]
    path = pack_realism_set(data, tmp_path / "set.npz", quality=95)
    back = load_packed_realism_set(path)
    for k in ("provenance", "landmarks", "yaw", "real_yaw"):
        assert np.array_equal(getattr(back, k), getattr(data, k)), k
    for k in ("render", "real"):
        got, want = getattr(back, k), getattr(data, k)
        assert got.shape == want.shape and got.dtype == np.uint8 and np.abs(got.astype(int) - want).mean() < 2, k
    assert path.stat().st_size < data.render.nbytes / 4


@requires_weights
def test_critics_side_by_side_each_judge_and_train(tmp_path):
    import torch

    cfg = RealismTuneConfig(out=str(tmp_path / "run"), steps=3, d_warmup=1, batch=4, critic="global", critics=3, threads=1)
    tuner = RealismTuner(cfg, _set())
    members = tuner.disc.members
    before = [m.head.weight.detach().clone() for m in members]
    assert len(tuner.disc(torch.rand(2, 3, 128, 128))) == 3 and not torch.equal(before[0], before[1])  # apart
    tuner.run(progress=False)
    assert all(not torch.equal(b, m.head.weight) for b, m in zip(before, members))  # every critic trained
    assert 0.0 <= tuner.critic_accuracy() <= 1.0
    with pytest.raises(ValueError, match="critics > 1 needs"):
        RealismTuner(RealismTuneConfig(out=str(tmp_path / "p"), critics=2), _set())
