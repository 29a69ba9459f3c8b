"""``facerot augment``: views of a whole dataset (:mod:`pipeline.augment`)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .common import EXIT_TOO_MANY_FAILURES, add_common, add_max_side, add_refiner, add_remove_glasses


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("augment", help="synthesise views for a whole dataset (resumable, parallel)")
    p.set_defaults(func=run)
    p.add_argument("input", help="folder per identity (LFW / CASIA-WebFace / VGGFace2 layout) or a CSV/list of path[,identity]")
    p.add_argument("output", help="output folder: identity folders of views and manifest.jsonl")
    add_common(p)
    p.add_argument(
        "--yaws", "--yaw", dest="yaws", default="-45,-30,-15,15,30,45", help="yaws: '-60,-30,30,60' or a range '-60:60:15'"
    )
    p.add_argument("--pitches", "--pitch", dest="pitches", default="0", help="pitches, same syntax (default 0)")
    p.add_argument("--rolls", "--roll", dest="rolls", default="0", help="rolls, same syntax (default 0)")
    p.add_argument(
        "--lighting", "--light", dest="lighting", default="keep", help="lighting presets, comma-separated (default keep)"
    )
    add_refiner(p)
    p.add_argument("--size", type=int, default=None, help="write square face crops of this size instead of full frames")
    p.add_argument("--format", default="png", choices=["png", "jpg"], help="output image format")
    p.add_argument("--seed", type=int, default=0, help="random seed (kept for reproducible future sampling)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: cores)")
    p.add_argument("--engine", default="local", choices=["local", "ray"], help="local processes or a Ray cluster")
    p.add_argument(
        "--start-method",
        default="auto",
        choices=["auto", "fork", "spawn", "forkserver"],
        help="how local workers start (auto: fork on Linux when safe, else spawn)",
    )
    p.add_argument("--ray-address", default=None, help="Ray cluster address (default: start a local Ray instance)")
    p.add_argument(
        "--include-originals",
        action="store_true",
        help="also copy the sources into OUTPUT (with --size: cropped around the face as the views are)",
    )
    p.add_argument("--max-failures", default=None, help="exit 5 when failed photos exceed this count or fraction")
    p.add_argument("--retry-failed", action="store_true", help="try photos that failed in an earlier run again")
    add_max_side(p)
    p.add_argument(
        "--all-faces",
        action="store_true",
        help="views of every face of each photo, not only the largest (group photos: the faces are "
        "different people; names and manifest records carry the face index, _f0 largest)",
    )
    p.add_argument(
        "--min-identity",
        type=float,
        default=None,
        help="drop views whose identity score (1 - dlib descriptor distance to the source) is below this "
        "(0.4: dlib's same-person threshold)",
    )
    p.add_argument(
        "--max-pose-error",
        type=float,
        default=None,
        help="drop views whose re-fitted pose misses the target by more than this many degrees",
    )
    p.add_argument(
        "--min-realism",
        type=float,
        default=None,
        help="drop views the realism scorer gives a P(real) below this (0-1; see docs/results.md, Realism)",
    )
    p.add_argument("--realism-scorer", default=None, help="the realism scorer's file (default: the shipped one)")
    p.add_argument(
        "--keep-flagged",
        action="store_true",
        help="write the views a quality filter flags, with the reasons in their records' flags, instead of dropping them",
    )
    add_remove_glasses(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import torch

    from ganrefine.refiner import load_refiner
    from pipeline.augment import (
        AugmentOptions,
        check_setup,
        make_targets,
        run_augment,
        summary_lines,
        too_many_failures,
    )

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a single thread starts no OpenMP pool, so the workers can still fork
    try:
        load_refiner(args.refiner)  # fail now, with a clear message, rather than in every worker
    finally:
        torch.set_num_threads(threads)
    targets = make_targets(args.yaws, args.pitches, args.rolls, args.lighting)
    from face3d.synth import LIGHT_PRESETS

    for t in targets:
        if t.lighting not in LIGHT_PRESETS:
            raise ValueError(f"unknown lighting preset {t.lighting!r}; choose from {', '.join(LIGHT_PRESETS)}")
    opts = AugmentOptions(
        targets=targets,
        model=args.model,
        landmarks=args.landmarks,
        size=args.size,
        fmt=args.format,
        include_originals=args.include_originals,
        max_side=args.max_side,
        seed=args.seed,
        min_identity=args.min_identity,
        max_pose_error=args.max_pose_error,
        min_realism=args.min_realism,
        realism_scorer=args.realism_scorer,
        keep_flagged=args.keep_flagged,
        refiner=args.refiner,
        device=args.device,
        all_faces=args.all_faces,
        remove_glasses=args.remove_glasses,
    )
    check_setup(opts)
    summary = run_augment(
        Path(args.input),
        Path(args.output),
        opts,
        workers=args.workers,
        retry_failed=args.retry_failed,
        progress=not args.quiet,
        engine=args.engine,
        ray_address=args.ray_address,
        start_method=args.start_method,
    )
    for line in summary_lines(summary):
        print(line, file=sys.stderr)
    return EXIT_TOO_MANY_FAILURES if too_many_failures(summary, args.max_failures) else 0
