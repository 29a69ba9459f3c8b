"""Surrey Face Model (eos formats): cereal binary model + blendshapes, iBUG mapping, contours, symmetry.

The cereal binary layout (little endian) of an eos ``MorphableModel`` of class version 1 is:
``uint32 version``; shape ``PcaModel``; colour ``PcaModel``; ``uint64 n`` then ``n`` float64 (u, v)
texture coordinates. A ``PcaModel`` is three Eigen matrices (``int32 rows, int32 cols``, then
column-major float32 data: mean, orthonormal basis, eigenvalues) followed by ``uint64 n`` and ``n``
int32 triangles. Blendshapes: ``uint64 count``, then per blendshape ``uint64 len`` + name bytes and
an Eigen vector of deformations.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..model import IBUG_CONTOUR_LEFT, IBUG_CONTOUR_RIGHT, ModelFormatError, MorphableModel, symmetry_from_mirror


class _Reader:
    def __init__(self, data: bytes, name: str) -> None:
        self.d, self.o, self.name = data, 0, name

    def need(self, n: int, what: str) -> None:
        if self.o + n > len(self.d):
            raise ModelFormatError(f"{self.name}: file ends inside {what} (offset {self.o}, needs {n} more bytes)")

    def u32(self, what: str) -> int:
        self.need(4, what)
        v = struct.unpack_from("<I", self.d, self.o)[0]
        self.o += 4
        return int(v)

    def u64(self, what: str, limit: int = 1 << 31) -> int:
        self.need(8, what)
        v = int(struct.unpack_from("<Q", self.d, self.o)[0])
        self.o += 8
        if v > limit:
            raise ModelFormatError(f"{self.name}: implausible length {v} for {what}")
        return v

    def array(self, dtype: str, count: int, what: str) -> np.ndarray:
        size = np.dtype(dtype).itemsize * count
        self.need(size, what)
        a = np.frombuffer(self.d, dtype, count, self.o).copy()
        self.o += size
        return a

    def matrix(self, what: str) -> np.ndarray:
        self.need(8, what)
        r, c = struct.unpack_from("<ii", self.d, self.o)
        if r < 0 or c < 0 or r * c > (1 << 30):
            raise ModelFormatError(f"{self.name}: implausible matrix size {r}x{c} for {what}")
        self.o += 8
        return self.array("<f4", r * c, what).reshape(c, r).T  # column-major

    def pca(self, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        mean = self.matrix(f"{what} mean")
        basis = self.matrix(f"{what} basis")
        ev = self.matrix(f"{what} eigenvalues")
        n = self.u64(f"{what} triangle count")
        tri = self.array("<i4", 3 * n, f"{what} triangles").reshape(n, 3)
        return mean.ravel(), basis, ev.ravel(), tri


@dataclass
class EosModel:
    """The raw content of an eos model file (shape PCA, optional colour PCA, UVs)."""

    mean: np.ndarray  # (N, 3)
    basis: np.ndarray  # (3N, K) orthonormal
    eigenvalues: np.ndarray  # (K,) variances
    triangles: np.ndarray
    color_mean: np.ndarray | None
    color_basis: np.ndarray | None
    color_eigenvalues: np.ndarray | None
    uv: np.ndarray | None


def read_eos_model(path: str | Path) -> EosModel:
    """Parse an eos cereal-binary ``MorphableModel`` (class version 1, as the public SFM ships)."""
    path = Path(path)
    r = _Reader(path.read_bytes(), str(path))
    version = r.u32("version")
    if version != 1:
        raise ModelFormatError(
            f"{path}: eos model class version {version} is not supported (only 1); "
            "convert it with eos-py to version 1 or open an issue"
        )
    mean, basis, ev, tri = r.pca("shape model")
    if mean.size % 3 or basis.shape[0] != mean.size or ev.size != basis.shape[1]:
        raise ModelFormatError(f"{path}: inconsistent shape model sizes {mean.size}, {basis.shape}, {ev.size}")
    cmean, cbasis, cev, _ = r.pca("colour model")
    n_uv = r.u64("texture coordinate count")
    uv = r.array("<f8", 2 * n_uv, "texture coordinates").reshape(n_uv, 2) if n_uv else None
    if r.o != len(r.d):
        raise ModelFormatError(f"{path}: {len(r.d) - r.o} unexpected trailing bytes")
    n = mean.size // 3
    return EosModel(
        mean.reshape(n, 3),
        basis,
        ev,
        tri,
        cmean.reshape(n, 3) if cmean.size else None,
        cbasis if cmean.size else None,
        cev if cmean.size else None,
        uv,
    )


def read_blendshapes(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Parse an eos blendshapes file; returns names and (3N, B) deformations."""
    path = Path(path)
    r = _Reader(path.read_bytes(), str(path))
    count = r.u64("blendshape count", 10_000)
    names, cols = [], []
    for i in range(count):
        ln = r.u64(f"blendshape {i} name length", 10_000)
        r.need(ln, f"blendshape {i} name")
        names.append(r.d[r.o : r.o + ln].decode("utf-8", "replace"))
        r.o += ln
        cols.append(r.matrix(f"blendshape {i} deformation").ravel())
    if r.o != len(r.d):
        raise ModelFormatError(f"{path}: {len(r.d) - r.o} unexpected trailing bytes")
    if len({c.size for c in cols}) > 1:
        raise ModelFormatError(f"{path}: blendshapes have different sizes")
    return names, np.stack(cols, 1) if cols else np.zeros((0, 0), np.float32)


