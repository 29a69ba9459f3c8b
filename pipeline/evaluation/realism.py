"""Realism: can a classifier tell synthesised views from real photos at the same pose?

A classifier two-sample test (Lopez-Paz & Oquab, ICLR 2017): a small CNN learns to tell real face
crops from synthesised ones on one set of people and is tested on other people. Its test accuracy
is 0.5 when the two are indistinguishable to it, 1.0 when every view gives itself away. The views
are pose-matched: each real photo has a view of *another* person's near-frontal photo made at its
yaw and pitch, so pose cannot give a view away, only how it looks. Accuracy is reported per yaw
band with a bootstrap interval, for raw renders and refined views alike.

The crops are the face's box (from the 68 landmarks of the fit, or of the view) grown by a margin
and resized to 64 × 64, the same for both classes; a random horizontal flip augments training.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

#: |yaw| bands, degrees.
BANDS = ((0, 10), (10, 20), (20, 35), (35, 50), (50, 75))
CROP = 64
#: Crop side as a multiple of the landmarks' box (face and a little hair, background and chin).
CROP_MARGIN = 1.4


def face_crop(image: np.ndarray, landmarks68: np.ndarray, size: int = CROP, margin: float = CROP_MARGIN) -> np.ndarray:
    """(size, size, 3) uint8: the square around the landmarks' box, ``margin`` times its side."""
    import cv2

    from face3d.landmarks import box_of
    from face3d.region import crop_matrix, warp_crop

    return warp_crop(image, crop_matrix(box_of(landmarks68), size, margin), size, border=cv2.BORDER_CONSTANT)


@dataclass
class CropSet:
    """Face crops of one kind (real photos, or views) with the yaw each shows and its identity."""

    crops: list[np.ndarray] = field(default_factory=list)
    yaws: list[float] = field(default_factory=list)
    people: list[str] = field(default_factory=list)

    def add(self, crop: np.ndarray, yaw: float, person: str) -> None:
        self.crops.append(crop)
        self.yaws.append(float(yaw))
        self.people.append(person)

    def __len__(self) -> int:
        return len(self.crops)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.stack(self.crops) if self.crops else np.zeros((0, CROP, CROP, 3), np.uint8), np.asarray(self.yaws)


