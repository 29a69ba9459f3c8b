"""What the subcommands share: exit codes, common options, writing outputs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

EXIT_INTERNAL, EXIT_USAGE, EXIT_NO_FACE, EXIT_FIT_FAILED, EXIT_TOO_MANY_FAILURES, EXIT_INTERRUPTED = 1, 2, 3, 4, 5, 130
#: Photos larger than this (longer side) are downscaled before ``rotate`` and ``augment`` work on them.
DEFAULT_MAX_SIDE = 2048
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
REFINER_HELP = (
    "refiner: default (the shipped, trained one), none (raw renders), auto (default, or raw renders "
    "with a warning when it cannot load), or a weights file from 'facerot train-refiner --export'"
)


def add_common(p: argparse.ArgumentParser) -> None:
    """The model and landmark backend options."""
    p.add_argument(
        "--model", default=None, help="morphable model .npz (default: $FACEROT_MODEL, else the embedded facerot-mp468)"
    )
    p.add_argument(
        "--landmarks",
        default="mediapipe",
        choices=["mediapipe", "dlib", "face-alignment"],
        help="landmark backend (default: mediapipe)",
    )


def add_refiner(p: argparse.ArgumentParser) -> None:
    """The refiner and the device it runs on."""
    p.add_argument("--refiner", default="default", help=REFINER_HELP)
    p.add_argument("--device", default="cpu", help="torch device for the refiner (cpu, cuda)")


def add_max_side(p: argparse.ArgumentParser) -> None:
    """How large a photo is worked on."""
    p.add_argument(
        "--max-side",
        type=int,
        default=DEFAULT_MAX_SIDE,
        help=f"photos larger than this (longer side, px) are downscaled first; full-frame views keep the "
        f"photo's size up to it (default {DEFAULT_MAX_SIDE})",
    )


def add_remove_glasses(p: argparse.ArgumentParser) -> None:
    """Glasses on the face: kept out of the texture when asked."""
    p.add_argument(
        "--remove-glasses",
        action="store_true",
        help="look for glasses on each face and keep their frames out of the texture: the views show the "
        "face without them (default: whatever the face wears is textured like skin)",
    )


def write_json(path: Path, obj: Any) -> None:
    from face3d.files import atomic_write

    atomic_write(path, json.dumps(obj, indent=1))


def write_image(path: Path, rgb: np.ndarray) -> None:
    from face3d.files import write_image as write

    write(path if path.suffix else path.with_suffix(".png"), rgb)


def check_image_suffix(path: Path) -> None:
    """Raises ``ValueError`` unless ``path`` names an image type the command can write."""
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise ValueError(
            f"cannot write images of type {path.suffix or '(none)'!r} ({path}); use one of " + ", ".join(IMAGE_SUFFIXES)
        )
