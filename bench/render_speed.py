"""Renderer speed: full shaded frames (UV texture x SH lighting) at 256x256, one process.

    python bench/render_speed.py

Rows: the built-in numba backend, the vectorised torch backend (the baseline measured in the
same run), and PyTorch3D when it is installed. Models: the embedded facerot-mp468 and the
SFM (when ../shared has it).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from common import save, table

from face3d.camera import PerspectiveCamera, euler_to_matrix
from face3d.model import load_model
from face3d.render import MeshRenderer
from face3d.render.pytorch3d_backend import available as p3d_available
from face3d.settings import sfm_dir
from face3d.shading import directional, vertex_normals
from face3d.topology import render_mesh


def frames_per_second(model, backend: str, size: int = 256, n: int = 200) -> float:
    rm = render_mesh(model)
    tri = torch.as_tensor(rm.triangles, dtype=torch.long)
    uv = torch.as_tensor(rm.expand(model.uv.astype(np.float32)))
    tex = torch.rand(256, 256, 3)
    sh = torch.as_tensor(directional((0.3, 0.2, 1.0), 0.6, 0.6))
    cam = PerspectiveCamera.for_image(size, size)
    r = MeshRenderer(backend)
    verts = rm.expand(model.mean.astype(np.float64))
    poses = [euler_to_matrix(y, 0, 0) for y in np.linspace(-60, 60, 13)]
    t = np.array([0, 0, cam.focal * 170 / (0.8 * size)])

    def one(i: int) -> None:
        rot = poses[i % len(poses)]
        pc = torch.as_tensor(cam.to_camera(verts, rot, t), dtype=torch.float32)
        normals = vertex_normals(torch.as_tensor(verts @ rot.T, dtype=torch.float32)[None], tri)[0]
        r.render(pc, tri, cam, uv=uv, texture=tex, normals=normals, sh=sh).to_uint8()

    for i in range(5):
        one(i)
    t0 = time.perf_counter()
    for i in range(n):
        one(i)
    return n / (time.perf_counter() - t0)


def main() -> None:
    torch.set_num_threads(1)
    models = [load_model()]
    if (sfm_dir() / "sfm_shape_3448.bin").is_file():
        from face3d.converters import convert_sfm

        models.append(convert_sfm(sfm_dir() / "sfm_shape_3448.bin"))
    backends = ["numba", "torch"] + (["pytorch3d"] if p3d_available() else [])
    rows, res = [], {}
    for m in models:
        fps = {b: frames_per_second(m, b) for b in backends}
        for b in backends:
            rows.append([m.name, m.n_vertices, len(m.triangles), b, round(fps[b], 1), f"{fps[b] / fps['torch']:.2f}x"])
        res[m.name] = fps
    print(
        table(
            ["model", "vertices", "triangles", "backend", "frames/s", "vs torch"],
            rows,
            "Full shaded 256x256 frames (UV texture x SH lighting), one process, one thread"
            + ("" if p3d_available() else "; PyTorch3D not installed"),
        )
    )
    save("render_speed", {"results": res})


if __name__ == "__main__":
    main()
