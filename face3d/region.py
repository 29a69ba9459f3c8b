"""The face's region of a photo: where work that concerns only the face runs.

A photo can be 4,000 px with a face of 1,000 px or of 40. Fitting light and albedo, sampling the
texture and rendering the face need the face's pixels only, at a resolution the face model can
use: :func:`face_region` crops the photo around a face box and, where the face is larger than
``max_face``, reduces the crop, and gives the camera of that crop (:meth:`PerspectiveCamera.crop`).
Results computed there are in the photo's units again by ``Region.to_photo``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .camera import PerspectiveCamera


@dataclass(frozen=True)
class Region:
    """A crop of the photo, ``[x0, x1) x [y0, y1)`` in its pixels, resized by ``scale``.

    Attributes:
        image: the crop (RGB uint8), ``camera.height`` x ``camera.width`` pixels; ``None`` when
            only the geometry was asked for.
        camera: the crop's camera.
    """

    x0: int
    y0: int
    x1: int
    y1: int
    scale: float
    camera: PerspectiveCamera
    image: np.ndarray | None = None

    @property
    def slices(self) -> tuple[slice, slice]:
        """Row and column slices of the region in the photo."""
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    def to_photo(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) positions in the crop (continuous pixel coordinates) to the photo's."""
        return np.asarray(xy, np.float64) / self.scale + np.array([self.x0, self.y0])


def region_box(
    box: tuple[float, float, float, float] | np.ndarray, size: tuple[int, int], margin: float = 0.1
) -> tuple[int, int, int, int]:
    """The integer pixel box ``(x0, y0, x1, y1)`` holding ``box`` grown by ``margin`` of its larger
    side on every side, clipped to an image of ``size`` (height, width); at least one pixel."""
    h, w = size
    bx0, by0, bx1, by1 = (float(v) for v in box)
    pad = margin * max(bx1 - bx0, by1 - by0, 1.0)
    x0 = int(np.clip(np.floor(bx0 - pad), 0, w - 1))
    y0 = int(np.clip(np.floor(by0 - pad), 0, h - 1))
    x1 = int(np.clip(np.ceil(bx1 + pad), x0 + 1, w))
    y1 = int(np.clip(np.ceil(by1 + pad), y0 + 1, h))
    return x0, y0, x1, y1


def face_region(
    image: np.ndarray | None,
    camera: PerspectiveCamera,
    box: tuple[float, float, float, float] | np.ndarray,
    margin: float = 0.1,
    max_face: float | None = None,
) -> Region:
    """The region of ``image`` around a face ``box`` (x0, y0, x1, y1, in the photo's pixels), grown
    by ``margin`` of its size and clipped to the frame, reduced (area-averaged) so the face's
    larger side is at most ``max_face`` pixels (never enlarged). ``image=None``: the geometry only
    (``camera`` gives the frame's size)."""
    import cv2

    x0, y0, x1, y1 = region_box(box, (camera.height, camera.width), margin)
    side = max(float(box[2]) - float(box[0]), float(box[3]) - float(box[1]), 1.0)
    scale = 1.0 if max_face is None or side <= max_face else max_face / side
    if scale != 1.0:  # the scale the crop's rounded width makes exact (the height within half a pixel)
        scale = max(1, round((x1 - x0) * scale)) / (x1 - x0)
    crop_cam = camera.crop(x0, y0, x1 - x0, y1 - y0, scale)
    crop = None
    if image is not None:
        crop = np.asarray(image)[y0:y1, x0:x1]
        if scale != 1.0:
            crop = cv2.resize(crop, (crop_cam.width, crop_cam.height), interpolation=cv2.INTER_AREA)
        crop = np.ascontiguousarray(crop)
    return Region(x0, y0, x1, y1, scale, crop_cam, crop)


