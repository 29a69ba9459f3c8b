"""A view: the prepared source photo synthesised at a new pose and lighting as a full frame.

The face is re-rendered at the target pose and lighting: what the photo saw of each face pixel
comes straight from the photo (one resampling, re-lit by the ratio of the new irradiance to the
photo's), the rest from the completed UV texture (mirrored and inpainted). Everything else in the
frame — hair, ears, neck, background — is carried by the extended mesh (:mod:`.extended_mesh`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..camera import FLIP, euler_to_matrix, matrix_to_euler
from ..render import MeshRenderer, default_renderer
from ..result import FitResult
from ..shading import vertex_normals
from .composite import composite, provenance_map, relight_surround
from .extended_mesh import moved_anchors, warp_frame
from .face import render_face
from .lighting import lighting_from, observed_normals
from .source import PreparedSource


@dataclass
class RotatedView:
    """One synthesised view.

    Attributes:
        image: (H, W, 3) uint8 RGB, the full frame.
        pose: (yaw, pitch, roll) achieved, degrees (facerot convention).
        landmarks68: (68, 2) model landmarks at the new pose, pixels.
        box: (x0, y0, x1, y1) face box at the new pose.
        provenance: (H, W) uint8 per pixel: 0 background (warped photo), 1 seen, 2 mirrored, 3 inpainted.
        face_mask: (H, W) float32 in [0, 1], the face render's coverage.
        lighting: (9, 3) SH lighting of the face render.
    """

    image: np.ndarray
    pose: tuple[float, float, float]
    landmarks68: np.ndarray
    box: tuple[float, float, float, float]
    provenance: np.ndarray
    face_mask: np.ndarray
    lighting: np.ndarray
    source_pose: tuple[float, float, float] = (0.0, 0.0, 0.0)
    extra: dict[str, Any] = field(default_factory=dict)


def target_rotation(fit: FitResult, yaw: float | None, pitch: float | None, roll: float | None, relative: bool) -> np.ndarray:
    """Rotation matrix of the target pose. Absolute: unspecified angles keep the source's. Relative:
    the angles are added to the source's (delta yaw/pitch/roll)."""
    y0, p0, r0 = fit.pose
    if relative:
        return euler_to_matrix(y0 + (yaw or 0.0), p0 + (pitch or 0.0), r0 + (roll or 0.0))
    return euler_to_matrix(y0 if yaw is None else yaw, p0 if pitch is None else pitch, r0 if roll is None else roll)


