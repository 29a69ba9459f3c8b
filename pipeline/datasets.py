"""Readers for annotated evaluation data sets.

AFLW2000-3D: a folder of ``imageNNNNN.jpg`` with ``imageNNNNN.mat`` beside each. A ``.mat`` holds
``Pose_Para`` (1 x 7: pitch, yaw, roll in radians, then tx, ty, tz, scale) and ``pt3d_68``
(3 x 68: x, y in image pixels and z), as released with 3DDFA.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np


@dataclass
class PoseSample:
    """One annotated photo: angles in degrees in the data set's own convention, 68 landmarks."""

    image: Path
    pitch: float
    yaw: float
    roll: float
    landmarks68: np.ndarray  # (68, 2) image pixels
    landmarks68_3d: np.ndarray  # (68, 3)


class DatasetFormatError(ValueError):
    """An annotation file is malformed; the message names the file and the field."""


def read_aflw2000_mat(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """(pose [pitch, yaw, roll] in degrees, pt3d_68 as (68, 3)) from one AFLW2000-3D ``.mat``."""
    import scipy.io

    p = Path(path)
    try:
        d = scipy.io.loadmat(str(p))
    except Exception as exc:  # noqa: BLE001 - scipy raises several types for bad files
        raise DatasetFormatError(f"{p}: not a readable MATLAB file ({exc})") from exc
    if "Pose_Para" not in d or "pt3d_68" not in d:
        raise DatasetFormatError(f"{p}: missing Pose_Para or pt3d_68")
    pose = np.asarray(d["Pose_Para"], np.float64).ravel()
    pts = np.asarray(d["pt3d_68"], np.float64)
    if pose.size < 3 or pts.shape not in ((3, 68), (2, 68)):
        raise DatasetFormatError(f"{p}: Pose_Para has {pose.size} values, pt3d_68 has shape {pts.shape}")
    if pts.shape[0] == 2:
        pts = np.vstack([pts, np.zeros((1, 68))])
    return np.degrees(pose[:3]), pts.T


def iter_aflw2000(folder: str | os.PathLike[str], max_angle: float = 99.0) -> Iterator[PoseSample]:
    """Samples of an AFLW2000-3D folder in name order, leaving out those with any |angle| >
    ``max_angle`` (the usual protocol drops the 31 photos beyond 99°)."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"AFLW2000-3D folder not found: {root}")
    for mat in sorted(root.glob("*.mat")):
        img = next((mat.with_suffix(e) for e in (".jpg", ".png", ".jpeg") if mat.with_suffix(e).is_file()), None)
        if img is None:
            continue
        (pitch, yaw, roll), pts = read_aflw2000_mat(mat)
        if max(abs(pitch), abs(yaw), abs(roll)) > max_angle:
            continue
        yield PoseSample(img, float(pitch), float(yaw), float(roll), pts[:, :2].astype(np.float32), pts.astype(np.float32))
