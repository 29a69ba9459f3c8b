"""Putting the face render into the warped frame: a feathered blend on the face's region, the
frame's padding put back, and the provenance of every pixel."""

from __future__ import annotations

import numpy as np
import torch

from ..render import pixel_attributes
from ..texture import BACKGROUND, INPAINTED, UVTexture
from .face import FaceRender


def feathered(alpha: np.ndarray, sigma: float) -> np.ndarray:
    """The face render's coverage faded to 0 just inside its edge (a Gaussian of ``sigma`` pixels;
    0: unchanged), so the face blends into the frame without a hard line."""
    import cv2

    if sigma <= 0 or not alpha.any():
        return alpha
    inner = cv2.GaussianBlur(alpha, (0, 0), sigma)
    return np.minimum(alpha, np.clip(2 * inner - 0.5, 0, 1) + (inner >= 0.75)).clip(0, 1)


def composite(frame: np.ndarray, face: FaceRender, sigma: float) -> np.ndarray:
    """Blend ``face`` into ``frame`` (H, W, 3 uint8, written in place) on its region, feathered by
    ``sigma`` pixels; returns the face's coverage over the whole frame, (H, W) float32."""
    a = feathered(face.coverage, sigma)
    ys, xs = face.region.slices
    blend = face.rgb * 255.0 * a[..., None] + frame[ys, xs].astype(np.float32) * (1 - a[..., None])
    frame[ys, xs] = blend.round().clip(0, 255).astype(np.uint8)
    alpha = np.zeros(frame.shape[:2], np.float32)
    alpha[ys, xs] = a
    return alpha


def provenance_map(
    face: FaceRender, triangles: torch.Tensor, uv: torch.Tensor, texture: UVTexture, size: tuple[int, int]
) -> np.ndarray:
    """(H, W) uint8: at each face pixel the texture's provenance code where it samples (1 seen,
    2 mirrored, 3 inpainted), 0 (background: the warped photo) elsewhere."""
    prov = np.full(size, BACKGROUND, np.uint8)
    frags = face.fragments
    face_px = frags.face.numpy() >= 0
    if face_px.any():
        uvp = pixel_attributes(frags, triangles, uv).numpy()  # face_px order
        s = texture.size
        tu = np.clip((uvp[:, 0] * s).astype(int), 0, s - 1)
        tv = np.clip(((1 - uvp[:, 1]) * s).astype(int), 0, s - 1)
        codes = texture.provenance[tv, tu]
        codes[codes == BACKGROUND] = INPAINTED
        ys, xs = face.region.slices
        prov[ys, xs][face_px] = codes
    return prov
