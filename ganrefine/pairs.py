"""Self-supervised training pairs from single-view photos, the Rotate-and-Render way.

For a photo: fit, rotate the face to a random other pose and render it (the texture now comes
from the photo through the 3D fit), then take the texture back from *that render* and rotate it
back to the photo's own pose. The back-render carries the artefacts a real synthesised view has
— mirrored and inpainted regions, stretched texture, blurred detail, warped background — but sits
exactly on the photo, so (back-render, photo) is an aligned (input, target) pair.

Both are cropped to the refiner's square face crop (:func:`crop_matrix`), the same crop the
refiner uses at inference. Pairs are cached as ``.npz`` shards of uint8 arrays so training never
re-renders. Only LFW people listed in ``peopleDevTrain.txt`` are used (``peopleDevTest`` people are
never trained on).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from face3d import region
from face3d.region import warp_crop
from face3d.render import MeshRenderer
from face3d.synth import PreparedSource, prepare_source, rotate

#: The refiner's crop: a square of this many face-box sides around the face box's centre.
CROP_MARGIN = 1.5


def crop_matrix(box: Sequence[float], size: int, margin: float = CROP_MARGIN) -> np.ndarray:
    """2x3 affine (pixels → crop pixels) of the refiner's square crop around a face box."""
    return region.crop_matrix(box, size, margin)


def fill_landmarks(lm: np.ndarray) -> np.ndarray:
    """Landmarks with missing (NaN) points replaced by the mean of the others."""
    lm = np.asarray(lm, np.float32).copy()
    bad = ~np.isfinite(lm).all(1)
    if bad.any():
        lm[bad] = np.nanmean(lm[~bad], 0) if (~bad).any() else 0.0
    return lm


@dataclass
class TrainingPair:
    """One aligned pair at the refiner's crop.

    Attributes:
        render: (S, S, 3) uint8 — the rotate-and-back render (the refiner's input).
        provenance: (S, S) uint8 — its provenance codes (0 background, 1 seen, 2 mirrored, 3 inpainted).
        landmarks: (68, 2) float32 — the model's landmarks in crop pixels.
        target: (S, S, 3) uint8 — the real photo, same crop.
        pose: (yaw, pitch, roll) of the photo; via: the pose the face was rotated to in between.
    """

    render: np.ndarray
    provenance: np.ndarray
    landmarks: np.ndarray
    target: np.ndarray
    pose: tuple[float, float, float]
    via: tuple[float, float, float]


def make_pair(
    source: PreparedSource, yaw: float, pitch: float, size: int = 128, renderer: MeshRenderer | None = None
) -> TrainingPair:
    """Rotate the face of ``source`` to absolute (``yaw``, ``pitch``), render, rotate back, render."""
    from face3d.camera import euler_to_matrix

    fit, image = source.fit, source.image
    y0, p0, r0 = fit.pose
    there = rotate(source, yaw, pitch, r0, renderer=renderer)
    moved = replace(fit, rotation=euler_to_matrix(*there.pose))
    back = rotate(prepare_source(there.image, moved, source.model, renderer, source.texture.size), y0, p0, r0, renderer=renderer)
    m = crop_matrix(back.box, size)
    lm = fill_landmarks(back.landmarks68) @ m[:, :2].T + m[:, 2]
    return TrainingPair(
        warp_crop(back.image, m, size),
        warp_crop(back.provenance, m, size, nearest=True),
        lm.astype(np.float32),
        warp_crop(np.ascontiguousarray(image), m, size),
        (y0, p0, r0),
        there.pose,
    )


def split_people(split: str = "DevTrain", lfw: str | os.PathLike[str] | None = None) -> list[tuple[str, int]]:
    """(name, photo count) of an LFW split file (``people{split}.txt``)."""
    from face3d.settings import lfw_dir

    path = lfw_dir(lfw) / f"people{split}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"LFW split file not found: {path} (set FACEROT_LFW or FACEROT_SHARED)")
    rows = [ln.split() for ln in path.read_text().splitlines()[1:]]
    return [(r[0], int(r[1])) for r in rows if len(r) == 2]


