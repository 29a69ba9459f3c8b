"""Texture from the photo into UV space, completed where the photo never saw the face.

For every texel of the model's UV layout: its 3D point on the fitted mesh is projected into the
photo; it counts as *seen* when the photo's z-buffer shows that point (not another part of the
face) and the surface faces the camera. Colours are de-lit with the fitted SH lighting (albedo =
colour / irradiance). Texels the photo did not see take the albedo of their mirror point (through
the model's symmetry map) when the photo saw that, with a per-channel gain that makes mirrored
and seen albedo agree where the photo saw both (illumination compensation beyond the SH model);
seen and mirrored albedo are blended by how squarely each faced the camera, so seams fade.
Texels near the fitted face's silhouette in the photo count less (they sample hair or background
when the fit is a pixel off). What remains is inpainted by push-pull (:mod:`face3d.inpaint`).
Each texel carries its provenance: :data:`SEEN`, :data:`MIRRORED`, :data:`INPAINTED` or
:data:`BACKGROUND` (outside the UV charts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .camera import FLIP, uv_screen
from .inpaint import push_pull
from .landmarks.base import box_of
from .model import MorphableModel
from .region import face_region
from .render import MeshRenderer, default_renderer, pixel_attributes
from .result import FitResult
from .shading import ambient, sh_basis, vertex_normals
from .topology import render_mesh

BACKGROUND, SEEN, MIRRORED, INPAINTED = 0, 1, 2, 3
#: Texels whose photo and mirror observations weigh less than this in all are inpainted.
MIN_WEIGHT = 0.05
PROVENANCE_NAMES = {BACKGROUND: "background", SEEN: "seen", MIRRORED: "mirrored", INPAINTED: "inpainted"}
#: The photo is sampled where the face is at most this many times the texture's size across (the
#: UV charts span the texture, so about one photo pixel per texel).
TEXTURE_FACE_SCALE = 1.25


@dataclass
class UVTexture:
    """A completed face texture in the model's UV layout (v = 0 at the bottom row).

    Attributes:
        albedo: (S, S, 3) float32 de-lit colour in [0, 1].
        provenance: (S, S) uint8 per-texel provenance code.
        sh: (9, 3) the lighting used to de-light.
        seen_share: (S, S) float32 in [0, 1], the share of the photo's own observation in each
            texel's colour (the rest is mirrored or inpainted); the renderer takes that share of a
            view's colour straight from the photo (:func:`face3d.synth.rotate`), one resampling
            instead of two. ``None``: everything from the texture.
    """

    albedo: np.ndarray
    provenance: np.ndarray
    sh: np.ndarray
    seen_share: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(self.albedo.shape[0])

    def fractions(self) -> dict[str, float]:
        """Share of the face texels by provenance."""
        face = self.provenance != BACKGROUND
        n = max(int(face.sum()), 1)
        return {PROVENANCE_NAMES[k]: float((self.provenance == k).sum() / n) for k in (SEEN, MIRRORED, INPAINTED)}


_UV_CACHE: dict[tuple[int, int, str], Any] = {}


def _uv_layout(model: MorphableModel, size: int, renderer: MeshRenderer | None = None) -> tuple[Any, Any, torch.Tensor | None]:
    """(model, UV fragments, mirror texels) of ``model`` at ``size``, computed once per model."""
    renderer = renderer or default_renderer()
    key = (id(model), size, renderer.backend)
    if key not in _UV_CACHE:
        rm = render_mesh(model)
        uv_np = rm.expand(model.uv.astype(np.float32))
        frags = renderer.rasterize(
            uv_screen(torch.as_tensor(uv_np), size),
            torch.as_tensor(rm.triangles, dtype=torch.long),
            size,
            size,
            cull_backfaces=False,
        )
        mirror = None
        if (
            rm.symmetry is not None
            and np.abs(uv_np[rm.symmetry, 0] - (1 - uv_np[:, 0])).max() < 1e-4
            and np.abs(uv_np[rm.symmetry, 1] - uv_np[:, 1]).max() < 1e-4
        ):
            mask = frags.mask.numpy()
            index = np.full(mask.shape, -1, np.int64)
            index[mask] = np.arange(int(mask.sum()))
            ys, xs = np.nonzero(mask)
            m = index[ys, size - 1 - xs]
            mirror = torch.from_numpy(m) if (m >= 0).all() else None
        if len(_UV_CACHE) > 8:
            _UV_CACHE.clear()
        _UV_CACHE[key] = (model, frags, mirror)
    return _UV_CACHE[key]


def uv_fragments(model: MorphableModel, size: int, renderer: MeshRenderer | None = None) -> Any:
    """Rasterisation of the (capped) mesh in UV space: which triangle and where, for every texel.
    It depends on the model and the size only, so it is computed once per model."""
    return _uv_layout(model, size, renderer)[1]


def mirror_texels(model: MorphableModel, size: int, renderer: MeshRenderer | None = None) -> torch.Tensor | None:
    """For each texel of the UV charts (row-major order), the index of its mirror texel, when the
    layout is mirror-symmetric (a vertex's mirror has UV (1 - u, v)): the photo's view of a mirror
    point is then a lookup, not a second projection. None for layouts that are not symmetric."""
    return _uv_layout(model, size, renderer)[2]


def _smoothstep(x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    t = ((x - lo) / (hi - lo)).clamp(0, 1)
    return t * t * (3 - 2 * t)


def _sample(image: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
    h, w = image.shape[:2]
    grid = torch.stack([(xy[:, 0] + 0.5) / w * 2 - 1, (xy[:, 1] + 0.5) / h * 2 - 1], -1)
    out = F.grid_sample(
        image.permute(2, 0, 1)[None], grid[None, None], mode="bilinear", padding_mode="border", align_corners=False
    )
    return out[0, :, 0].T


#: Beside the eyes (from the outer eye corner's distance from the midline to this many times it),
#: a texel is mirrored onto the other side only as far as its albedo looks like the face's skin.
OUTER_ZONE = 1.25
#: A texel darker than this share of the face's median skin luminance is not mirrored; fully
#: mirrored from the second share on.
DARK_SKIN = (0.55, 0.75)


def _luminance(rgb: torch.Tensor) -> torch.Tensor:
    return rgb @ torch.tensor([0.299, 0.587, 0.114], dtype=rgb.dtype)


def mirror_weight(mirror_albedo: torch.Tensor, skin: float, lateral: torch.Tensor) -> torch.Tensor:
    """(M,) in [0, 1]: how far each texel may take its mirror point's colour.

    Hair, shadows and dark things lying over the outer cheek, temple or jaw in the photo are not
    skin, and mirrored they paint a dark streak on the side the photo did not see. ``lateral``:
    each texel's distance from the midline over the outer eye corner's (in the model); beyond the
    eye corners, a texel whose mirror's de-lit albedo ``mirror_albedo`` is darker than
    :data:`DARK_SKIN` of ``skin`` (the face's median skin luminance) does not take it; the eyes,
    brows, nose and mouth (inside) always do."""
    outer = _smoothstep(lateral, 1.0, OUTER_ZONE)
    return 1 - outer * (1 - _smoothstep(_luminance(mirror_albedo) / max(skin, 1e-3), *DARK_SKIN))


def extract_texture(
    image: np.ndarray,
    fit: FitResult,
    model: MorphableModel,
    size: int = 256,
    min_cos: float = 0.1,
    full_cos: float = 0.45,
    edge: float = 0.03,
    renderer: MeshRenderer | None = None,
    occluder: np.ndarray | None = None,
    mirror_skin: bool = True,
) -> UVTexture:
    """Sample, de-light and complete the face texture of ``fit`` from ``image`` (RGB uint8).

    ``min_cos``/``full_cos``: a texel counts from this cosine to the camera, fully from that one.
    ``edge``: texels whose photo position lies within this fraction of the face's width of the
    fitted face's silhouette count only partly, fading to nothing at the silhouette (a fit a pixel
    off there samples hair or background, a dark seam around every rotated face).
    ``occluder``: (H, W) float in [0, 1] of the photo's pixels that cover the face (a glasses
    frame: :func:`face3d.occluders.detect_glasses`); a texel counts by one minus it, so what covers
    the face is neither sampled nor mirrored, and the skin under it comes from the mirror or is
    inpainted.
    ``mirror_skin``: beside the eyes, what is much darker than the face's skin (hair, a shadow, a
    dark thing over the cheek) is not mirrored onto the side the photo did not see
    (:func:`mirror_weight`); the texels it would have filled are inpainted.

    (Long on purpose: one pass over the texels — observe, de-light, compensate, blend, complete —
    whose per-texel tensors each step hands to the next.)"""
    import cv2

    rm = render_mesh(model)
    tri = torch.as_tensor(rm.triangles, dtype=torch.long)
    verts = torch.as_tensor(rm.expand(fit.vertices.astype(np.float32)))
    rot = torch.as_tensor(fit.rotation, dtype=torch.float32)
    tr = torch.as_tensor(fit.translation, dtype=torch.float32)
    # sampled on the face's region, reduced to about the texture's own resolution (a bilinear
    # read of a face many times larger than the texture would alias)
    region = face_region(image, fit.camera, box_of(fit.project()), max_face=TEXTURE_FACE_SCALE * size)
    cam = region.camera
    img = torch.as_tensor(region.image, dtype=torch.float32) / 255.0
    h, w = img.shape[:2]
    sh = torch.as_tensor(fit.sh if fit.sh is not None else ambient(1.0), dtype=torch.float32)

    # texel -> 3D point and normal
    renderer = renderer or default_renderer()
    fr_uv = uv_fragments(model, size, renderer)
    texel = fr_uv.mask
    normals = vertex_normals(verts[None], tri)[0]
    p_model = pixel_attributes(fr_uv, tri, verts)  # (M, 3), the texels in row-major order
    n_model = F.normalize(pixel_attributes(fr_uv, tri, normals), dim=-1)
    mirror = mirror_texels(model, size, renderer)

    # the photo's z-buffer of the fitted face
    pc_all = verts @ (torch.as_tensor(FLIP, dtype=torch.float32) @ rot).T + tr
    scr_all = cam.to_screen(pc_all)
    depth = renderer.rasterize(scr_all, tri, h, w).depth
    inside_face = torch.isfinite(depth).numpy().astype(np.uint8)
    margin = edge * float(scr_all[:, 0].max() - scr_all[:, 0].min())
    if margin > 0 and inside_face.any():
        from_edge = torch.from_numpy(cv2.distanceTransform(np.pad(inside_face, 1), cv2.DIST_L2, 3)[1:-1, 1:-1])
    else:
        from_edge = None
    occ = None
    if occluder is not None:
        if occluder.shape != image.shape[:2]:
            raise ValueError(f"occluder is {occluder.shape[1]}x{occluder.shape[0]}, the photo {image.shape[1]}x{image.shape[0]}")
        occ = torch.as_tensor(np.ascontiguousarray(occluder[region.slices]), dtype=torch.float32)[..., None]

    def observe(p: torch.Tensor, n: torch.Tensor) -> tuple[torch.Tensor, ...]:
        pc = p @ (torch.as_tensor(FLIP, dtype=torch.float32) @ rot).T + tr
        scr = cam.to_screen(pc)
        xi = scr[:, 0].round().long()
        yi = scr[:, 1].round().long()
        inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        zb = depth[yi.clamp(0, h - 1), xi.clamp(0, w - 1)]
        n_view = n @ rot.T
        vis = inside & (pc[:, 2] <= zb + 0.01 * pc[:, 2]) & (n_view[:, 2] > min_cos)
        weight = _smoothstep(n_view[:, 2], min_cos, full_cos) * vis
        if from_edge is not None:
            weight = weight * _smoothstep(from_edge[yi.clamp(0, h - 1), xi.clamp(0, w - 1)], 0.25 * margin, margin)
        if occ is not None:  # the photo's own pixels, in the region's crop
            weight = weight * (1 - _sample(occ, scr[:, :2] / region.scale)[:, 0].clamp(0, 1))
        colour = _sample(img, scr[:, :2])
        irradiance = sh_basis(n_view) @ sh
        return colour, irradiance, weight, vis

    c_seen, e_seen, w_seen, vis_seen = observe(p_model, n_model)
    # de-light; a fitted SH light can dip near zero on grazing or unlit parts, so the divisor is
    # floored at 30% of the face's mean irradiance (per channel) to keep colours stable
    floor = 0.3 * e_seen[vis_seen].mean(0).clamp_min(1e-3) if bool(vis_seen.any()) else torch.full((3,), 0.3)
    if mirror is not None:  # symmetric layout: the mirror texel's observation is the mirror's
        c_mir, e_mir, w_mir = c_seen[mirror], e_seen[mirror], w_seen[mirror]
    else:
        mirror_tri = torch.as_tensor(rm.symmetry, dtype=torch.long)[tri]
        n_mirror = F.normalize(pixel_attributes(fr_uv, mirror_tri, normals), dim=-1)
        c_mir, e_mir, w_mir, _ = observe(pixel_attributes(fr_uv, mirror_tri, verts), n_mirror)
    a_seen = (c_seen / torch.maximum(e_seen, floor)).clamp(0, 1)
    a_mir = (c_mir / torch.maximum(e_mir, floor)).clamp(0, 1)
    eye = int(model.landmarks68[36])  # an outer eye corner
    well_seen = w_seen > 0.8
    if mirror_skin and eye >= 0 and int(well_seen.sum()) >= 50:
        lateral = p_model[:, 0].abs() / max(abs(float(fit.vertices[eye, 0])), 1e-6)
        w_mir = w_mir * mirror_weight(a_mir, float(_luminance(a_seen[well_seen]).median()), lateral)
    # illumination compensation beyond the SH model: on the side turned away from the camera, where
    # the photo saw both a texel and (better) its mirror, their albedos should agree; a per-channel
    # gain makes them agree on average there, and the mirror's colour is corrected by it wherever
    # it fills in (a warm shadow side mirrored onto a lit one would otherwise keep its colour cast)
    both = w_seen * w_mir * (w_seen < w_mir)
    if float(both.sum()) > 1.0:
        gain = (both[:, None] * a_seen).sum(0) / (both[:, None] * a_mir).sum(0).clamp_min(1e-6)
        a_mir = (a_mir * gain.clamp(0.6, 1.6)).clamp(0, 1)

    w_m = (1 - w_seen) * w_mir
    total = w_seen + w_m
    albedo = torch.where(
        total[:, None] > 1e-6,
        (w_seen[:, None] * a_seen + w_m[:, None] * a_mir) / total.clamp_min(1e-6)[:, None],
        torch.zeros_like(a_seen),
    )
    prov = torch.full((len(albedo),), INPAINTED, dtype=torch.uint8)
    prov[w_m > 1e-6] = MIRRORED
    prov[w_seen >= 0.5 * total.clamp_min(1e-6)] = SEEN
    prov[total <= MIN_WEIGHT] = INPAINTED  # barely seen (grazing, at the silhouette): filled instead

    tex = np.zeros((size, size, 3), np.float32)
    provenance = np.zeros((size, size), np.uint8)
    share = np.zeros((size, size), np.float32)
    m = texel.numpy()
    tex[m] = albedo.numpy()
    provenance[m] = prov.numpy()
    share[m] = torch.where(total > MIN_WEIGHT, w_seen / total.clamp_min(1e-6), torch.zeros_like(total)).numpy()
    # fill the holes inside the charts and extend colours past the chart borders (so bilinear
    # lookups near seams never read the empty background) in one mask-aware pass from the known
    # texels only: a fill that also read the empty outside would draw a dark ring round the face
    tex8 = (tex * 255).round().astype(np.uint8)
    unknown = (provenance == INPAINTED) | (provenance == BACKGROUND)
    if unknown.any() and not unknown.all():
        tex8 = push_pull(tex8, unknown)
    return UVTexture(tex8.astype(np.float32) / 255.0, provenance, sh.numpy(), share)
