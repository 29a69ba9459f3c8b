"""The job's options and targets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..angles import parse_angles


@dataclass(frozen=True)
class Target:
    """One view to make of every photo: absolute angles (``None`` keeps the photo's) and a lighting preset."""

    yaw: float | None
    pitch: float | None
    roll: float | None
    lighting: str = "keep"

    @property
    def tag(self) -> str:
        def a(n: str, v: float | None) -> str:
            return f"{n}{'k' if v is None else f'{v:+g}'}"

        return f"{a('y', self.yaw)}_{a('p', self.pitch)}_{a('r', self.roll)}_{self.lighting}"

    def key(self) -> tuple[Any, ...]:
        return (self.yaw, self.pitch, self.roll, self.lighting)


@dataclass
class AugmentOptions:
    """Everything an ``augment`` job is told (the command line's options)."""

    targets: list[Target]
    model: str | None = None
    landmarks: str = "mediapipe"
    refiner: str | None = None  # none | default | auto | weights path
    device: str = "cpu"  # torch device of the refiner
    size: int | None = None  # output side (square crop around the face), None: full frame
    fmt: str = "png"
    include_originals: bool = False
    max_side: int = 2048  # larger inputs are downscaled before fitting (bounded memory)
    seed: int = 0
    min_identity: float | None = None  # drop views whose identity score (1 - dlib distance) is lower
    max_pose_error: float | None = None  # drop views whose re-fitted yaw/pitch/roll miss the target by more
    min_realism: float | None = None  # drop views the realism scorer gives a lower P(real)
    realism_scorer: str | None = None  # the scorer's file (None: the shipped one)
    keep_flagged: bool = False  # write views a filter flags (their reasons in ``flags``) instead of dropping them
    remove_glasses: bool = False  # keep glasses frames found on the face out of the texture (views without them)
    all_faces: bool = False  # every face of each photo (output names and manifest records carry the face index)


def make_targets(yaws: str | None, pitches: str | None, rolls: str | None, lighting: str | None) -> list[Target]:
    """Every combination of the listed angles and lighting presets."""
    lights = [x.strip() for x in (lighting or "keep").split(",") if x.strip()]
    return [
        Target(y, p, r, light)
        for y in parse_angles(yaws)
        for p in parse_angles(pitches)
        for r in parse_angles(rolls)
        for light in lights
    ]
