"""Writing fitted meshes with their texture (trimesh), and baking per-vertex colours into UV space."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from .camera import uv_screen
from .files import atomic_write
from .model import MorphableModel
from .render import MeshRenderer, default_renderer, interpolate


def bake_uv_texture(
    model: MorphableModel, colours: np.ndarray, size: int = 512, renderer: MeshRenderer | None = None
) -> np.ndarray:
    """(size, size, 3) uint8 texture: per-vertex ``colours`` (N, 3) in [0, 1] rasterised in UV space
    (v = 0 at the bottom, as OBJ expects), with empty texels filled from their nearest neighbour."""
    import cv2

    tri = torch.as_tensor(model.triangles, dtype=torch.long)
    frags = (renderer or default_renderer()).rasterize(
        uv_screen(torch.as_tensor(model.uv, dtype=torch.float32), size), tri, size, size, cull_backfaces=False
    )
    tex = interpolate(frags, tri, torch.as_tensor(colours, dtype=torch.float32)).clamp(0, 1).numpy()
    img = (tex * 255).round().astype(np.uint8)
    hole = (~frags.mask.numpy()).astype(np.uint8)
    if hole.any() and not hole.all():
        img = cv2.inpaint(img, hole, 3, cv2.INPAINT_TELEA)
    return img


def write_mesh(
    path: str | os.PathLike[str],
    model: MorphableModel,
    vertices: np.ndarray,
    colours: np.ndarray | None = None,
    texture_size: int = 512,
) -> Path:
    """Write ``vertices`` (N, 3) with the model's triangles to ``.obj`` (UV texture PNG + MTL beside it)
    or ``.ply`` (per-vertex colours). ``colours`` are (N, 3) in [0, 1]."""
    import trimesh
    from PIL import Image

    path = Path(path)
    ext = path.suffix.lower()
    if ext not in (".obj", ".ply"):
        raise ValueError(f"mesh format must be .obj or .ply, got {path.suffix!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if colours is None:
        colours = model.albedo()
    if ext == ".ply":
        vc = np.concatenate([(np.clip(colours, 0, 1) * 255).round(), np.full((len(colours), 1), 255)], 1).astype(np.uint8)
        mesh = trimesh.Trimesh(vertices=vertices, faces=model.triangles, vertex_colors=vc, process=False)
        data = mesh.export(file_type="ply")
        atomic_write(path, data if isinstance(data, bytes) else data.encode())
        return path
    tex = bake_uv_texture(model, colours, texture_size)
    material = trimesh.visual.material.SimpleMaterial(image=Image.fromarray(tex), name=path.stem)
    visual = trimesh.visual.TextureVisuals(uv=model.uv, material=material)
    mesh = trimesh.Trimesh(vertices=vertices, faces=model.triangles, visual=visual, process=False)
    files = trimesh.exchange.obj.export_obj(mesh, include_texture=True, return_texture=True, mtl_name=path.stem + ".mtl")
    obj_text, assets = files if isinstance(files, tuple) else (files, {})
    for name, blob in assets.items():
        atomic_write(path.parent / name, blob)
    atomic_write(path, obj_text.encode())
    return path
