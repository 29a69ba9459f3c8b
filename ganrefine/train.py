"""Training the refiner: ``facerot train-refiner --config CFG`` (or :func:`train` from Python).

Pairs come from :mod:`ganrefine.pairs` (built and cached on first use). Each step: the generator
refines a batch of back-renders; the losses of :mod:`ganrefine.losses` compare the result with the
real photos (multi-scale L1, symmetry where valid, identity on the frozen MobileFaceNet, total
variation) and, after a warm-up, a hinge adversarial loss against a multi-scale patch
discriminator. Everything a long run needs is here: deterministic seeds, a checkpoint every N
steps (written atomically) and automatic resume, a CSV log of every loss, sample grids, a
held-out validation set, progress with ETA, CPU or CUDA (mixed precision on CUDA), and a time
limit so a CPU run can stop cleanly and resume later.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from face3d.landmarks.flip import IBUG68_MIRROR

from .losses import LossWeights, hinge_d, hinge_g, identity, multiscale_l1, symmetry, total_variation
from .networks import CoupleAgentDiscriminator, GeneratorConfig, PatchDiscriminator, TwoPathwayGenerator, widen_inputs


@dataclass
class PairsConfig:
    folder: str = "out/pairs128"
    photos: int | None = 6000
    per_photo: int = 1
    workers: int = 2
    seed: int = 0
    large_yaw_share: float = 0.0  # share of pairs whose in-between yaw is drawn from ±45..75°


@dataclass
class TrainConfig:
    """Everything a training run is told; saved beside its checkpoints and inside the exported weights."""

    out: str = "out/refiner"
    pairs: PairsConfig = field(default_factory=PairsConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    losses: LossWeights = field(default_factory=LossWeights)
    batch: int = 16
    steps: int = 4000
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    adversarial_from: int = 500  # steps of reconstruction-only warm-up
    discriminator: str = "patch"  # patch: one critic of the image | couple: CAPG-GAN's identity and pose agents
    flip: bool = True
    holdout: int = 96  # pairs kept out of training for validation
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    amp: bool = True  # mixed precision (CUDA only)
    threads: int = 0  # CPU threads (0: torch's default)
    log_every: int = 10
    sample_every: int = 250
    checkpoint_every: int = 100
    time_limit_min: float | None = None  # stop (after a checkpoint) when this much time has passed
    mobilefacenet: str | None = None  # weights path (default: ../shared/models/mobilefacenet)
    init: str | None = None  # start the generator from these weights (a checkpoint or an export): fine-tuning

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        d = dict(d)
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown training config keys: {', '.join(sorted(unknown))}")
        for key, typ in (("pairs", PairsConfig), ("generator", GeneratorConfig), ("losses", LossWeights)):
            if key in d:
                sub = d[key]
                bad = set(sub) - {f.name for f in fields(typ)}
                if bad:
                    raise ValueError(f"unknown keys in '{key}': {', '.join(sorted(bad))}")
                d[key] = typ(**sub)
        return cls(**d)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "TrainConfig":
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"training config not found: {p}")
        try:
            data = json.loads(p.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{p} is not valid JSON: {exc}") from exc
        return cls.from_dict(data)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but torch sees no CUDA GPU")
    return torch.device(name)


def to_tensors(batch: dict[str, np.ndarray], device: torch.device, flip: np.ndarray | None = None) -> tuple[torch.Tensor, ...]:
    """(render, provenance one-hot, landmarks, target) tensors from a cached batch (target None
    when the batch has none); ``flip`` (B,) bool mirrors those samples horizontally (landmarks
    follow, with their iBUG partners)."""
    render = torch.from_numpy(batch["render"]).to(device).permute(0, 3, 1, 2).float() / 255
    target = torch.from_numpy(batch["target"]).to(device).permute(0, 3, 1, 2).float() / 255 if "target" in batch else None
    prov = F.one_hot(torch.from_numpy(batch["provenance"].astype(np.int64)).to(device), 4).permute(0, 3, 1, 2).float()
    lm = batch["landmarks"].copy()
    if flip is not None and flip.any():
        size = render.shape[-1]
        f = torch.from_numpy(flip).to(device)
        render = torch.where(f[:, None, None, None], render.flip(-1), render)
        target = None if target is None else torch.where(f[:, None, None, None], target.flip(-1), target)
        prov = torch.where(f[:, None, None, None], prov.flip(-1), prov)
        lm[flip] = lm[flip][:, IBUG68_MIRROR]
        lm[flip, :, 0] = size - lm[flip, :, 0]
    return render, prov, torch.from_numpy(lm).to(device), target


def align_matrices(lm: np.ndarray) -> torch.Tensor:
    from .identity_net import align_matrix

    return torch.from_numpy(np.stack([align_matrix(x) for x in lm]))


def sample_grid(render: torch.Tensor, out: torch.Tensor, target: torch.Tensor, n: int = 8) -> np.ndarray:
    """Rows of (input render | refined | real photo), uint8 RGB."""
    rows = [torch.cat([render[i], out[i], target[i]], 2) for i in range(min(n, len(out)))]
    grid = torch.cat(rows, 1).clamp(0, 1).permute(1, 2, 0).float().cpu().numpy()
    return (grid * 255).round().astype(np.uint8)


class _Log:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.keys: list[str] | None = None
        if path.is_file():
            with open(path) as fh:
                self.keys = next(csv.reader(fh), None)

    def write(self, row: dict[str, float]) -> None:
        if self.keys is None:
            self.keys = list(row)
            with open(self.path, "w", newline="") as fh:
                csv.writer(fh).writerow(self.keys)
        with open(self.path, "a", newline="") as fh:
            csv.writer(fh).writerow([row.get(k, "") for k in self.keys])


def load_checkpoint(path: str | os.PathLike[str], device: Any = "cpu") -> dict[str, Any]:
    """A training checkpoint or exported refiner, read without running code: tensors and plain
    data only (``torch.load(weights_only=True)``). A file that holds other Python objects is
    refused with :class:`ValueError` — unpickling them could run anything."""
    import pickle

    try:
        blob = torch.load(path, map_location=device, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, AttributeError, TypeError) as exc:
        raise ValueError(
            f"{path}: not a facerot checkpoint that can be read safely (only tensors and plain data "
            f"are loaded; it holds something else, or is damaged): {str(exc).splitlines()[0][:200]}"
        ) from None
    if not isinstance(blob, dict):
        raise ValueError(f"{path}: not a facerot checkpoint (holds a {type(blob).__name__}, not a dict)")
    return blob


def _save(obj: Any, path: Path) -> None:
    from face3d.files import atomic_write

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write(path, buf.getvalue())


def train(config: TrainConfig, resume: bool = True, progress: bool = True) -> Path:
    """Run (or continue) training; returns the latest checkpoint's path."""
    return Trainer(config, resume, progress).run()


