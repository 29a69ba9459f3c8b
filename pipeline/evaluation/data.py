"""Which photos an evaluation uses: a folder per identity, or an LFW people split."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..augment.sources import IMAGE_EXTS


@dataclass(frozen=True)
class EvalPhoto:
    identity: str
    path: Path


@dataclass
class EvalSet:
    """Photos grouped by identity, in a deterministic order (the first photo of each identity is
    its gallery photo)."""

    name: str
    people: dict[str, list[Path]] = field(default_factory=dict)

    def gallery_probes(self, max_probes_per_person: int | None = 10) -> tuple[list[EvalPhoto], list[EvalPhoto]]:
        """Gallery: each identity's first photo (identities with one photo stay as distractors);
        probes: the others, at most ``max_probes_per_person`` each, so that a few heavily
        photographed people do not decide the result."""
        gallery, probes = [], []
        for ident, paths in self.people.items():
            gallery.append(EvalPhoto(ident, paths[0]))
            rest = paths[1:] if max_probes_per_person is None else paths[1 : 1 + max_probes_per_person]
            probes += [EvalPhoto(ident, p) for p in rest]
        return gallery, probes

    def limit(self, max_people: int | None) -> EvalSet:
        """The first ``max_people`` identities that have at least two photos, plus as many
        single-photo identities (gallery distractors)."""
        if max_people is None:
            return self
        multi = [k for k, v in self.people.items() if len(v) >= 2][:max_people]
        single = [k for k, v in self.people.items() if len(v) == 1][:max_people]
        keep = set(multi) | set(single)
        return EvalSet(self.name, {k: v for k, v in self.people.items() if k in keep})

    @property
    def n_photos(self) -> int:
        return sum(len(v) for v in self.people.values())


def folder_set(root: str | os.PathLike[str]) -> EvalSet:
    """``root/<identity>/<photo>``: the layout ``facerot augment`` reads."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"evaluation data folder not found: {root}")
    people = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        photos = sorted(f for f in d.iterdir() if f.suffix.lower() in IMAGE_EXTS and f.is_file())
        if photos:
            people[d.name] = photos
    if not people:
        raise ValueError(f"{root} holds no identity folders with images (expected {root}/<identity>/<photo>.jpg)")
    return EvalSet(str(root), people)


def lfw_set(split: str = "DevTest", lfw: str | os.PathLike[str] | None = None) -> EvalSet:
    """The people of an LFW split (``DevTest``: never trained on; ``DevTrain`` is refused unless
    asked for by name, since the shipped refiner trained on it)."""
    from face3d.settings import lfw_dir

    root = lfw_dir(lfw)
    listing = root / f"people{split}.txt"
    if not listing.is_file():
        raise FileNotFoundError(f"LFW listing not found: {listing} (set FACEROT_LFW or pass the LFW folder)")
    people = {}
    for row in listing.read_text().splitlines()[1:]:
        parts = row.split("\t")
        if len(parts) == 2:
            name, k = parts[0], int(parts[1])
            people[name] = [root / "images" / name / f"{name}_{i:04d}.jpg" for i in range(1, k + 1)]
    return EvalSet(f"LFW people{split}", people)
