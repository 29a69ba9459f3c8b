"""Spherical-harmonics Lambertian shading (9 coefficients per colour channel, 27 in all).

Normals and lighting live in the *view frame*: x = image right, y = up, z = toward the camera.
``sh_basis`` already includes the Lambertian convolution constants (Ramamoorthi & Hanrahan 2001),
so ``shading = sh_basis(n) @ L`` is the irradiance and ``colour = albedo * shading``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

_C = (math.pi * 0.282095, 2 * math.pi / 3 * 0.488603, math.pi / 4 * 1.092548, math.pi / 4 * 0.315392, math.pi / 4 * 0.546274)


def sh_basis(normals: torch.Tensor) -> torch.Tensor:
    """(..., 9) shading basis of unit normals (..., 3)."""
    x, y, z = normals.unbind(-1)
    one = torch.ones_like(x)
    return torch.stack(
        [
            _C[0] * one,
            _C[1] * y,
            _C[1] * z,
            _C[1] * x,
            _C[2] * x * y,
            _C[2] * y * z,
            _C[3] * (3 * z * z - 1),
            _C[2] * x * z,
            _C[4] * (x * x - y * y),
        ],
        -1,
    )


def ambient(level: float = 1.0) -> np.ndarray:
    """(9, 3) lighting that gives a uniform shading of ``level``."""
    sh = np.zeros((9, 3), np.float32)
    sh[0] = level / _C[0]
    return sh


def directional(direction: tuple[float, float, float], strength: float = 0.6, ambient_level: float = 0.6) -> np.ndarray:
    """(9, 3) lighting: ambient plus a distant light from ``direction`` (view frame, toward the light),
    projected onto the first three SH bands."""
    d = np.asarray(direction, np.float64)
    d = d / np.linalg.norm(d)
    # A distant light of unit radiance from d has SH coefficients Y_lm(d); the basis already carries
    # the Lambertian constants A_l, so Y_lm(d) = sh_basis(d) / A_l and irradiance ~ max(n.d, 0).
    lam = np.array([math.pi] + [2 * math.pi / 3] * 3 + [math.pi / 4] * 5)
    coeff = strength * sh_basis(torch.tensor(d, dtype=torch.float64)).numpy() / lam
    sh = np.repeat(coeff[:, None], 3, 1).astype(np.float32)
    sh[0] += ambient_level / _C[0]
    return sh


def vertex_normals(vertices: torch.Tensor, triangles: torch.Tensor) -> torch.Tensor:
    """(B, N, 3) unit area-weighted vertex normals of (B, N, 3) vertices."""
    v0, v1, v2 = (vertices[:, triangles[:, i]] for i in range(3))
    fn = torch.cross(v1 - v0, v2 - v0, dim=-1)
    b, nv = vertices.shape[:2]
    idx = (triangles.T.reshape(1, -1) + nv * torch.arange(b, device=vertices.device)[:, None]).reshape(-1)
    n = torch.zeros(b * nv, 3, dtype=vertices.dtype, device=vertices.device)
    n = n.index_add_(0, idx, fn.repeat(1, 3, 1).reshape(-1, 3)).reshape(b, nv, 3)  # dim 0: the fast path
    return torch.nn.functional.normalize(n, dim=-1, eps=1e-12)
