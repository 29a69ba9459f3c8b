"""One photo's work, in a worker process (models loaded once per worker): read → landmarks → fit →
texture → render every target → refine → filter → write each view (temporary name, then rename).
Returns the photo's manifest records; the main process writes them (:mod:`.engines`)."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from .manifest import ManifestRecord
from .options import AugmentOptions, Target
from .sources import Source, safe_identity

#: Temporary files of a running job live here, inside OUTPUT (removed at the start of every run).
TMP_DIR = ".facerot-tmp"

_ROT: Any = None
_IDENT: Any = None
_REALISM: Any = None
_INIT_ERROR: str | None = None


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
    if opts.min_realism is not None:
        from ..evaluation.realism import default_scorer_path

        scorer = Path(opts.realism_scorer) if opts.realism_scorer else default_scorer_path()
        if not scorer.is_file():
            raise FileNotFoundError(
                f"--min-realism needs the realism scorer, not found at {scorer} "
                "(make one: cd bench && python realism.py --export-scorer PATH)"
            )


def init_worker(opts: AugmentOptions) -> None:
    """A worker's set-up. One that fails records why (every photo of that worker then fails with the
    reason): an exception here would make a process pool start the worker again, forever."""
    global _INIT_ERROR
    try:
        _set_up(opts)
    except Exception as exc:  # noqa: BLE001
        _INIT_ERROR = f"worker set-up failed: {type(exc).__name__}: {exc}"


def _set_up(opts: AugmentOptions) -> None:
    global _ROT, _IDENT, _REALISM
    os.environ.setdefault("GLOG_minloglevel", "2")
    import warnings

    warnings.filterwarnings("ignore")
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)  # one process per core already: OpenCV's own threads would only contend
    from ..rotator import FaceRotator

    _ROT = FaceRotator(opts.model, opts.landmarks, refiner=opts.refiner, device=opts.device, remove_glasses=opts.remove_glasses)
    _IDENT = None
    if opts.min_identity is not None:
        from ..identity import DlibIdentity

        _IDENT = DlibIdentity()
    _REALISM = None
    if opts.min_realism is not None:
        from ..evaluation.realism import RealismScorer

        _REALISM = RealismScorer(opts.realism_scorer)


def set_refiner(refiner: Any) -> None:
    """Refine with ``refiner`` in this worker (a Ray worker's stand-in for a GPU refiner actor)."""
    if _INIT_ERROR is None:
        _ROT.refiner = refiner


def output_name(src: Source, target: Target, fmt: str, face: int | None = None) -> str:
    """Collision-free, deterministic: the photo's stem, a short hash of its dataset path, the face
    (``--all-faces``: ``_f0``, ``_f1`` ... largest first), the target."""
    return f"{Path(src.name).stem}_{_name_hash(src)}{'' if face is None else f'_f{face}'}__{target.tag}.{fmt}"


def _name_hash(src: Source) -> str:
    return hashlib.sha1(src.name.encode("utf-8", "surrogateescape")).hexdigest()[:6]


def process_source(job: tuple[Source, list[Target], str, AugmentOptions, frozenset]) -> list[ManifestRecord]:
    """Make every pending view of one photo (of each of its faces, with ``all_faces``); one record
    per output, per dropped view and per failure. ``job``: (source, targets, output folder,
    options, the (face, *target key) pairs already made)."""
    from face3d.imageio import read_image

    src, targets, out_root, opts, done = job
    t0 = time.perf_counter()
    if _INIT_ERROR is not None:
        return _timed([ManifestRecord(src.name, src.identity, "failed", error=_INIT_ERROR)], t0)
    records: list[ManifestRecord] = []
    try:
        rgb = read_image(src.path, opts.max_side)
        faces = _ROT.fitter.detect(rgb, all_faces=True) if opts.all_faces else [None]
    except Exception as exc:  # noqa: BLE001 - one bad photo never stops the batch
        return _timed([ManifestRecord(src.name, src.identity, "failed", error=_reason(exc))], t0)
    if opts.all_faces:
        records.append(
            ManifestRecord(
                src.name, src.identity, "faces", faces=len(faces), boxes=[[round(float(v), 1) for v in f.box] for f in faces]
            )
        )
    fits = []
    for k, face in enumerate(faces):
        key = k if opts.all_faces else None
        todo = [t for t in targets if (key, *t.key()) not in done]
        if not todo and not opts.include_originals:
            continue
        recs, fit = _face_views(src, key, face, rgb, todo, out_root, opts)
        records += recs
        fits += [fit] if fit is not None else []
    if opts.include_originals and fits:  # a copy of each photo that has a fitted face
        records.append(_write_original(src, rgb, fits[0], out_root, opts))
    return _timed(records, t0)


def _write_original(src: Source, rgb: np.ndarray, fit: Any, out_root: str, opts: AugmentOptions) -> ManifestRecord:
    """The photo's copy (with ``--size``: cropped around its largest face as its views are)."""
    from face3d.files import write_image

    from ..rotator import crop_photo

    image, lm = crop_photo(rgb, fit, opts.size) if opts.size else (rgb, fit.landmarks68)
    out = Path(out_root) / safe_identity(src.identity) / f"{Path(src.name).stem}_{_name_hash(src)}__original.{opts.fmt}"
    write_image(out, image, Path(out_root) / TMP_DIR, durable=True)
    return ManifestRecord(
        src.name,
        src.identity,
        "ok",
        output=str(out.relative_to(out_root)),
        original=True,
        achieved=[round(a, 3) for a in fit.pose],
        landmarks68=np.round(np.asarray(lm, np.float64), 1).tolist(),
    )


def _timed(records: list[ManifestRecord], t0: float) -> list[ManifestRecord]:
    sec = round((time.perf_counter() - t0) / max(len(records), 1), 4)
    for r in records:
        r.seconds = sec
    return records


def _face_views(
    src: Source, face_index: int | None, face: Any, rgb: np.ndarray, targets: list[Target], out_root: str, opts: AugmentOptions
) -> tuple[list[ManifestRecord], Any]:
    """Fit one face of the photo (``face``: its landmarks; None: the largest) and make its views:
    their records, and the face's fit (None when it failed)."""
    from face3d.landmarks import box_of

    def record(status: str, t: Target | None = None, **kw: Any) -> ManifestRecord:
        angles = {} if t is None else {"yaw": t.yaw, "pitch": t.pitch, "roll": t.roll, "lighting": t.lighting}
        return ManifestRecord(src.name, src.identity, status, face=face_index, **angles, **kw)

    try:
        prep = _ROT.prepare(rgb, _ROT.fitter.fit(rgb, face) if face is not None else None)
        if prep.fit.quality == "failed":
            raise ValueError("fit failed its quality checks: " + "; ".join(prep.fit.reasons))
    except Exception as exc:  # noqa: BLE001 - one bad face never stops the batch
        return [record("failed", error=_reason(exc))], None
    src_desc = _IDENT.descriptor(rgb, box_of(prep.fit.landmarks68)) if _IDENT is not None else None
    records: list[ManifestRecord] = []
    made: list[tuple[Target, Any]] = []
    for t in targets:  # render every view of the face, then refine them as one batch
        try:
            made.append((t, _ROT.rotate(prep, t.yaw, t.pitch, t.roll, lighting=t.lighting, refine=False)[0]))
        except Exception as exc:  # noqa: BLE001
            records.append(record("failed", t, error=_reason(exc)))
    try:
        refined = _ROT.refine([v for _, v in made])
    except Exception as exc:  # noqa: BLE001
        return records + [record("failed", t, error=f"refiner: {_reason(exc)}") for t, _ in made], prep.fit
    for (t, _), view in zip(made, refined):
        try:
            records.append(_write_view(record("ok", t), view, prep, src_desc, out_root, opts, src))
        except Exception as exc:  # noqa: BLE001
            records.append(record("failed", t, error=_reason(exc)))
    return records, prep.fit


def _reason(exc: BaseException) -> str:
    from face3d.landmarks import NoFaceError

    known = (NoFaceError, ValueError, OSError)  # ImageReadError is a ValueError
    return f"{'' if isinstance(exc, known) else 'unexpected '}{type(exc).__name__}: {exc}"


def _write_view(
    rec: ManifestRecord, view: Any, prep: Any, src_desc: Any, out_root: str, opts: AugmentOptions, src: Source
) -> ManifestRecord:
    """One view through the quality filters (:mod:`.filters`) and to its file: its record."""
    from face3d.files import write_image

    from ..rotator import crop_view
    from .filters import flag_reasons

    reasons, scores = flag_reasons(view, opts, _ROT.fitter, _IDENT, src_desc, _REALISM)
    rec.identity_score, rec.realism_score = scores.get("identity_score"), scores.get("realism_score")
    rec.achieved = [round(a, 3) for a in view.pose]
    if reasons and not opts.keep_flagged:
        rec.status, rec.error = "skipped", "; ".join(reasons)
        return rec
    rec.flags = reasons or None
    if opts.size:
        view = crop_view(view, opts.size)
    target = Target(rec.yaw, rec.pitch, rec.roll, rec.lighting or "keep")
    out = Path(out_root) / safe_identity(src.identity) / output_name(src, target, opts.fmt, rec.face)
    write_image(out, view.image, Path(out_root) / TMP_DIR, durable=True)
    rec.output = str(out.relative_to(out_root))
    rec.source_pose = [round(a, 3) for a in prep.fit.pose]
    rec.source_pose_spread = None if prep.fit.pose_spread is None else [round(a, 3) for a in prep.fit.pose_spread]
    rec.source_pose_uncertainty = prep.fit.pose_uncertainty
    rec.glasses_removed = None if prep.glasses is None else prep.glasses.present
    rec.landmarks68 = np.round(view.landmarks68.astype(np.float64), 1).tolist()
    rec.model, rec.refiner = _ROT.model.name, (_ROT.refiner.name if _ROT.refiner is not None else None)
    return rec
