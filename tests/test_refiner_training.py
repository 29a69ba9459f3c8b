"""Pair builder, training loop (checkpoint / resume / log / samples / export) and the Refiner."""

import csv
import io
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from face3d.synth import prepare_source, rotate
from ganrefine.pairs import PairCache, build_pairs, crop_matrix, make_pair
from ganrefine.refiner import DEFAULT_WEIGHTS, Refiner, RefinerError, load_refiner
from ganrefine.train import TrainConfig, export, to_tensors, train

from .test_identity_net import requires_weights


@pytest.fixture(scope="module")
def astronaut_fit():
    from skimage import data

    from face3d.fitting import Fitter

    img = np.ascontiguousarray(data.astronaut()[:400, 56:456])
    fitter = Fitter()
    fit = fitter.fit(img)
    return img, fit, fitter.model, prepare_source(img, fit, fitter.model)


def test_make_pair_is_aligned_and_carries_artefacts(astronaut_fit):
    img, fit, model, source = astronaut_fit
    pair = make_pair(source, fit.yaw + 45, fit.pitch, size=128)
    assert pair.render.shape == pair.target.shape == (128, 128, 3) and pair.render.dtype == np.uint8
    assert pair.provenance.shape == (128, 128) and pair.landmarks.shape == (68, 2)
    assert ((pair.landmarks > 0) & (pair.landmarks < 128)).all()
    counts = np.bincount(pair.provenance.ravel(), minlength=4)
    assert counts[1] > 2000 and counts[2] + counts[3] > 100  # the far side was never seen at +45
    diff = np.abs(pair.render.astype(float) - pair.target.astype(float)).mean()
    assert 1.0 < diff < 30  # aligned (small error) but not a copy of the photo
    assert abs(pair.via[0] - (fit.yaw + 45)) < 0.5 and abs(pair.pose[0] - fit.yaw) < 1e-6
    m = crop_matrix((10, 20, 110, 140), 128)
    assert np.allclose(m @ [60, 80, 1], [64, 64])  # crop centred on the box


def test_pairs_only_from_devtrain(tmp_path):
    with pytest.raises(ValueError, match="DevTrain"):
        build_pairs(tmp_path, photos=1, split="DevTest")


def test_flip_augmentation_mirrors_landmarks():
    b = {
        "render": np.zeros((1, 8, 8, 3), np.uint8),
        "target": np.zeros((1, 8, 8, 3), np.uint8),
        "provenance": np.zeros((1, 8, 8), np.uint8),
        "landmarks": np.zeros((1, 68, 2), np.float32),
    }
    b["render"][0, :, 0] = 255
    b["landmarks"][0, 36] = [2.0, 3.0]  # a right-eye corner
    r, _, lm, _ = to_tensors(b, torch.device("cpu"), np.array([True]))
    assert r[0, :, :, -1].min() == 1 and r[0, :, :, 0].max() == 0
    assert torch.allclose(lm[0, 45], torch.tensor([6.0, 3.0]))


def _tiny_cache(folder, pair, n=20):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    arrays = {k: np.stack([getattr(pair, k)] * n) for k in ("render", "provenance", "landmarks", "target")}
    arrays["render"] = np.clip(arrays["render"].astype(int) + rng.integers(-8, 9, arrays["render"].shape), 0, 255).astype(
        np.uint8
    )
    arrays["pose"] = np.tile(np.array(pair.pose, np.float32), (n, 1))
    arrays["via"] = np.tile(np.array(pair.via, np.float32), (n, 1))
    arrays["source"] = np.array([f"x/{i}.jpg" for i in range(n)])
    np.savez(folder / "pairs-00000.npz", **arrays)
    (folder / "pairs.json").write_text(json.dumps({"split": "DevTrain", "photos": n}))


