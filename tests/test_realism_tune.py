"""Realism fine-tuning (SimGAN-style): band-matched real crops, view weights, train / resume / export."""

import numpy as np

from ganrefine.realism_tune import RealismSet, RealismTuneConfig, RealismTuner, band

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


def test_shipped_realism_tune_config_loads():
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "configs" / "realism_tune_cpu.json"
    cfg = RealismTuneConfig(**json.loads(path.read_text()))
    assert cfg.init == "default" and cfg.d_warmup < cfg.steps
