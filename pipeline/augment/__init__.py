"""``facerot augment``: whole datasets, resumable, crash-safe, parallel (local processes or Ray).

Per photo, in a worker (:mod:`.worker`): read → landmarks → fit → texture → render each target →
refine → quality filters (:mod:`.filters`) → write (temporary name, then rename). The main process
(:mod:`.engines`) appends the photo's records to ``OUTPUT/manifest.jsonl`` (:mod:`.manifest`, one
:class:`ManifestRecord` per line) only after their files are in place, so a run killed at any
moment and started again ends with every output present once, no temporary file left, and a
manifest that matches the files. Inputs: :mod:`.sources`; options and targets: :mod:`.options`.
"""

from .engines import START_METHODS, Summary, resolve_start_method, run_augment, summary_lines, too_many_failures
from .manifest import MANIFEST, SCHEMA_VERSION, ManifestRecord, read_manifest
from .options import AugmentOptions, Target, make_targets
from .sources import IMAGE_EXTS, InputError, Source, iter_sources
from .worker import check_setup, output_name

__all__ = [
    "AugmentOptions",
    "IMAGE_EXTS",
    "InputError",
    "MANIFEST",
    "ManifestRecord",
    "SCHEMA_VERSION",
    "START_METHODS",
    "Source",
    "Summary",
    "Target",
    "check_setup",
    "iter_sources",
    "make_targets",
    "output_name",
    "read_manifest",
    "resolve_start_method",
    "run_augment",
    "summary_lines",
    "too_many_failures",
]
