"""Glasses detector: build it on hand-labelled LFW DevTrain photos, report it on DevTest.

``bench/data/glasses_labels.json`` holds, per split, one photo (``<Name>_0001.jpg``) of randomly
drawn people and whether the face wears glasses (labelled by eye on the aligned eye band: 77 of 400
DevTrain, 45 of 200 DevTest). ``--build`` fits the logistic regression of
:mod:`face3d.occluders` on DevTrain (class-balanced, L2) and writes
``face3d/data/glasses_detector.npz``; every run reports 5-fold cross-validation on DevTrain and
the shipped detector on DevTest, and draws the frame masks of DevTest faces it finds glasses on.

    python bench/glasses_detector.py [--build]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from common import save, table

from face3d.occluders import detect_glasses, eye_band, glasses_score, presence_features
from face3d.settings import lfw_dir

ROOT = Path(__file__).resolve().parents[1]
LABELS = Path(__file__).resolve().parent / "data" / "glasses_labels.json"
TARGET = ROOT / "face3d" / "data" / "glasses_detector.npz"
#: L2 strength of the regression (inverse, per photo), chosen by DevTrain cross-validation.
C = 0.001


def load(split: str) -> tuple[list[str], list[np.ndarray], list[np.ndarray], np.ndarray]:
    """(names, photos, 68 landmarks, labels) of a split's labelled photos that MediaPipe finds."""
    import cv2

    from face3d.landmarks import NoFaceError, get_detector

    det = get_detector("mediapipe")
    names, images, points, labels = [], [], [], []
    for name, label in json.loads(LABELS.read_text())[split].items():
        img = cv2.cvtColor(cv2.imread(str(lfw_dir() / "images" / name / f"{name}_0001.jpg")), cv2.COLOR_BGR2RGB)
        try:
            pts = det.detect(img)[0].points68
        except NoFaceError:
            continue
        names.append(name)
        images.append(img)
        points.append(pts)
        labels.append(label)
    return names, images, points, np.array(labels)


def fit_regression(x: np.ndarray, y: np.ndarray, c: float = C) -> dict[str, np.ndarray]:
    """Class-balanced, L2-regularised logistic regression on standardised features."""
    import torch

    mean, std = x.mean(0), x.std(0) + 1e-6
    z = torch.tensor((x - mean) / std)
    t = torch.tensor(y, dtype=torch.float32)
    w = torch.zeros(z.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    pos_weight = torch.tensor((len(y) - y.sum()) / max(y.sum(), 1), dtype=torch.float32)
    opt = torch.optim.LBFGS([w, b], max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z @ w + b, t, pos_weight=pos_weight)
        loss = loss + 0.5 / (c * len(y)) * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return {
        "mean": mean.astype(np.float32),
        "std": std.astype(np.float32),
        "weight": w.detach().numpy().astype(np.float32),
        "bias": b.detach().numpy().astype(np.float32),
    }


def wilson(k: int, n: int) -> tuple[float, float, float]:
    """k/n with its 95% Wilson interval."""
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    p, z = k / n, 1.96
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return p, centre - half, centre + half


def scores_row(name: str, pred: np.ndarray, y: np.ndarray) -> tuple[list[object], dict[str, object]]:
    acc = wilson(int((pred == y).sum()), len(y))
    rec = wilson(int((pred & (y == 1)).sum()), int((y == 1).sum()))
    fpr = wilson(int((pred & (y == 0)).sum()), int((y == 0).sum()))
    fmt = lambda m: f"{100 * m[0]:.1f} [{100 * m[1]:.1f}, {100 * m[2]:.1f}]"  # noqa: E731
    return [name, len(y), int(y.sum()), fmt(acc), fmt(rec), fmt(fpr)], {"accuracy": acc, "recall": rec, "false_positive": fpr}


def mask_grid(images: list[np.ndarray], points: list[np.ndarray], path: Path, n: int = 12) -> None:
    """Band crops of faces found wearing glasses, each beside its frame mask (magenta)."""
    import cv2

    tiles = []
    for img, pts in zip(images, points):
        g = detect_glasses(img, pts)
        if not g.present:
            continue
        shown = img.astype(np.float32)
        shown += g.mask[..., None] * (np.array([255.0, 0, 255]) - shown) * 0.7
        a, _ = eye_band(img, pts)
        b, _ = eye_band(shown.clip(0, 255).astype(np.uint8), pts)
        tiles.append(np.concatenate([a, b], 1))
        if len(tiles) == n:
            break
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % 3)
    rows = [np.concatenate(tiles[i : i + 3], 1) for i in range(0, len(tiles), 3)]
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(rows, 0), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", action="store_true", help=f"fit on DevTrain and write {TARGET.relative_to(ROOT)}")
    args = ap.parse_args()
    _, tr_img, tr_pts, y_tr = load("DevTrain")
    x_tr = np.stack([presence_features(eye_band(i, p)[0]) for i, p in zip(tr_img, tr_pts)])
    folds = np.arange(len(y_tr)) % 5
    cv = np.zeros(len(y_tr), bool)
    for f in range(5):
        d = fit_regression(x_tr[folds != f], y_tr[folds != f])
        cv[folds == f] = ((x_tr[folds == f] - d["mean"]) / d["std"]) @ d["weight"] + d["bias"].item() > 0
    if args.build:
        np.savez_compressed(TARGET, **fit_regression(x_tr, y_tr))
        print(f"wrote {TARGET.relative_to(ROOT)}")
    _, te_img, te_pts, y_te = load("DevTest")
    test = np.array([glasses_score(eye_band(i, p)[0]) > 0 for i, p in zip(te_img, te_pts)])
    rows, out = [], {}
    for name, pred, y in (("DevTrain, 5-fold cross-validation", cv, y_tr), ("DevTest, shipped detector", test, y_te)):
        row, rec = scores_row(name, pred, y)
        rows.append(row)
        out[name] = rec
    heads = ["photos", "n", "with glasses", "accuracy %", "glasses found %", "false alarms %"]
    print(table(heads, rows, "Glasses detector (hand labels; 95% Wilson intervals)"))
    save("glasses_detector", out)
    mask_grid(te_img, te_pts, ROOT / "docs" / "glasses_masks.jpg")
    print("grid: docs/glasses_masks.jpg")


if __name__ == "__main__":
    main()
