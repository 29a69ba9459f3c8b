"""Sampling the photo at scattered positions: plain bilinear, or filtered by each sample's
footprint (a view pixel that spans several photo pixels averages them instead of aliasing)."""

from __future__ import annotations

import numpy as np

#: OpenCV's remap refuses maps wider than 32,767 pixels (SHRT_MAX): scattered points are sampled
#: as rows of this many.
SAMPLE_ROW = 4096


def sample_points(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """(N, C) bilinear samples of ``image`` (H, W, C) at ``xy`` (N, 2) pixel positions (x, y; pixel
    centres at integers), the border reflected. Any N: the points are laid out as rows of
    :data:`SAMPLE_ROW` for ``cv2.remap``."""
    import cv2

    pts = np.asarray(xy, np.float32).reshape(-1, 2)
    n = len(pts)
    rows = max(1, -(-n // SAMPLE_ROW))
    cols = min(max(n, 1), SAMPLE_ROW)
    grid = np.zeros((rows * cols, 2), np.float32)
    grid[:n] = pts
    out = cv2.remap(np.asarray(image), grid.reshape(rows, cols, 2), None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return out.reshape(rows * cols, -1)[:n]


#: the blur of one view pixel's footprint, in view pixels (a Gaussian of this sigma per pixel step)
FOOTPRINT_SIGMA = 0.5
#: the photo is pre-blurred at these sigmas (photo pixels) per axis; a sample blends the two levels
#: either side of the blur its footprint needs
BLUR_LEVELS = (0.0, 0.6, 1.2, 2.0, 3.0)


def footprint_blur(xy_map: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """(h, w, 2) the blur (sigma along the photo's x and y, photo pixels) that sampling the photo at
    ``xy_map`` (h, w, 2; the photo position of each view pixel, read where ``covered``) needs so
    that a view pixel which spans several photo pixels averages them instead of aliasing.

    The map's Jacobian J (photo pixels per view pixel, from differences between covered
    neighbours) carries the view pixel's footprint, a Gaussian of sigma :data:`FOOTPRINT_SIGMA`,
    into the photo as the covariance sigma² J Jᵀ; the blur is what that adds beyond one photo
    pixel's own footprint, sigma² (J Jᵀ − I) with negative eigenvalues (magnified directions)
    dropped, read on the photo's axes. Zero where the view magnifies or keeps the photo's scale."""
    xy = np.where(covered[..., None], xy_map, np.nan).astype(np.float64)

    def derivative(axis: int) -> np.ndarray:
        d = np.diff(xy, axis=axis)
        pad = [(0, 0)] * 3
        pad[axis] = (1, 0)
        back = np.pad(d, pad, constant_values=np.nan)
        pad[axis] = (0, 1)
        fwd = np.pad(d, pad, constant_values=np.nan)
        n = np.isfinite(back).astype(np.float64) + np.isfinite(fwd)
        return (np.nan_to_num(back) + np.nan_to_num(fwd)) / np.maximum(n, 1)

    out = np.zeros((*covered.shape, 2), np.float32)
    (ax, ay), (bx, by) = derivative(1)[covered].T, derivative(0)[covered].T  # d photo / d view col, row
    # C = J Jᵀ − I (symmetric 2×2, closed form); keep its positive eigen-directions only
    cxx, cyy, cxy = ax * ax + bx * bx - 1, ay * ay + by * by - 1, ax * ay + bx * by
    mid, rad = 0.5 * (cxx + cyy), np.sqrt(0.25 * (cxx - cyy) ** 2 + cxy * cxy)
    lam1, lam2 = mid + rad, mid - rad  # lam1 >= lam2
    # the projector onto lam1's eigenvector, (C − lam2 I) / (lam1 − lam2); its diagonal is all we need
    den = np.where(rad > 1e-12, 2 * rad, 1.0)
    p_xx = np.where(rad > 1e-12, (cxx - lam2) / den, 0.5)
    p_yy = 1 - p_xx
    l1, l2 = np.clip(lam1, 0, None), np.clip(lam2, 0, None)
    var_x = l1 * p_xx + l2 * p_yy  # (l1 P1 + l2 P2) on the diagonal, P2 = I − P1
    var_y = l1 * p_yy + l2 * p_xx
    out[covered] = FOOTPRINT_SIGMA * np.sqrt(np.stack([var_x, var_y], -1))
    return out


def _blurred(image: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """``image`` (float32) blurred by a Gaussian of sigma ``sx``, ``sy`` (0: not along that axis)."""
    import cv2

    out = image
    for axis, s in ((0, sx), (1, sy)):
        if s > 0:
            k = cv2.getGaussianKernel(2 * int(np.ceil(3 * s)) + 1, s).astype(np.float32)
            one = np.ones((1, 1), np.float32)
            out = cv2.sepFilter2D(out, -1, k if axis == 0 else one, one if axis == 0 else k, borderType=cv2.BORDER_REFLECT)
    return out


def sample_points_filtered(image: np.ndarray, xy: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """(N, C) float32 samples of ``image`` (H, W, C) at ``xy`` (N, 2) as :func:`sample_points`, each
    from the image blurred by its own ``sigma`` (N, 2; per axis, pixels): the two pre-blurred
    levels of :data:`BLUR_LEVELS` either side along each axis, blended (trilinear filtering)."""
    xy = np.asarray(xy, np.float32).reshape(-1, 2)
    sigma = np.clip(np.asarray(sigma, np.float32).reshape(-1, 2), 0, BLUR_LEVELS[-1])
    levels = np.asarray(BLUR_LEVELS, np.float32)
    if len(xy) == 0 or not (sigma > 0).any():
        return sample_points(image, xy).astype(np.float32)
    pad = int(np.ceil(3 * sigma.max())) + 2
    h, w = image.shape[:2]
    x0, y0 = (np.floor(xy.min(0)).astype(int) - pad).clip(0)
    x1, y1 = np.minimum(np.ceil(xy.max(0)).astype(int) + pad + 1, (w, h))
    crop = np.asarray(image[y0:y1, x0:x1], np.float32)
    local = xy - np.array([x0, y0], np.float32)
    idx = np.clip(np.searchsorted(levels, sigma, side="right") - 1, 0, len(levels) - 2)
    frac = (sigma - levels[idx]) / (levels[idx + 1] - levels[idx])
    n = len(xy)
    # the four (x level, y level) corners of each sample, weighted; grouped by level pair
    corner = [(dx, dy) for dx in (0, 1) for dy in (0, 1)]
    key = np.concatenate([(idx[:, 0] + dx) * len(levels) + idx[:, 1] + dy for dx, dy in corner])
    wgt = np.concatenate([(frac[:, 0] if dx else 1 - frac[:, 0]) * (frac[:, 1] if dy else 1 - frac[:, 1]) for dx, dy in corner])
    point = np.tile(np.arange(n), 4)
    keep = wgt > 0
    key, wgt, point = key[keep], wgt[keep], point[keep]
    order = np.argsort(key, kind="stable")
    key, wgt, point = key[order], wgt[order], point[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    out = np.zeros((n, crop.shape[2] if crop.ndim == 3 else 1), np.float32)
    for s0, s1 in zip(starts, np.r_[starts[1:], len(key)]):
        lx, ly = divmod(int(key[s0]), len(levels))
        vals = sample_points(_blurred(crop, levels[lx], levels[ly]), local[point[s0:s1]])
        np.add.at(out, point[s0:s1], wgt[s0:s1, None] * vals.reshape(s1 - s0, -1))
    return out
