"""The batch engine behind ``facerot augment``: whole datasets, resumable, crash-safe, parallel.

Per source photo, in a worker process (models loaded once per worker):
read → landmarks → fit → texture → render each target → write (temporary name, then rename).
The main process appends one manifest line per output (and per failure) only after the file is
in place, so a run killed at any moment and started again ends with every output present once,
no temporary file left, and a manifest that matches the files.
"""
from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from .rotator import crop_view, view_face

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
TMP_DIR = ".facerot-tmp"
MANIFEST = "manifest.jsonl"


class InputError(ValueError):
    """The input listing itself is unusable (not a folder or list file)."""


@dataclass(frozen=True)
class Target:
    yaw: float | None
    pitch: float | None
    roll: float | None
    lighting: str = "keep"

    @property
    def tag(self) -> str:
        def a(n: str, v: float | None) -> str:
            return f"{n}{'k' if v is None else f'{v:+g}'}"
        return f"{a('y', self.yaw)}_{a('p', self.pitch)}_{a('r', self.roll)}_{self.lighting}"

    def key(self) -> tuple[Any, ...]:
        return (self.yaw, self.pitch, self.roll, self.lighting)


@dataclass(frozen=True)
class Source:
    path: Path
    identity: str
    name: str  # a key unique within the dataset (relative path)


@dataclass
class AugmentOptions:
    targets: list[Target]
    model: str | None = None
    landmarks: str = "mediapipe"
    refiner: str | None = None  # none | default | auto | weights path
    device: str = "cpu"  # torch device of the refiner
    size: int | None = None  # output side (square crop around the face), None: full frame
    fmt: str = "png"
    include_originals: bool = False
    max_side: int = 2048  # larger inputs are downscaled before fitting (bounded memory)
    seed: int = 0
    min_identity: float | None = None  # drop views whose identity score (1 - dlib distance) is lower
    max_pose_error: float | None = None  # drop views whose re-fitted yaw/pitch/roll miss the target by more
    all_faces: bool = False  # every face of each photo (output names and manifest records carry the face index)


def parse_angles(spec: str | None) -> list[float | None]:
    """``"-60,-30,30"`` or a range ``"-60:60:15"`` (end included); ``None``: keep the source's angle."""
    if spec is None or spec == "":
        return [None]
    out: list[float | None] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if ":" in part:
                lo, hi, step = (float(x) for x in part.split(":"))
                if step <= 0:
                    raise ValueError
                n = int(math.floor((hi - lo) / step + 1e-9)) + 1
                out += [lo + i * step for i in range(max(n, 0))]
            else:
                out.append(float(part))
        except ValueError:
            raise ValueError(f"angles must be numbers or start:stop:step ranges, got {part!r}") from None
    return out


def make_targets(yaws: str | None, pitches: str | None, rolls: str | None, lighting: str | None) -> list[Target]:
    """Every combination of the listed angles and lighting presets."""
    lights = [x.strip() for x in (lighting or "keep").split(",") if x.strip()]
    return [Target(y, p, r, light) for y in parse_angles(yaws) for p in parse_angles(pitches)
            for r in parse_angles(rolls) for light in lights]


