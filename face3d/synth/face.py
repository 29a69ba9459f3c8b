"""The face at the view's pose: the completed texture rendered and re-lit, with what the photo saw
of each pixel taken straight from the photo."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..camera import PerspectiveCamera
from ..landmarks.base import box_of
from ..region import Region, face_region
from ..render import Fragments, MeshRenderer, RenderResult, pixel_attributes
from ..render.shader import irradiance_at, texture_at

if TYPE_CHECKING:
    from .source import PreparedSource

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


def photo_colours(
    image: np.ndarray,
    res: RenderResult,
    triangles: torch.Tensor,
    src_cam: np.ndarray,
    uv: torch.Tensor,
    seen_share: np.ndarray,
    cam: PerspectiveCamera,
    relight: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """(H, W, 3) the face render ``res`` with the photo's own share of each pixel taken from the photo.

    Each covered pixel's surface point is found where it was in the photo (``src_cam``: the fitted
    render mesh in the photo's camera space) and the photo is sampled there once; that colour
    replaces the UV texture's by the texel's ``seen_share`` (the texture blends seen and mirrored
    colour by it, and it is zero where the photo did not see the point, so occluded points are never
    read). ``relight``: (target normals, target SH, photo normals, photo SH) when the lighting
    changes — the photo's colour is scaled by the ratio of the target's irradiance to the
    photo's, floored as the texture's de-lighting is; ``None`` when the face keeps its shading."""
    px = res.face >= 0
    if not bool(px.any()):
        return res.image
    parts = [torch.as_tensor(src_cam, dtype=torch.float32), uv] + ([relight[0], relight[2]] if relight else [])
    attr = pixel_attributes(Fragments(res.face, res.bary, res.depth), triangles, torch.cat(parts, 1))  # one gather
    p, uvp = attr[:, :3], attr[:, 3:5]
    xy = cam.to_screen(p)[:, :2].numpy()
    colour = torch.from_numpy(sample_points(image, xy).astype(np.float32) / 255.0)
    share = texture_at(uvp, torch.as_tensor(seen_share, dtype=torch.float32)[..., None])[:, 0:1]
    if relight is not None:
        _, sh_new, _, sh_old = relight
        e_new, e_old = irradiance_at(attr[:, 5:8], sh_new), irradiance_at(attr[:, 8:11], sh_old)
        colour = colour * e_new / torch.maximum(e_old, 0.3 * e_old.mean(0).clamp_min(1e-3))
    out = res.image.clone()
    out[px] = share * colour + (1 - share) * out[px]
    return out


@dataclass
class FaceRender:
    """The face drawn at the view's pose on its region of the frame (:class:`~face3d.region.Region`)."""

    rgb: np.ndarray  # (h, w, 3) float in [0, 1], the region's pixels
    coverage: np.ndarray  # (h, w) float32 0/1
    region: Region
    fragments: Fragments  # the region's rasterisation (face index, barycentrics, depth)
    #: (h, w, 3) per face pixel the new light's irradiance over the photo's (1 off the face);
    #: None when the face keeps the photo's lighting
    light_ratio: np.ndarray | None = None


def render_face(
    source: PreparedSource,
    mesh_cam: np.ndarray,
    normals: torch.Tensor,
    sh: np.ndarray,
    renderer: MeshRenderer,
    relight: tuple[torch.Tensor, torch.Tensor] | None,
    from_photo: bool = True,
) -> FaceRender:
    """Render the face's mesh (``mesh_cam``: the render mesh in camera space at the view's pose,
    ``normals``: its shading normals) with the completed texture lit by ``sh``, on the face's
    region of the frame plus a margin (it holds the feather's blur). ``from_photo``: the part of
    each pixel the photo saw comes straight from the photo (:func:`photo_colours`); ``relight``:
    (photo normals, photo SH) when the lighting changes, so those colours are re-lit."""
    cam, tex, rm = source.fit.camera, source.texture, source.mesh
    region = face_region(None, cam, box_of(cam.project(mesh_cam)), margin=0.1)
    tri = torch.as_tensor(rm.triangles, dtype=torch.long)
    uv = torch.as_tensor(rm.expand(source.model.uv.astype(np.float32)))
    res = renderer.render(
        torch.as_tensor(mesh_cam, dtype=torch.float32),
        tri,
        region.camera,
        uv=uv,
        texture=torch.as_tensor(tex.albedo),
        normals=normals,
        sh=torch.as_tensor(sh),
    )
    rgb = res.image
    if from_photo and tex.seen_share is not None:
        rgb = photo_colours(
            source.image,
            res,
            tri,
            source.mesh_cam,
            uv,
            tex.seen_share,
            cam,
            None if relight is None else (normals, torch.as_tensor(sh), *relight),
        )
    frags = Fragments(res.face, res.bary, res.depth)
    ratio = None if relight is None else light_ratio(frags, tri, normals, torch.as_tensor(sh), *relight)
    return FaceRender(rgb.clamp(0, 1).numpy(), res.alpha.numpy().astype(np.float32), region, frags, ratio)


def light_ratio(
    frags: Fragments,
    triangles: torch.Tensor,
    normals: torch.Tensor,
    sh: torch.Tensor,
    photo_normals: torch.Tensor,
    photo_sh: torch.Tensor,
) -> np.ndarray:
    """(h, w, 3): at each face pixel the irradiance of the new light (``sh`` on ``normals``) over
    the photo's (``photo_sh`` on ``photo_normals``), floored as the texture's de-lighting is; 1 elsewhere."""
    px = frags.face >= 0
    ratio = torch.ones((*frags.face.shape, 3))
    if bool(px.any()):
        attr = pixel_attributes(frags, triangles, torch.cat([normals, photo_normals], 1))
        e_new, e_old = irradiance_at(attr[:, :3], sh), irradiance_at(attr[:, 3:6], photo_sh)
        ratio[px] = e_new / torch.maximum(e_old, 0.3 * e_old.mean(0).clamp_min(1e-3))
    return ratio.numpy()
