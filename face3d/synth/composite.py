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


def relight_surround(frame: np.ndarray, face: FaceRender, reach: float = 0.45) -> None:
    """Carry the face's change of light onto the person around it in ``frame`` (hair, the forehead
    above the mesh, ears, neck; written in place), so a re-lit face is not a lit mask on an unlit
    head: the face's irradiance ratio (:attr:`FaceRender.light_ratio`), smoothed and extended
    outward by normalised convolution, fading to no change over ``reach`` × the face's size, and
    only on pixels :func:`~face3d.segment.person_mask` finds a person on (the scene behind keeps
    its light; without MediaPipe only the face is re-lit)."""
    import cv2

    from ..segment import person_mask

    if face.light_ratio is None or not face.coverage.any():
        return
    ys, xs = face.region.slices
    rows, cols = np.nonzero(face.coverage > 0.5)
    if rows.size == 0:
        return
    size = float(max(np.ptp(rows), np.ptp(cols), 1))
    pad = int(reach * size) + 1
    h, w = frame.shape[:2]
    y0, y1 = max(ys.start + rows.min() - pad, 0), min(ys.start + rows.max() + pad + 1, h)
    x0, x1 = max(xs.start + cols.min() - pad, 0), min(xs.start + cols.max() + pad + 1, w)
    mask = np.zeros((y1 - y0, x1 - x0), np.float32)
    ratio = np.ones((y1 - y0, x1 - x0, 3), np.float32)
    sy, sx = slice(ys.start - y0, ys.stop - y0), slice(xs.start - x0, xs.stop - x0)
    mask[sy, sx] = face.coverage > 0.5
    ratio[sy, sx] = face.light_ratio
    step = max(1, int(size // 64))  # the field is smooth: built at about 64 px per face
    small = (max(1, mask.shape[1] // step), max(1, mask.shape[0] // step))
    m = cv2.resize(mask, small, interpolation=cv2.INTER_AREA)
    r = cv2.resize(ratio * mask[..., None], small, interpolation=cv2.INTER_AREA)
    sigma = 0.12 * size / step
    den = cv2.GaussianBlur(m, (0, 0), sigma)[..., None]
    smooth = np.where(den > 1e-4, cv2.GaussianBlur(r, (0, 0), sigma) / np.maximum(den, 1e-4), 1.0)
    dist = cv2.distanceTransform((m < 0.5).astype(np.uint8), cv2.DIST_L2, 3) * step
    fade = np.exp(-0.5 * (dist / (0.5 * reach * size)) ** 2)[..., None]
    person = person_mask(frame[y0:y1, x0:x1])
    if person is None:
        return
    change = cv2.resize(((smooth - 1) * fade).astype(np.float32), (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    gain = 1 + change.reshape(y1 - y0, x1 - x0, 3) * person[..., None]
    sub = frame[y0:y1, x0:x1].astype(np.float32) * gain
    frame[y0:y1, x0:x1] = sub.round().clip(0, 255).astype(np.uint8)


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
