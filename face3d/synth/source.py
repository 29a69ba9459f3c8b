"""A source photo made ready for views: fit, texture, background plate, extended mesh and padding,
computed once and shared by every view of the photo (:func:`prepare_source`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model import MorphableModel
from ..occluders import Glasses, detect_glasses
from ..render import MeshRenderer, default_renderer
from ..result import FitResult
from ..texture import UVTexture, extract_texture
from ..topology import RenderMesh, render_mesh
from .extended_mesh import BackgroundMesh, background_mesh
from .padding import resolve_padding
from .plate import background_plate


@dataclass
class PreparedSource:
    """What one source photo yields once, before any view is made.

    Attributes:
        image: (H, W, 3) uint8 RGB, the photo the fit was made on.
        fit: the face's fit.
        model: the morphable model of the fit.
        texture: the completed UV texture (:func:`~face3d.texture.extract_texture`).
        plate: (H, W, 3) uint8, the photo with the face inpainted away (:mod:`.plate`).
        background: the extended mesh that carries the frame (:mod:`.extended_mesh`).
        padding: (H, W) bool mask of the frame's black padding (:mod:`.padding`), or None.
        mesh: the model's render mesh (capped topology); ``mesh_cam``: its vertices in the photo's
            camera space (N, 3), as fitted.
        glasses: the glasses found on the face (:mod:`face3d.occluders`), or None when not looked
            for (``remove_glasses`` off, or a texture given).
    """

    image: np.ndarray
    fit: FitResult
    model: MorphableModel
    texture: UVTexture
    plate: np.ndarray
    background: BackgroundMesh
    padding: np.ndarray | None
    mesh: RenderMesh
    mesh_cam: np.ndarray
    glasses: Glasses | None = None


def prepare_source(
    image: np.ndarray,
    fit: FitResult,
    model: MorphableModel,
    renderer: MeshRenderer | None = None,
    texture_size: int = 256,
    texture: UVTexture | None = None,
    padding: np.ndarray | bool = True,
    remove_glasses: bool = False,
) -> PreparedSource:
    """Everything the views of ``fit``'s face in ``image`` (RGB uint8) share.

    ``texture``: a texture extracted before (else extracted here at ``texture_size``).
    ``padding``: the frame's padding, ``True`` to find it, ``False`` for none, or a mask.
    ``remove_glasses``: look for glasses on the face (from the fit's detected landmarks) and keep
    their frames out of the texture (:func:`~face3d.occluders.detect_glasses`): the views show the
    face without them; ``False`` textures whatever the face wears like skin. A ``texture`` given is
    used as it is.
    Raises ``ValueError`` when the image is not the size the fit was made on."""
    image = np.ascontiguousarray(image)
    h, w = image.shape[:2]
    if (h, w) != tuple(fit.image_size):
        raise ValueError(f"image is {w}x{h} but the fit was made on {fit.image_size[1]}x{fit.image_size[0]}")
    renderer = renderer or default_renderer()
    rm = render_mesh(model)
    mesh_cam = fit.camera.to_camera(rm.expand(fit.vertices.astype(np.float64)), fit.rotation, fit.translation)
    pad = resolve_padding(image, padding)
    look = remove_glasses and texture is None and bool(np.isfinite(fit.landmarks_input).all())
    found = detect_glasses(image, fit.landmarks_input) if look else None
    occluder = found.mask if found is not None and found.present else None
    tex = texture or extract_texture(image, fit, model, texture_size, renderer=renderer, occluder=occluder)
    plate = background_plate(
        image, mesh_cam, rm.triangles, fit.camera, padding=pad if pad is not None else False, renderer=renderer
    )
    bg = background_mesh(mesh_cam, rm.outline, fit.camera)
    return PreparedSource(image, fit, model, tex, plate, bg, pad, rm, mesh_cam, found)
