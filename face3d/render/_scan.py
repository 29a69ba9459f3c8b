"""The rasteriser's inner loop, compiled by numba at first use (cached on disk afterwards).

For each triangle, every pixel centre inside its screen bounding box is tested with edge
functions; the nearest fragment (perspective-correct depth) wins the z-buffer. Outputs the face
index, depth and perspective-correct barycentric buffers.
"""

from __future__ import annotations

import math

import numpy as np

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba is a core dependency; torch fallback in rasterize.py
    njit = None


def _scan(x, y, z, tri, height, width, cull, face, depth, bary):  # pragma: no cover - compiled
    eps = -1e-5
    for t in range(tri.shape[0]):
        i0, i1, i2 = tri[t, 0], tri[t, 1], tri[t, 2]
        x0, y0, z0 = x[i0], y[i0], z[i0]
        x1, y1, z1 = x[i1], y[i1], z[i1]
        x2, y2, z2 = x[i2], y[i2], z[i2]
        if z0 <= 0.0 or z1 <= 0.0 or z2 <= 0.0:
            continue
        area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        if abs(area) < 1e-12 or (cull and area >= 0.0):
            continue
        xmin = max(int(math.ceil(min(x0, x1, x2))), 0)
        xmax = min(int(math.floor(max(x0, x1, x2))), width - 1)
        ymin = max(int(math.ceil(min(y0, y1, y2))), 0)
        ymax = min(int(math.floor(max(y0, y1, y2))), height - 1)
        inv = 1.0 / area
        for py in range(ymin, ymax + 1):
            fy = float(py)
            for px in range(xmin, xmax + 1):
                fx = float(px)
                w0 = ((x1 - fx) * (y2 - fy) - (x2 - fx) * (y1 - fy)) * inv
                w1 = ((x2 - fx) * (y0 - fy) - (x0 - fx) * (y2 - fy)) * inv
                w2 = 1.0 - w0 - w1
                if w0 < eps or w1 < eps or w2 < eps:
                    continue
                q0, q1, q2 = w0 / z0, w1 / z1, w2 / z2
                s = q0 + q1 + q2
                zz = 1.0 / s
                if zz < depth[py, px]:
                    depth[py, px] = zz
                    face[py, px] = t
                    bary[py, px, 0] = q0 * zz
                    bary[py, px, 1] = q1 * zz
                    bary[py, px, 2] = q2 * zz


scan = njit(cache=True, nogil=True)(_scan) if njit is not None else None


def scan_buffers(
    screen: np.ndarray, triangles: np.ndarray, height: int, width: int, cull: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(face (H, W) int64, depth (H, W) float32 with inf for background, bary (H, W, 3) float32)."""
    face = np.full((height, width), -1, np.int64)
    depth = np.full((height, width), np.inf, np.float32)
    bary = np.zeros((height, width, 3), np.float32)
    s = np.ascontiguousarray(screen, np.float64)
    scan(
        s[:, 0].copy(),
        s[:, 1].copy(),
        s[:, 2].copy(),
        np.ascontiguousarray(triangles, np.int64),
        height,
        width,
        cull,
        face,
        depth,
        bary,
    )
    return face, depth, bary


def _gather(face, bary, tri, attr, out):  # pragma: no cover - compiled
    p = 0
    h, w = face.shape
    c = attr.shape[1]
    for y in range(h):
        for x in range(w):
            f = face[y, x]
            if f < 0:
                continue
            a, b, d = tri[f, 0], tri[f, 1], tri[f, 2]
            w0, w1, w2 = bary[y, x, 0], bary[y, x, 1], bary[y, x, 2]
            for k in range(c):
                out[p, k] = w0 * attr[a, k] + w1 * attr[b, k] + w2 * attr[d, k]
            p += 1


gather = njit(cache=True, nogil=True)(_gather) if njit is not None else None


def gather_attributes(
    face: np.ndarray, bary: np.ndarray, triangles: np.ndarray, attributes: np.ndarray, count: int
) -> np.ndarray:
    """(P, C) interpolated attributes of the ``count`` covered pixels, row-major order."""
    out = np.empty((count, attributes.shape[1]), np.float32)
    gather(
        face,
        np.ascontiguousarray(bary, np.float32),
        np.ascontiguousarray(triangles, np.int64),
        np.ascontiguousarray(attributes, np.float32),
        out,
    )
    return out


def _linear_bary(face, x, y, tri, out):  # pragma: no cover - compiled
    h, w = face.shape
    for py in range(h):
        for px in range(w):
            f = face[py, px]
            if f < 0:
                continue
            a, b, c = tri[f, 0], tri[f, 1], tri[f, 2]
            area = (x[b] - x[a]) * (y[c] - y[a]) - (x[c] - x[a]) * (y[b] - y[a])
            if area == 0.0:
                continue
            w0 = ((x[b] - px) * (y[c] - py) - (x[c] - px) * (y[b] - py)) / area
            w1 = ((x[c] - px) * (y[a] - py) - (x[a] - px) * (y[c] - py)) / area
            out[py, px, 0] = w0
            out[py, px, 1] = w1
            out[py, px, 2] = 1.0 - w0 - w1


linear_bary = njit(cache=True, nogil=True)(_linear_bary) if njit is not None else None


def screen_linear_barycentrics(face: np.ndarray, screen: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(H, W, 3) affine (not perspective-corrected) barycentrics of pixel centres in ``face``."""
    out = np.zeros(face.shape + (3,), np.float32)
    s = np.ascontiguousarray(screen, np.float64)
    linear_bary(face, s[:, 0].copy(), s[:, 1].copy(), np.ascontiguousarray(triangles, np.int64), out)
    return out
