"""``facerot train-refiner``: train, resume, fine-tune and export the GAN refiner."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-refiner", help="train the GAN refiner on self-supervised LFW DevTrain pairs")
    p.set_defaults(func=run)
    p.add_argument("--config", required=True, help="training config (JSON; see configs/refiner_cpu.json)")
    p.add_argument("--steps", type=int, default=None, help="override the config's number of steps")
    p.add_argument("--device", default=None, help="override the config's device (auto, cpu, cuda)")
    p.add_argument("--out", default=None, help="override the config's output folder")
    p.add_argument("--time-limit", type=float, default=None, help="stop cleanly (after a checkpoint) after this many minutes")
    p.add_argument("--no-resume", action="store_true", help="start again even if OUT/checkpoint.pt exists")
    p.add_argument("--export", default=None, help="after training, write the generator's weights to this file")
    p.add_argument(
        "--metrics",
        default=None,
        help="with --export: store these measured metrics (JSON, e.g. bench/results/refiner_eval.json) inside the exported file",
    )
    p.add_argument(
        "--export-only", action="store_true", help="no training: export the run's latest checkpoint (with --export, --metrics)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ganrefine.train import TrainConfig, export, train

    cfg = TrainConfig.load(args.config)
    metrics = None
    if args.metrics:  # read first: a bad file fails before, not after, the training
        try:
            metrics = json.loads(Path(args.metrics).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read metrics from {args.metrics}: {exc}") from exc
    over = {
        k: v
        for k, v in (("steps", args.steps), ("device", args.device), ("out", args.out), ("time_limit_min", args.time_limit))
        if v is not None
    }
    cfg = replace(cfg, **over)
    if args.export_only:
        ckpt = Path(cfg.out) / "checkpoint.pt"
        if not args.export:
            raise ValueError("--export-only needs --export OUT.pt")
        if not ckpt.is_file():
            raise FileNotFoundError(f"no checkpoint to export: {ckpt}")
    else:
        ckpt = train(cfg, resume=not args.no_resume, progress=not args.quiet)
    print(f"checkpoint: {ckpt}; losses: {Path(cfg.out) / 'log.csv'}; samples: {Path(cfg.out) / 'samples'}", file=sys.stderr)
    if args.export:
        export(ckpt, args.export, metrics=metrics, command="facerot " + " ".join(sys.argv[1:]))
        print(f"exported the generator to {args.export}", file=sys.stderr)
    return 0
