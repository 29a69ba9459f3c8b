"""Realism fine-tuning, SimGAN-style: the refiner turned toward real photos at the views' own pose.

Render-back pairs (:mod:`ganrefine.pairs`) teach the refiner to repair a render at the photo's own
pose; nothing in them says what a real face turned 40° looks like. Here the refiner refines raw
views made at the poses of real LFW DevTrain photos (near-frontal DevTrain photos of other people
turned to those poses), a discriminator tells its output from those real photos' crops — drawn
from the same |yaw| band, so pose gives nothing away — and the refiner learns to fool it while
staying close to its input (L1 and MobileFaceNet identity against the raw view): Shrivastava et
al., "Learning from Simulated and Unsupervised Images through Adversarial Training" (CVPR 2017),
with its self-regularisation, local (patch) adversarial loss and history of refined images.

    data = build_realism_set("out/realism_set", photos=3000)
    tuner = RealismTuner(RealismTuneConfig(init="default"), data)
    tuner.run()
    tuner.export("out/refiner_realism/refiner.pt")
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .losses import hinge_d, hinge_g, identity
from .networks import CriticEnsemble, GlobalCritic, PatchDiscriminator
from .pairs import crop_matrix, split_photos
from .refiner import paste_weight

#: |yaw| band edges (degrees): a view's real counterpart is drawn from its band
BAND_EDGES = (0.0, 10.0, 20.0, 35.0, 50.0, 90.0)
#: near-frontal photos (|yaw| below this) are the sources turned to the real photos' poses
SOURCE_YAW = 10.0


class CriticShift(torch.nn.Module):
    """DiffAugment's translation (Zhao et al., NeurIPS 2020) for the critic: each crop shifted by
    a whole number of pixels, up to ``share`` of its size, zero fill (no resampling), so the
    refiner cannot fool the critic with a pattern tied to a place in the crop."""

    def __init__(self, share: float) -> None:
        super().__init__()
        self.share = share

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        m = max(1, round(self.share * max(h, w)))
        padded = F.pad(x, (m, m, m, m))
        dy, dx = torch.randint(0, 2 * m + 1, (2, n)).tolist()
        return torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)])


def shared_change(refined: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
    """Mean over pixels of |the batch's mean change| at each pixel: a mark stamped at one place
    in every crop counts in full, changes that differ from crop to crop average out."""
    return (refined - raw).mean(0).abs().mean()


def band(yaw: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(BAND_EDGES, np.abs(yaw), side="right") - 1, 0, len(BAND_EDGES) - 2)


@dataclass
class RealismSet:
    """Raw views (refiner crops, provenance, landmarks in crop pixels, yaw) and real crops (yaw)."""

    render: np.ndarray
    provenance: np.ndarray
    landmarks: np.ndarray
    yaw: np.ndarray
    real: np.ndarray
    real_yaw: np.ndarray

    def weights(self, large_yaw_power: float) -> np.ndarray:
        """Sampling weights of the views: a band's share to the power ``1 - large_yaw_power``
        (0: as drawn, mostly near-frontal; 1: every band equally)."""
        b = band(self.yaw)
        count = np.bincount(b, minlength=len(BAND_EDGES) - 1).astype(float)
        w = count[b] ** (-large_yaw_power)
        return w / w.sum()

    def reals_like(self, yaw: np.ndarray, rng: np.random.Generator, allowed: np.ndarray | None = None) -> np.ndarray:
        """Indices of real crops (among ``allowed``, a mask), one from each view's |yaw| band (the
        nearest lower band that has any)."""
        rb = np.where(allowed, band(self.real_yaw), -1) if allowed is not None else band(self.real_yaw)
        out = []
        for b in band(yaw):
            pool = np.flatnonzero(rb == b)
            while not len(pool) and b > 0:
                b -= 1
                pool = np.flatnonzero(rb == b)
            if not len(pool):
                raise ValueError("no real crops to draw from (none allowed, or none at or below this view's band)")
            out.append(int(rng.choice(pool)))
        return np.array(out)


def _jpegs(images: np.ndarray, quality: int) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    flags = [cv2.IMWRITE_JPEG_QUALITY, quality]
    blobs = [cv2.imencode(".jpg", np.ascontiguousarray(im[..., ::-1]), flags)[1].ravel() for im in images]
    return np.concatenate(blobs), np.cumsum([0] + [len(b) for b in blobs])


def _unjpegs(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    import cv2

    return np.stack([cv2.imdecode(data[a:b], cv2.IMREAD_COLOR)[..., ::-1] for a, b in zip(offsets[:-1], offsets[1:])])


def pack_realism_set(data: RealismSet, path: str | Path, quality: int = 90) -> Path:
    """``data`` in a file small enough to carry to another machine (an accelerator's): the view
    and real crops as JPEG at ``quality`` (both compressed alike, so compression tells neither
    apart), the rest as it is; written whole or not at all. Read back by :func:`load_packed_realism_set`."""
    import io

    from face3d.files import atomic_write

    render, render_at = _jpegs(data.render, quality)
    real, real_at = _jpegs(data.real, quality)
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        render_jpeg=render,
        render_offsets=render_at,
        real_jpeg=real,
        real_offsets=real_at,
        provenance=data.provenance,
        landmarks=data.landmarks,
        yaw=data.yaw,
        real_yaw=data.real_yaw,
        quality=np.int32(quality),
    )
    return atomic_write(path, buf.getvalue())


def load_packed_realism_set(path: str | Path) -> RealismSet:
    """The :class:`RealismSet` a :func:`pack_realism_set` file holds (crops decoded)."""
    with np.load(path) as z:
        return RealismSet(
            render=_unjpegs(z["render_jpeg"], z["render_offsets"]),
            provenance=z["provenance"],
            landmarks=z["landmarks"],
            yaw=z["yaw"],
            real=_unjpegs(z["real_jpeg"], z["real_offsets"]),
            real_yaw=z["real_yaw"],
        )


def _real_box(fit: Any) -> tuple[float, float, float, float]:
    """The face box a view of this fit would have at the photo's pose (the model's projected vertices)."""
    cam = fit.camera
    p = cam.project(cam.to_camera(fit.vertices, fit.rotation, fit.translation))
    return (*p.min(0), *p.max(0))


def _real_photos(paths: list, fitter: Any, size: int, progress: bool) -> tuple[list, list, list]:
    """(crops, poses, paths) of the photos whose face is found and fitted (landmarks only)."""
    from tqdm import tqdm

    from face3d.imageio import read_image
    from face3d.region import warp_crop

    crops, poses, kept = [], [], []
    for p in tqdm(paths, desc="real photos", disable=not progress, mininterval=10):
        try:
            rgb = read_image(p)
            fit = fitter.fit_landmark_batch([fitter.detect(rgb)[0]])[0]
        except Exception:  # noqa: BLE001 - a photo without a face is skipped
            continue
        if fit.quality != "failed":
            crops.append(warp_crop(rgb, crop_matrix(_real_box(fit), size), size))
            poses.append(fit.pose)
            kept.append(p)
    return crops, poses, kept


def _turned_views(people: list, poses: list, fitter: Any, size: int, rng: np.random.Generator, progress: bool) -> dict:
    """Each pose given to a near-frontal photo of another person: that photo's raw view at it,
    as the refiner crops it (render, provenance, landmarks, yaw)."""
    from tqdm import tqdm

    from face3d.imageio import read_image
    from face3d.synth import prepare_source, rotate

    from .refiner import view_crops

    frontal = [i for i, (y, _, _) in enumerate(poses) if abs(y) < SOURCE_YAW]
    order = rng.permutation(len(frontal))
    targets: dict[int, list] = {}
    for i, pose in enumerate(poses):
        s = frontal[order[i % len(order)]]
        if people[s].parent.name == people[i].parent.name:
            s = frontal[order[(i + 1) % len(order)]]
        targets.setdefault(s, []).append(pose)
    cols: dict[str, list] = {"render": [], "provenance": [], "landmarks": [], "yaw": []}
    for s, want in tqdm(targets.items(), desc="views", disable=not progress, mininterval=10):
        try:
            img = read_image(people[s])
            src = prepare_source(img, fitter.fit(img), fitter.model, fitter.renderer)
            views = [rotate(src, y, q, r, renderer=fitter.renderer) for y, q, r in want]
        except Exception:  # noqa: BLE001 - a source that fails is skipped with its targets
            continue
        crops, provs, lms, _ = view_crops(views, size)
        for k, v in zip(cols, (list(crops), list(provs), list(lms), [v.pose[0] for v in views])):
            cols[k] += v
    return {k: np.stack(v) for k, v in cols.items()}


def build_realism_set(
    folder: str | Path, photos: int = 3000, size: int = 128, seed: int = 0, progress: bool = True
) -> RealismSet:
    """Fit ``photos`` DevTrain photos (landmarks only) and crop each; turn a near-frontal photo of
    another person to each one's pose and crop that raw view. Cached as ``folder/realism_set.npz``
    (a cache made with other settings is an error, not silently reused)."""
    from face3d.fitting import Fitter

    path, made = Path(folder) / "realism_set.npz", {"photos": photos, "size": size, "seed": seed}
    if path.is_file():
        with np.load(path) as z:
            held = json.loads(str(z["settings"])) if "settings" in z else None
            if held != made:
                raise ValueError(f"{path} was built with {held}, not {made}; use another folder")
            return RealismSet(**{k: z[k] for k in RealismSet.__dataclass_fields__})
    rng = np.random.default_rng(seed)
    paths = split_photos("DevTrain")
    fitter = Fitter()
    real, poses, people = _real_photos([paths[i] for i in rng.permutation(len(paths))[:photos]], fitter, size, progress)
    views = _turned_views(people, poses, fitter, size, rng, progress)
    data = RealismSet(**views, real=np.stack(real), real_yaw=np.asarray([p[0] for p in poses], np.float32))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, settings=json.dumps(made), **asdict(data))
    return data


@dataclass
class RealismTuneConfig:
    """A realism fine-tune: where it writes, what it starts from, its loss weights and budget."""

    out: str = "out/refiner_realism"
    init: str = "default"  # the refiner it starts from ("default": the shipped one)
    batch: int = 16
    steps: int = 3000  # warm-up steps included
    lr_g: float = 5e-5
    lr_d: float = 8e-4
    self_reg: float = 1.0  # L1 between the refined and the raw view
    universal: float = 0.0  # L1 of the batch's mean change per pixel: a mark stamped at one place in every crop
    identity: float = 0.5  # MobileFaceNet embedding, refined against raw
    identity_features: float = 0.1
    adversarial: float = 0.05
    history: int = 512  # refined crops kept for the discriminator (half of each fake batch)
    d_steps: int = 1  # critic steps per refiner step (the critic keeps up with a refiner that moves)
    d_batch: int = 0  # real and fake crops in each critic step (0: ``batch``)
    r1: float = 0.0  # R1 penalty on the critic's gradient at real crops (gamma; 0: none)
    generator_loss: str = "hinge"  # hinge (fool the critic's logit) | feature_matching (the critic's pooled
    # features of refined views matched in mean to a batch of real crops'; global critic only)
    d_shift: float = 0.0  # DiffAugment: the critic judges crops shifted by up to this share of their size (0: none)
    d_warmup: int = 0  # discriminator-only steps first, on raw views against real crops
    restart_every: int = 0  # refiner steps between critic restarts: a new critic trained from scratch on the
    # refiner's present output (as the fresh measure is), which the refiner then has to fool (0: never)
    restart_steps: int = 1000  # steps of 64 crops each new critic trains before the refiner resumes
    keep_critics: int = 0  # past critics, frozen, that the refiner must go on fooling beside the newest
    d_scales: int = 3  # patch critics at full, 1/2, 1/4 size (1/4: about the whole face)
    critic: str = "patch"  # patch (multi-scale PatchGAN) | global (one logit per face, the realism test's shape)
    critics: int = 1  # global critics initialised apart, trained side by side; the refiner faces them all
    holdout: float = 0.1  # views and real crops kept out of training, to measure the critic on
    eval_every: int = 100  # steps between measures of the critic's held-out balanced accuracy
    fresh_every: int = 0  # refiner steps between measures by a critic trained from scratch, from the end
    # of the warm-up (raw views) on (0: never; a few minutes each on a CPU)
    large_yaw_power: float = 0.5
    seed: int = 0
    threads: int = 0
    device: str = "auto"  # auto | cpu | cuda
    time_limit_min: float | None = None
    checkpoint_every: int = 50
    log_every: int = 10


class RealismTuner:
    """The networks, optimisers and step of one realism fine-tune, resumed from ``out/checkpoint.pt``."""

    def __init__(self, config: RealismTuneConfig, data: RealismSet) -> None:
        from .identity_net import load_mobilefacenet
        from .refiner import Refiner
        from .train import pick_device

        c = self.c = config
        if c.critic not in ("patch", "global"):
            raise ValueError(f"critic must be 'patch' or 'global', not {c.critic!r}")
        if c.generator_loss not in ("hinge", "feature_matching"):
            raise ValueError(f"generator_loss must be 'hinge' or 'feature_matching', not {c.generator_loss!r}")
        if c.generator_loss == "feature_matching" and c.critic != "global":
            raise ValueError("generator_loss 'feature_matching' needs critic 'global'")
        if c.critics > 1 and (c.critic != "global" or c.generator_loss != "hinge" or c.restart_every):
            raise ValueError("critics > 1 needs critic 'global', the hinge loss and no restarts")
        if c.threads:
            torch.set_num_threads(c.threads)
        torch.manual_seed(c.seed)
        self.data, self.out = data, Path(c.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.device = pick_device(c.device)
        base = Refiner(c.init, device=str(self.device))
        self.gen_config, self.gen = base.config, base.net.requires_grad_(True).train()
        if c.critic == "patch":
            self.disc: torch.nn.Module = PatchDiscriminator(scales=c.d_scales)
        else:
            self.disc = CriticEnsemble(c.critics) if c.critics > 1 else GlobalCritic()
        self.disc = self.disc.to(self.device)
        self.idnet = load_mobilefacenet(device=str(self.device))
        self.opt_g = torch.optim.Adam(self.gen.parameters(), c.lr_g, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.disc.parameters(), c.lr_d, betas=(0.5, 0.999))
        held = np.random.default_rng([c.seed, 1])
        self.held_views = held.random(len(data.yaw)) < c.holdout
        self.held_reals = held.random(len(data.real_yaw)) < c.holdout
        self.p = np.where(self.held_views, 0.0, data.weights(c.large_yaw_power))
        self.p /= self.p.sum()
        self.step, self.elapsed = 0, 0.0
        self.history = torch.zeros(0, 3, data.render.shape[1], data.render.shape[2], device=self.device)
        self.feather = torch.from_numpy(paste_weight(data.render.shape[1])).to(self.device)
        self.augment = CriticShift(c.d_shift) if c.d_shift else torch.nn.Identity()
        if c.restart_every and c.critic != "global":
            raise ValueError("restart_every needs critic 'global' (restarted critics are the fresh measure's shape)")
        self.judges: list[torch.nn.Module] = []  # past critics the refiner must go on fooling
        ck = self.out / "checkpoint.pt"
        if ck.is_file():
            s = torch.load(ck, map_location=self.device, weights_only=True)
            for name in ("gen", "disc", "opt_g", "opt_d"):
                getattr(self, name).load_state_dict(s[name])
            for state in s.get("judges", []):
                self.judges.append(GlobalCritic().to(self.device))
                self.judges[-1].load_state_dict(state)
                self.judges[-1].requires_grad_(False).eval()
            self.step, self.elapsed, self.history = int(s["step"]), float(s["elapsed"]), s["history"].float() / 255

    def _inputs(self, idx: np.ndarray, flip: np.ndarray | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        from .train import to_tensors

        d = self.data
        b = {"render": d.render[idx], "provenance": d.provenance[idx], "landmarks": d.landmarks[idx]}
        r, p, lm, _ = to_tensors(b, self.device, flip)
        return r, p, lm

    def _reals(self, yaw: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        idx = self.data.reals_like(yaw, rng, ~self.held_reals)
        x = torch.from_numpy(self.data.real[idx]).to(self.device).permute(0, 3, 1, 2).float() / 255
        flip = torch.from_numpy(rng.random(len(x)) < 0.5).to(self.device)
        return torch.where(flip[:, None, None, None], x.flip(3), x)

    def shown(self, refined: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        """What a user gets in the crop: the change faded toward the crop's border as
        :func:`ganrefine.refiner.paste_refined` pastes it (the network's output near the border
        never reaches a view, so no critic judges it)."""
        return raw + self.feather * (refined - raw)

    def _d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """The critic's hinge loss, real and fake judged in one batch (batch norm sees both), on
        shifted crops with ``d_shift``, plus ``r1``/2 times the squared gradient norm at the
        real crops."""
        n = len(real)
        x = self.augment(torch.cat([real, fake]))
        if self.c.r1:
            x = x.detach().requires_grad_(True)
        out = self.disc(x)
        loss = hinge_d([o[:n] for o in out], [o[n:] for o in out])
        if self.c.r1:
            real_out = sum(o[:n].sum() for o in out)
            (grad,) = torch.autograd.grad(real_out, x, create_graph=True)
            loss = loss + 0.5 * self.c.r1 * grad[:n].pow(2).flatten(1).sum(1).mean()
        return loss

    def _critic_update(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """One optimiser step of the critic on ``real`` against ``fake``; its loss."""
        d_loss = self._d_loss(real, fake)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        return d_loss

    @torch.no_grad()
    def _faces(self, views: np.ndarray, size: int | None = None) -> torch.Tensor:
        """Views as the critics see them (refined once the refiner trains, raw during the
        warm-up), in batches of 64, average-pooled to ``size`` pixels when given."""
        out = []
        for i in range(0, len(views), 64):
            r, p, lm = self._inputs(views[i : i + 64], None)
            x = r if self.step < self.c.d_warmup else self.shown(self.gen(r, p, lm), r)
            out.append(F.adaptive_avg_pool2d(x, size) if size else x)
        return torch.cat(out)

    def _real_faces(self, reals: np.ndarray, size: int | None = None) -> torch.Tensor:
        x = torch.from_numpy(self.data.real[reals]).to(self.device).permute(0, 3, 1, 2).float() / 255
        return F.adaptive_avg_pool2d(x, size) if size else x

    @torch.no_grad()
    def _balanced_accuracy(self, critic: torch.nn.Module, limit: int = 400, size: int | None = None) -> float:
        """``critic``'s balanced accuracy on held-out real crops against held-out views; a face
        is judged by its mean logit."""
        views, reals = np.flatnonzero(self.held_views)[:limit], np.flatnonzero(self.held_reals)[:limit]
        if not len(views) or not len(reals):
            return float("nan")
        was = critic.training
        critic.eval()
        score = lambda x: torch.stack([o.flatten(1).mean(1) if o.dim() > 1 else o for o in critic(x)]).mean(0)  # noqa: E731
        real_hit = torch.cat([score(self._real_faces(reals[i : i + 64], size)) > 0 for i in range(0, len(reals), 64)])
        fake_hit = score(self._faces(views, size)) <= 0
        critic.train(was)
        return 0.5 * float(real_hit.float().mean() + fake_hit.float().mean())

    def critic_accuracy(self, limit: int = 400) -> float:
        """The adversary's balanced accuracy on held-out real crops against held-out views."""
        return self._balanced_accuracy(self.disc, limit)

    def fresh_critic_accuracy(self, views: int = 2048, steps: int = 1000, limit: int = 400) -> float:
        """What a critic trained from scratch finds: a new :class:`GlobalCritic` (the realism
        test's shape) trained ``steps`` steps of 64 on the refiner's present output for up to
        ``views`` training views against band-matched training real crops, then its balanced
        accuracy on the held-out ones. The adversary can be fooled by a pattern it has learned to
        ignore; a fresh critic is what the realism test is, so this is the measure to stop on."""
        critic = self.train_new_critic(views, steps, seed=self.c.seed)
        return self._balanced_accuracy(critic, limit, critic.size)

    def train_new_critic(self, views: int, steps: int, seed: int) -> GlobalCritic:
        """A :class:`GlobalCritic` trained from scratch (seeded by ``seed``) for ``steps`` steps of
        64 on the refiner's present output for up to ``views`` training views against band-matched
        training real crops."""
        rng = np.random.default_rng([seed, 2])
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(seed)
            critic = GlobalCritic().to(self.device)
        train = np.flatnonzero(~self.held_views)
        train = rng.choice(train, min(views, len(train)), replace=False)
        fakes = self._faces(train, critic.size)
        reals = self._real_faces(self.data.reals_like(self.data.yaw[train], rng, ~self.held_reals), critic.size)
        opt = torch.optim.Adam(critic.parameters(), 1e-3, weight_decay=1e-4)
        for _ in range(steps):
            i, j = rng.integers(0, len(reals), 32), rng.integers(0, len(fakes), 32)
            x = torch.cat([reals[i], fakes[j]])
            flip = torch.from_numpy(rng.random(64) < 0.5).to(self.device)
            out = critic(torch.where(flip[:, None, None, None], x.flip(3), x))
            loss = hinge_d([out[0][:32]], [out[0][32:]])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return critic

    def restart_critic(self) -> float:
        """The adversary replaced by a critic trained from scratch on the refiner's present output
        (a new seed each time; the old one kept frozen among ``keep_critics`` judges the refiner
        must still fool); the new critic's held-out balanced accuracy, before the refiner answers
        it. A refiner that stamps a pattern its adversary has learned to ignore meets a critic
        that has not."""
        c = self.c
        restarts = (self.step - c.d_warmup) // c.restart_every
        if c.keep_critics:
            self.judges = [*self.judges, self.disc.requires_grad_(False).eval()][-c.keep_critics :]
        self.disc = self.train_new_critic(2048, c.restart_steps, seed=c.seed + 1000 + restarts)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), c.lr_d, betas=(0.5, 0.999))
        return self._balanced_accuracy(self.disc, 400, self.disc.size)

    def warmup_step(self, rng: np.random.Generator) -> dict[str, float]:
        """One discriminator step on raw views (the refiner untouched): it learns what gives views
        away before the refiner is asked to hide it."""
        c = self.c
        idx = rng.choice(len(self.p), c.batch, replace=False, p=self.p)
        r, _, _ = self._inputs(idx, rng.random(c.batch) < 0.5)
        d_loss = self._critic_update(self._reals(self.data.yaw[idx], rng), r)
        return {"d_loss": float(d_loss.detach())}

    def _critic_step(self, now: torch.Tensor, now_idx: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        """One critic step: ``d_batch`` fakes, half from this step's refined views ``now`` and half
        from the history (SimGAN) once it holds enough, against band-matched real crops (the
        history's views' bands drawn as the views are)."""
        c = self.c
        n = c.d_batch or c.batch
        old = min(n // 2, len(self.history)) if len(self.history) >= c.batch // 2 else 0
        pick = rng.permutation(len(now))[: n - old] if n - old <= len(now) else rng.integers(0, len(now), n - old)
        fake, yaw = now[torch.from_numpy(pick).to(self.device)], self.data.yaw[now_idx[pick]]
        if old:
            past = torch.from_numpy(rng.choice(len(self.history), old, replace=False)).to(self.device)
            fake = torch.cat([fake, self.history[past]])
            yaw = np.concatenate([yaw, self.data.yaw[rng.choice(len(self.p), old, p=self.p)]])
        return self._critic_update(self._reals(yaw, rng), fake)

    def _adversarial(self, shown: torch.Tensor, idx: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        """The refiner's adversarial term: the critic's hinge on the refined views, or (feature
        matching, Salimans et al. 2016) the squared gap between the mean pooled critic features of
        the refined views and of band-matched real crops. The critic judges with its running
        statistics (batch norm), not those of a batch of fakes alone."""
        self.disc.eval()
        x = self.augment(shown)
        if self.c.generator_loss == "feature_matching":
            with torch.no_grad():
                real = self.disc.embed(self.augment(self._reals(self.data.yaw[idx], rng))).mean(0)
            adv = (self.disc.embed(x).mean(0) - real).pow(2).sum()
        else:
            adv = hinge_g(self.disc(x))
            if self.judges:  # the newest critic weighs as much as all the past ones together
                adv = 0.5 * adv + 0.5 * torch.stack([hinge_g(j(x)) for j in self.judges]).mean()
        self.disc.train()
        return adv

    def train_step(self, rng: np.random.Generator) -> dict[str, float]:
        from .identity_net import align_112, normalise
        from .train import align_matrices

        c = self.c
        idx = rng.choice(len(self.p), c.batch, replace=False, p=self.p)
        r, p, lm = self._inputs(idx, rng.random(c.batch) < 0.5)
        o = self.gen(r, p, lm)
        shown = self.shown(o, r)
        now = shown.detach()
        d_loss = torch.stack([self._critic_step(now, idx, rng) for _ in range(max(1, c.d_steps))]).mean()
        self.history = torch.cat([self.history, now[: c.batch // 2]])[-c.history :]
        mats = align_matrices(lm.cpu().numpy()).to(self.device)
        reg = (o - r).abs().mean()
        stamp = shared_change(shown, r)
        idl, idf = identity(self.idnet, normalise(align_112(o, mats)), normalise(align_112(r, mats)))
        adv = self._adversarial(shown, idx, rng)
        loss = c.self_reg * reg + c.universal * stamp + c.identity * idl + c.identity_features * idf + c.adversarial * adv
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        terms = {"loss": loss, "reg": reg, "stamp": stamp, "id": idl, "adv": adv, "d_loss": d_loss}
        return {k: float(v.detach()) for k, v in terms.items()}

    def checkpoint(self) -> None:
        from .train import _save

        state = {n: getattr(self, n).state_dict() for n in ("gen", "disc", "opt_g", "opt_d")}
        state["judges"] = [j.state_dict() for j in self.judges]
        history = (self.history * 255).round().byte()  # a quarter of the size in float
        _save({**state, "step": self.step, "elapsed": self.elapsed, "history": history}, self.out / "checkpoint.pt")

    def run(self, progress: bool = True) -> None:
        """Train to ``steps`` or the time limit, logging to ``out/log.jsonl`` and checkpointing."""
        from tqdm import tqdm

        c = self.c
        rng = np.random.default_rng([c.seed, self.step])
        t0 = time.perf_counter() - self.elapsed
        bar = tqdm(total=c.steps, initial=self.step, disable=not progress, desc="realism tune", mininterval=10)
        with (self.out / "log.jsonl").open("a") as log, bar:
            while self.step < c.steps:
                terms = {}
                if c.restart_every and self.step > c.d_warmup and (self.step - c.d_warmup) % c.restart_every == 0:
                    terms["restart_critic_accuracy"] = self.restart_critic()
                terms.update(self.warmup_step(rng) if self.step < c.d_warmup else self.train_step(rng))
                self.step += 1
                self.elapsed = time.perf_counter() - t0
                bar.update(1)
                if c.eval_every and self.step % c.eval_every == 0:
                    terms["critic_accuracy"] = self.critic_accuracy()
                if c.fresh_every and self.step >= c.d_warmup and (self.step - c.d_warmup) % c.fresh_every == 0:
                    terms["fresh_critic_accuracy"] = self.fresh_critic_accuracy()
                if self.step % c.log_every == 0 or any(k.endswith("critic_accuracy") for k in terms):
                    log.write(json.dumps({"step": self.step, "seconds": round(self.elapsed, 1), **terms}) + "\n")
                    log.flush()
                stop = c.time_limit_min is not None and self.elapsed > 60 * c.time_limit_min
                if self.step % c.checkpoint_every == 0 or stop or self.step == c.steps:
                    self.checkpoint()
                if stop:
                    break

    def export(self, path: str | Path) -> Path:
        """The generator alone (fp16) in the file format :class:`ganrefine.Refiner` loads."""
        from .train import _save, refiner_blob

        training = {"realism_tune": asdict(self.c), "step": self.step, "seconds": round(self.elapsed)}
        _save(refiner_blob(asdict(self.gen_config), self.gen.state_dict(), training), Path(path))
        return Path(path)