def split_photos(split: str = "DevTrain", lfw: str | os.PathLike[str] | None = None) -> list[Path]:
    from face3d.settings import lfw_dir

    root = lfw_dir(lfw) / "images"
    return [root / name / f"{name}_{i:04d}.jpg" for name, n in split_people(split, lfw) for i in range(1, n + 1)]


def sample_target(
    rng: np.random.Generator,
    pose: tuple[float, float, float],
    min_delta: float = 10.0,
    max_delta: float = 60.0,
    max_yaw: float = 75.0,
    pitch_jitter: float = 10.0,
    large_yaw_share: float = 0.0,
    large_yaw: tuple[float, float] = (45.0, 75.0),
) -> tuple[float, float]:
    """A random intermediate pose, pitch jittered. With probability ``large_yaw_share`` the yaw is
    drawn from ``large_yaw`` (absolute degrees, either side; at least ``min_delta`` from the photo's),
    otherwise moved by ``min_delta``..``max_delta`` degrees either way (kept within ±``max_yaw``)."""
    y0, p0, _ = pose

    def pitch() -> float:  # drawn after the yaw, so share 0 keeps the stream it always had
        return float(np.clip(p0 + rng.uniform(-pitch_jitter, pitch_jitter), -35, 35))

    if large_yaw_share > 0 and rng.random() < large_yaw_share:
        for _ in range(8):
            yaw = float(rng.choice([-1, 1]) * rng.uniform(*large_yaw))
            if abs(yaw - y0) >= min_delta:
                return yaw, pitch()
    for _ in range(8):
        yaw = y0 + rng.choice([-1, 1]) * rng.uniform(min_delta, max_delta)
        if abs(yaw) <= max_yaw:
            break
    else:
        yaw = float(np.clip(yaw, -max_yaw, max_yaw))
    return float(yaw), pitch()


def photo_seed(path: Path) -> int:
    """A photo's own random stream, the same in every process and run: a stable hash of its path
    relative to the LFW images folder (``Name/Name_0001.jpg``)."""
    import hashlib

    rel = f"{path.parent.name}/{path.name}"
    return int.from_bytes(hashlib.sha1(rel.encode("utf-8")).digest()[:4], "little")


def _iter_pairs(
    paths: Sequence[Path],
    size: int,
    per_photo: int,
    seed: int,
    model_path: str | None,
    large_yaw_share: float = 0.0,
) -> Iterator[tuple[Path, TrainingPair | Exception]]:
    from face3d.fitting import Fitter
    from face3d.imageio import read_image

    fitter = Fitter(model_path)
    for path in paths:
        rng = np.random.default_rng([seed, photo_seed(path)])
        try:
            img = read_image(path)
            fit = fitter.fit(img)
            if fit.quality == "failed":
                raise ValueError(f"fit failed: {', '.join(fit.reasons)}")
            source = prepare_source(img, fit, fitter.model, fitter.renderer)
            for _ in range(per_photo):
                yaw, pitch = sample_target(rng, fit.pose, large_yaw_share=large_yaw_share)
                yield path, make_pair(source, yaw, pitch, size, fitter.renderer)
        except Exception as exc:  # noqa: BLE001 - a bad photo is recorded and skipped
            yield path, exc


def _build_shard(args: tuple[list[str], str, int, int, int, str | None, float]) -> tuple[str, int, list[str]]:
    import torch

    torch.set_num_threads(1)
    paths, out, size, per_photo, seed, model_path, large_yaw_share = args
    from face3d.files import atomic_write

    cols: dict[str, list[Any]] = {k: [] for k in ("render", "provenance", "landmarks", "target", "pose", "via", "source")}
    errors = []
    for path, pair in _iter_pairs([Path(p) for p in paths], size, per_photo, seed, model_path, large_yaw_share):
        if isinstance(pair, Exception):
            errors.append(f"{path}: {type(pair).__name__}: {pair}")
            continue
        for k in ("render", "provenance", "landmarks", "target", "pose", "via"):
            cols[k].append(np.asarray(getattr(pair, k)))
        cols["source"].append(f"{path.parent.name}/{path.name}")
    arrays = {k: np.stack(v) if v else np.zeros((0,)) for k, v in cols.items()}

    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write(Path(out), buf.getvalue())
    return out, len(cols["source"]), errors