def rotate(
    source: PreparedSource,
    yaw: float | None = None,
    pitch: float | None = None,
    roll: float | None = None,
    *,
    relative: bool = False,
    lighting: str | np.ndarray | None = "keep",
    expression: np.ndarray | None = None,
    renderer: MeshRenderer | None = None,
    feather: float = 0.015,
    from_photo: bool = True,
    shade_unseen: str = "mirror",
) -> RotatedView:
    """The face of ``source`` (:func:`~face3d.synth.prepare_source`) at a new pose and lighting, as
    a full frame of the photo's size.

    Args:
        yaw, pitch, roll: target angles in degrees (absolute; or deltas with ``relative=True``).
            Angles left ``None`` keep the source's.
        lighting: ``"keep"`` (the photo's fitted lighting, moving with the head: the face keeps
            its shading), ``"scene"`` (the photo's fitted lighting, staying in the scene), another
            preset name (:data:`~face3d.synth.lighting.LIGHT_PRESETS`) or (9, 3) SH coefficients
            (view frame).
        expression: new standardised expression coefficients (``None`` keeps the fitted one).
        feather: width of the blend between face render and frame, a fraction of the face's width.
        from_photo: take the part of each face pixel the photo saw straight from the photo, re-lit
            where the lighting changes; ``False`` renders everything from the UV texture (softer).
        shade_unseen: with ``"keep"`` lighting, how the part of the face the photo did not see is
            shaded: ``"mirror"`` by the fitted lighting but never much darker than the photo
            showed its mirror point (:func:`~face3d.synth.lighting.observed_normals`),
            ``"fitted"`` by the fitted lighting extrapolated to it.
    """
    if shade_unseen not in ("mirror", "fitted"):
        raise ValueError(f"shade_unseen must be 'mirror' or 'fitted', not {shade_unseen!r}")
    fit, cam, rm = source.fit, source.fit.camera, source.mesh
    renderer = renderer or default_renderer()
    sh = lighting_from(lighting, fit.sh)
    r_src, r_tgt = fit.rotation, target_rotation(fit, yaw, pitch, roll, relative)
    v_src = rm.expand(fit.vertices.astype(np.float64))
    v_tgt = v_src if expression is None else rm.expand(_with_expression(source, expression).astype(np.float64))
    tgt_cam = cam.to_camera(v_tgt, r_tgt, fit.translation)

    # the frame: the background plate carried by the extended mesh
    head_turn = FLIP @ r_tgt @ r_src.T @ FLIP
    targets = moved_anchors(source.background, cam, head_turn, fit.translation, tgt_cam[rm.outline])
    frame = warp_frame(source.plate, source.background, targets, renderer)

    # the face: completed texture and the photo's colours, shaded in the view frame, or in the
    # photo's frame when the light moves with the head
    tri = torch.as_tensor(rm.triangles, dtype=torch.long)
    head_light = lighting is None or (isinstance(lighting, str) and lighting == "keep")
    normals = vertex_normals(torch.as_tensor(v_tgt @ (r_src if head_light else r_tgt).T, dtype=torch.float32)[None], tri)[0]
    if head_light and shade_unseen == "mirror":
        normals = observed_normals(normals, rm.symmetry, torch.as_tensor(sh, dtype=torch.float32))
    relight = (
        None
        if head_light
        else (
            vertex_normals(torch.as_tensor(v_src @ r_src.T, dtype=torch.float32)[None], tri)[0],
            torch.as_tensor(source.texture.sh),
        )
    )
    face = render_face(source, tgt_cam, normals, sh, renderer, relight, from_photo)
    relight_surround(frame, face)  # a re-lit face re-lights its head too (no-op when it keeps its light)
    outline_w = float(np.ptp(source.background.points2d[: source.background.n_outline, 0]))
    alpha = composite(frame, face, max(0.7, feather * outline_w) if feather > 0 else 0.0)
    if source.padding is not None:  # the frame's padding stays where it was, over everything
        frame[source.padding] = source.image[source.padding]
    uv = torch.as_tensor(rm.expand(source.model.uv.astype(np.float32)))
    prov = provenance_map(face, tri, uv, source.texture, frame.shape[:2])
    return _view(frame, prov, alpha, sh, r_tgt, cam.project(tgt_cam[: source.model.n_vertices]), source)


def _with_expression(source: PreparedSource, expression: np.ndarray) -> np.ndarray:
    """The fitted vertices with the fitted expression replaced by ``expression``."""
    m, fit = source.model, source.fit
    delta = m.vertices(np.zeros(0), expression) - m.vertices(np.zeros(0), fit.expr)
    return (fit.vertices + delta).astype(np.float32)


def _view(
    image: np.ndarray,
    provenance: np.ndarray,
    alpha: np.ndarray,
    sh: np.ndarray,
    rotation: np.ndarray,
    projected: np.ndarray,
    source: PreparedSource,
) -> RotatedView:
    """The view's record: its pose, the model's landmarks and face box at that pose."""
    ids = source.model.landmarks68
    lm = projected[np.maximum(ids, 0)].astype(np.float32)
    lm[ids < 0] = np.nan
    x0, y0 = projected.min(0)
    x1, y1 = projected.max(0)
    y_, p_, r_ = matrix_to_euler(rotation)
    return RotatedView(
        image,
        (float(y_), float(p_), float(r_)),
        lm,
        (float(x0), float(y0), float(x1), float(y1)),
        provenance,
        alpha,
        sh,
        source_pose=source.fit.pose,
    )