@requires_weights
def test_train_checkpoint_resume_log_samples_export_and_refine(tmp_path, astronaut_fit):
    img, fit, model, source = astronaut_fit
    pair = make_pair(source, fit.yaw + 30, fit.pitch, size=64)
    _tiny_cache(tmp_path / "pairs", pair)
    assert len(PairCache(tmp_path / "pairs")) == 20
    cfg = TrainConfig.from_dict(
        {
            "out": str(tmp_path / "run"),
            "pairs": {"folder": str(tmp_path / "pairs")},
            "generator": {"size": 64, "width": 8, "local_width": 8},
            "batch": 4,
            "steps": 3,
            "holdout": 4,
            "adversarial_from": 1,
            "log_every": 1,
            "sample_every": 3,
            "checkpoint_every": 2,
            "device": "cpu",
        }
    )
    ckpt = train(cfg, progress=False)
    ck = torch.load(ckpt, weights_only=False)
    assert ck["step"] == 3
    first = {k: v.clone() for k, v in ck["generator"].items()}
    from dataclasses import replace

    train(replace(cfg, steps=5), progress=False)  # resumes at step 3
    ck = torch.load(ckpt, weights_only=False)
    assert ck["step"] == 5 and any(not torch.equal(first[k], v) for k, v in ck["generator"].items())
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5]
    assert rows[2]["val_l1"] != "" and float(rows[-1]["d_loss"]) >= 0 and np.isfinite(float(rows[-1]["loss"]))
    assert (tmp_path / "run" / "samples" / "step000003.png").is_file()

    weights = export(ckpt, tmp_path / "ref.pt", metrics={"note": "test"})
    ref = Refiner(weights)
    assert ref.size == 64 and ref.metrics == {"note": "test"} and ref.training["step"] == 5
    view = rotate(source, fit.yaw + 20)
    out = ref.refine_views([view, view])
    assert len(out) == 2 and out[0].image.shape == view.image.shape and out[0].extra["refiner"] == str(weights)
    changed = np.abs(out[0].image.astype(int) - view.image.astype(int)).max(2) > 0
    ys, xs = np.nonzero(changed)
    x0, y0, x1, y1 = view.box
    assert changed.any() and xs.min() >= x0 - 0.5 * (x1 - x0) and xs.max() <= x1 + 0.5 * (x1 - x0)  # only near the face

    # fine-tuning: a new run starts from the exported weights, and its export says so
    tuned = replace(cfg, out=str(tmp_path / "tune"), steps=1, init=str(weights))
    ck = torch.load(train(tuned, progress=False), weights_only=False)
    assert ck["step"] == 1  # a fresh run (its own step count), not a resume
    again = Refiner(export(tmp_path / "tune" / "checkpoint.pt", tmp_path / "tuned.pt"))
    assert again.training["init"]["path"] == str(weights) and again.training["init"]["step"] == 5
    # CAPG-GAN's pose guidance and couple-agent discriminator, started from the unguided weights
    guided = replace(
        tuned, out=str(tmp_path / "guided"), generator=replace(cfg.generator, heatmap_sigma=1.5), discriminator="couple"
    )
    ck = torch.load(train(guided, progress=False), weights_only=False)
    assert ck["generator"]["global_path.inp.0.weight"].shape[1] == 7 + 5
    assert "pose_agent.critics.0.0.weight" in ck["discriminator"]
    guided_ref = Refiner(export(tmp_path / "guided" / "checkpoint.pt", tmp_path / "guided.pt"))
    assert guided_ref.refine_views([view])[0].image.shape == view.image.shape
    with pytest.raises(ValueError, match="discriminator"):
        train(replace(tuned, out=str(tmp_path / "bad3"), discriminator="triple"), progress=False)
    with pytest.raises(ValueError, match="configured"):
        train(replace(tuned, out=str(tmp_path / "bad"), generator=replace(cfg.generator, width=4)), progress=False)
    with pytest.raises(FileNotFoundError, match="initial refiner weights"):
        train(replace(tuned, out=str(tmp_path / "bad2"), init=str(tmp_path / "nope.pt")), progress=False)


