"""Each photo once: read → landmarks → fit (→ texture, for gallery photos) and its dlib descriptor,
with the time and memory every stage takes."""

from __future__ import annotations

import resource
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .data import EvalPhoto


@dataclass
class StageTimer:
    """Seconds and items per stage, and the process's peak memory when each stage last ran."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    items: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    peak_mb: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str, items: int = 1) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - t
            self.items[name] += items
            self.peak_mb[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "stage": k,
                "items": self.items[k],
                "seconds": round(v, 2),
                "ms_per_item": round(1000 * v / max(self.items[k], 1), 2),
                "peak_rss_mb": round(self.peak_mb[k]),
            }
            for k, v in self.seconds.items()
        ]


@dataclass
class PhotoFeatures:
    """What the experiments need of one photo (``error`` set when it could not be used)."""

    photo: EvalPhoto
    descriptor: np.ndarray | None = None
    yaw: float = float("nan")
    pitch: float = float("nan")
    prepared: Any = None  # face3d.synth.PreparedSource, kept for gallery photos only
    error: str | None = None


def describe_view(ident: Any, image: np.ndarray, landmarks68: np.ndarray) -> np.ndarray:
    from face3d.landmarks import box_of

    return ident.descriptor(image, box_of(landmarks68))


def photo_features(photo: EvalPhoto, rot: Any, ident: Any, timer: StageTimer, keep_prepared: bool) -> PhotoFeatures:
    """Read, detect, fit, describe; ``keep_prepared`` also extracts the texture (for views)."""
    from face3d.imageio import read_image

    out = PhotoFeatures(photo)
    try:
        with timer.stage("read (decode)"):
            rgb = read_image(photo.path)
        with timer.stage("landmarks"):
            faces = rot.fitter.detect(rgb)
        if not faces:
            out.error = "no face found"
            return out
        with timer.stage("fit"):
            fit = rot.fitter.fit(rgb, faces[0])
        if fit.quality == "failed":
            out.error = "fit failed: " + "; ".join(fit.reasons)
            return out
        out.yaw, out.pitch = float(fit.yaw), float(fit.pitch)
        with timer.stage("descriptor (dlib)"):
            out.descriptor = describe_view(ident, rgb, fit.landmarks68)
        if keep_prepared:
            with timer.stage("texture"):
                out.prepared = rot.prepare(rgb, fit)
    except Exception as exc:  # noqa: BLE001 - one bad photo must not stop the evaluation
        out.error = f"{type(exc).__name__}: {exc}"
    return out


def classic_descriptors(ident: Any, rgb: np.ndarray, landmarks68: np.ndarray) -> list[np.ndarray]:
    """Descriptors of the classic 2D augmentations: horizontal flip, ±10° rotation, 0.9× / 1.1× scale
    (about the face centre, the face box moved with the image)."""
    import cv2

    from face3d.landmarks import box_of

    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = box_of(landmarks68)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    out = []
    flipped = np.ascontiguousarray(rgb[:, ::-1])
    out.append(ident.descriptor(flipped, (w - 1 - x1, y0, w - 1 - x0, y1)))
    for angle, scale in ((10, 1.0), (-10, 1.0), (0, 0.9), (0, 1.1)):
        m = cv2.getRotationMatrix2D((cx, cy), angle, scale)
        img = cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        hw, hh = (x1 - x0) * scale / 2, (y1 - y0) * scale / 2
        out.append(ident.descriptor(img, (cx - hw, cy - hh, cx + hw, cy + hh)))
    return out
