"""``facerot eval``: are the views correct, the same person, and useful — on the user's own data.

One concern per module: :mod:`.data` (which photos: a folder per identity or an LFW split, and the
gallery/probe split), :mod:`.features` (each photo once: fit, descriptor, with stage timings),
:mod:`.stats` (rank-1, bootstrap intervals), :mod:`.utility` (recognition with plain / classic-2D /
facerot-augmented galleries), :mod:`.identity` (identity vs target yaw, beside real photos),
:mod:`.report` (runs them and writes Markdown + PNG plots).
"""

from .data import EvalPhoto, EvalSet, folder_set, lfw_set
from .report import EvalConfig, run_eval
from .stats import bootstrap_ci, rank1_hits

__all__ = ["EvalConfig", "EvalPhoto", "EvalSet", "bootstrap_ci", "folder_set", "lfw_set", "rank1_hits", "run_eval"]
