"""Where facerot finds files it does not ship: one place for every path setting.

Each setting is an explicit argument first, then an environment variable, then a
default beside the project (``../shared/...``, the layout used in development and CI).
"""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable naming the active morphable model (a ``.npz`` path or ``"default"``).
MODEL_ENV = "FACEROT_MODEL"
#: Environment variable naming the folder that holds the shared data (``data/lfw``, ``models/sfm`` ...).
SHARED_ENV = "FACEROT_SHARED"
#: Environment variable naming the LFW folder directly.
LFW_ENV = "FACEROT_LFW"
#: Environment variable naming the folder of the Surrey Face Model files.
SFM_ENV = "FACEROT_SFM"
#: Environment variable naming the MobileFaceNet weights (the refiner's identity loss).
MOBILEFACENET_ENV = "FACEROT_MOBILEFACENET"
#: Environment variable naming WHENet's ``WHENet.h5`` (the independent head-pose reader of the evaluation).
WHENET_ENV = "FACEROT_WHENET"
#: Environment variable naming a folder of AFLW2000-3D-format ``.mat`` annotations for ``facerot eval``.
AFLW2000_ENV = "FACEROT_AFLW2000"
#: Set to 1 to let the refiner's pairs be built from another LFW split than DevTrain (tests only).
ALLOW_EVAL_SPLIT_ENV = "FACEROT_ALLOW_EVAL_SPLIT"
#: Set to 1 to run ``augment``'s refiner in its own Ray actor even without GPUs (how the tests
#: exercise the GPU path).
RAY_REFINER_ACTOR_ENV = "FACEROT_RAY_REFINER_ACTOR"
#: Set to 1 to print the traceback of a command's internal error (exit code 1).
DEBUG_ENV = "FACEROT_DEBUG"

_PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "data" / "facerot_mp468.npz"


def shared_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The shared folder: ``path``, else ``$FACEROT_SHARED``, else ``../shared`` beside the project
    root (falling back to ``./../shared`` relative to the working directory for installed copies)."""
    if path is not None:
        return Path(path)
    env = os.environ.get(SHARED_ENV)
    if env:
        return Path(env)
    for cand in (_PROJECT_ROOT.parent / "shared", Path.cwd().parent / "shared", Path.cwd() / "shared"):
        if cand.is_dir():
            return cand
    return _PROJECT_ROOT.parent / "shared"


def lfw_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The LFW folder (holding ``images/`` and the protocol files)."""
    if path is not None:
        return Path(path)
    env = os.environ.get(LFW_ENV)
    return Path(env) if env else shared_dir() / "data" / "lfw"


def sfm_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The folder of the Surrey Face Model files in eos's layout."""
    if path is not None:
        return Path(path)
    env = os.environ.get(SFM_ENV)
    return Path(env) if env else shared_dir() / "models" / "sfm"


def model_path(model: str | os.PathLike[str] | None = None) -> Path:
    """The active morphable model file: ``model``, else ``$FACEROT_MODEL``, else the embedded default."""
    value = str(model) if model is not None else os.environ.get(MODEL_ENV, "default")
    if value in ("", "default"):
        return DEFAULT_MODEL_PATH
    return Path(value)