class RealismNet(nn.Module):
    """A small CNN: 64 × 64 RGB → logit of "real". Four conv blocks (stride 2), global pooling."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        chans = [3, width, 2 * width, 4 * width, 4 * width]
        layers: list[nn.Module] = []
        for a, b in zip(chans[:-1], chans[1:]):
            layers += [nn.Conv2d(a, b, 3, 2, 1), nn.BatchNorm2d(b), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(chans[-1], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean((2, 3)))[:, 0]


def _tensor(crops: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def train_classifier(
    real: np.ndarray, fake: np.ndarray, epochs: int = 12, batch: int = 64, seed: int = 0, progress: bool = False
) -> RealismNet:
    """A :class:`RealismNet` trained to tell ``real`` (N, 64, 64, 3) from ``fake`` crops; the classes
    are balanced by sampling each batch half from each."""
    from tqdm import tqdm

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = RealismNet()
    opt = torch.optim.Adam(net.parameters(), 1e-3, weight_decay=1e-4)
    xr, xf = _tensor(real), _tensor(fake)
    steps = epochs * max(1, (len(real) + len(fake)) // batch)
    loss_fn = nn.BCEWithLogitsLoss()
    net.train()
    for _ in tqdm(range(steps), disable=not progress, desc="realism classifier"):
        ir, jf = rng.integers(0, len(xr), batch // 2), rng.integers(0, len(xf), batch // 2)
        x = torch.cat([xr[ir], xf[jf]])
        flip = torch.from_numpy(rng.random(len(x)) < 0.5)
        x[flip] = x[flip].flip(3)
        y = torch.cat([torch.ones(len(ir)), torch.zeros(len(jf))])
        loss = loss_fn(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net.eval()


@torch.no_grad()
def predict_real(net: RealismNet, crops: np.ndarray, batch: int = 256) -> np.ndarray:
    """P(real) per crop (the mean over the crop and its mirror image)."""
    out = []
    for i in range(0, len(crops), batch):
        x = _tensor(crops[i : i + batch])
        out.append(0.5 * (torch.sigmoid(net(x)) + torch.sigmoid(net(x.flip(3)))).numpy())
    return np.concatenate(out) if out else np.zeros(0)


def band_of(yaw: float, bands: Sequence[tuple[float, float]] = BANDS) -> int | None:
    a = abs(yaw)
    for i, (lo, hi) in enumerate(bands):
        if lo <= a < hi:
            return i
    return None


def two_sample_test(
    train_real: CropSet,
    train_fake: CropSet,
    test_real: CropSet,
    test_fake: CropSet,
    epochs: int = 12,
    seed: int = 0,
    progress: bool = False,
    keep_net: bool = False,
) -> dict[str, Any]:
    """Train on one pair of sets, test on the other: accuracy overall and per yaw band, each with
    a 95% bootstrap interval (accuracy on a band's real and view crops together, weighted equally).
    ``keep_net``: the trained classifier is returned too, under ``"net"``."""
    tr, _ = train_real.arrays()
    tf, _ = train_fake.arrays()
    net = train_classifier(tr, tf, epochs=epochs, seed=seed, progress=progress)
    er, yr = test_real.arrays()
    ef, yf = test_fake.arrays()
    correct_r = predict_real(net, er) >= 0.5
    correct_f = predict_real(net, ef) < 0.5
    rows = []
    for i, (lo, hi) in enumerate(BANDS):
        r = correct_r[[band_of(y) == i for y in yr]] if len(yr) else np.zeros(0, bool)
        f = correct_f[[band_of(y) == i for y in yf]] if len(yf) else np.zeros(0, bool)
        rows.append({"band": f"{lo}–{hi}°", **_accuracy(r, f)})
    out = {
        "overall": _accuracy(correct_r, correct_f),
        "bands": rows,
        "train": {"real": len(train_real), "views": len(train_fake)},
    }
    return {**out, "net": net} if keep_net else out


def _accuracy(correct_real: np.ndarray, correct_fake: np.ndarray) -> dict[str, Any]:
    """Balanced accuracy (the mean of the two classes' accuracies) and its bootstrap interval."""
    if not len(correct_real) or not len(correct_fake):
        return {"accuracy": None, "lo": None, "hi": None, "real": len(correct_real), "views": len(correct_fake)}
    rng = np.random.default_rng(0)
    boots = [
        0.5 * (rng.choice(correct_real, len(correct_real)).mean() + rng.choice(correct_fake, len(correct_fake)).mean())
        for _ in range(2000)
    ]
    acc = 0.5 * (float(correct_real.mean()) + float(correct_fake.mean()))
    return {
        "accuracy": acc,
        "lo": float(np.quantile(boots, 0.025)),
        "hi": float(np.quantile(boots, 0.975)),
        "real": len(correct_real),
        "views": len(correct_fake),
    }


#: The shipped realism scorer (trained by ``bench/realism.py --export-scorer``; see data/README.md).
SCORER_FILE = "realism_scorer.pt"


def default_scorer_path() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / SCORER_FILE


def save_scorer(net: RealismNet, path: str | Path, meta: dict[str, Any]) -> None:
    """The classifier's weights (fp16) and ``meta`` (what it was trained on, what it measured)."""
    from face3d.files import atomic_write

    buf = io.BytesIO()
    torch.save({"state": {k: v.half() for k, v in net.state_dict().items()}, "meta": json.dumps(meta)}, buf)
    atomic_write(path, buf.getvalue())


class RealismScorer:
    """P(real) of a view's face: the realism classifier applied to the face crop around its 68
    landmarks (the crops it was trained on), averaged with the crop's mirror image.

    Raises:
        FileNotFoundError: no scorer at ``path`` (the message says how to make one).
    """

    def __init__(self, path: str | Path | None = None) -> None:
        from ganrefine.train import load_checkpoint

        p = Path(path) if path is not None else default_scorer_path()
        if not p.is_file():
            raise FileNotFoundError(
                f"realism scorer not found: {p} (train one: cd bench && python realism.py --export-scorer {p})"
            )
        saved = load_checkpoint(p)
        self.net = RealismNet()
        self.net.load_state_dict({k: v.float() for k, v in saved["state"].items()})
        self.net.eval()
        self.meta: dict[str, Any] = json.loads(saved["meta"])

    def score(self, image: np.ndarray, landmarks68: np.ndarray) -> float:
        lm = np.asarray(landmarks68, np.float64)
        crop = face_crop(image, lm[np.isfinite(lm).all(1)])
        return round(float(predict_real(self.net, crop[None])[0]), 4)


__all__ = [
    "BANDS",
    "CropSet",
    "RealismNet",
    "RealismScorer",
    "face_crop",
    "predict_real",
    "save_scorer",
    "train_classifier",
    "two_sample_test",
]
