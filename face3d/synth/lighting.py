"""The lighting of a view: named presets, explicit SH coefficients, or the photo's own."""

from __future__ import annotations

import numpy as np

from ..shading import ambient, directional

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
