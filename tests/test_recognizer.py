"""The training-utility experiment's parts (issue 29): crops read through an augment manifest,
arms' data, resumable training, verification and identification."""

import json

import cv2
import numpy as np
import pytest
import torch

from pipeline.augment.manifest import ManifestRecord
from pipeline.evaluation.recognizer import (
    ArmSpec,
    CropBank,
    PairSet,
    TrainConfig,
    arm_data,
    identification,
    read_crops,
    train,
    verify,
)


def _fake_augment_output(root, people=3, photos=2, views=4):
    """An augment output as `facerot augment --size 96 --include-originals` writes it."""
    rng = np.random.default_rng(0)
    lm = np.stack(np.meshgrid(np.linspace(30, 66, 17), np.linspace(30, 70, 4)), -1).reshape(-1, 2)[:68]
    lines = []
    for p in range(people):
        for k in range(photos):
            src = f"/data/P{p}/P{p}_{k:04d}.jpg"
            for v in range(views + 1):
                out = f"P{p}/img{k}_{v}.png"
                (root / f"P{p}").mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(root / out), rng.integers(0, 255, (96, 96, 3), dtype=np.uint8))
                orig = v == views
                rec = ManifestRecord(
                    src,
                    f"P{p}",
                    "ok",
                    output=out,
                    original=orig,
                    yaw=None if orig else -30.0 + 15 * v,
                    pitch=None if orig else 0.0,
                    achieved=[float(10 * k), 0.0, 0.0],
                    landmarks68=lm.tolist(),
                )
                lines.append(rec.to_json())
    lines.append(ManifestRecord("/data/bad.jpg", "P0", "failed", error="NoFaceError: no face").to_json())
    (root / "manifest.jsonl").write_text("\n".join(lines) + "\n")


def test_crops_through_the_manifest_and_arms(tmp_path):
    _fake_augment_output(tmp_path / "aug")
    bank = read_crops(tmp_path / "aug", tmp_path / "cache.npz", progress=False)
    assert len(bank) == 30 and bank.original.sum() == 6 and bank.images.shape[1:] == (64, 64, 3)
    assert (tmp_path / "cache.npz").is_file()
    again = read_crops(tmp_path / "aug", tmp_path / "cache.npz", progress=False)
    assert np.array_equal(again.images, bank.images) and np.array_equal(again.source, bank.source)
    photos = bank.subset(bank.original)
    plain = arm_data(ArmSpec("a"), photos, {}, seed=0)
    assert len(plain.images) == 6 and plain.classes == 3
    two = arm_data(ArmSpec("c", "v", 2), photos, {"v": bank}, seed=0)
    assert len(two.images) == 6 + 6 * 2 and sorted(np.bincount(two.labels)) == [6, 6, 6]
    assert np.array_equal(two.images, arm_data(ArmSpec("c", "v", 2), photos, {"v": bank}, seed=0).images)
    assert not np.array_equal(two.images, arm_data(ArmSpec("c", "v", 2), photos, {"v": bank}, seed=1).images)
    many = arm_data(ArmSpec("c", "v", 9), photos, {"v": bank}, seed=0)
    assert len(many.images) == 6 + 6 * 4  # no more views than a photo has


def test_training_resumes_to_the_same_weights(tmp_path):
    rng = np.random.default_rng(0)
    from pipeline.evaluation.recognizer import TrainSet

    data = TrainSet(rng.integers(0, 255, (40, 64, 64, 3), dtype=np.uint8), rng.integers(0, 5, 40), 5, 40)
    cfg = TrainConfig(steps=4, batch=8, warmup=1, checkpoint_every=2)
    whole, info = train(data, True, 3, cfg, tmp_path / "whole.pt", log=None)
    assert info["finished"] and info["steps"] == 4
    part, info = train(data, True, 3, cfg, tmp_path / "part.pt", time_limit=0.0, log=None)
    assert not info["finished"] and info["steps"] == 1
    resumed, info = train(data, True, 3, cfg, tmp_path / "part.pt", log=None)
    assert info["finished"]
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_training_on_a_gpu_draws_the_cpu_runs_batches(tmp_path):
    rng = np.random.default_rng(0)
    from pipeline.evaluation.recognizer import TrainSet, embed

    data = TrainSet(rng.integers(0, 255, (40, 64, 64, 3), dtype=np.uint8), rng.integers(0, 5, 40), 5, 40)
    nets = {}
    for device in ("cpu", "cuda"):
        cfg = TrainConfig(steps=3, batch=8, warmup=1, device=device)
        nets[device], info = train(data, True, 3, cfg, tmp_path / f"{device}.pt", log=None)
        assert info["finished"]
    a, b = (embed(nets[d], data.images[:6]) for d in ("cpu", "cuda"))
    assert np.abs(a - b).max() < 0.05


def test_verification_and_identification_outcomes():
    rng = np.random.default_rng(0)
    ids = np.repeat(np.arange(20), 3)
    centres = rng.standard_normal((20, 16))
    emb = centres[ids] + 0.05 * rng.standard_normal((60, 16))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    a = np.concatenate([np.arange(0, 60, 3), np.arange(0, 60, 3)])
    b = np.concatenate([np.arange(1, 60, 3), (np.arange(0, 60, 3) + 3) % 60])
    pairs = PairSet(a, b, np.r_[np.ones(20, bool), np.zeros(20, bool)], np.arange(40) % 10, np.zeros(40))
    assert verify(emb, pairs).mean() == 1.0
    noise = rng.standard_normal((60, 16))
    assert verify(noise / np.linalg.norm(noise, axis=1, keepdims=True), pairs).mean() < 0.8
    yaw = np.tile([20.0, 0.0, 40.0], 20).astype(np.float32)
    bank = CropBank(
        np.zeros((60, 1, 1, 3), np.uint8),
        np.array([f"p{i}" for i in ids]),
        np.array([str(i) for i in range(60)]),
        np.ones(60, bool),
        yaw,
        np.zeros(60, np.float32),
        np.full((60, 2), np.nan, np.float32),
        np.array([""] * 60),
    )
    hits, gap = identification(emb, bank)
    assert hits.all() and len(hits) == 40 and sorted(set(gap.tolist())) == [20.0, 40.0]  # gallery: the 0° photo


@pytest.mark.parametrize("bad", ["", "{not json"])
def test_torn_manifest_line_is_left_out(tmp_path, bad):
    _fake_augment_output(tmp_path / "aug", people=1, photos=1, views=1)
    with open(tmp_path / "aug" / "manifest.jsonl", "a") as fh:
        fh.write(bad)
    assert len(read_crops(tmp_path / "aug", progress=False)) == 2
    assert json.loads((tmp_path / "aug" / "manifest.jsonl").read_text().splitlines()[0])["status"] == "ok"