def test_refiner_errors_are_clear(tmp_path):
    with pytest.raises(RefinerError, match="not found"):
        Refiner(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(RefinerError, match="corrupt"):
        Refiner(bad)
    other = tmp_path / "other.pt"
    buf = io.BytesIO()
    torch.save({"weights": torch.zeros(2)}, buf)
    other.write_bytes(buf.getvalue())
    with pytest.raises(RefinerError, match="not a facerot refiner"):
        Refiner(other)
    assert load_refiner(None) is None and load_refiner("none") is None


def test_auto_refiner_falls_back_with_a_warning(monkeypatch, tmp_path):
    import ganrefine.refiner as r

    monkeypatch.setattr(r, "DEFAULT_WEIGHTS", tmp_path / "gone.pt")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert load_refiner("auto") is None
    assert any("raw renders" in str(x.message) for x in w)
    with pytest.raises(RefinerError):
        load_refiner("default")


def test_shipped_refiner_loads_and_is_small():
    assert DEFAULT_WEIGHTS.is_file(), "the package ships trained refiner weights"
    assert DEFAULT_WEIGHTS.stat().st_size < 25e6
    ref = Refiner()
    assert ref.training.get("step", 0) > 0 and ref.training["pairs"]["split"] == "DevTrain"
    assert ref.metrics, "the shipped weights carry their measured metrics"


class _Payload:
    """Unpickling this object would run code: it writes a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "code ran"))


def test_checkpoints_are_read_without_running_code(tmp_path):
    import torch

    from ganrefine.train import TrainConfig, export, load_checkpoint, train

    marker = tmp_path / "pwned.txt"
    bad = tmp_path / "run" / "checkpoint.pt"
    bad.parent.mkdir()
    torch.save({"generator": {}, "step": 3, "payload": _Payload(str(marker))}, bad)
    with pytest.raises(ValueError, match="read safely"):
        load_checkpoint(bad)
    cfg = TrainConfig(out=str(tmp_path / "run"), steps=1)
    with pytest.raises(ValueError, match="read safely"):
        train(cfg, resume=True, progress=False)  # resume reads out/checkpoint.pt
    with pytest.raises(ValueError, match="read safely"):
        export(bad, tmp_path / "w.pt")
    from dataclasses import replace

    with pytest.raises(ValueError, match="read safely"):
        train(replace(cfg, out=str(tmp_path / "other"), init=str(bad)), resume=False, progress=False)
    assert not marker.exists()
    good = tmp_path / "good.pt"
    torch.save({"generator": {"w": torch.ones(2)}, "step": 3, "config": {"lr": 1e-4, "betas": (0.5, 0.9)}}, good)
    assert load_checkpoint(good)["step"] == 3


def test_pair_seeds_are_the_same_in_every_process():
    import subprocess
    import sys

    from ganrefine.pairs import photo_seed

    path = Path("/any/where/images/Aaron_Peirsol/Aaron_Peirsol_0001.jpg")
    code = "from pathlib import Path; from ganrefine.pairs import photo_seed; print(photo_seed(Path(%r)))" % str(path)
    other = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert photo_seed(path) == other == photo_seed(Path("Aaron_Peirsol/Aaron_Peirsol_0001.jpg"))
    assert photo_seed(path) != photo_seed(path.with_name("Aaron_Peirsol_0002.jpg"))


def test_pairs_can_be_weighted_toward_large_yaw():
    from ganrefine.pairs import sample_target

    rng = np.random.default_rng(0)
    plain = np.array([sample_target(rng, (5.0, 0.0, 0.0))[0] for _ in range(500)])
    rng = np.random.default_rng(0)
    again = np.array([sample_target(rng, (5.0, 0.0, 0.0), large_yaw_share=0.0)[0] for _ in range(500)])
    assert np.array_equal(plain, again)  # share 0: the same stream as before the option
    wide = np.array([sample_target(rng, (5.0, 0.0, 0.0), large_yaw_share=0.7)[0] for _ in range(500)])
    assert np.abs(wide).max() <= 75 and (np.abs(wide) >= 45).mean() > 0.7 > (np.abs(plain) >= 45).mean()
    assert (np.abs(wide - 5.0) >= 10).all()


CONFIGS = Path(__file__).resolve().parent.parent / "configs"


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("refiner*.json")))
def test_shipped_training_configs_load_and_start(name):
    from ganrefine.networks import TwoPathwayGenerator, widen_inputs
    from ganrefine.train import _init_state

    cfg = TrainConfig.load(CONFIGS / name)
    gen = TwoPathwayGenerator(cfg.generator)
    assert sum(p.numel() for p in gen.parameters()) * 2 < 25e6  # fp16 export within 25 MB
    assert cfg.discriminator in ("patch", "couple")
    init = CONFIGS.parent / cfg.init if cfg.init else None
    if init is not None and init.parts[-3:-1] == ("ganrefine", "data"):  # shipped weights: they fit
        gen.load_state_dict(widen_inputs(_init_state(init, cfg.generator), gen))