def iter_sources(root: Path) -> Iterator[Source]:
    """Stream the inputs: a folder per identity (LFW / CASIA-WebFace / VGGFace2 layout; photos at the
    top level get the identity ``""``), or a CSV/list file of ``path[,identity]``. Symlinked folders
    are followed once; a folder seen before (a symlink loop) is not entered again."""
    root = Path(root)
    if root.is_file():
        with open(root, newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                if not row or not row[0].strip() or row[0].startswith("#") or row[0].strip().lower() == "path":
                    continue
                p = Path(row[0].strip())
                p = p if p.is_absolute() else root.parent / p
                ident = row[1].strip() if len(row) > 1 and row[1].strip() else p.parent.name
                yield Source(p, ident, str(Path(row[0].strip())))
        return
    if not root.is_dir():
        raise InputError(f"input not found or not a folder / list file: {root}")
    seen = {os.path.realpath(root)}
    entries = sorted(os.scandir(root), key=lambda e: e.name)
    for e in entries:
        if e.is_file() and Path(e.name).suffix.lower() in IMAGE_EXTS:
            yield Source(Path(e.path), "", e.name)
    for e in entries:
        if not e.is_dir():
            continue
        real = os.path.realpath(e.path)
        if real in seen:
            continue
        seen.add(real)
        try:
            files = sorted(os.scandir(e.path), key=lambda f: f.name)
        except OSError:
            continue
        for f in files:
            if Path(f.name).suffix.lower() in IMAGE_EXTS and (f.is_file() or f.is_symlink()):
                yield Source(Path(f.path), e.name, f"{e.name}/{f.name}")


def _name_hash(src: Source) -> str:
    return hashlib.sha1(src.name.encode("utf-8", "surrogateescape")).hexdigest()[:6]


def output_name(src: Source, target: Target, fmt: str, face: int | None = None) -> str:
    """Collision-free, deterministic: the photo's stem, a short hash of its dataset path, the face
    (``--all-faces``: ``_f0``, ``_f1`` ... largest first), the target."""
    return f"{Path(src.name).stem}_{_name_hash(src)}{'' if face is None else f'_f{face}'}__{target.tag}.{fmt}"


def safe_identity(identity: str) -> str:
    bad = '/\\\0'
    out = "".join("_" if c in bad else c for c in identity).strip(". ")
    return out or "_"


# ---------------------------------------------------------------------------------------- worker
_ROT = None
_IDENT = None


def check_setup(opts: AugmentOptions) -> None:
    """What every worker will load, checked once here, before workers start: a missing model file,
    landmark backend or dlib (for ``min_identity``) is one clear error, not a failure in every
    worker. Starts no thread (the workers may still be forked)."""
    import importlib.util

    from face3d.landmarks import BACKENDS
    from face3d.model import load_model

    load_model(opts.model)
    needs = {"mediapipe": "mediapipe", "dlib": "dlib", "face-alignment": "face_alignment"}
    if opts.landmarks not in BACKENDS and opts.landmarks not in ("fan", "face_alignment"):
        raise ValueError(f"unknown landmark backend {opts.landmarks!r}; choose one of {', '.join(BACKENDS)}")
    module = needs.get(opts.landmarks, "face_alignment")
    if importlib.util.find_spec(module) is None:
        raise ImportError(f"the {opts.landmarks} landmark backend needs {module}, which is not installed")
    if opts.min_identity is not None or opts.landmarks == "dlib":
        if importlib.util.find_spec("dlib") is None:
            raise ImportError("--min-identity and the dlib backend need dlib: pip install 'facerot[dlib]'")
        from face3d.landmarks.dlib_backend import dlib_model_file

        for name in ("shape_predictor_5_face_landmarks.dat", "shape_predictor_68_face_landmarks.dat"):
            dlib_model_file(name)  # LandmarkModelMissing names the missing file


_INIT_ERROR: str | None = None


def _init_worker(opts: AugmentOptions) -> None:
    """A worker's set-up. One that fails records why (every photo of that worker then fails with the
    reason): an exception here would make a process pool start the worker again, forever."""
    global _INIT_ERROR
    try:
        _set_up_worker(opts)
    except Exception as exc:  # noqa: BLE001
        _INIT_ERROR = f"worker set-up failed: {type(exc).__name__}: {exc}"


def _set_up_worker(opts: AugmentOptions) -> None:
    global _ROT, _IDENT
    os.environ.setdefault("GLOG_minloglevel", "2")
    import warnings

    warnings.filterwarnings("ignore")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    import cv2

    cv2.setNumThreads(1)  # one process per core already: OpenCV's own threads would only contend
    from .rotator import FaceRotator

    _ROT = FaceRotator(opts.model, opts.landmarks, refiner=opts.refiner, device=opts.device)
    _IDENT = None
    if opts.min_identity is not None:
        from .identity import DlibIdentity

        _IDENT = DlibIdentity()


def _init_ray_worker(opts: AugmentOptions, refiner: Any, info: tuple[str, int]) -> None:
    """A Ray worker's set-up. A module-level function, so that Ray pickles it by reference and never
    drags this process's models (``_ROT``) into the actor class."""
    _init_worker(opts)
    if refiner is not None and _INIT_ERROR is None:  # refinement runs in a (GPU) refiner actor
        _ROT.refiner = RemoteRefiner(refiner, *info)  # type: ignore[union-attr]


def read_source(path: Path, max_side: int) -> np.ndarray:
    """RGB uint8, EXIF orientation applied, downscaled so the longer side is at most ``max_side``
    (:func:`face3d.imageio.read_image`)."""
    from face3d.imageio import read_image

    return read_image(path, max_side)


def encode_image(rgb: np.ndarray, suffix: str) -> bytes:
    """An RGB image as PNG (fast zlib level 1 with run-length matching: on renders ~10% faster
    and ~7% smaller than the default strategy) or JPEG (quality 95) file bytes."""
    import cv2

    if suffix == ".png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
    else:
        params = [cv2.IMWRITE_JPEG_QUALITY, 95]
    ok, buf = cv2.imencode(suffix, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise OSError(f"could not encode {suffix} image")
    return buf.tobytes()


def _write_atomic(path: Path, tmp_dir: Path, rgb: np.ndarray) -> None:
    data = encode_image(rgb, path.suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / f"{os.getpid()}-{hashlib.sha1(str(path).encode()).hexdigest()[:12]}{path.suffix}"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def process_source(job: tuple[Source, list[Target], str, AugmentOptions]
                   | tuple[Source, list[Target], str, AugmentOptions, frozenset]) -> list[dict[str, Any]]:
    """Make every pending view of one photo (of each of its faces, with ``all_faces``); one record
    per output, per dropped view and per failure. ``job``: (source, targets, output folder,
    options[, the (face, *target key) pairs already made, all-faces mode])."""
    src, targets, out_root, opts = job[:4]
    done = job[4] if len(job) > 4 else frozenset()
    base = {"source": src.name, "identity": src.identity}
    t0 = time.perf_counter()
    if _INIT_ERROR is not None:
        return _timed([{**base, "status": "failed", "error": _INIT_ERROR}], t0)
    records: list[dict[str, Any]] = []
    try:
        rgb = read_source(src.path, opts.max_side)
        faces = _ROT.fitter.detect(rgb, all_faces=True) if opts.all_faces else [None]  # type: ignore[union-attr]
    except Exception as exc:  # noqa: BLE001 - one bad photo never stops the batch
        return _timed([{**base, "status": "failed", "error": _reason(exc)}], t0)
    if opts.all_faces:
        records.append({**base, "status": "faces", "faces": len(faces),
                        "boxes": [[round(float(v), 1) for v in f.box] for f in faces]})
    poses = []
    for k, face in enumerate(faces):
        key = k if opts.all_faces else None
        todo = [t for t in targets if (key, *t.key()) not in done]
        if not todo and not opts.include_originals:
            continue
        recs, pose = _face_views(src, key, face, rgb, todo, out_root, opts)
        records += recs
        poses += [pose] if pose is not None else []
    if opts.include_originals and poses:  # a copy of each photo that has a fitted face
        out = Path(out_root) / safe_identity(src.identity) / f"{Path(src.name).stem}_{_name_hash(src)}__original.{opts.fmt}"
        _write_atomic(out, Path(out_root) / TMP_DIR, rgb)
        records.append({**base, "status": "ok", "output": str(out.relative_to(out_root)), "original": True,
                        "achieved": [round(a, 3) for a in poses[0]]})
    return _timed(records, t0)


def _timed(records: list[dict[str, Any]], t0: float) -> list[dict[str, Any]]:
    sec = round((time.perf_counter() - t0) / max(len(records), 1), 4)
    for r in records:
        r["seconds"] = sec
    return records


def _face_views(src: Source, face_index: int | None, face: Any, rgb: np.ndarray, targets: list[Target],
                out_root: str, opts: AugmentOptions) -> tuple[list[dict[str, Any]], tuple[float, float, float] | None]:
    """Fit one face of the photo (``face``: its landmarks; None: the largest) and make its views:
    their records, and the face's fitted pose (None when its fit failed)."""
    from face3d.landmarks import box_of

    base: dict[str, Any] = {"source": src.name, "identity": src.identity}
    if face_index is not None:
        base["face"] = face_index
    try:
        prep = _ROT.prepare(rgb, _ROT.fitter.fit(rgb, face) if face is not None else None)  # type: ignore[union-attr]
        if prep.fit.quality == "failed":
            raise ValueError("fit failed its quality checks: " + "; ".join(prep.fit.reasons))
    except Exception as exc:  # noqa: BLE001 - one bad face never stops the batch
        return [{**base, "status": "failed", "error": _reason(exc)}], None
    src_desc = _IDENT.descriptor(rgb, box_of(prep.fit.landmarks68)) if _IDENT is not None else None
    records: list[dict[str, Any]] = []
    made: list[tuple[Target, Any]] = []
    for t in targets:  # render every view of the face, then refine them as one batch
        try:
            made.append((t, _ROT.rotate(prep, t.yaw, t.pitch, t.roll, lighting=t.lighting, refine=False)[0]))  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001
            records.append({**base, **_target_fields(t), "status": "failed", "error": _reason(exc)})
    try:
        refined = _ROT.refine([v for _, v in made])  # type: ignore[union-attr]
    except Exception as exc:  # noqa: BLE001
        return records + [{**base, **_target_fields(t), "status": "failed", "error": f"refiner: {_reason(exc)}"}
                          for t, _ in made], prep.fit.pose
    for (t, _), view in zip(made, refined):
        try:
            records.append(_write_view(src, base, t, view, prep, src_desc, out_root, opts))
        except Exception as exc:  # noqa: BLE001
            records.append({**base, **_target_fields(t), "status": "failed", "error": _reason(exc)})
    return records, prep.fit.pose


def _reason(exc: BaseException) -> str:
    from face3d.imageio import ImageReadError
    from face3d.landmarks import NoFaceError

    known = (ImageReadError, NoFaceError, ValueError, OSError)
    return f"{'' if isinstance(exc, known) else 'unexpected '}{type(exc).__name__}: {exc}"


def _target_fields(t: Target) -> dict[str, Any]:
    return {"yaw": t.yaw, "pitch": t.pitch, "roll": t.roll, "lighting": t.lighting}


def _write_view(src: Source, base: dict[str, Any], t: Target, view: Any, prep: Any, src_desc: Any, out_root: str,
                opts: AugmentOptions) -> dict[str, Any]:
    """One view through the quality filters and to its file: its manifest record."""
    from face3d.landmarks import NoFaceError, box_of

    score, reason = None, None
    if src_desc is not None:
        score = round(1.0 - _IDENT.distance(src_desc, _IDENT.descriptor(view.image, box_of(view.landmarks68))), 4)  # type: ignore[union-attr]
        if score < opts.min_identity:  # type: ignore[operator]
            reason = f"identity score {score:.3f} below --min-identity {opts.min_identity}"
    if reason is None and opts.max_pose_error is not None:
        try:
            refit = _ROT.fitter.fit_landmark_batch([view_face(_ROT.fitter, view)])[0].pose  # type: ignore[union-attr]
            err = max(abs(a - b) for a, b in zip(refit, view.pose))
            if err > opts.max_pose_error:
                reason = f"re-fitted pose misses the target by {err:.1f} deg (> --max-pose-error {opts.max_pose_error})"
        except NoFaceError:
            reason = "no face found when re-fitting the view (--max-pose-error)"
    achieved = [round(a, 3) for a in view.pose]
    if reason is not None:
        return {**base, **_target_fields(t), "status": "skipped", "achieved": achieved, "identity_score": score,
                "error": reason}
    if opts.size:
        view = crop_view(view, opts.size)
    out = Path(out_root) / safe_identity(src.identity) / output_name(src, t, opts.fmt, base.get("face"))
    _write_atomic(out, Path(out_root) / TMP_DIR, view.image)
    return {**base, **_target_fields(t), "status": "ok", "output": str(out.relative_to(out_root)), "achieved": achieved,
            "source_pose": [round(a, 3) for a in prep.fit.pose],
            "landmarks68": np.round(view.landmarks68.astype(np.float64), 1).tolist(),
            "model": _ROT.model.name, "refiner": _ROT.refiner.name if _ROT.refiner is not None else None,  # type: ignore[union-attr]
            "identity_score": score}


# ----------------------------------------------------------------------------------------- main
@dataclass
class Summary:
    ok: int = 0
    failed: int = 0
    skipped: int = 0  # already done by an earlier run
    dropped: int = 0  # made but dropped by a quality filter (manifest status "skipped", with the reason)
    sources: int = 0
    faces: int = 0  # --all-faces: faces found in the photos of this run
    failed_sources: int = 0
    earlier_failed_sources: int = 0  # failed in an earlier run of the same job, not retried
    seconds: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    start_method: str | None = None  # how local worker processes started (None: no worker processes)


@dataclass
class Progress:
    """What the manifest says an earlier run of the job finished."""

    done: set[tuple[Any, ...]] = field(default_factory=set)  # (source, face, *target key) made or dropped
    failed_sources: set[str] = field(default_factory=set)
    failed_faces: set[tuple[str, int]] = field(default_factory=set)  # --all-faces: faces whose fit failed
    faces: dict[str, int] = field(default_factory=dict)  # --all-faces: how many faces each photo has
    originals: set[str] = field(default_factory=set)


def _done_keys(manifest: Path, out_root: Path) -> Progress:
    """The job's :class:`Progress` from its manifest (a view counts when its file exists); a torn
    last line (a run killed mid-write) is cut off."""
    prog = Progress()
    if not manifest.is_file():
        return prog
    good = 0
    with open(manifest, "rb") as fh:
        data = fh.read()
    for line in data.split(b"\n"):
        if not line.endswith(b"}"):
            break
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            break
        good += len(line) + 1
        src, status, face = r["source"], r.get("status"), r.get("face")
        if r.get("original"):
            if (out_root / r["output"]).is_file():
                prog.originals.add(src)
        elif status == "faces":
            prog.faces[src] = int(r["faces"])
        elif (status == "ok" and (out_root / r["output"]).is_file()) or status == "skipped":
            prog.done.add((src, face, r.get("yaw"), r.get("pitch"), r.get("roll"), r.get("lighting")))
        elif status == "failed" and "yaw" not in r:
            (prog.failed_faces.add((src, face)) if face is not None else prog.failed_sources.add(src))
    if good < len(data):
        with open(manifest, "r+b") as fh:
            fh.truncate(good)
    return prog


def count_sources(root: Path) -> int | None:
    try:
        return sum(1 for _ in iter_sources(root))
    except InputError:
        raise
    except Exception:  # noqa: BLE001
        return None


START_METHODS = ("spawn", "fork", "forkserver", "auto")


def _os_threads() -> int | None:
    """This process's operating-system threads (Linux), or None where that cannot be read."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None


_THREADS_AT_IMPORT = _os_threads()


def resolve_start_method(method: str) -> str:
    """``"auto"`` → ``"fork"`` on Linux when this process has started no thread since this module
    was imported (so no OpenMP or OpenCV pool a fork would break), else ``"spawn"``."""
    if method != "auto":
        return method
    now = _os_threads()
    if sys.platform.startswith("linux") and now is not None and _THREADS_AT_IMPORT is not None and now <= _THREADS_AT_IMPORT:
        return "fork"
    return "spawn"


def run_augment(input_path: Path, output: Path, opts: AugmentOptions, workers: int = 1,
                retry_failed: bool = False, progress: bool = True, window: int = 256, engine: str = "local",
                ray_address: str | None = None, start_method: str = "spawn") -> Summary:
    """Run (or resume) an augmentation job; returns the counts. See the module docstring.

    ``start_method`` is how local worker processes start. ``"spawn"`` (the default) is safe from
    any process. ``"fork"`` starts them from this process's already imported modules, about a
    second sooner per run; use it only from a process that has not yet started thread pools
    (OpenCV's and OpenMP's pools do not survive a fork: a child that touches an inherited OpenCV
    pool hangs). ``"auto"`` (what ``facerot augment``
    uses) forks on Linux only when no thread has started since this module was imported, else
    spawns; ``Summary.start_method`` says which ran.

    ``engine="ray"`` runs the same jobs on Ray actors (one per worker, models loaded once each; a
    cluster at ``ray_address``, else a local Ray instance with ``workers`` CPUs). Outputs and the
    manifest are the local engine's: workers write the files, this process alone writes the
    manifest. On a cluster, OUTPUT must be on a file system every node shares."""
    from tqdm import tqdm

    if start_method not in START_METHODS:
        raise ValueError(f"unknown start method {start_method!r}; choose one of {', '.join(START_METHODS)}")
    output.mkdir(parents=True, exist_ok=True)
    tmp_dir = output / TMP_DIR
    if tmp_dir.exists():  # leftovers of a killed run: never renamed, so never in the manifest
        shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir()
    manifest = output / MANIFEST
    prog = _done_keys(manifest, output)
    total = count_sources(input_path)
    summary = Summary()
    t0 = time.perf_counter()
    pool = None
    if engine != "ray" and workers > 1:  # start the workers first: nothing of ours is open yet to fork
        import multiprocessing as mp

        summary.start_method = resolve_start_method(start_method)
        pool = mp.get_context(summary.start_method).Pool(workers, initializer=_init_worker, initargs=(opts,))
    bar = tqdm(total=total, unit="photo", disable=not progress, dynamic_ncols=True, file=sys.stderr)
    jobs_iter = _jobs(iter_sources(input_path), opts, prog, retry_failed, output, summary, bar)
    mf = open(manifest, "a", encoding="utf-8")
    try:
        if engine == "ray":
            _run_ray(jobs_iter, opts, workers, ray_address, window, mf, summary, bar)
        elif pool is None:
            _init_worker(opts)
            results: Any = (process_source(j) for j in jobs_iter)
            _consume(results, mf, summary, bar)
        else:
            while True:  # bounded windows keep memory flat however long the listing is
                chunk = list(itertools.islice(jobs_iter, window))
                if not chunk:
                    break
                _consume(pool.imap_unordered(process_source, chunk), mf, summary, bar)
            pool.close()
            pool.join()
    finally:
        if pool is not None:
            pool.terminate()
        mf.close()
        bar.close()
        shutil.rmtree(tmp_dir, ignore_errors=True)
    summary.seconds = time.perf_counter() - t0
    return summary


def _run_ray(jobs_iter: Iterator[Any], opts: AugmentOptions, workers: int, address: str | None, window: int,
             mf: Any, summary: Summary, bar: Any) -> None:
    try:
        import ray
        from ray.util import ActorPool
    except ImportError as exc:
        raise ImportError("--engine ray needs Ray: pip install 'facerot[ray]'") from exc
    started = False
    if not ray.is_initialized():
        kw: dict[str, Any] = {"address": address} if address else {"num_cpus": max(workers, 1)}
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False, **kw)
        started = True
    try:
        refiners = _ray_refiners(ray, opts)

        @ray.remote(num_cpus=1)
        class Worker:  # noqa: D401 - one per CPU, models loaded once
            def __init__(self, o: AugmentOptions, refiner: Any = None, info: tuple[str, int] = ("default", 128)) -> None:
                _init_ray_worker(o, refiner, info)

            def run(self, job: Any) -> list[dict[str, Any]]:
                return process_source(job)

        n = max(1, workers if not address else int(ray.cluster_resources().get("CPU", workers)))
        if refiners:
            from dataclasses import replace

            info = ray.get(refiners[0].info.remote())
            actors = [Worker.remote(replace(opts, refiner=None), refiners[i % len(refiners)], info)  # type: ignore[attr-defined]
                      for i in range(n)]
        else:
            actors = [Worker.remote(opts) for _ in range(n)]  # type: ignore[attr-defined]
        pool = ActorPool(actors)
        while True:
            chunk = list(itertools.islice(jobs_iter, window))
            if not chunk:
                break
            _consume(pool.map_unordered(lambda a, j: a.run.remote(j), chunk), mf, summary, bar)
    finally:
        if started:
            ray.shutdown()


#: Set to 1 to run the refiner in its own Ray actor even without GPUs (how the tests exercise the GPU path).
RAY_REFINER_ACTOR_ENV = "FACEROT_RAY_REFINER_ACTOR"


def _ray_refiners(ray: Any, opts: AugmentOptions) -> list[Any]:
    """One refiner actor per GPU of the cluster (none without GPUs: CPU workers refine themselves)."""
    if opts.refiner in (None, "none"):
        return []
    gpus = int(ray.cluster_resources().get("GPU", 0))
    if gpus == 0 and os.environ.get(RAY_REFINER_ACTOR_ENV) != "1":
        return []

    @ray.remote
    class RefinerActor:  # noqa: D401 - batched refinement on one GPU
        def __init__(self, spec: Any, device: str) -> None:
            from ganrefine.refiner import load_refiner

            self.ref = load_refiner(spec, device)

        def info(self) -> tuple[str, int]:
            return self.ref.name, self.ref.size

        def refine(self, crops: np.ndarray, provs: np.ndarray, lms: np.ndarray) -> np.ndarray:
            return self.ref.refine_crops(crops, provs, lms)

    if gpus:
        return [RefinerActor.options(num_gpus=1, num_cpus=0).remote(opts.refiner, "cuda") for _ in range(gpus)]  # type: ignore[attr-defined]
    return [RefinerActor.options(num_cpus=0).remote(opts.refiner, "cpu")]  # type: ignore[attr-defined]


class RemoteRefiner:
    """A CPU worker's stand-in for the refiner: crops and pastes locally, refines in a Ray actor."""

    def __init__(self, actor: Any, name: str, size: int) -> None:
        import ray

        self.actor, self.name, self.size, self._ray = actor, name, size, ray

    def refine_views(self, views: Sequence[Any]) -> list[Any]:
        from ganrefine.refiner import paste_refined, view_crops

        if not views:
            return []
        crops, provs, lms, mats = view_crops(views, self.size)
        refined = self._ray.get(self.actor.refine.remote(crops, provs, lms))
        return paste_refined(views, mats, crops, refined, self.name)


def _jobs(sources: Iterator[Source], opts: AugmentOptions, prog: Progress, retry_failed: bool, output: Path,
          summary: Summary, bar: Any) -> Iterator[tuple[Source, list[Target], str, AugmentOptions, frozenset]]:
    """The work still to do, photo by photo; what a previous run finished is counted as skipped."""
    from dataclasses import replace

    for src in sources:
        summary.sources += 1
        if src.name in prog.failed_sources and not retry_failed:
            summary.earlier_failed_sources += 1
            bar.update(1)
            continue
        need_original = opts.include_originals and src.name not in prog.originals
        if opts.all_faces:  # per face; a photo not seen before is detected again in its worker
            made = frozenset((k, *t.key()) for k in range(prog.faces.get(src.name, 0)) for t in opts.targets
                             if (src.name, k, *t.key()) in prog.done
                             or ((src.name, k) in prog.failed_faces and not retry_failed))
            todo = opts.targets
            summary.skipped += len(made)
            finished = src.name in prog.faces and len(made) == prog.faces[src.name] * len(opts.targets)
        else:
            made = frozenset()
            todo = [t for t in opts.targets if (src.name, None, *t.key()) not in prog.done]
            summary.skipped += len(opts.targets) - len(todo)
            finished = not todo
        if finished and not need_original:
            bar.update(1)
            continue
        yield src, todo, str(output), replace(opts, include_originals=need_original), made


def _consume(results: Any, mf: Any, summary: Summary, bar: Any) -> None:
    for records in results:
        for r in records:
            mf.write(json.dumps(r, ensure_ascii=False) + "\n")
            if r["status"] == "ok":
                summary.ok += 1
            elif r["status"] == "failed":
                summary.failed += 1
                key = r["error"].split(":", 1)[0]
                summary.errors[key] = summary.errors.get(key, 0) + 1
                if "yaw" not in r and "face" not in r:
                    summary.failed_sources += 1
            elif r["status"] == "faces":
                summary.faces += r["faces"]
            else:
                summary.dropped += 1
        mf.flush()
        os.fsync(mf.fileno())
        bar.update(1)
        bar.set_postfix(ok=summary.ok, failed=summary.failed, skipped=summary.skipped + summary.dropped)


def too_many_failures(summary: Summary, limit: str | None) -> bool:
    """``limit``: a count (``"10"``) or a fraction of the photos (``"0.05"``); None: never."""
    if limit is None:
        return False
    val = float(limit)
    failed = summary.failed_sources + summary.earlier_failed_sources  # the job's, this run's and earlier
    if val < 1:
        return failed / max(summary.sources, 1) > val
    return failed > val


def summary_lines(s: Summary) -> Sequence[str]:
    rate = s.ok / s.seconds if s.seconds > 0 else 0.0
    lines = [f"facerot augment: {s.sources} photos, {s.ok} views written, {s.failed} failed "
             f"({s.failed_sources} photos), {s.dropped} dropped by quality filters, {s.skipped} skipped (already done), "
             f"{s.earlier_failed_sources} photos failed "
             f"in an earlier run (--retry-failed retries them); {s.seconds:.1f}s ({rate:.1f} views/s)"
             + (f"; workers started by {s.start_method}" if s.start_method else "")]
    for k, v in sorted(s.errors.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {v} x {k}")
    return lines
