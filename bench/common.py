"""Helpers shared by the benchmarks: tables, synthetic faces, LFW listings, result files."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")
import warnings  # noqa: E402

warnings.filterwarnings("ignore", module="google.protobuf")

RESULTS = Path(__file__).resolve().parent / "results"
#: bands of the yaw gap between a person's frontal photo F and another photo O (label, low, high)
GAP_BANDS = (("10-20°", 10, 20), ("20-35°", 20, 35), ("35-90°", 35, 90), ("all", 0, 180))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> str:
    """A GitHub-flavoured Markdown table (printed by every benchmark)."""

    def fmt(x: Any) -> str:
        if isinstance(x, float):
            return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"
        return str(x)

    lines = [f"\n### {title}\n"] if title else []
    lines.append("| " + " | ".join(headers) + " |")
    lines.append("|" + "|".join("---" for _ in headers) + "|")
    lines += ["| " + " | ".join(fmt(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def save(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {sys.version.split()[0]}",
        "date": time.strftime("%Y-%m-%d"),
        **data,
    }
    p = RESULTS / f"{name}.json"
    p.write_text(json.dumps(data, indent=1))
    return p


def synthetic_faces(
    model: Any,
    n: int,
    seed: int = 0,
    noise: float = 1.0,
    size: int = 500,
    yaw: float = 70,
    pitch: float = 30,
    roll: float = 10,
    ids: np.ndarray | None = None,
    distance: tuple[float, float] = (1200, 2000),
) -> dict[str, Any]:
    """Random faces of ``model`` (shape ~ N(0, 1), expression: each component U(0, 0.5) with
    probability 0.3) at random poses, ``distance`` mm from a camera of the default focal length in
    a ``size``-pixel image (1.2-2 m: faces of 170-280 px), landmarks with Gaussian pixel noise."""
    from face3d.camera import PerspectiveCamera, euler_to_matrix

    rng = np.random.default_rng(seed)
    cam = PerspectiveCamera.for_image(size, size)
    ids = model.landmarks68 if ids is None else ids
    out: dict[str, list[Any]] = {"points": [], "pose": [], "vertices": [], "shape": []}
    for _ in range(n):
        y, p, r = rng.uniform(-yaw, yaw), rng.uniform(-pitch, pitch), rng.uniform(-roll, roll)
        a = rng.standard_normal(model.n_shape)
        e = rng.uniform(0, 0.5, model.n_expr) * (rng.random(model.n_expr) < 0.3)
        v = model.vertices(a, e)
        t = np.array([rng.uniform(-20, 20), rng.uniform(-20, 20), rng.uniform(*distance)])
        proj = cam.project(cam.to_camera(v, euler_to_matrix(y, p, r), t))[ids]
        out["points"].append(proj + rng.normal(0, noise, proj.shape))
        out["pose"].append((y, p, r))
        out["vertices"].append(v)
        out["shape"].append(a)
    res = {k: np.array(v) for k, v in out.items()}
    res["camera"] = cam
    return res


def lfw_people(split: str = "DevTest") -> list[tuple[str, int]]:
    from face3d.settings import lfw_dir

    rows = (lfw_dir() / f"people{split}.txt").read_text().split("\n")[1:]
    return [(r.split("\t")[0], int(r.split("\t")[1])) for r in rows if r.strip()]


def lfw_photos(n: int, split: str = "DevTest") -> list[Path]:
    """``n`` photos of ``split`` people, deterministic: the people's photos in listing order."""
    from face3d.settings import lfw_dir

    root = lfw_dir() / "images"
    out = []
    for name, k in lfw_people(split):
        for i in range(1, k + 1):
            out.append(root / name / f"{name}_{i:04d}.jpg")
    step = max(1, len(out) // n)
    return out[::step][:n]


def require(path: Path, what: str) -> None:
    if not path.exists():
        print(f"{what} not found at {path}; set FACEROT_SHARED (or the specific variable) and run again.")
        raise SystemExit(0)


def multi_photo_people(n: int, split: str = "DevTest") -> list[tuple[str, int]]:
    """The first ``n`` LFW people of ``split`` with at least 2 photos: (name, photo count)."""
    return [(name, k) for name, k in lfw_people(split) if k >= 2][:n]


def near_frontal_sources(rot: Any, n: int, split: str = "DevTest"):
    """Up to ``n`` ``(path, prepared photo)`` of ``split`` whose fit is near-frontal (|yaw| ≤ 10°,
    |pitch| ≤ 15°) and did not fail, drawn from ``20 n`` photos in listing order (no face: skipped)."""
    from face3d.imageio import read_image
    from face3d.landmarks import NoFaceError

    used = 0
    for p in lfw_photos(20 * n, split):
        if used >= n:
            return
        try:
            prep = rot.prepare(read_image(p))
        except NoFaceError:
            continue
        if abs(prep.fit.yaw) > 10 or abs(prep.fit.pitch) > 15 or prep.fit.quality == "failed":
            continue
        used += 1
        yield p, prep


def frontal_and_others(
    rot: Any, ident: Any, people: Sequence[tuple[str, int]], max_photos: int = 8, max_frontal_yaw: float = 10.0
):
    """For each of ``people`` (see :func:`multi_photo_people`): ``(F, others)``, where each item is
    ``(prepared photo, dlib descriptor)``, F the person's most frontal usable photo (|yaw| ≤
    ``max_frontal_yaw``) and ``others`` the rest of their first ``max_photos`` photos. Photos with
    no face or a failed fit are skipped; so are people left with < 2 photos or no frontal one."""
    from face3d.imageio import read_image
    from face3d.landmarks import NoFaceError, box_of
    from face3d.settings import lfw_dir

    root = lfw_dir() / "images"
    for name, k in people:
        items = []
        for i in range(1, min(k, max_photos) + 1):
            img = read_image(root / name / f"{name}_{i:04d}.jpg")
            try:
                prep = rot.prepare(img)
            except NoFaceError:
                continue
            if prep.fit.quality != "failed":
                items.append((prep, ident.descriptor(img, box_of(prep.fit.landmarks68))))
        if len(items) < 2:
            continue
        front = min(items, key=lambda it: abs(it[0].fit.yaw))
        if abs(front[0].fit.yaw) > max_frontal_yaw:
            continue
        yield front, [it for it in items if it is not front]


def pose_pairs(rot: Any, ident: Any, people: Sequence[tuple[str, int]], min_gap: float = 10.0):
    """``(gap, F, O)`` for each of ``people``'s frontal photo F and each other photo O whose fitted
    yaw differs by ``min_gap`` or more (F, O: ``(prepared photo, dlib descriptor)``, see
    :func:`frontal_and_others`)."""
    for front, others in frontal_and_others(rot, ident, people):
        for other in others:
            gap = abs(other[0].fit.yaw - front[0].fit.yaw)
            if gap >= min_gap:
                yield gap, front, other