def build_pairs(
    out_dir: str | os.PathLike[str],
    photos: int | None = None,
    per_photo: int = 1,
    size: int = 128,
    seed: int = 0,
    workers: int = 1,
    shard_photos: int = 250,
    split: str = "DevTrain",
    lfw: str | os.PathLike[str] | None = None,
    model: str | None = None,
    progress: bool = True,
    large_yaw_share: float = 0.0,
) -> Path:
    """Build (or complete) the pair cache in ``out_dir``: shards ``pairs-XXXXX.npz`` and
    ``pairs.json`` (what made them). Shards already present are kept, so an interrupted build resumes.
    (Long on purpose: checks, listing, sharding and the worker pool of one build, in order.)"""
    from tqdm import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    from face3d.settings import ALLOW_EVAL_SPLIT_ENV

    if split != "DevTrain" and not os.environ.get(ALLOW_EVAL_SPLIT_ENV):
        raise ValueError("the refiner trains on LFW peopleDevTrain only; peopleDevTest is for evaluation")
    paths = split_photos(split, lfw)
    rng = np.random.default_rng(seed)
    paths = [paths[i] for i in rng.permutation(len(paths))]
    if photos is not None:
        paths = paths[:photos]
    if not paths:
        raise FileNotFoundError("no training photos found")
    meta = {
        "split": split,
        "photos": len(paths),
        "per_photo": per_photo,
        "size": size,
        "seed": seed,
        "crop_margin": CROP_MARGIN,
        "model": model or "default",
        "shard_photos": shard_photos,
        "photo_seed": "sha1 of Name/Name_NNNN.jpg",
    }
    if large_yaw_share > 0:  # absent when 0, so caches built before the option still match
        meta["large_yaw_share"] = large_yaw_share
    meta_path = out / "pairs.json"
    if meta_path.is_file():
        old = json.loads(meta_path.read_text())
        if {k: old.get(k) for k in meta} != meta:
            raise ValueError(f"{out} holds pairs built with other settings ({old}); use another folder")
    jobs = []
    for i in range(0, len(paths), shard_photos):
        shard = out / f"pairs-{i // shard_photos:05d}.npz"
        if not shard.is_file():
            shard_paths = [str(p) for p in paths[i : i + shard_photos]]
            jobs.append((shard_paths, str(shard), size, per_photo, seed + i, model, large_yaw_share))
    errors: list[str] = []
    t0 = time.perf_counter()
    bar = tqdm(total=len(jobs) * shard_photos, unit="photo", disable=not progress, desc="pairs")
    if workers > 1 and len(jobs) > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers) as pool:
            for _, n, errs in pool.imap_unordered(_build_shard, jobs):
                errors += errs
                bar.update(shard_photos)
    else:
        for job in jobs:
            _, n, errs = _build_shard(job)
            errors += errs
            bar.update(shard_photos)
    bar.close()
    meta["errors"] = errors[:200]
    meta["build_seconds"] = round(time.perf_counter() - t0, 1)
    from face3d.files import atomic_write

    atomic_write(meta_path, json.dumps(meta, indent=1).encode())
    return out


class PairCache:
    """All cached pairs in memory (uint8; 128x128 pairs take about 100 KB each)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        shards = sorted(Path(folder).glob("pairs-*.npz"))
        if not shards:
            raise FileNotFoundError(f"no pair shards (pairs-*.npz) in {folder}")
        cols: dict[str, list[np.ndarray]] = {}
        for s in shards:
            with np.load(s) as z:
                if z["source"].size == 0:
                    continue
                for k in ("render", "provenance", "landmarks", "target", "pose", "via", "source"):
                    cols.setdefault(k, []).append(z[k])
        self.data = {k: np.concatenate(v) for k, v in cols.items()}

    def __len__(self) -> int:
        return len(self.data["source"])

    def batch(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        return {k: v[idx] for k, v in self.data.items()}