def upsample_window(small: np.ndarray, size: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    """(y1 - y0, x1 - x0, C) float32: the window ``box`` = (x0, y0, x1, y1) of ``small`` (h, w, C)
    resized bilinearly to ``size`` (H, W) — ``cv2.resize(small, (W, H), INTER_LINEAR)[y0:y1, x0:x1]``
    without making the whole frame (pixel centres aligned, the border replicated)."""
    x0, y0, x1, y1 = box
    src = np.asarray(small, np.float32)
    if src.ndim == 2:
        src = src[..., None]

    def axis(n_small: int, n_full: int, a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.clip((np.arange(a, b) + 0.5) * (n_small / n_full) - 0.5, 0, n_small - 1)
        i0 = np.floor(pos).astype(np.int64)
        return i0, np.minimum(i0 + 1, n_small - 1), (pos - i0).astype(np.float32)

    r0, r1, fy = axis(src.shape[0], size[0], y0, y1)
    c0, c1, fx = axis(src.shape[1], size[1], x0, x1)
    rows = src[r0] * (1 - fy)[:, None, None] + src[r1] * fy[:, None, None]
    return rows[:, c0] * (1 - fx)[None, :, None] + rows[:, c1] * fx[None, :, None]


def crop_matrix(box: tuple[float, float, float, float] | np.ndarray, size: int, margin: float = 1.5) -> np.ndarray:
    """2x3 affine (photo pixels -> crop pixels, OpenCV's convention) of a ``size`` px square crop
    around a face ``box`` (x0, y0, x1, y1): ``margin`` times the box's larger side, centred on it."""
    x0, y0, x1, y1 = (float(b) for b in box)
    cx, cy, side = (x0 + x1) / 2, (y0 + y1) / 2, margin * max(x1 - x0, y1 - y0, 1.0)
    s = size / side
    return np.array([[s, 0, size / 2 - s * cx], [0, s, size / 2 - s * cy]], np.float32)


def warp_crop(image: np.ndarray, m: np.ndarray, size: int, nearest: bool = False, border: int | None = None) -> np.ndarray:
    """The ``size`` px crop of ``image`` by the scale-and-shift matrix ``m`` (:func:`crop_matrix`).
    Bilinear; where the crop shrinks the photo more than 2x (a large face), the region it covers is
    first area-averaged to the crop's scale (``cv2.warpAffine`` has no area filter: it would skip
    pixels and alias). ``nearest``: nearest-neighbour (label images). ``border``: OpenCV border
    mode beyond the frame (default: reflected; a constant border is black)."""
    import cv2

    border = cv2.BORDER_REFLECT if border is None else border
    scale = float(m[0, 0])
    if not nearest and scale < 0.5:
        image, m = _shrunk_to_crop(image, m, size)
    return cv2.warpAffine(
        image,
        np.asarray(m, np.float64),
        (size, size),
        flags=cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR,
        borderMode=border,
    )


def _shrunk_to_crop(image: np.ndarray, m: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The part of ``image`` the crop ``m`` covers, area-averaged to the crop's scale, and the crop's
    matrix from that smaller image."""
    import cv2

    h, w = image.shape[:2]
    inv = cv2.invertAffineTransform(np.asarray(m, np.float64))
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64) @ inv[:, :2].T + inv[:, 2]
    x0, y0, x1, y1 = region_box((*corners.min(0), *corners.max(0)), (h, w), margin=0.0)
    x0, y0, x1, y1 = max(x0 - 2, 0), max(y0 - 2, 0), min(x1 + 2, w), min(y1 + 2, h)
    nw, nh = max(1, round((x1 - x0) * float(m[0, 0]))), max(1, round((y1 - y0) * float(m[1, 1])))
    small = cv2.resize(np.ascontiguousarray(image[y0:y1, x0:x1]), (nw, nh), interpolation=cv2.INTER_AREA)
    kx, ky = nw / (x1 - x0), nh / (y1 - y0)
    # photo p = (q + 0.5) / k - 0.5 + origin for a pixel q of the smaller image (cv2.resize's centres)
    m2 = np.asarray(m, np.float64).copy()
    m2[0, 0], m2[0, 2] = m[0, 0] / kx, m[0, 2] + m[0, 0] * (0.5 / kx - 0.5 + x0)
    m2[1, 1], m2[1, 2] = m[1, 1] / ky, m[1, 2] + m[1, 1] * (0.5 / ky - 0.5 + y0)
    return small, m2
