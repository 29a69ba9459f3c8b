"""``facerot eval``: identity, pose, recognition utility and speed on a folder per identity."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import add_refiner


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="measure identity, pose accuracy, recognition utility and speed; write a report")
    p.set_defaults(func=run)
    p.add_argument(
        "data",
        nargs="?",
        default=None,
        help="a folder per identity (DATA/<identity>/<photo>); default: LFW peopleDevTest from ../shared",
    )
    p.add_argument("--report", default="eval-report", help="report folder: report.md, results.json, PNG plots")
    p.add_argument(
        "--max-people",
        type=int,
        default=250,
        help="identities with >= 2 photos to use (plus as many single-photo distractors); 0: all",
    )
    p.add_argument("--max-probes", type=int, default=10, help="probe photos per identity at most")
    p.add_argument("--yaws", default="-45,-30,-15,15,30,45", help="view yaws for the gallery (list or start:stop:step)")
    add_refiner(p)
    p.add_argument(
        "--aflw2000",
        default=None,
        help="also fit photos annotated in the AFLW2000-3D .mat format in this folder ($FACEROT_AFLW2000)",
    )
    p.add_argument(
        "--verification-folds",
        type=int,
        default=1,
        help="LFW pairs.txt folds to verify when DATA is not given (600 pairs each; 10: the full 6,000-pair protocol; 0: skip)",
    )
    p.add_argument("--aflw2000-limit", type=int, default=None, help="at most this many AFLW2000 photos")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--landmarks",
        default="mediapipe",
        choices=["mediapipe", "dlib", "face-alignment"],
        help="landmark backend (default: mediapipe)",
    )


def run(args: argparse.Namespace) -> int:
    from ..angles import parse_angles
    from ..evaluation import EvalConfig, run_eval
    from ..evaluation.report import markdown

    cfg = EvalConfig(
        data=args.data,
        report=args.report,
        max_people=args.max_people or None,
        max_probes_per_person=args.max_probes,
        yaws=tuple(parse_angles(args.yaws)),
        refiner=args.refiner,
        device=args.device,
        landmarks=args.landmarks,
        aflw2000=args.aflw2000,
        aflw2000_limit=args.aflw2000_limit,
        verification_folds=args.verification_folds,
        progress=not args.quiet,
    )
    results = run_eval(cfg)
    if not args.quiet:
        print(markdown(results).split("## Identity")[0])
    print(f"report: {Path(args.report) / 'report.md'} ({results['seconds']:.0f} s)", file=sys.stderr)
    return 0
