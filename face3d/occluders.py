"""Glasses in a photo: whether the face wears them, and which pixels their frames cover.

The texture must never take a frame's pixels as skin: painted onto the face, a frame bends with
the cheek when the head turns, and mirrored onto the far side it appears twice. Everything here
runs on the eye band of the face aligned by its eye centres (:func:`eye_band`: eyes
:data:`IOD` pixels apart), so one set of numbers serves photos of every size.

* **Presence** (:func:`glasses_score`): a logistic regression on the band's HOG and on the grid
  maxima of its black-hat response (thin dark lines), trained on hand-labelled LFW DevTrain photos
  (``bench/glasses_detector.py`` builds it and reports its accuracy on DevTest); shipped in
  ``face3d/data/glasses_detector.npz``.
* **Frame pixels** (:func:`frame_mask`): where the band's black-hat response exceeds
  :data:`FRAME_CONTRAST` of the skin's brightness, inside the spectacles' zone and outside the
  eyes, the brows and the lower nose (dark lines that belong to the face).

Lenses are not masked (the eye shows through them); dark sunglasses' lenses are not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

#: Distance between the eye centres in the aligned band (pixels).
IOD = 64
#: The aligned band: width, height, and the eyes' row.
BAND_W, BAND_H, EYE_ROW = 192, 160, 64
#: Black-hat kernel (pixels of the band): lines thinner than this count as lines.
KERNEL = 11
#: A band pixel is frame when its black-hat response exceeds this fraction of the skin's brightness.
FRAME_CONTRAST = 0.06
#: Frame pixels are grown by this kernel (pixels of the band): a frame's anti-aliased, JPEG-ringed edge.
FRAME_GROW = 5
#: Brows are left unmasked along a line this thick (pixels of the band) through their landmarks.
BROW_THICKNESS = 9
#: Rows of the band the spectacles can occupy (brow to the nose's base).
ZONE_ROWS = (34, 106)
#: The band's window the presence features are computed on (rows, columns).
FEATURE_WINDOW = (slice(32, 112), slice(16, 176))


@dataclass(frozen=True)
class Glasses:
    """Glasses on one face.

    Attributes:
        present: the detector's decision (``score > 0``).
        score: the detector's log-odds that the face wears glasses.
        mask: (H, W) float32 in [0, 1], the photo's pixels a frame covers (all zero when not present).
    """

    present: bool
    score: float
    mask: np.ndarray


def band_transform(points68: np.ndarray) -> np.ndarray:
    """The (2, 3) similarity that maps the photo onto the aligned eye band: eye centres (means of
    iBUG points 36–41 and 42–47) level, :data:`IOD` apart, on row :data:`EYE_ROW`."""
    pts = np.asarray(points68, np.float64)
    left, right = pts[36:42].mean(0), pts[42:48].mean(0)
    d = right - left
    scale = IOD / max(float(np.hypot(*d)), 1e-6)
    angle = np.arctan2(d[1], d[0])
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    m = np.array([[c, s, 0.0], [-s, c, 0.0]])
    m[:, 2] = np.array([BAND_W / 2 - IOD / 2, EYE_ROW]) - m[:, :2] @ left
    return m


def eye_band(image: np.ndarray, points68: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(band RGB uint8 (:data:`BAND_H`, :data:`BAND_W`, 3), the (2, 3) transform photo → band).
    A face larger than the band is area-reduced first (a bilinear warp alone would alias)."""
    import cv2

    m = band_transform(points68)
    scale = float(np.hypot(*m[:, 0]))
    src = np.ascontiguousarray(image)
    if scale < 0.7:  # reduce the band's part of the photo to about the band's scale, then warp
        inv = cv2.invertAffineTransform(m)
        corners = np.array([[0, 0], [BAND_W, 0], [0, BAND_H], [BAND_W, BAND_H]], np.float64) @ inv[:, :2].T + inv[:, 2]
        h, w = src.shape[:2]
        x0, y0 = np.clip(np.floor(corners.min(0)).astype(int) - 2, 0, [w - 1, h - 1])
        x1, y1 = np.clip(np.ceil(corners.max(0)).astype(int) + 2, [x0 + 1, y0 + 1], [w, h])
        f = scale / 0.7
        crop = src[y0:y1, x0:x1]
        size = (max(1, round((x1 - x0) * f)), max(1, round((y1 - y0) * f)))
        src = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        fx, fy = size[0] / (x1 - x0), size[1] / (y1 - y0)
        to_small = np.array([[fx, 0, -fx * x0], [0, fy, -fy * y0], [0, 0, 1.0]])
        warp = m @ np.linalg.inv(to_small)
    else:
        warp = m
    band = cv2.warpAffine(src, warp, (BAND_W, BAND_H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return band, m


def line_response(band: np.ndarray) -> np.ndarray:
    """(H, W) float32: the band's black-hat response (thin dark lines), over the skin's brightness."""
    import cv2

    grey = cv2.cvtColor(band, cv2.COLOR_RGB2GRAY).astype(np.float32)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (KERNEL, KERNEL))
    skin = float(np.median(grey[80:120, 70:122])) + 1.0  # the cheeks and nose below the eyes
    return cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, kernel) / skin