def read_landmark_mapping(path: str | Path) -> dict[int, int]:
    """Parse eos's ``ibug_to_*.txt`` (TOML ``[landmark_mappings]``, lines ``ibug = vertex``)."""
    out: dict[int, int] = {}
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        m = re.fullmatch(r'"?(\d+)"?\s*=\s*"?(\d+)"?', line)
        if m:
            out[int(m.group(1))] = int(m.group(2))
    if not out:
        raise ModelFormatError(f"{path}: no 'ibug = vertex' mappings found")
    return out


def read_contours(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Parse eos's ``*_model_contours.json`` into (right, left) vertex index arrays."""
    try:
        d = json.loads(Path(path).read_text())["model_contour"]
        return np.asarray(d["right_contour"], np.int32), np.asarray(d["left_contour"], np.int32)
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ModelFormatError(
            f"{path}: expected {{'model_contour': {{'right_contour': [...], 'left_contour': [...]}}}} ({exc})"
        ) from exc


def read_symmetry(path: str | Path, n_vertices: int) -> np.ndarray:
    """Parse eos's ``*_symmetry.txt``: one 1-based index per line, with optional ``#`` comments.

    The file may cover only the first vertices (SFM's reference level, 845 of 3,448); the caller
    completes the rest."""
    vals = []
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            vals.append(int(line) - 1)
    if not vals or len(vals) > n_vertices or max(vals) >= n_vertices or min(vals) < 0:
        raise ModelFormatError(f"{path}: {len(vals)} symmetry entries for a {n_vertices}-vertex model")
    return np.asarray(vals, np.int32)


def contour_landmarks(mean: np.ndarray, right: np.ndarray, left: np.ndarray) -> dict[int, int]:
    """Frontal defaults for iBUG 1-8 / 10-17: candidates spread evenly from the top of each
    contour list to its chin end (the fitter re-chooses them for the actual pose)."""
    out = {}
    for ibug_idx, cont in ((IBUG_CONTOUR_RIGHT, right), (IBUG_CONTOUR_LEFT[::-1], left)):
        if cont.size == 0:
            continue
        pos = np.round(np.linspace(0, cont.size - 1, 9)[:8]).astype(int)
        for k, p in zip(ibug_idx, pos):
            out[k] = int(cont[p])
    return out


def convert_sfm(
    model_bin: str | Path,
    blendshapes: str | Path | None = None,
    mapping: str | Path | None = None,
    contours: str | Path | None = None,
    symmetry: str | Path | None = None,
    name: str = "sfm",
) -> MorphableModel:
    """Build a :class:`MorphableModel` from the Surrey Face Model's eos files (the companions are
    looked up beside ``model_bin`` when not given). (Long on purpose: the format's files read in order.)"""
    model_bin = Path(model_bin)
    folder = model_bin.parent
    em = read_eos_model(model_bin)
    n = em.mean.shape[0]
    std = np.sqrt(np.clip(em.eigenvalues, 0, None)).astype(np.float32)
    shape_basis = (em.basis / np.maximum(np.linalg.norm(em.basis, axis=0), 1e-12)).reshape(n, 3, -1)

    if blendshapes is None and (folder / "expression_blendshapes_3448.bin").is_file() and n == 3448:
        blendshapes = folder / "expression_blendshapes_3448.bin"
    names: list[str] = []
    if blendshapes is not None:
        names, defs = read_blendshapes(blendshapes)
        if defs.shape[0] != 3 * n:
            raise ModelFormatError(f"{blendshapes}: blendshapes have {defs.shape[0] // 3} vertices, model has {n}")
        e_std = np.linalg.norm(defs, axis=0)
        expr_basis = (defs / np.maximum(e_std, 1e-12)).reshape(n, 3, -1)
    else:
        expr_basis, e_std = np.zeros((n, 3, 0), np.float32), np.zeros(0, np.float32)

    mapping = mapping or _first(folder, ["ibug_to_sfm.txt"])
    contours = contours or _first(folder, ["sfm_model_contours.json"])
    symmetry = symmetry or _first(folder, ["sfm_reference_symmetry.txt"])
    right, left = read_contours(contours) if contours else (np.zeros(0, np.int32), np.zeros(0, np.int32))
    lm = np.full(68, -1, np.int32)
    for k, v in (read_landmark_mapping(mapping) if mapping else {}).items():
        if 1 <= k <= 68 and v < n:
            lm[k - 1] = v
    for k, v in contour_landmarks(em.mean, right, left).items():
        if lm[k] < 0:
            lm[k] = v
    sym = symmetry_from_mirror(em.mean)
    if symmetry:
        listed = read_symmetry(symmetry, n)
        sym[: listed.size] = listed
    if em.uv is not None and em.uv.shape[0] == n:
        uv = np.clip(em.uv, 0, 1).astype(np.float32)
    else:
        from ..model import cylindrical_uv

        uv = cylindrical_uv(em.mean)
    albedo = {}
    if em.color_mean is not None and em.color_basis is not None and em.color_eigenvalues is not None:
        cstd = np.sqrt(np.clip(em.color_eigenvalues, 0, None))
        albedo = dict(
            albedo_mean=np.clip(em.color_mean, 0, 1),
            albedo_basis=(em.color_basis / np.maximum(np.linalg.norm(em.color_basis, axis=0), 1e-12)).reshape(n, 3, -1),
            albedo_std=cstd,
        )
    return MorphableModel(
        mean=em.mean,
        shape_basis=shape_basis,
        shape_std=std,
        expr_basis=expr_basis,
        expr_std=e_std,
        triangles=em.triangles,
        landmarks68=lm,
        contour_right=right,
        contour_left=left,
        symmetry=sym,
        uv=uv,
        name=name,
        **albedo,
        metadata={
            "source": "Surrey Face Model (eos format)",
            "files": [str(Path(model_bin).name)],
            "expressions": names,
            "units": "mm",
            "terms": "Surrey Face Model licence: non-commercial research use only",
        },
    )


def _first(folder: Path, names: list[str]) -> Path | None:
    for nm in names:
        if (folder / nm).is_file():
            return folder / nm
    return None
