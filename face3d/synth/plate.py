"""The background plate: the photo with the fitted face inpainted away, the texture the extended
mesh (:mod:`.extended_mesh`) carries. Where a rotated face no longer covers its old place, hair
and background show, not a ghost of the source face."""

from __future__ import annotations

import numpy as np
import torch

from ..camera import PerspectiveCamera
from ..inpaint import push_pull
from ..landmarks.base import box_of
from ..region import face_region, upsample_window
from ..render import MeshRenderer, default_renderer
from .padding import PAD_FRINGE, resolve_padding

#: How far (a fraction of the face's width) the background plate's fill continues the photo's
#: edge colours before it fades into the smooth fill.
EDGE_FILL = 0.15
#: Radius (pixels of the 64-pixel image it runs on) of the padding fill's edge-continuing inpainting.
PAD_INPAINT_RADIUS = 3


def background_plate(
    image: np.ndarray,
    src_cam: np.ndarray,
    triangles: np.ndarray,
    cam: PerspectiveCamera,
    grow: float = -0.015,
    padding: np.ndarray | bool = True,
    renderer: MeshRenderer | None = None,
) -> np.ndarray:
    """The photo with the fitted face region inpainted away, the texture of the extended mesh:
    where a rotated face no longer covers its old place, hair and background show, not a ghost
    of the source face. The region is grown (``grow`` > 0) or shrunk (< 0) by that fraction of the
    face's width: shrunk by default, so the photo's own pixels around the outline stay (the band
    just outside a rotated face's outline comes from there; a fill there draws a line), and the
    fill continues the photo's edge colours for :data:`EDGE_FILL` of the face's width inward.
    ``padding``: the frame's black padding is filled too — ``True`` finds it
    (:func:`~face3d.synth.padding.frame_padding`), ``False`` keeps it, or a precomputed mask. The padding's fill
    continues the scene along its edge (a dark backdrop beside it stays dark); the face's is smooth."""
    import cv2

    h, w = image.shape[:2]
    mask, face_w = _face_hole(src_cam, triangles, cam, grow, renderer or default_renderer())
    pad = resolve_padding(image, padding)
    pad_mask = None
    if pad is not None:  # the padding's JPEG-ringed, anti-aliased edge goes too (up to 6 px on LFW crops)
        kp = max(5, int(PAD_FRINGE * min(h, w)) | 1)
        pad_mask = cv2.dilate(pad.astype(np.uint8), np.ones((kp, kp), np.uint8))
        mask |= pad_mask
    if not mask.any() or mask.all():
        return image.copy()
    small_fill = _smooth_fill(image, mask, pad_mask)
    # next to its edge the fill continues the photo's own edge pixels (the nearest unfilled pixel's
    # colour), fading into the smooth fill: the band a rotated face's outline drags out of the photo
    # starts at that edge and is stretched several-fold at large yaw, and a smooth fill's colour
    # there (a blend of skin, hair and background) drew a bright or dark line along the face.
    # Worked out in the hole's box only (one pixel larger, so its rim is known): the rest of the
    # frame is the photo.
    bx, by, bw, bh = cv2.boundingRect(mask)
    x0, y0, x1, y1 = max(bx - 1, 0), max(by - 1, 0), min(bx + bw + 1, w), min(by + bh + 1, h)
    hole, photo = mask[y0:y1, x0:x1], image[y0:y1, x0:x1]
    filled = upsample_window(small_fill, (h, w), (x0, y0, x1, y1))
    dist, labels = cv2.distanceTransformWithLabels(hole, cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL)
    yx = np.argwhere(hole == 0)  # the labels of DIST_LABEL_PIXEL number the zero pixels in raster order
    nearest = photo[yx[labels - 1, 0], yx[labels - 1, 1]].astype(np.float32)
    fade = np.clip(1.0 - dist / max(2.0, EDGE_FILL * face_w), 0, 1)[..., None]
    filled = fade * nearest + (1 - fade) * filled
    out = image.copy()
    out[y0:y1, x0:x1] = np.where(hole[..., None] > 0, filled.round().clip(0, 255).astype(np.uint8), photo)
    return out


