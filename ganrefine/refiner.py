"""The trained refiner at inference: renders in, photorealistic faces out.

A view is cropped the way training pairs were (:func:`ganrefine.pairs.crop_matrix`), refined by the
generator at its size (128 by default), and put back into the full frame as a *residual*: the
frame keeps its own resolution and only the refiner's change is upsampled and added, faded out
toward the crop's border. So a 1000-pixel face keeps its detail while its artefacts are fixed.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from face3d.region import warp_crop

from .networks import GeneratorConfig, TwoPathwayGenerator
from .pairs import crop_matrix, fill_landmarks

#: The refiner shipped inside the package.
DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "data" / "refiner_default.pt"


class RefinerError(RuntimeError):
    """The refiner's weights are missing, unreadable or not a facerot refiner."""


def paste_weight(size: int, border: float = 0.12) -> np.ndarray:
    """(size, size) weight of a refined crop's change as it is pasted back: 1 inside, easing to 0
    over the outer ``border`` of the crop (smoothstep)."""
    r = np.minimum(np.arange(size) + 0.5, size - np.arange(size) - 0.5) / (border * size)
    ramp = np.clip(r, 0, 1)
    ramp = ramp * ramp * (3 - 2 * ramp)
    return np.minimum(ramp[:, None], ramp[None, :]).astype(np.float32)


class Refiner:
    """Load a trained generator (``"default"``: the shipped one, or a path) and refine views.

    Example::

        ref = Refiner()                           # the shipped weights
        refined = ref.refine_views(views)         # RotatedView in, RotatedView out (same frame)
    """

    def __init__(self, weights: str | os.PathLike[str] = "default", device: str = "cpu", batch: int = 16) -> None:
        path = DEFAULT_WEIGHTS if str(weights) == "default" else Path(weights)
        if not path.is_file():
            raise RefinerError(
                f"refiner weights not found: {path}"
                + (" (the package ships them; reinstall facerot)" if path == DEFAULT_WEIGHTS else "")
            )
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear error
            raise RefinerError(f"refiner weights {path} are unreadable or corrupt: {type(exc).__name__}: {exc}") from exc
        if not isinstance(blob, dict) or blob.get("format") != "facerot-refiner":
            raise RefinerError(f"{path} is not a facerot refiner file (no 'format': 'facerot-refiner')")
        self.config = GeneratorConfig(**blob["generator"])
        self.net = TwoPathwayGenerator(self.config)
        try:
            self.net.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
        except RuntimeError as exc:
            raise RefinerError(f"refiner weights {path} do not fit the generator: {exc}") from exc
        self.device = torch.device(device)
        self.net.eval().requires_grad_(False).to(self.device)
        self.path = path
        self.name = "default" if path == DEFAULT_WEIGHTS else str(path)
        self.metrics: dict[str, Any] = blob.get("metrics", {})
        self.training: dict[str, Any] = blob.get("training", {})
        self.batch = batch
        self.size = self.config.size
        mean = blob.get("mean_change")
        if mean is not None and tuple(mean.shape) != (3, self.size, self.size):
            raise RefinerError(f"refiner weights {path}: mean_change is {tuple(mean.shape)}, not (3, {self.size}, {self.size})")
        #: (3, S, S) the change the generator makes to every crop alike (its mean over training views),
        #: taken off each output: a fixed stamp tells views from photos, it repairs none
        self.mean_change = None if mean is None else mean.float().to(self.device)

    @torch.no_grad()
    def refine_crops(self, renders: np.ndarray, provenance: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """(B, S, S, 3) uint8 renders + (B, S, S) provenance + (B, 68, 2) landmarks (crop pixels) →
        (B, S, S, 3) uint8, S = the generator's size."""
        out = []
        for i in range(0, len(renders), self.batch):
            r = (
                torch.from_numpy(np.ascontiguousarray(renders[i : i + self.batch])).to(self.device).permute(0, 3, 1, 2).float()
                / 255
            )
            p = F.one_hot(torch.from_numpy(provenance[i : i + self.batch].astype(np.int64)).to(self.device), 4)
            lm = torch.from_numpy(np.ascontiguousarray(landmarks[i : i + self.batch], np.float32)).to(self.device)
            o = self.net(r, p.permute(0, 3, 1, 2).float(), lm)
            if self.mean_change is not None:
                o = o - self.mean_change
            out.append((o.permute(0, 2, 3, 1) * 255).round().clamp(0, 255).byte().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.size, self.size, 3), np.uint8)

    def refine_views(self, views: Sequence[Any]) -> list[Any]:
        """Refine full-frame :class:`face3d.synth.RotatedView` objects (in batches); each comes
        back with the same frame size, ``extra['refiner']`` set."""
        if not views:
            return []
        crops, provs, lms, mats = view_crops(views, self.size)
        return paste_refined(views, mats, crops, self.refine_crops(crops, provs, lms), self.name)


