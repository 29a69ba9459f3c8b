"""View synthesis: a fitted photo at new poses and lighting, as complete frames.

    source = prepare_source(image, fit, model)        # once per photo: texture, plate, extended mesh
    view = rotate(source, yaw=30, lighting="left")    # each view

One concern per module: :mod:`.source` (what a photo's views share), :mod:`.padding` (the frame's
black padding), :mod:`.plate` (the photo with the face inpainted away), :mod:`.extended_mesh` (the
mesh that carries the frame as the head turns), :mod:`.lighting` (presets), :mod:`.face` (the face
render and the photo's own colours), :mod:`.composite` (blend, provenance), :mod:`.view` (the
view). Every rasterisation goes through the one :class:`~face3d.render.MeshRenderer` passed in.
"""

from .extended_mesh import BackgroundMesh, background_mesh
from .lighting import LIGHT_PRESETS, lighting_from
from .padding import frame_padding
from .plate import background_plate
from .source import PreparedSource, prepare_source
from .view import RotatedView, rotate, target_rotation

__all__ = [
    "BackgroundMesh",
    "LIGHT_PRESETS",
    "PreparedSource",
    "RotatedView",
    "background_mesh",
    "background_plate",
    "frame_padding",
    "lighting_from",
    "prepare_source",
    "rotate",
    "target_rotation",
]