def _face_hole(
    src_cam: np.ndarray, triangles: np.ndarray, cam: PerspectiveCamera, grow: float, renderer: MeshRenderer
) -> tuple[np.ndarray, float]:
    """(H, W) uint8 mask of the fitted face in the photo, grown or shrunk by ``grow`` of its width
    (rasterised on the face's region only), and that width in pixels."""
    import cv2

    pts = torch.as_tensor(src_cam, dtype=torch.float32)
    face_w = float(np.ptp(cam.project(src_cam)[:, 0]))
    k = max(3, int(abs(grow) * face_w) | 1)
    # the region's margin (a tenth of the face) holds the grown face: nothing is cut at its edge
    region = face_region(None, cam, box_of(cam.project(src_cam)), margin=0.1 + abs(grow))
    sub = renderer.fragments(pts, torch.as_tensor(triangles, dtype=torch.long), region.camera, cull_backfaces=False).mask
    mask = np.zeros((cam.height, cam.width), np.uint8)
    mask[region.slices] = (cv2.dilate if grow > 0 else cv2.erode)(sub.numpy().astype(np.uint8), np.ones((k, k), np.uint8))
    return mask, face_w


def _smooth_fill(image: np.ndarray, mask: np.ndarray, pad_mask: np.ndarray | None) -> np.ndarray:
    """The photo at about 128 px with the hole ``mask`` filled smoothly (push-pull), and the
    padding ``pad_mask`` filled by continuing the scene along its edge."""
    import cv2

    h, w = image.shape[:2]
    scale = min(1.0, 128.0 / max(h, w))  # fill at low resolution: the fill is smooth anyway
    small = cv2.resize(image, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
    # a low-resolution pixel that averages in any masked pixel is filled, not used: an area-averaged
    # pixel across the padding's edge is half black and streaked the fill next to it
    small_mask = cv2.resize(mask.astype(np.float32), small.shape[1::-1], interpolation=cv2.INTER_AREA) > 1e-3
    if small_mask.all():
        small_mask[0], small_mask[-1], small_mask[:, 0], small_mask[:, -1] = False, False, False, False
    small_fill = push_pull(small, small_mask)
    if pad_mask is not None:
        # the padding is filled by continuing the scene along its edge (Telea's fast-marching
        # inpainting), not by the smooth fill: a dark backdrop that meets the padding (or is
        # taken for it: it lies outside the content's hull) continues dark. The smooth fill
        # averaged the padding over the whole frame's scene, face and suit included, and the
        # turning head dragged that grey-brown into the view as a halo on dark scenes.
        # (at half the fill's resolution: 2-4 ms instead of 35 at full, and as smooth). It continues
        # the scene with the face's hole already smoothly filled, so what it starts from is the
        # padding's edge alone, which depends on the photo only, not on the fit.
        # (pad_mask is part of mask, so these pixels are among small_mask's)
        small_pad = cv2.resize(pad_mask.astype(np.float32), small.shape[1::-1], interpolation=cv2.INTER_AREA) > 0.5
        half = (max(1, small.shape[1] // 2), max(1, small.shape[0] // 2))
        half_mask = cv2.resize(pad_mask.astype(np.float32), half, interpolation=cv2.INTER_AREA) > 1e-3
        if small_pad.any() and not half_mask.all():
            tel = cv2.inpaint(
                cv2.resize(small_fill, half, interpolation=cv2.INTER_AREA),
                half_mask.astype(np.uint8),
                PAD_INPAINT_RADIUS,
                cv2.INPAINT_TELEA,
            )
            tel = cv2.resize(tel, small.shape[1::-1], interpolation=cv2.INTER_LINEAR)
            small_fill[small_pad] = tel[small_pad]
    return small_fill
