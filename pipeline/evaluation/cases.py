"""Generated hard inputs: what users' folders hold beyond LFW's 250 x 250 crops.

Each case is made from photos the caller gives (LFW DevTest or public-domain ones), written as a
file under a folder, and described by a :class:`Case`: an upscaled photo (1,000-4,000 px), a face
filling 90% of the frame, a face half outside the frame, several faces of very different sizes on
one canvas. For tests and benchmarks only (``tests/test_realworld.py``, ``bench/realworld.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Case:
    """One generated input photo: its file, what it is, and how many faces it holds."""

    path: Path
    kind: str
    faces: int


def _write(path: Path, rgb: np.ndarray) -> Path:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
    return path


def _face_box(rgb: np.ndarray) -> tuple[int, int, int, int]:
    from face3d.landmarks import get_detector

    x0, y0, x1, y1 = get_detector("mediapipe").detect(rgb)[0].box
    return int(x0), int(y0), int(x1), int(y1)


def upscaled(rgb: np.ndarray, side: int) -> np.ndarray:
    """The photo resized (bicubic) so its longer side is ``side``."""
    import cv2

    s = side / max(rgb.shape[:2])
    return cv2.resize(rgb, (round(rgb.shape[1] * s), round(rgb.shape[0] * s)), interpolation=cv2.INTER_CUBIC)


def face_filling(rgb: np.ndarray, fill: float = 0.9, side: int = 800) -> np.ndarray:
    """A square crop in which the face's box spans ``fill`` of the frame, at ``side`` px."""
    import cv2

    x0, y0, x1, y1 = _face_box(rgb)
    half = max(x1 - x0, y1 - y0) / fill / 2
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    s = side / (2 * half)
    m = np.array([[s, 0, side / 2 - s * cx], [0, s, side / 2 - s * cy]], np.float32)
    return cv2.warpAffine(rgb, m, (side, side), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def face_cut(rgb: np.ndarray, outside: float = 0.5) -> np.ndarray:
    """The photo cropped so that ``outside`` of the face's width lies beyond the left border."""
    x0, _, x1, _ = _face_box(rgb)
    cut = int(x0 + outside * (x1 - x0))
    return np.ascontiguousarray(rgb[:, cut:])


def many_sizes(photos: list[np.ndarray], canvas: tuple[int, int] = (1500, 2000)) -> np.ndarray:
    """The photos' faces on one grey canvas at very different sizes (the first largest: 700 px,
    then 300, 140, 70 px photo sides), left to right."""

    h, w = canvas
    out = np.full((h, w, 3), 110, np.uint8)
    x = 20
    for rgb, side in zip(photos, (700, 300, 140, 70)):
        tile = upscaled(rgb, side)
        th, tw = tile.shape[:2]
        y = (h - th) // 2
        out[y : y + th, x : x + tw] = tile
        x += tw + 60
    return out


def make_cases(folder: Path, photos: list[np.ndarray], sides: tuple[int, ...] = (1000, 2500, 4000)) -> list[Case]:
    """Write the generated cases from ``photos`` (RGB, one face each, at least four) into ``folder``."""
    folder = Path(folder)
    cases = [
        Case(_write(folder / f"upscaled_{side}.jpg", upscaled(photos[i % len(photos)], side)), f"upscaled to {side} px", 1)
        for i, side in enumerate(sides)
    ]
    cases.append(Case(_write(folder / "face_fills_90.jpg", face_filling(photos[0])), "face fills 90% of the frame", 1))
    cases.append(
        Case(
            _write(folder / "face_half_outside.jpg", face_cut(upscaled(photos[1 % len(photos)], 1200))),
            "face half outside the frame",
            1,
        )
    )
    cases.append(
        Case(
            _write(folder / "four_sizes.jpg", many_sizes(photos[:4])), "four faces: 700/300/140/70 px photos", min(4, len(photos))
        )
    )
    return cases