class Trainer:
    """One training run: its pairs, networks, optimisers and step, resumed from the run's
    checkpoint (``OUT/checkpoint.pt``) or started from ``config.init``. What it starts from is
    read (safely) first, so a bad file fails before any work."""

    def __init__(self, config: TrainConfig, resume: bool = True, progress: bool = True) -> None:
        c = self.c = config
        self.out = Path(c.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.progress = progress
        if c.threads:
            torch.set_num_threads(c.threads)
        self.device = pick_device(c.device)
        self.amp = c.amp and self.device.type == "cuda"
        self.ckpt_path = self.out / "checkpoint.pt"
        ck = load_checkpoint(self.ckpt_path, self.device) if resume and self.ckpt_path.is_file() else None
        init_state = _init_state(c.init, c.generator) if ck is None and c.init else None
        self._load_pairs()
        self._build(ck, init_state)
        (self.out / "config.json").write_text(json.dumps(asdict(c), indent=1))
        self.log = _Log(self.out / "log.csv")

    def _load_pairs(self) -> None:
        from .pairs import PairCache, build_pairs

        c, folder = self.c, Path(self.c.pairs.folder)
        if not (folder / "pairs.json").is_file():
            build_pairs(
                folder,
                photos=c.pairs.photos,
                per_photo=c.pairs.per_photo,
                size=c.generator.size,
                seed=c.pairs.seed,
                workers=c.pairs.workers,
                progress=self.progress,
                large_yaw_share=c.pairs.large_yaw_share,
            )
        self.cache = PairCache(folder)
        if self.cache.data["render"].shape[1] != c.generator.size:
            raise ValueError(
                f"pairs in {folder} are {self.cache.data['render'].shape[1]} px; the generator wants {c.generator.size}"
            )
        order = np.random.default_rng(c.seed).permutation(len(self.cache))
        self.val_idx, self.train_idx = np.sort(order[: c.holdout]), order[c.holdout :]
        if len(self.train_idx) < c.batch:
            raise ValueError(f"only {len(self.train_idx)} training pairs; need at least a batch ({c.batch})")

    def _build(self, ck: dict[str, Any] | None, init_state: dict[str, torch.Tensor] | None) -> None:
        from .identity_net import load_mobilefacenet

        c, device = self.c, self.device
        torch.manual_seed(c.seed)
        self.gen = TwoPathwayGenerator(c.generator).to(device)
        if c.discriminator not in ("patch", "couple"):
            raise ValueError(f"discriminator must be 'patch' or 'couple', not {c.discriminator!r}")
        if c.discriminator == "couple":  # its pose agent sees the generator's heatmaps (their width when it has them)
            self.disc = CoupleAgentDiscriminator(sigma=c.generator.heatmap_sigma or 2.0).to(device)
        else:
            self.disc = PatchDiscriminator().to(device)
        self.idnet = load_mobilefacenet(c.mobilefacenet, device=str(device))
        self.opt_g = torch.optim.Adam(self.gen.parameters(), c.lr_g, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.disc.parameters(), c.lr_d, betas=(0.5, 0.999))
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.step, self.elapsed = 0, 0.0
        if ck is not None:
            self.gen.load_state_dict(ck["generator"])
            self.disc.load_state_dict(ck["discriminator"])
            self.opt_g.load_state_dict(ck["opt_g"])
            self.opt_d.load_state_dict(ck["opt_d"])
            self.step, self.elapsed = int(ck["step"]), float(ck.get("elapsed", 0.0))
        elif init_state is not None:
            self.gen.load_state_dict(widen_inputs(init_state, self.gen))

    def checkpoint(self) -> None:
        _save(
            {
                "generator": self.gen.state_dict(),
                "discriminator": self.disc.state_dict(),
                "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(),
                "step": self.step,
                "elapsed": self.elapsed,
                "config": asdict(self.c),
            },
            self.ckpt_path,
        )

    def critic(self, image: torch.Tensor, source: torch.Tensor, landmarks: torch.Tensor) -> list[torch.Tensor]:
        """The discriminator's logit maps for ``image`` (the couple-agent one also sees the source
        render and the landmarks)."""
        if isinstance(self.disc, CoupleAgentDiscriminator):
            return self.disc(image, source, landmarks)
        return self.disc(image)

    def identity_terms(self, img: torch.Tensor, tgt: torch.Tensor, mats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from .identity_net import align_112, normalise

        return identity(self.idnet, normalise(align_112(img, mats)), normalise(align_112(tgt, mats)))

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Mean L1 and identity loss of the held-out pairs, raw and refined; a sample grid."""
        from face3d.files import write_image

        self.gen.eval()
        sums = {"val_l1_raw": 0.0, "val_l1": 0.0, "val_id_raw": 0.0, "val_id": 0.0}
        for i in range(0, len(self.val_idx), self.c.batch):
            b = self.cache.batch(self.val_idx[i : i + self.c.batch])
            r, p, lm, t = to_tensors(b, self.device)
            o = self.gen(r, p, lm)
            mats = align_matrices(b["landmarks"]).to(self.device)
            n = len(r)
            sums["val_l1_raw"] += float((r - t).abs().mean()) * n
            sums["val_l1"] += float((o - t).abs().mean()) * n
            sums["val_id_raw"] += float(self.identity_terms(r, t, mats)[0]) * n
            sums["val_id"] += float(self.identity_terms(o, t, mats)[0]) * n
            if i == 0:
                write_image(self.out / "samples" / f"step{self.step:06d}.png", sample_grid(r, o, t))
        self.gen.train()
        return {k: v / len(self.val_idx) for k, v in sums.items()}

    def train_step(self, rng: np.random.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor | None]:
        """One generator step (and, past the warm-up, one discriminator step): (loss, its terms,
        the discriminator's loss or None)."""
        c, w, device = self.c, self.c.losses, self.device
        b = self.cache.batch(rng.choice(self.train_idx, c.batch, replace=False))
        flip = rng.random(c.batch) < 0.5 if c.flip else None
        r, p, lm, t = to_tensors(b, device, flip)
        mats = align_matrices(lm.cpu().numpy()).to(device)
        pose = b["pose"]
        valid = torch.from_numpy((np.abs(pose[:, 0]) < 5) & (np.abs(pose[:, 2]) < 5)).to(device)
        adv = self.step >= c.adversarial_from and w.adversarial > 0
        d_loss = None
        with torch.autocast(device.type, enabled=self.amp):
            o = self.gen(r, p, lm)
            if adv:  # discriminator step
                d_loss = hinge_d(self.critic(t, r, lm), self.critic(o.detach(), r, lm))
        if d_loss is not None:
            self.opt_d.zero_grad(set_to_none=True)
            self.scaler.scale(d_loss).backward()
            self.scaler.step(self.opt_d)
        with torch.autocast(device.type, enabled=self.amp):
            terms = {"l1": multiscale_l1(o, t)}
            terms["sym"], terms["sym_lap"] = symmetry(o, valid)
            terms["id"], terms["id_feat"] = self.identity_terms(o, t, mats)
            terms["tv"] = total_variation(o)
            terms["adv"] = hinge_g(self.critic(o, r, lm)) if adv else o.new_zeros(())
            loss = (
                w.pixel * terms["l1"]
                + w.symmetry * terms["sym"]
                + w.symmetry_laplacian * terms["sym_lap"]
                + w.identity * terms["id"]
                + w.identity_features * terms["id_feat"]
                + w.tv * terms["tv"]
                + w.adversarial * terms["adv"]
            )
        self.opt_g.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt_g)
        self.scaler.update()
        return loss, terms, d_loss

    def _log(self, loss: torch.Tensor, terms: dict[str, torch.Tensor], d_loss: torch.Tensor | None) -> None:
        row = {
            "step": self.step,
            "seconds": round(self.elapsed, 1),
            "loss": round(float(loss.detach()), 5),
            **{k: round(float(v.detach()), 5) for k, v in terms.items()},
            "d_loss": round(float(d_loss), 5) if d_loss is not None else "",
            "val_l1_raw": "",
            "val_l1": "",
            "val_id_raw": "",
            "val_id": "",
        }
        if self.step % self.c.sample_every == 0 or self.step == self.c.steps:
            row.update({k: round(v, 5) for k, v in self.validate().items()})
        self.log.write(row)

    def run(self) -> Path:
        """Train to ``config.steps`` (or the time limit), logging, validating and checkpointing."""
        from tqdm import tqdm

        c = self.c
        rng = np.random.default_rng([c.seed, self.step])  # resumed runs continue with a fresh, seeded stream
        t_start = time.perf_counter() - self.elapsed
        bar = tqdm(total=c.steps, initial=self.step, unit="step", disable=not self.progress, desc="train-refiner")
        self.gen.train()
        while self.step < c.steps:
            loss, terms, d_loss = self.train_step(rng)
            self.step += 1
            self.elapsed = time.perf_counter() - t_start
            bar.update(1)
            if self.step % c.log_every == 0 or self.step == c.steps:
                self._log(loss, terms, d_loss)
                bar.set_postfix(l1=f"{float(terms['l1']):.4f}", id=f"{float(terms['id']):.3f}")
            stop = c.time_limit_min is not None and self.elapsed > c.time_limit_min * 60
            if self.step % c.checkpoint_every == 0 or self.step == c.steps or stop:
                self.checkpoint()
            if stop:
                break
        bar.close()
        return self.ckpt_path


def _init_blob(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"initial refiner weights not found: {p}")
    return load_checkpoint(p)


def _init_state(path: str | os.PathLike[str], config: GeneratorConfig) -> dict[str, torch.Tensor]:
    """The generator state of a checkpoint (``generator``) or an exported file (``state_dict``,
    fp16), checked against the generator being trained."""
    blob = _init_blob(path)
    if "state_dict" in blob:
        state, cfg = blob["state_dict"], blob.get("generator")
    else:
        state, cfg = blob["generator"], blob.get("config", {}).get("generator")
    if cfg is not None:  # the same generator, or the same with pose guidance added (widened at load)
        held = GeneratorConfig(**cfg)
        if held != config and not (held.heatmap_sigma == 0 and replace(held, heatmap_sigma=config.heatmap_sigma) == config):
            raise ValueError(f"{path} holds a generator configured {cfg}, not {asdict(config)}")
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def refiner_blob(
    generator: dict[str, Any], state: dict[str, torch.Tensor], training: dict[str, Any], metrics: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The refiner file's contents (what :class:`ganrefine.Refiner` loads): the generator's
    config and weights (floats stored as fp16), how it was trained, what was measured on it."""
    return {
        "format": "facerot-refiner",
        "version": 1,
        "generator": generator,
        "state_dict": {k: v.half() if v.is_floating_point() else v for k, v in state.items()},
        "training": training,
        "metrics": metrics or {},
    }


def export(
    checkpoint: str | os.PathLike[str], path: str | os.PathLike[str], metrics: dict[str, Any] | None = None, command: str = ""
) -> Path:
    """Write the generator alone (fp16) with its config, training description and metrics: the
    file :class:`ganrefine.Refiner` loads."""
    ck = load_checkpoint(checkpoint)
    pairs = Path(ck["config"]["pairs"]["folder"]) / "pairs.json"
    blob = refiner_blob(
        ck["config"]["generator"],
        ck["generator"],
        {
            "config": ck["config"],
            "step": ck["step"],
            "seconds": round(ck.get("elapsed", 0.0)),
            "pairs": json.loads(pairs.read_text()) if pairs.is_file() else None,
            "command": command,
            "torch": str(torch.__version__),
            "machine": platform.processor() or platform.machine(),
        },
        metrics,
    )
    blob["training"]["pairs"] and blob["training"]["pairs"].pop("errors", None)
    init = ck["config"].get("init")
    if init:  # fine-tuned: say from what, and how that was trained
        before = _init_blob(init)
        prior = before.get("training", {})
        if "state_dict" not in before:  # a checkpoint
            prior = {"config": before.get("config"), "step": before.get("step"), "seconds": round(before.get("elapsed", 0.0))}
        blob["training"]["init"] = {"path": str(init), **prior}
    _save(blob, Path(path))
    return Path(path)
