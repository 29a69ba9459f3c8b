"""The lighting of a view: named presets, explicit SH coefficients, or the photo's own."""

from __future__ import annotations

import numpy as np
import torch

from ..shading import ambient, directional, sh_basis

#: Named lighting presets: a distant light from a direction in the view frame (x right, y up,
#: z toward the camera) plus ambient; scaled to the brightness of the photo's own lighting.
#: ``keep``: the photo's fitted lighting, attached to the head — the face keeps the shading it has
#: in the photo, so what the photo saw renders as the photo showed it (only mirrored texels are
#: re-lit: illumination compensation). ``scene``: the photo's fitted lighting fixed in the scene,
#: so a face turned away from the light darkens (a Lambertian re-light of the de-lit texture).
LIGHT_PRESETS: dict[str, tuple[tuple[float, float, float], float, float] | None] = {
    "keep": None,
    "scene": None,
    "ambient": ((0.0, 0.0, 1.0), 0.0, 1.0),
    "front": ((0.0, 0.2, 1.0), 0.55, 0.55),
    "left": ((-0.9, 0.2, 0.5), 0.6, 0.5),
    "right": ((0.9, 0.2, 0.5), 0.6, 0.5),
    "top": ((0.0, 0.9, 0.5), 0.6, 0.5),
    "bottom": ((0.0, -0.8, 0.6), 0.5, 0.55),
}


def lighting_from(spec: str | np.ndarray | None, reference: np.ndarray | None) -> np.ndarray:
    """(9, 3) SH lighting from a preset name, explicit coefficients, or ``None``/``"keep"``/
    ``"scene"`` (the photo's fitted lighting). Presets take the reference lighting's overall level."""
    ref = reference if reference is not None else ambient(1.0)
    if spec is None or (isinstance(spec, str) and spec in ("keep", "scene")):
        return np.asarray(ref, np.float32)
    if isinstance(spec, str):
        if spec not in LIGHT_PRESETS:
            raise ValueError(f"unknown lighting preset {spec!r}; choose one of {', '.join(LIGHT_PRESETS)}")
        direction, strength, amb = LIGHT_PRESETS[spec]  # type: ignore[misc]
        sh = directional(direction, strength, amb)
        level = np.asarray(ref)[0] / max(float(sh[0, 0]), 1e-6)  # match the photo's brightness per channel
        return (sh * level[None, :]).astype(np.float32)
    sh = np.asarray(spec, np.float32)
    if sh.shape != (9, 3):
        raise ValueError(f"lighting coefficients must have shape (9, 3), got {sh.shape}")
    return sh


#: Photo-frame normals facing the camera less than this (cosine) were not seen; from
#: :data:`SEEN_COS` on, they were.
UNSEEN_COS, SEEN_COS = 0.1, 0.45
#: An unseen point is shaded at least this fraction as brightly as the photo showed its mirror point.
UNSEEN_FLOOR = 0.7


def observed_normals(normals: torch.Tensor, symmetry: np.ndarray | None, sh: torch.Tensor) -> torch.Tensor:
    """(N, 3) shading normals for a face that keeps the photo's lighting ``sh`` (``normals``: the
    surface's normals in the photo's frame, z toward the camera; ``symmetry``: each vertex's mirror
    vertex).

    The fitted lighting is only known on the normals the photo saw: on a turned face's hidden side
    it is extrapolated, and a lateral term that explains the seen side can leave that side black.
    A vertex the photo saw less squarely than its mirror keeps its own shading unless that is
    darker than :data:`UNSEEN_FLOOR` of its mirror point's; then its normal moves toward the
    mirror's (unit-normalised blend, bisected) until it reaches that floor — by at most how little
    the photo saw it. A darker hidden side stays darker; it is not black."""
    if symmetry is None or len(symmetry) != len(normals):
        return normals
    mirror = normals[torch.as_tensor(symmetry, dtype=torch.long)]
    sh = torch.as_tensor(sh, dtype=normals.dtype)

    def brightness(n: torch.Tensor) -> torch.Tensor:
        return (sh_basis(n) @ sh).mean(-1)

    t = ((normals[:, 2] - UNSEEN_COS) / (SEEN_COS - UNSEEN_COS)).clamp(0, 1)
    unseen = torch.where(mirror[:, 2] > normals[:, 2], 1 - t * t * (3 - 2 * t), torch.zeros_like(t))
    floor = UNSEEN_FLOOR * brightness(mirror)
    lo, hi = torch.zeros_like(t), unseen.clone()
    for _ in range(10):  # the least blend toward the mirror that reaches the floor, within [0, unseen]
        mid = (lo + hi) / 2
        ok = brightness(torch.nn.functional.normalize((1 - mid)[:, None] * normals + mid[:, None] * mirror, dim=-1)) >= floor
        hi, lo = torch.where(ok, mid, hi), torch.where(ok, lo, mid)
    w = torch.where(brightness(normals) >= floor, torch.zeros_like(hi), hi)[:, None]
    return torch.nn.functional.normalize((1 - w) * normals + w * mirror, dim=-1)
