"""The manifest of an ``augment`` job: ``OUTPUT/manifest.jsonl``, one JSON record per line.

One record per written view, per view a quality filter dropped, per failure, per photo's face count
(``--all-faces``) and per copied original. Lines are appended by the main process only after the
file they name is in place, and flushed to disk, so a job killed at any moment and run again
resumes from it (:func:`read_progress`): every output present once, the manifest matching the files.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

#: Version of the record schema below, written in every record as ``schema``. Version 1 (records
#: without ``schema``) had the same fields but ``face``/``faces``/``boxes``, version 2 had no
#: ``source_pose_spread``, version 3 no ``realism_score``/``flags``, version 4 no ``glasses_removed``;
#: all read the same.
SCHEMA_VERSION = 5
MANIFEST = "manifest.jsonl"
STATUSES = ("ok", "failed", "skipped", "faces")


@dataclass
class ManifestRecord:
    """One line of the manifest.

    Attributes:
        source: the photo's key in the dataset (its path relative to INPUT, or as the list gives it).
        identity: its identity (folder name or the list's column).
        status: ``ok`` (``output`` written), ``failed`` (``error`` says why; no ``yaw``: the whole
            photo or, with ``face``, one face failed), ``skipped`` (made, dropped by a quality
            filter: ``error`` says which) or ``faces`` (``--all-faces``: ``faces`` found, their
            ``boxes`` [x0, y0, x1, y1] in the photo's pixels, largest first).
        output: the written file, relative to OUTPUT.
        face: ``--all-faces``: the face's index in the photo (0 largest); absent otherwise.
        yaw, pitch, roll, lighting: the target (``None``: the photo's own angle).
        achieved: the view's (yaw, pitch, roll), degrees (facerot's convention: face3d.camera).
        source_pose: the photo's fitted (yaw, pitch, roll). source_pose_spread: half the difference
            of the poses fitted to the detector's two readings of the photo (degrees per angle;
            :attr:`face3d.FitResult.pose_spread`), a per-photo sign of the label's uncertainty.
        source_pose_uncertainty: {"yaw": °, "pitch": °}, the expected absolute error of the photo's
            fitted pose against an independent reader (:attr:`face3d.FitResult.pose_uncertainty`).
        glasses_removed: ``--remove-glasses``: whether glasses were found on the photo's face and
            kept out of the texture (the view shows the face without them); None when not looked for.
        landmarks68: (68, 2) the model's landmarks in the written image's pixels.
        model, refiner: what made the view. identity_score: 1 - dlib distance to the photo
            (``--min-identity``). realism_score: P(real) of the view by the realism scorer
            (``--min-realism``). flags: with ``--keep-flagged``, why the quality filters would have
            dropped this written view. original: this record is the photo's copy (``--include-originals``).
        seconds: time spent per record of the photo. schema: :data:`SCHEMA_VERSION`.
    """

    source: str
    identity: str
    status: str
    output: str | None = None
    face: int | None = None
    yaw: float | None = None
    pitch: float | None = None
    roll: float | None = None
    lighting: str | None = None
    achieved: list[float] | None = None
    source_pose: list[float] | None = None
    source_pose_spread: list[float] | None = None
    source_pose_uncertainty: dict[str, float] | None = None
    glasses_removed: bool | None = None
    landmarks68: list[list[float]] | None = None
    model: str | None = None
    refiner: str | None = None
    identity_score: float | None = None
    realism_score: float | None = None
    flags: list[str] | None = None
    error: str | None = None
    original: bool = False
    faces: int | None = None
    boxes: list[list[float]] | None = field(default=None)
    seconds: float | None = None
    schema: int = SCHEMA_VERSION

    #: fields a view's record holds even when None: its target (None keeps the photo's angle) and,
    #: once written, what made it
    _VIEW_FIELDS = ("yaw", "pitch", "roll", "lighting")
    _MADE_FIELDS = ("model", "refiner", "identity_score", "glasses_removed")

    @property
    def is_view(self) -> bool:
        """A record about one target view (made, dropped or failed), not about the whole photo."""
        return self.lighting is not None

    def key(self) -> tuple[Any, ...]:
        """What resuming matches on: (source, face, yaw, pitch, roll, lighting)."""
        return (self.source, self.face, self.yaw, self.pitch, self.roll, self.lighting)

    def to_json(self) -> str:
        """The record as one JSON line's text: fields that do not apply to it are left out."""
        keep = set(self._VIEW_FIELDS if self.is_view else ())
        if self.is_view and self.status == "ok":
            keep.update(self._MADE_FIELDS)
        d = {k: v for k, v in asdict(self).items() if (v is not None and v is not False) or k in keep}
        return json.dumps(d, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str | bytes) -> "ManifestRecord":
        """A record from one line; records of schema 1 (no ``schema`` key) read as well. Raises
        ``ValueError`` for a line that is not a record."""
        d = json.loads(line)
        if not isinstance(d, dict) or "source" not in d or d.get("status") not in STATUSES:
            raise ValueError(f"not a manifest record: {str(line)[:120]}")
        names = {f.name for f in fields(cls)}
        return cls(**{"schema": 1, **{k: v for k, v in d.items() if k in names}})


@dataclass
class Progress:
    """What the manifest says an earlier run of the job finished."""

    done: set[tuple[Any, ...]] = field(default_factory=set)  # record keys made (file present) or dropped
    failed_sources: set[str] = field(default_factory=set)
    failed_faces: set[tuple[str, int]] = field(default_factory=set)  # --all-faces: faces whose fit failed
    faces: dict[str, int] = field(default_factory=dict)  # --all-faces: how many faces each photo has
    originals: set[str] = field(default_factory=set)


def read_progress(manifest: Path, out_root: Path) -> Progress:
    """The job's :class:`Progress` from its manifest (a view counts when its file exists). A torn
    last line (a run killed mid-write) is cut off the file."""
    prog = Progress()
    if not manifest.is_file():
        return prog
    data = manifest.read_bytes()
    good = 0
    for line in data.split(b"\n"):
        try:
            r = ManifestRecord.from_json(line)
        except ValueError:  # incl. JSONDecodeError: the torn end of a killed run
            break
        good += len(line) + 1
        _note(prog, r, out_root)
    if good < len(data):
        with open(manifest, "r+b") as fh:
            fh.truncate(good)
    return prog


def _note(prog: Progress, r: ManifestRecord, out_root: Path) -> None:
    if r.original:
        if r.output and (out_root / r.output).is_file():
            prog.originals.add(r.source)
    elif r.status == "faces":
        prog.faces[r.source] = int(r.faces or 0)
    elif (r.status == "ok" and r.output and (out_root / r.output).is_file()) or r.status == "skipped":
        prog.done.add(r.key())
    elif r.status == "failed" and not r.is_view:
        (prog.failed_faces.add((r.source, r.face)) if r.face is not None else prog.failed_sources.add(r.source))


def read_manifest(path: str | Path) -> list[ManifestRecord]:
    """Every record of a manifest file (a torn last line is left out): what a training data loader
    reads. ``[r for r in read_manifest(p) if r.status == "ok"]`` are the written views."""
    out = []
    for line in Path(path).read_bytes().split(b"\n"):
        if not line.strip():
            continue
        try:
            out.append(ManifestRecord.from_json(line))
        except ValueError:
            break
    return out