def presence_features(band: np.ndarray, lines: np.ndarray | None = None) -> np.ndarray:
    """The detector's input: HOG of the band's grey eye window and the 8 x 16 grid maxima of its
    line response (float32; ``lines``: :func:`line_response` of the band, when computed already)."""
    import cv2

    rows, cols = FEATURE_WINDOW
    grey = cv2.cvtColor(band, cv2.COLOR_RGB2GRAY)[rows, cols]
    h, w = grey.shape
    hog = cv2.HOGDescriptor((w, h), (16, 16), (8, 8), (8, 8), 9).compute(np.ascontiguousarray(grey)).ravel()
    lines = (line_response(band) if lines is None else lines)[rows, cols]
    grid = lines.reshape(8, h // 8, 16, w // 16).max((1, 3)).ravel()
    return np.concatenate([hog, grid]).astype(np.float32)


@lru_cache(maxsize=1)
def _detector() -> dict[str, np.ndarray]:
    with resources.files("face3d").joinpath("data/glasses_detector.npz").open("rb") as f:
        data = np.load(f)
        return {k: data[k] for k in ("mean", "std", "weight", "bias")}


def glasses_score(band: np.ndarray, detector: dict[str, np.ndarray] | None = None, lines: np.ndarray | None = None) -> float:
    """The log-odds that the face in ``band`` (:func:`eye_band`) wears glasses; ``detector``: the
    regression (mean, std, weight, bias), the shipped one by default; ``lines``: the band's
    :func:`line_response`, when computed already."""
    d = detector or _detector()
    z = (presence_features(band, lines) - d["mean"]) / d["std"]
    return float(z @ d["weight"] + d["bias"].item())


def frame_mask(band: np.ndarray, band_points: np.ndarray, lines: np.ndarray | None = None) -> np.ndarray:
    """(H, W) float32 in [0, 1]: the band's frame pixels (``band_points``: the 68 landmarks in the
    band's coordinates; ``lines``: the band's :func:`line_response`, when computed already)."""
    import cv2

    lines = line_response(band) if lines is None else lines
    zone = np.zeros(lines.shape, np.uint8)
    zone[ZONE_ROWS[0] : ZONE_ROWS[1]] = 1
    pts = np.round(band_points).astype(np.int32)
    eyes = np.zeros(lines.shape, np.uint8)
    for eye in (pts[36:42], pts[42:48]):
        cv2.fillPoly(eyes, [eye], 1)
    eyes = cv2.dilate(eyes, np.ones((5, 5), np.uint8))
    face = eyes.copy()  # dark lines of the face itself: eyes, lower nose, brows
    cv2.fillPoly(face, [cv2.convexHull(pts[[29, 31, 32, 33, 34, 35]])], 1)
    face = cv2.dilate(face, np.ones((5, 5), np.uint8))
    for brow in (pts[17:22], pts[22:27]):
        cv2.polylines(face, [brow], False, 1, thickness=BROW_THICKNESS)
    mask = ((lines > FRAME_CONTRAST) & (zone > 0) & (face == 0)).astype(np.uint8)
    mask = cv2.dilate(mask, np.ones((FRAME_GROW, FRAME_GROW), np.uint8)) * (1 - eyes)  # grown, never into the eyes
    mask = mask.astype(np.float32)
    return cv2.GaussianBlur(mask, (3, 3), 0)


def detect_glasses(image: np.ndarray, points68: np.ndarray) -> Glasses:
    """Glasses on the face whose iBUG-68 landmarks are ``points68`` in ``image`` (RGB uint8)."""
    import cv2

    h, w = image.shape[:2]
    band, m = eye_band(image, points68)
    lines = line_response(band)
    score = glasses_score(band, lines=lines)
    if score <= 0:
        return Glasses(False, score, np.zeros((h, w), np.float32))
    band_points = np.asarray(points68, np.float64) @ m[:, :2].T + m[:, 2]
    mask = cv2.warpAffine(
        frame_mask(band, band_points, lines), m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=0.0
    )
    return Glasses(True, score, np.clip(mask, 0, 1).astype(np.float32))
