"""What ``facerot augment`` reads: a folder per identity, or a CSV/list file of ``path[,identity]``."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}


class InputError(ValueError):
    """The input listing itself is unusable (not a folder or list file)."""


@dataclass(frozen=True)
class Source:
    """One input photo: its file, its identity (the folder, or the list's column) and a key unique
    within the dataset (its relative path)."""

    path: Path
    identity: str
    name: str


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


def count_sources(root: Path) -> int | None:
    """How many photos the input lists (for the progress bar); None when it cannot be counted."""
    try:
        return sum(1 for _ in iter_sources(root))
    except InputError:
        raise
    except Exception:  # noqa: BLE001
        return None


def safe_identity(identity: str) -> str:
    """The identity as one folder name (no separators, not empty, not dot-led)."""
    bad = "/\\\0"
    out = "".join("_" if c in bad else c for c in identity).strip(". ")
    return out or "_"
