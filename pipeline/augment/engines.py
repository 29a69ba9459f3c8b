"""Running an ``augment`` job: the work still to do (resume), local worker processes or Ray actors,
the manifest written by this process alone, and the run's counts."""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from face3d.settings import RAY_REFINER_ACTOR_ENV

from .manifest import Progress
from .options import AugmentOptions, Target
from .sources import Source, count_sources, iter_sources
from .worker import TMP_DIR, init_worker, process_source, set_refiner


@dataclass
class Summary:
    """The counts of one run of a job."""

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


def run_augment(
    input_path: Path,
    output: Path,
    opts: AugmentOptions,
    workers: int = 1,
    retry_failed: bool = False,
    progress: bool = True,
    window: int = 256,
    engine: str = "local",
    ray_address: str | None = None,
    start_method: str = "spawn",
) -> Summary:
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
    manifest. On a cluster, OUTPUT must be on a file system every node shares. (Long on purpose: a
    job's set-up, its two engines and its clean-up, in order; most of the length is this text.)"""
    from tqdm import tqdm

    from .manifest import MANIFEST, read_progress

    if start_method not in START_METHODS:
        raise ValueError(f"unknown start method {start_method!r}; choose one of {', '.join(START_METHODS)}")
    output.mkdir(parents=True, exist_ok=True)
    tmp_dir = output / TMP_DIR
    if tmp_dir.exists():  # leftovers of a killed run: never renamed, so never in the manifest
        shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir()
    manifest = output / MANIFEST
    prog = read_progress(manifest, output)
    total = count_sources(input_path)
    summary = Summary()
    t0 = time.perf_counter()
    pool = None
    if engine != "ray" and workers > 1:  # start the workers first: nothing of ours is open yet to fork
        import multiprocessing as mp

        summary.start_method = resolve_start_method(start_method)
        pool = mp.get_context(summary.start_method).Pool(workers, initializer=init_worker, initargs=(opts,))
    bar = tqdm(total=total, unit="photo", disable=not progress, dynamic_ncols=True, file=sys.stderr)
    jobs_iter = _jobs(iter_sources(input_path), opts, prog, retry_failed, output, summary, bar)
    mf = open(manifest, "a", encoding="utf-8")
    try:
        if engine == "ray":
            _run_ray(jobs_iter, opts, workers, ray_address, window, mf, summary, bar)
        elif pool is None:
            init_worker(opts)
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


def _run_ray(
    jobs_iter: Iterator[Any],
    opts: AugmentOptions,
    workers: int,
    address: str | None,
    window: int,
    mf: Any,
    summary: Summary,
    bar: Any,
) -> None:
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
            actors = [
                Worker.remote(replace(opts, refiner=None), refiners[i % len(refiners)], info)  # type: ignore[attr-defined]
                for i in range(n)
            ]
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


def _init_ray_worker(opts: AugmentOptions, refiner: Any, info: tuple[str, int]) -> None:
    """A Ray worker's set-up. A module-level function, so that Ray pickles it by reference and never
    drags this process's models into the actor class."""
    init_worker(opts)
    if refiner is not None:  # refinement runs in a (GPU) refiner actor
        set_refiner(RemoteRefiner(refiner, *info))


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


def _jobs(
    sources: Iterator[Source], opts: AugmentOptions, prog: Progress, retry_failed: bool, output: Path, summary: Summary, bar: Any
) -> Iterator[tuple[Source, list[Target], str, AugmentOptions, frozenset]]:
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
            made = frozenset(
                (k, *t.key())
                for k in range(prog.faces.get(src.name, 0))
                for t in opts.targets
                if (src.name, k, *t.key()) in prog.done or ((src.name, k) in prog.failed_faces and not retry_failed)
            )
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
    """Append each photo's records to the manifest (flushed to disk: its files are in place), count them."""
    for records in results:
        for r in records:
            mf.write(r.to_json() + "\n")
            if r.status == "ok":
                summary.ok += 1
            elif r.status == "failed":
                summary.failed += 1
                key = (r.error or "").split(":", 1)[0]
                summary.errors[key] = summary.errors.get(key, 0) + 1
                if not r.is_view and r.face is None:
                    summary.failed_sources += 1
            elif r.status == "faces":
                summary.faces += r.faces or 0
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
    lines = [
        f"facerot augment: {s.sources} photos, {s.ok} views written, {s.failed} failed "
        f"({s.failed_sources} photos), {s.dropped} dropped by quality filters, {s.skipped} skipped (already done), "
        f"{s.earlier_failed_sources} photos failed "
        f"in an earlier run (--retry-failed retries them); {s.seconds:.1f}s ({rate:.1f} views/s)"
        + (f"; workers started by {s.start_method}" if s.start_method else "")
    ]
    for k, v in sorted(s.errors.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {v} x {k}")
    return lines
