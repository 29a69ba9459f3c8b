"""The ``facerot`` command line.

    facerot fit IMAGE [--model M] [--landmarks B] --json OUT.json [--mesh OUT.obj|.ply] [--overlay OUT.png]
    facerot rotate IMAGE --yaw 30[,45,...] [--pitch P] [--roll R] [--light PRESET] -o OUT [--meta OUT.json]
    facerot augment INPUT OUTPUT [--yaws -60:60:15] [--pitches 0] [--workers N] [--all-faces] [--max-failures X]
    facerot model convert --format {sfm,bfm2009,bfm2017,3ddfa,flame} SRC... -o OUT.npz
    facerot model info FILE
    facerot train-refiner --config CFG.json [--steps N] [--device cpu|cuda] [--export OUT.pt] [--no-resume]
    facerot eval [DATA] [--report DIR]
    facerot demo [-o DIR]

Exit codes (every command; the reason in one line on stderr, naming the photo):

    0  success
    1  an internal error: a bug in facerot (FACEROT_DEBUG=1 prints its traceback), or out of memory
    2  bad usage or input: an unreadable or missing file, a bad option value, a missing model file
    3  no face found in the photo
    4  the fit failed its quality checks
    5  ``augment``: more photos failed than ``--max-failures`` allows
    130  interrupted (Ctrl-C)

``augment`` records a photo that fails (unreadable, no face, failed fit) in its manifest and goes on.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from face3d.settings import DEBUG_ENV

from . import augment, demo, evaluate, fit, model, rotate, train
from .common import (
    DEFAULT_MAX_SIDE,
    EXIT_FIT_FAILED,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_NO_FACE,
    EXIT_TOO_MANY_FAILURES,
    EXIT_USAGE,
)

__all__ = [
    "DEFAULT_MAX_SIDE",
    "EXIT_FIT_FAILED",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_NO_FACE",
    "EXIT_TOO_MANY_FAILURES",
    "EXIT_USAGE",
    "build_parser",
    "main",
    "run_command",
]

#: The subcommands, in the order ``--help`` lists them; each module registers its parser and ``run``.
COMMANDS = (fit, rotate, augment, model, train, evaluate, demo)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="facerot", description="Pose-varied face augmentation: 3DMM fitting and more.")
    sub = ap.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return ap


ANGLE_OPTIONS = ("--yaw", "--pitch", "--roll", "--yaws", "--pitches", "--rolls")


def _join_negative_angles(argv: list[str]) -> list[str]:
    """Let ``--yaw -30,30`` through: argparse would read ``-30,30`` as an option."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ANGLE_OPTIONS and i + 1 < len(argv) and argv[i + 1][:1] == "-" and argv[i + 1][1:2].isdigit():
            out.append(f"{a}={argv[i + 1]}")
            i += 2
            continue
        out.append(a)
        i += 1
    return out


def _subject(args: argparse.Namespace) -> str:
    """What the command works on, to name in its error messages: ``"photo.jpg: "`` or ``""``."""
    for name in ("image", "input", "config", "file", "data"):
        value = getattr(args, name, None)
        if value:
            return f"{value}: "
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import warnings

    warnings.filterwarnings("ignore", module="google.protobuf")
    args = build_parser().parse_args(_join_negative_angles(list(sys.argv[1:] if argv is None else argv)))
    code, message = run_command(args)
    if message:
        subject = _subject(args)
        print(f"facerot {args.command}: {'' if message.startswith(subject) else subject}{message}", file=sys.stderr)
    return code


def run_command(args: argparse.Namespace) -> tuple[int, str | None]:
    """Run the parsed command: (exit code, the one-line reason when it did not succeed). Every
    exception is caught here; the known ones are the user's to fix (codes 2-4), the rest a bug (1)."""
    from face3d.fitting import FitError
    from face3d.imageio import ImageReadError
    from face3d.landmarks import LandmarkModelMissing, NoFaceError
    from face3d.model import ModelFormatError
    from ganrefine.refiner import RefinerError

    try:
        return args.func(args), None
    except NoFaceError as exc:
        return EXIT_NO_FACE, f"no face: {exc}"
    except FitError as exc:
        return EXIT_FIT_FAILED, str(exc)
    except (ImageReadError, ModelFormatError, LandmarkModelMissing, ValueError, ImportError, RefinerError) as exc:
        return EXIT_USAGE, str(exc)  # incl. the batch's InputError
    except OSError as exc:  # a missing input, an unwritable output, a full disk
        return EXIT_USAGE, str(exc) if exc.strerror is None else f"{exc.strerror}: {exc.filename or exc}"
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED, "interrupted"
    except MemoryError:
        return EXIT_INTERNAL, "out of memory (a smaller --max-side, fewer --workers or targets need less)"
    except Exception as exc:  # noqa: BLE001 - a bug: one line, the traceback on request
        if os.environ.get(DEBUG_ENV) == "1":
            import traceback

            traceback.print_exc()
        return EXIT_INTERNAL, (
            f"internal error ({type(exc).__name__}: {exc}); this is a bug in facerot: please report it "
            f"(set {DEBUG_ENV}=1 for the traceback)"
        )
