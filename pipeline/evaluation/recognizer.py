"""Training utility: does a recognizer *trained* on facerot views recognise faces across pose better?

A compact CNN (:class:`RecognizerNet`: seven conv layers, MobileFaceNet's global depthwise head, a
128-d embedding; 0.3 M parameters) is trained from scratch with an additive-margin softmax
(CosFace: ``s·(cos θ_y - m)``) on face crops read through ``facerot augment``'s manifest: the
photos (``--include-originals`` with ``--size``: cropped as their views are) and their views. Arms
differ only in the data they draw from (:class:`ArmSpec`); steps, batch, schedule and seeds are
equal. Each run checkpoints and resumes (:func:`train`).

Evaluation is on people never trained on: verification of given pairs (10-fold thresholds, the LFW
way) overall and by pose gap (the fits' yaw difference), and rank-1 identification with each
person's most frontal photo as the gallery (:func:`evaluate`).

Crops: the square around the manifest's 68 landmarks (``CROP_MARGIN`` × their box), 64 × 64.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .realism import face_crop

CROP = 64
CROP_MARGIN = 1.25
#: pose-gap bands of the evaluation, degrees of yaw difference
GAPS = ((0.0, 15.0), (15.0, 30.0), (30.0, 180.0))


@dataclass
class CropBank:
    """Face crops of one ``augment`` output, one row per written image of its manifest.

    Attributes:
        images: (N, CROP, CROP, 3) uint8.
        identity, source: per row, the photo's identity and its key in the dataset.
        original: per row, the photo itself (True) or one of its views.
        yaw, pitch: the pose of the row (the photo's fit; a view's achieved pose).
        target: per row, the view's (yaw, pitch) target, NaN for photos.
        refiner: per row, the refiner that made the view (``""`` for raw renders and photos).
    """

    images: np.ndarray
    identity: np.ndarray
    source: np.ndarray
    original: np.ndarray
    yaw: np.ndarray
    pitch: np.ndarray
    target: np.ndarray
    refiner: np.ndarray

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, mask: np.ndarray) -> "CropBank":
        return CropBank(**{k: getattr(self, k)[mask] for k in self.__dataclass_fields__})


def read_crops(root: str | Path, cache: str | Path | None = None, progress: bool = True) -> CropBank:
    """The crops of every ``ok`` record of ``root/manifest.jsonl`` (cached in ``cache``, an .npz,
    rebuilt when the manifest has more records than the cache)."""
    from tqdm import tqdm

    from face3d.imageio import read_image

    from ..augment.manifest import MANIFEST, read_manifest

    recs = [r for r in read_manifest(Path(root) / MANIFEST) if r.status == "ok" and r.output and r.landmarks68]
    if cache is not None and Path(cache).is_file():
        with np.load(cache, allow_pickle=False) as z:
            if len(z["images"]) == len(recs):
                return CropBank(**{k: z[k] for k in z.files})
    rows: dict[str, list[Any]] = {k: [] for k in CropBank.__dataclass_fields__}
    for r in tqdm(recs, desc=f"crops {Path(root).name}", disable=not progress, mininterval=5):
        lm = np.asarray(r.landmarks68, np.float64)
        rows["images"].append(face_crop(read_image(Path(root) / r.output), lm[np.isfinite(lm).all(1)], CROP, CROP_MARGIN))
        rows["identity"].append(r.identity)
        rows["source"].append(r.source)
        rows["original"].append(bool(r.original))
        pose = r.achieved or [np.nan] * 3
        rows["yaw"].append(pose[0])
        rows["pitch"].append(pose[1])
        rows["target"].append([np.nan, np.nan] if r.original else [r.yaw, r.pitch if r.pitch is not None else np.nan])
        rows["refiner"].append(r.refiner or "")
    bank = CropBank(
        images=np.stack(rows["images"]) if rows["images"] else np.zeros((0, CROP, CROP, 3), np.uint8),
        identity=np.array(rows["identity"], dtype=str),
        source=np.array(rows["source"], dtype=str),
        original=np.array(rows["original"], bool),
        yaw=np.array(rows["yaw"], np.float32),
        pitch=np.array(rows["pitch"], np.float32),
        target=np.array(rows["target"], np.float32).reshape(-1, 2),
        refiner=np.array(rows["refiner"], dtype=str),
    )
    if cache is not None:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(cache).with_suffix(".tmp.npz")
        np.savez(tmp, **{k: getattr(bank, k) for k in CropBank.__dataclass_fields__})
        tmp.replace(cache)
    return bank


@dataclass(frozen=True)
class ArmSpec:
    """What one arm trains on: the photos, optionally ``views_per_photo`` views of each photo drawn
    (once, by seed) from ``views`` (a bank's name), optionally with classic 2D augmentation."""

    name: str
    views: str | None = None
    views_per_photo: int = 0
    classic: bool = False


@dataclass
class TrainSet:
    """The rows an arm draws from (uniformly): images, labels (0..classes-1)."""

    images: np.ndarray
    labels: np.ndarray
    classes: int
    photos: int


def arm_data(spec: ArmSpec, photos: CropBank, banks: dict[str, CropBank], seed: int) -> TrainSet:
    """The training rows of an arm: every photo, and up to ``views_per_photo`` of each photo's
    views (a fixed draw per seed)."""
    ids = sorted(set(photos.identity.tolist()))
    label_of = {n: i for i, n in enumerate(ids)}
    images, labels = [photos.images], [np.array([label_of[n] for n in photos.identity], np.int64)]
    if spec.views and spec.views_per_photo > 0:
        bank = banks[spec.views]
        keep = set(photos.source.tolist())
        rng = np.random.default_rng(seed)
        by_source: dict[str, list[int]] = {}
        for i, s in enumerate(bank.source):
            if not bank.original[i] and s in keep:
                by_source.setdefault(str(s), []).append(i)
        rows = []
        for s in sorted(by_source):
            pool = by_source[s]
            rows += sorted(rng.choice(pool, min(spec.views_per_photo, len(pool)), replace=False).tolist())
        rows_a = np.array(rows, np.int64)
        images.append(bank.images[rows_a])
        labels.append(np.array([label_of[n] for n in bank.identity[rows_a]], np.int64))
    return TrainSet(np.concatenate(images), np.concatenate(labels), len(ids), len(photos))


def _conv(i: int, o: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(i, o, 3, stride, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))


class RecognizerNet(nn.Module):
    """Compact embedding network for 64 × 64 RGB crops in [0, 1]: (B, 3, 64, 64) -> (B, dim), not
    normalised. Seven 3 × 3 conv-BN-ReLU layers (four of stride 2, to 4 × 4), a global depthwise
    4 × 4 convolution (MobileFaceNet's GDC head) and a linear embedding; about 0.3 M parameters
    at width 16. (Plain convolutions: depthwise ones train 2-4× slower per step on a CPU.)"""

    def __init__(self, width: int = 16, dim: int = 128) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _conv(3, w, 2),  # 32
            _conv(w, 2 * w, 2),  # 16
            _conv(2 * w, 2 * w),
            _conv(2 * w, 4 * w, 2),  # 8
            _conv(4 * w, 4 * w),
            _conv(4 * w, 8 * w, 2),  # 4
            _conv(8 * w, 8 * w),
        )
        self.head = nn.Sequential(
            nn.Conv2d(8 * w, 8 * w, 4, groups=8 * w, bias=False),
            nn.BatchNorm2d(8 * w),
            nn.Flatten(),
            nn.Dropout(0.1),
            nn.Linear(8 * w, dim, bias=False),
            nn.BatchNorm1d(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features((x - 0.5) / 0.5))


class MarginHead(nn.Module):
    """CosFace: logits ``s·cos θ`` with ``m`` taken off the true class's cosine."""

    def __init__(self, dim: int, classes: int, s: float = 30.0, m: float = 0.25) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(classes, dim) * 0.01)
        self.s, self.m = s, m

    def forward(self, emb: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cos = F.normalize(emb) @ F.normalize(self.weight).T
        return self.s * (cos - self.m * F.one_hot(labels, cos.shape[1]))


@dataclass
class TrainConfig:
    """Optimisation of every arm (the same for all)."""

    steps: int = 1000  # the steps docs/results.md reports ("Training utility")
    batch: int = 128
    lr: float = 3e-3
    weight_decay: float = 0.05
    warmup: int = 100
    width: int = 16
    checkpoint_every: int = 250
    threads: int | None = None
    device: str = "cpu"  # "cuda" on a GPU machine; batches are drawn and augmented on the CPU either way


def classic_augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Flip, ±10° rotation, 0.9-1.1× scale, ±6% shift, brightness/contrast/saturation ±20% (a batch
    of (B, 3, H, W) in [0, 1], per-sample parameters from ``gen``)."""
    b, _, h, w = x.shape

    def u(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(b, generator=gen)

    flip = torch.rand(b, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    ang, sc = torch.deg2rad(u(-10, 10)), u(0.9, 1.1)
    tx, ty = u(-0.06, 0.06) * 2, u(-0.06, 0.06) * 2
    cos, sin = torch.cos(ang) / sc, torch.sin(ang) / sc
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    x = F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False), align_corners=False)
    grey = x.mean(1, keepdim=True)
    x = grey + (x - grey) * u(0.8, 1.2)[:, None, None, None]  # saturation
    mean = x.mean((1, 2, 3), keepdim=True)
    x = mean + (x - mean) * u(0.8, 1.2)[:, None, None, None]  # contrast
    return (x * u(0.8, 1.2)[:, None, None, None]).clamp(0, 1)  # brightness


def _lr(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(cfg.steps - cfg.warmup, 1)
    return cfg.lr * 0.5 * (1 + np.cos(np.pi * min(t, 1.0)))


def train(
    data: TrainSet,
    classic: bool,
    seed: int,
    cfg: TrainConfig,
    checkpoint: str | Path | None = None,
    time_limit: float | None = None,
    log: Callable[[str], None] | None = print,
) -> tuple[RecognizerNet, dict[str, Any]]:
    """Train one arm's network (resuming from ``checkpoint`` when it exists). The batch of step
    ``k`` depends only on (seed, k), so a resumed run draws what an unbroken one would.
    Returns the network (eval mode) and {"steps", "seconds", "finished", "loss"}."""
    torch.manual_seed(seed)
    dev = torch.device(cfg.device)
    net, head = RecognizerNet(cfg.width).to(dev), MarginHead(128, data.classes).to(dev)
    params = list(net.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    state = {"step": 0, "seconds": 0.0, "loss": []}
    ck = Path(checkpoint) if checkpoint else None
    if ck is not None and ck.is_file():
        from ganrefine.train import load_checkpoint

        saved = load_checkpoint(ck, dev)
        net.load_state_dict(saved["net"])
        head.load_state_dict(saved["head"])
        opt.load_state_dict(saved["opt"])
        state = {"step": int(saved["step"]), "seconds": float(saved["seconds"]), "loss": list(saved["loss"])}
    images = torch.from_numpy(data.images)  # (N, H, W, 3) uint8
    labels = torch.from_numpy(data.labels)
    t0, start = time.perf_counter(), state["seconds"]
    net.train()
    head.train()
    while state["step"] < cfg.steps:
        k = state["step"]
        gen = torch.Generator().manual_seed(seed * 1_000_003 + k)
        torch.manual_seed(seed * 1_000_003 + k)  # dropout
        idx = torch.randint(0, len(images), (cfg.batch,), generator=gen)
        x = images[idx].permute(0, 3, 1, 2).float() / 255
        x = (classic_augment(x, gen) if classic else x).to(dev)
        y = labels[idx].to(dev)
        for g in opt.param_groups:
            g["lr"] = _lr(k, cfg)
        loss = F.cross_entropy(head(net(x), y), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        state["loss"].append(float(loss.detach()))
        state["step"] = k + 1
        state["seconds"] = start + time.perf_counter() - t0
        last = state["step"] == cfg.steps
        out_of_time = time_limit is not None and time.perf_counter() - t0 > time_limit
        if ck is not None and (state["step"] % cfg.checkpoint_every == 0 or last or out_of_time):
            _save(ck, net, head, opt, state)
        if log and (state["step"] % 100 == 0 or last):
            log(f"step {state['step']}/{cfg.steps} loss {np.mean(state['loss'][-100:]):.3f} ({state['seconds']:.0f} s)")
        if out_of_time:
            break
    net.eval()
    return net, {
        "steps": state["step"],
        "seconds": state["seconds"],
        "finished": state["step"] >= cfg.steps,
        "loss": float(np.mean(state["loss"][-100:])) if state["loss"] else float("nan"),
    }


def _save(path: Path, net: nn.Module, head: nn.Module, opt: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"net": net.state_dict(), "head": head.state_dict(), "opt": opt.state_dict(), **state}, tmp)
    tmp.replace(path)


@torch.no_grad()
def embed(net: RecognizerNet, images: np.ndarray, batch: int = 512) -> np.ndarray:
    """(N, 128) unit embeddings: each crop's plus its mirror image's, normalised (on the device
    the network is on)."""
    net.eval()
    dev = next(net.parameters()).device
    out = []
    for i in range(0, len(images), batch):
        x = torch.from_numpy(images[i : i + batch]).to(dev).permute(0, 3, 1, 2).float() / 255
        e = net(x) + net(x.flip(3))
        out.append(F.normalize(e).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 128), np.float32)


@dataclass
class PairSet:
    """Verification pairs over a bank's photos: row indices, same person or not, 10 folds."""

    a: np.ndarray
    b: np.ndarray
    same: np.ndarray
    fold: np.ndarray
    gap: np.ndarray = field(default_factory=lambda: np.zeros(0))


def lfw_pairs(listing: str | Path, photos: CropBank) -> PairSet:
    """LFW's ``pairsDev*.txt`` (or ``pairs.txt``) mapped onto ``photos`` (pairs whose photos have no
    crop, their fit having failed, are left out); folds of equal size in listing order."""
    row = {Path(s).name: i for i, s in enumerate(photos.source)}
    lines = [ln.split("\t") for ln in Path(listing).read_text().splitlines()[1:] if ln.strip()]
    a, b, same = [], [], []
    for p in lines:
        if len(p) == 3:
            x, y, s = f"{p[0]}_{int(p[1]):04d}.jpg", f"{p[0]}_{int(p[2]):04d}.jpg", True
        elif len(p) == 4:
            x, y, s = f"{p[0]}_{int(p[1]):04d}.jpg", f"{p[2]}_{int(p[3]):04d}.jpg", False
        else:
            continue
        if x in row and y in row:
            a.append(row[x])
            b.append(row[y])
            same.append(s)
    n = len(a)
    fold = (np.arange(n) * 10 // max(n, 1)).astype(np.int64)
    ai, bi = np.array(a, np.int64), np.array(b, np.int64)
    return PairSet(ai, bi, np.array(same, bool), fold, np.abs(photos.yaw[ai] - photos.yaw[bi]).astype(np.float64))


def verify(emb: np.ndarray, pairs: PairSet) -> np.ndarray:
    """Per pair: correct (True) under the threshold chosen on the other nine folds."""
    sim = np.sum(emb[pairs.a] * emb[pairs.b], 1)
    correct = np.zeros(len(sim), bool)
    for f in np.unique(pairs.fold):
        tr, te = pairs.fold != f, pairs.fold == f
        u = np.unique(sim[tr])
        cands = np.r_[u[0] - 1e-6, (u[1:] + u[:-1]) / 2, u[-1] + 1e-6]  # midways between the training sims
        acc = ((sim[tr][None] >= cands[:, None]) == pairs.same[tr][None]).mean(1)
        thr = cands[int(np.argmax(acc))]
        correct[te] = (sim[te] >= thr) == pairs.same[te]
    return correct


def identification(emb: np.ndarray, photos: CropBank, max_probes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Rank-1 identification: each person's most frontal photo (least |yaw|) is the gallery (people
    with one photo stay as distractors), up to ``max_probes`` other photos each are probes.
    Per probe: hit, and its pose gap to its gallery photo."""
    from .stats import rank1_hits

    gal, probes = {}, []
    for ident in sorted(set(photos.identity.tolist())):
        rows = np.where(photos.identity == ident)[0]
        g = rows[np.argmin(np.abs(photos.yaw[rows]))]
        gal[ident] = g
        probes += [r for r in rows if r != g][:max_probes]
    g_rows = np.array(list(gal.values()), np.int64)
    p_rows = np.array(probes, np.int64)
    hits = rank1_hits(emb[p_rows], photos.identity[p_rows], emb[g_rows], photos.identity[g_rows])
    g_of = np.array([gal[str(n)] for n in photos.identity[p_rows]], np.int64)
    return hits, np.abs(photos.yaw[p_rows] - photos.yaw[g_of]).astype(np.float64)


def evaluate(net: RecognizerNet, photos: CropBank, pairs: PairSet) -> dict[str, Any]:
    """Verification accuracy (overall and per :data:`GAPS` band) and rank-1 (likewise), with the
    per-pair/per-probe outcomes kept for paired comparisons."""
    emb = embed(net, photos.images)
    ok = verify(emb, pairs)
    hits, pgap = identification(emb, photos)
    out: dict[str, Any] = {"verification": float(ok.mean()), "rank1": float(hits.mean()), "bands": {}}
    for lo, hi in GAPS:
        v, r = (pairs.gap >= lo) & (pairs.gap < hi), (pgap >= lo) & (pgap < hi)
        out["bands"][f"{lo:g}-{hi:g}"] = {
            "pairs": int(v.sum()),
            "verification": float(ok[v].mean()) if v.any() else float("nan"),
            "probes": int(r.sum()),
            "rank1": float(hits[r].mean()) if r.any() else float("nan"),
        }
    out["pair_correct"] = ok.astype(int).tolist()
    out["probe_hits"] = hits.astype(int).tolist()
    return out


def save_json(path: str | Path, data: dict[str, Any]) -> None:
    from face3d.files import atomic_write

    atomic_write(Path(path), json.dumps(data).encode())


def seeds_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and 95% t-interval over seeds."""
    x = np.asarray(values, np.float64)
    if x.size < 2:
        return float(x.mean()) if x.size else float("nan"), float("nan"), float("nan")
    from scipy import stats

    h = stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    return float(x.mean()), float(x.mean() - h), float(x.mean() + h)