def view_crops(views: Sequence[Any], size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """The refiner's inputs for full-frame views: (B, S, S, 3) crops, (B, S, S) provenance,
    (B, 68, 2) landmarks in crop pixels, and each crop's 2x3 matrix. Cheap: this part runs on
    the CPU worker that rendered the views even when the refiner itself runs elsewhere (a GPU)."""
    mats = [crop_matrix(v.box, size) for v in views]
    crops = np.stack([warp_crop(v.image, m, size) for v, m in zip(views, mats)])
    provs = np.stack([warp_crop(v.provenance, m, size, nearest=True) for v, m in zip(views, mats)])
    lms = np.stack([fill_landmarks(v.landmarks68) @ m[:, :2].T + m[:, 2] for v, m in zip(views, mats)]).astype(np.float32)
    return crops, provs, lms, mats


def paste_refined(
    views: Sequence[Any], mats: Sequence[np.ndarray], crops: np.ndarray, refined: np.ndarray, name: str
) -> list[Any]:
    """Put refined crops back into their full frames as a residual, faded toward the crop border."""
    import cv2

    from face3d.region import region_box

    size = crops.shape[1]
    weight = paste_weight(size)
    out = []
    for v, m, crop, ref in zip(views, mats, crops, refined):
        h, w = v.image.shape[:2]
        delta = ref.astype(np.float32) - crop.astype(np.float32)
        inv = cv2.invertAffineTransform(m).astype(np.float64)
        # the change lands in the crop's own region of the frame only (not a frame-sized buffer)
        corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64) @ inv[:, :2].T + inv[:, 2]
        x0, y0, x1, y1 = region_box((*corners.min(0), *corners.max(0)), (h, w), margin=0.0)
        inv[:, 2] -= (x0, y0)
        part = cv2.warpAffine(
            np.dstack([delta * weight[..., None], weight]),
            inv,
            (x1 - x0, y1 - y0),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        img = v.image.copy()
        img[y0:y1, x0:x1] = (img[y0:y1, x0:x1].astype(np.float32) + part[..., :3]).round().clip(0, 255).astype(np.uint8)
        out.append(replace(v, image=img, extra={**v.extra, "refiner": name}))
    return out


def load_refiner(spec: Any, device: str = "cpu") -> Refiner | None:
    """A refiner from a user's choice: ``None``/``"none"`` → no refiner; ``"default"`` or a path →
    that refiner (a :class:`RefinerError` when it cannot be loaded); ``"auto"`` → the shipped one,
    or a warning and raw renders when it cannot be loaded; a :class:`Refiner` is used as is."""
    if spec is None or (isinstance(spec, str) and spec.lower() == "none"):
        return None
    if isinstance(spec, Refiner):
        return spec
    if isinstance(spec, str) and spec == "auto":
        try:
            return Refiner("default", device)
        except RefinerError as exc:
            warnings.warn(f"{exc}; continuing with raw renders", RuntimeWarning, stacklevel=2)
            return None
    return Refiner(spec, device)
