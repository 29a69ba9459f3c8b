"""Mesh topology helpers: boundary loops and a closed render mesh (eye and mouth holes capped)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .model import MorphableModel


def boundary_loops(triangles: np.ndarray) -> list[np.ndarray]:
    """Closed loops of boundary edges (edges used by one triangle), longest first, each ordered."""
    count: dict[tuple[int, int], int] = defaultdict(int)
    directed = {}
    for t in np.asarray(triangles).tolist():  # Python ints: numpy scalars make this loop 20x slower
        for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
            key = (min(a, b), max(a, b))
            count[key] += 1
            directed[key] = (int(a), int(b))
    nxt: dict[int, int] = {}
    for key, c in count.items():
        if c == 1:
            a, b = directed[key]
            nxt[a] = b
    loops, seen = [], set()
    for start in list(nxt):
        if start in seen:
            continue
        loop, v = [], start
        while v not in seen and v in nxt:
            seen.add(v)
            loop.append(v)
            v = nxt[v]
        if len(loop) >= 3:
            loops.append(np.array(loop, np.int64))
    return sorted(loops, key=len, reverse=True)


def orient_consistently(triangles: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Triangles re-wound so that neighbours agree (each shared edge runs opposite ways in its two
    triangles), every connected piece then turned so its area-weighted normal points to +z (out of
    the face). Winding each triangle by the sign of its own normal's z fails where the surface is
    edge-on in the mean shape (the sides of the nostrils): such a triangle is culled as a back face
    when the head turns, and leaves a hole in the render."""
    tri = np.asarray(triangles).copy()
    edges: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, t in enumerate(tri):
        for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
            edges[(min(a, b), max(a, b))].append(i)
    done = np.zeros(len(tri), bool)
    v = np.asarray(vertices, np.float64)
    for seed in range(len(tri)):
        if done[seed]:
            continue
        piece, stack = [seed], [seed]
        done[seed] = True
        while stack:  # flood fill: give each neighbour the winding that opposes the shared edge
            i = stack.pop()
            t = tri[i]
            for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
                for j in edges[(min(a, b), max(a, b))]:
                    if done[j]:
                        continue
                    u = tri[j]
                    same = any((u[k], u[(k + 1) % 3]) == (a, b) for k in range(3))
                    if same:
                        tri[j] = u[[0, 2, 1]]
                    done[j] = True
                    piece.append(j)
                    stack.append(j)
        pt = tri[piece]
        nz = np.cross(v[pt[:, 1]] - v[pt[:, 0]], v[pt[:, 2]] - v[pt[:, 0]])[:, 2].sum()
        if nz < 0:
            tri[piece] = pt[:, [0, 2, 1]]
    return tri


@dataclass(frozen=True)
class RenderMesh:
    """The model's triangles plus caps over its inner holes (eyes, mouth). Each cap adds one vertex,
    the mean of its loop; ``expand`` maps per-vertex arrays (positions, UVs, colours) to the
    capped vertex set. ``outline`` is the outer boundary loop (the face's edge)."""

    triangles: np.ndarray  # (T', 3) over N + len(caps) vertices
    caps: tuple[np.ndarray, ...]  # hole loops
    outline: np.ndarray
    n_vertices: int
    symmetry: np.ndarray  # (N + len(caps),)

    def expand(self, values: np.ndarray) -> np.ndarray:
        extra = [values[c].mean(0) for c in self.caps]
        return np.concatenate([values, np.stack(extra)], 0) if extra else values

    def expand_torch(self, values):  # torch variant, differentiable
        import torch

        extra = [values[torch.as_tensor(c)].mean(0) for c in self.caps]
        return torch.cat([values, torch.stack(extra)], 0) if extra else values


@lru_cache(maxsize=8)
def _render_mesh(key: int, triangles_bytes: bytes, n: int, sym_bytes: bytes, mean_bytes: bytes) -> RenderMesh:
    tri = np.frombuffer(triangles_bytes, np.int32).reshape(-1, 3)
    sym = np.frombuffer(sym_bytes, np.int32)
    mean = np.frombuffer(mean_bytes, np.float32).reshape(-1, 3)
    loops = boundary_loops(tri)
    if not loops:
        return RenderMesh(tri.copy(), (), np.zeros(0, np.int64), n, sym.copy())
    outline, holes = loops[0], [loop for loop in loops[1:] if len(loop) <= 0.6 * len(loops[0])]
    new_tris = [tri]
    for i, loop in enumerate(holes):
        c = n + i
        ring = np.stack([loop, np.roll(loop, -1), np.full(len(loop), c)], 1)
        # orient the cap like its neighbours: boundary edges run opposite to the cap's edges
        new_tris.append(ring[:, [1, 0, 2]].astype(np.int32))
    # mirror map for cap vertices: the cap whose centre is nearest the mirrored centre
    centres = np.array([mean[hole].mean(0) for hole in holes]) if holes else np.zeros((0, 3))
    cap_sym = [n + int(np.argmin(np.linalg.norm(centres - c * [-1, 1, 1], axis=1))) for c in centres]
    return RenderMesh(
        np.concatenate(new_tris).astype(np.int32), tuple(holes), outline, n, np.concatenate([sym, np.array(cap_sym, np.int32)])
    )


def render_mesh(model: MorphableModel) -> RenderMesh:
    """The capped render mesh of ``model`` (cached)."""
    return _render_mesh(
        id(model), model.triangles.tobytes(), model.n_vertices, model.symmetry.tobytes(), model.mean.astype(np.float32).tobytes()
    )
