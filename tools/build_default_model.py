"""Build facerot's embedded default morphable model from MediaPipe reconstructions of LFW photos.

    python tools/build_default_model.py [--lfw ../shared/data/lfw] [--out face3d/data]

Only people listed in ``peopleDevTrain.txt`` are used. Steps:

1. MediaPipe FaceMesh (478 points; the 468 mesh points are kept) on every training photo.
2. Generalised Procrustes alignment (similarity) of all meshes; scale to millimetres with a mean
   outer-eye-corner distance of 89 mm (adult biocular width).
3. Identity basis: PCA of per-person mean shapes (each with its mirror image, so the mean is
   symmetric). Expression basis: PCA of the within-person deviations (people with >= 2 photos).
4. Mean vertex colour and a colour basis from near-frontal photos (an approximate albedo: LFW's
   lighting averaged over thousands of photos).
5. iBUG-68 vertex table: for each iBUG point, the mesh vertex closest on average to dlib's
   68-point detections on near-frontal photos (dlib is only needed for this step).
6. Triangles from MediaPipe's tesselation (3-cliques of its edge list, minus the 2 that are not
   faces), symmetry map by mirrored nearest neighbour, cylindrical UVs, jaw-contour candidates.
7. The view depth (``depth_offset``): how far behind MediaPipe's surface a real face lies at the
   jaw, cheeks and chin, from 9 coefficients of a smooth symmetric polynomial (see below).

``--patch`` adds step 7 (and the mirror table of the 468 points) to the shipped files without
rebuilding the rest; ``--measure-view-depth`` measures the 9 coefficients again (needs the SFM).

Writes ``facerot_mp468.npz`` and ``mediapipe_ibug68.json`` (with the measured numbers).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from face3d.files import atomic_write
from face3d.model import MorphableModel, cylindrical_uv, symmetry_from_mirror
from face3d.settings import lfw_dir
from face3d.topology import orient_consistently

RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263  # MediaPipe indices (subject's right = image left)
NOSE_TIP = 1
BIOCULAR_MM = 89.0
#: MediaPipe's depth (z) is only approximately in the units of x and y: left as is, the model's
#: nose protrudes 0.478 x the outer-eye distance, and fits under-estimate yaw by ~18%. The depth
#: axis is scaled so this ratio is 0.394, its value in the mean of the Surrey Face Model (built
#: from 3D scans); one scalar, measured once (see data/README.md).
NOSE_DEPTH_RATIO = 0.394
#: The view depth. MediaPipe's mesh, and so this model, is as deep as the Surrey Face Model's
#: scanned mean in the inner face (eyes, nose, mouth: depth scale 1.005, 2 mm RMS) but 10-20 mm
#: too flat at the jaw, the lower cheeks and under the chin. The fit keeps MediaPipe's surface (its
#: points are consistent with it: on real photos the fit reads the yaw that dlib + the SFM read,
#: slope 1.00), and novel views use a surface moved back by ``depth_offset`` (face3d.fitting.
#: view_surface). The offset is min(0, p(X, Y)) x outer-eye distance, with X, Y a vertex's mean
#: position relative to the nose bridge (vertex 168) in outer-eye distances and p the symmetric
#: polynomial of terms 1, Y, Y^2, X^2, X^2 Y, X^4, Y^3, X^2 Y^2, Y^4 whose coefficients are below:
#: the least-squares fit of the depth difference to the SFM mean's surface (2.3 mm RMS left), 9
#: numbers measured once (``--measure-view-depth``); no SFM data is in the model.
VIEW_DEPTH_COEFFS = (0.0066, 0.1473, 0.1307, -0.0680, -0.1676, -0.0984, -0.3474, -0.7161, -0.3133)
NOSE_BRIDGE = 168


def _view_depth_terms(mean: np.ndarray) -> tuple[np.ndarray, float]:
    m = np.asarray(mean, np.float64)
    eo = float(np.linalg.norm(m[RIGHT_EYE_OUTER] - m[LEFT_EYE_OUTER]))
    x, y = (m[:, 0] - m[NOSE_BRIDGE, 0]) / eo, (m[:, 1] - m[NOSE_BRIDGE, 1]) / eo
    x2 = x**2
    return np.stack([np.ones_like(x), y, y**2, x2, x2 * y, x2**2, y**3, x2 * y**2, y**4], 1), eo


def view_depth_offset(mean: np.ndarray, coeffs: tuple[float, ...] = VIEW_DEPTH_COEFFS) -> np.ndarray:
    """(N,) the model's ``depth_offset`` (mm, <= 0) for MediaPipe-468 ``mean``."""
    terms, eo = _view_depth_terms(mean)
    return np.minimum(terms @ np.asarray(coeffs, np.float64) * eo, 0.0).astype(np.float32)


def measure_view_depth(model: MorphableModel, sfm_bin: Path) -> tuple[np.ndarray, float]:
    """The coefficients of :data:`VIEW_DEPTH_COEFFS`, measured against the SFM mean: align the
    model's mean to it on the inner iBUG points (similarity), read the SFM surface's depth under
    each vertex, symmetrise the difference and fit the polynomial. Returns (coefficients, RMS mm)."""
    from scipy.interpolate import griddata

    from face3d.converters import convert_sfm

    sfm = convert_sfm(sfm_bin)
    inner = np.arange(17, 68)
    ok = inner[(model.landmarks68[inner] >= 0) & (sfm.landmarks68[inner] >= 0)]
    s, r, t = umeyama(model.mean[model.landmarks68[ok]].astype(np.float64), sfm.mean[sfm.landmarks68[ok]].astype(np.float64))
    v = s * model.mean.astype(np.float64) @ r.T + t
    sv = sfm.mean.astype(np.float64)
    z = griddata(sv[:, :2], sv[:, 2], v[:, :2], method="linear")
    z = np.where(np.isnan(z), griddata(sv[:, :2], sv[:, 2], v[:, :2], method="nearest"), z)
    dz = (z - v[:, 2]) / s  # back in model millimetres
    dz = 0.5 * (dz + dz[model.symmetry])
    terms, eo = _view_depth_terms(model.mean)
    coef, *_ = np.linalg.lstsq(terms, dz / eo, rcond=None)
    rms = float(np.sqrt(((dz - np.minimum(terms @ coef * eo, 0)) ** 2).mean()))
    return coef, rms


def ibug68_table(mp2d: np.ndarray, d68: np.ndarray, sym: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each iBUG-68 point, the mesh vertex closest on average to dlib's detections
    ((P, 468, 2) MediaPipe points and (P, 68, 2) dlib points of the same photos), chosen in mirror
    pairs: point i and its mirror point take a vertex and its mirror vertex (the pair with the
    least summed distance), so the table is as symmetric as the model. Returns the (68,) table
    and the (68, 468) mean distances in inter-ocular units."""
    from face3d.landmarks.flip import IBUG68_MIRROR

    iod = np.linalg.norm(d68[:, 36] - d68[:, 45], axis=1)
    mean_dist = np.zeros((68, mp2d.shape[1]))
    for i in range(68):  # (P, 468) per point: the full (P, 68, 468) array is large
        mean_dist[i] = (np.linalg.norm(mp2d - d68[:, i : i + 1, :], axis=2) / iod[:, None]).mean(0)
    ibug = np.zeros(68, np.int64)
    for i in range(68):
        j = int(IBUG68_MIRROR[i])
        if j == i:  # on the midline: a midline vertex
            cand = np.where(sym == np.arange(len(sym)))[0]
            ibug[i] = cand[mean_dist[i, cand].argmin()]
        elif i < j:
            v = int((mean_dist[i] + mean_dist[j, sym]).argmin())
            ibug[i], ibug[j] = v, sym[v]
    return ibug, mean_dist


def mirror_468(model: MorphableModel) -> list[int]:
    """The mirror point of each of MediaPipe's 468 points (the model's symmetry map)."""
    return [int(i) for i in model.symmetry[:468]]


def patch(out: Path, lfw: Path, dlib_photos: int, workers: int) -> int:
    """Add the view depth to the shipped model, and the mirror table to the iBUG-68 file, whose
    table is measured again in mirror pairs (MediaPipe and dlib on near-frontal DevTrain photos)."""
    from face3d.model import load_model

    path = out / "facerot_mp468.npz"
    model = load_model(path)
    people = read_people(lfw / "peopleDevTrain.txt")
    paths = [(str(lfw / "images" / name / f"{name}_{i:04d}.jpg"), name) for name, n in people for i in range(1, n + 1)]
    rng = np.random.default_rng(0)
    jobs = [(paths[j][0], paths[j][1], True) for j in rng.choice(len(paths), min(dlib_photos, len(paths)), replace=False)]
    with ProcessPoolExecutor(workers, initializer=_init, initargs=(True,)) as ex:
        results = list(tqdm(ex.map(_process, jobs, chunksize=16), total=len(jobs), desc="mediapipe+dlib", unit="img"))
    mp2d, d68 = [], []
    ref = model.mean.astype(np.float64)
    for _, pts, _, d in results:
        if pts is None or d is None:
            continue
        _, r, _ = umeyama(ref, pts.astype(np.float64) * np.array([1.0, -1.0, -1.0]))
        if abs(np.degrees(np.arcsin(np.clip(r[0, 2], -1, 1)))) < 20:  # near-frontal: dlib's jaw is reliable
            mp2d.append(pts[:, :2])
            d68.append(d)
    ibug, mean_dist = ibug68_table(np.stack(mp2d), np.stack(d68), model.symmetry)
    changed = int((ibug != model.landmarks68).sum())
    model.landmarks68 = ibug.astype(np.int32)
    model.depth_offset = view_depth_offset(model.mean)
    model.metadata["view_depth"] = {
        "coefficients": list(VIEW_DEPTH_COEFFS),
        "nose_bridge_vertex": NOSE_BRIDGE,
        "measured_against": "Surrey Face Model mean (3448), --measure-view-depth",
    }
    model.metadata["ibug68_photos"] = len(mp2d)
    model.metadata["ibug68_mapping_nme_iod"] = float(mean_dist[np.arange(68), ibug].mean())
    model.validate()
    model.save(path)
    js = out / "mediapipe_ibug68.json"
    data = json.loads(js.read_text())
    data.update(
        {
            "ibug68": [int(i) for i in ibug],
            "mirror468": mirror_468(model),
            "photos": len(mp2d),
            "mean_error_interocular": float(mean_dist[np.arange(68), ibug].mean()),
            "per_point_error_interocular": [round(float(x), 4) for x in mean_dist[np.arange(68), ibug]],
        }
    )
    atomic_write(js, json.dumps(data, indent=1))
    d = model.depth_offset
    print(
        f"depth_offset: {int((d < 0).sum())} of {len(d)} vertices moved back, up to {-d.min():.1f} mm; iBUG-68 table "
        f"from {len(mp2d)} photos, {changed} of 68 points changed, mean error {data['mean_error_interocular']:.4f} "
        "inter-ocular",
        file=sys.stderr,
    )
    return 0


def read_people(path: Path) -> list[tuple[str, int]]:
    rows = path.read_text().split("\n")[1:]
    return [(r.split("\t")[0], int(r.split("\t")[1])) for r in rows if r.strip()]


def mediapipe_triangles(mean: np.ndarray) -> np.ndarray:
    """Faces of MediaPipe's tesselation, oriented with normals out of the face (+z)."""
    from mediapipe.python.solutions import face_mesh_connections as fmc

    edges = {tuple(sorted(e)) for e in fmc.FACEMESH_TESSELATION}
    adj: dict[int, set[int]] = collections.defaultdict(set)
    for a, b in edges:
        adj[a].add(b)
        adj[b].add(a)
    tris = {tuple(sorted((a, b, x))) for a, b in edges for x in adj[a] & adj[b]}
    count: collections.Counter[tuple[int, int]] = collections.Counter()
    for t in tris:
        for e in ((t[0], t[1]), (t[0], t[2]), (t[1], t[2])):
            count[e] += 1
    # a 3-clique whose three edges each border 3 cliques is a hole spanned by real faces, not a face
    faces = np.array(sorted(t for t in tris if not all(count[e] == 3 for e in ((t[0], t[1]), (t[0], t[2]), (t[1], t[2])))))
    v = mean[faces]
    nz = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])[:, 2]
    faces[nz < 0] = faces[nz < 0][:, [0, 2, 1]]
    return orient_consistently(faces, mean).astype(np.int32)  # edge-on triangles (nostrils) agree with their neighbours


_MESH = None
_DLIB = None


def _init(with_dlib: bool) -> None:
    global _MESH, _DLIB
    from mediapipe.python.solutions import face_mesh

    _MESH = face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True)
    if with_dlib:
        from face3d.landmarks.dlib_backend import DlibLandmarks

        _DLIB = DlibLandmarks(upsample=0)


def _process(job: tuple[str, str, bool]) -> tuple[str, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    path, person, want_dlib = job
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        return person, None, None, None
    rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    res = _MESH.process(rgb)  # type: ignore[union-attr]
    if not res.multi_face_landmarks:
        return person, None, None, None
    pts = np.array([(p.x * w, p.y * h, p.z * w) for p in res.multi_face_landmarks[0].landmark[:468]], np.float32)
    # colours at the mesh points (bilinear), for the albedo statistics
    cols = cv2.remap(rgb.astype(np.float32), pts[:, 0].reshape(1, -1), pts[:, 1].reshape(1, -1), cv2.INTER_LINEAR)[0]
    d68 = None
    if want_dlib and _DLIB is not None:
        try:
            d68 = _DLIB.detect(rgb)[0].points68
        except Exception:  # noqa: BLE001 - a miss only means no sample for the mapping
            d68 = None
    return person, pts, cols.astype(np.float32), d68


def umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Similarity (s, R, t) minimising ||s R src + t - dst||."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    u, sig, vt = np.linalg.svd(b.T @ a)
    d = np.eye(3)
    d[2, 2] = np.sign(np.linalg.det(u @ vt))
    r = u @ d @ vt
    s = float((sig * np.diag(d)).sum() / (a**2).sum())
    return s, r, md - s * r @ ms


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lfw", default=None, help="LFW folder (default: $FACEROT_LFW or ../shared/data/lfw)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "face3d" / "data"))
    ap.add_argument("--n-shape", type=int, default=40)
    ap.add_argument("--n-expr", type=int, default=12)
    ap.add_argument("--n-albedo", type=int, default=10)
    ap.add_argument("--dlib-photos", type=int, default=1500, help="photos used to measure the iBUG-68 table")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument(
        "--nose-depth-ratio",
        type=float,
        default=NOSE_DEPTH_RATIO,
        help="target nose-tip protrusion / outer-eye distance (0: keep MediaPipe's depth)",
    )
    ap.add_argument("--patch", action="store_true", help="only add the view depth and the mirror table to the model in --out")
    ap.add_argument(
        "--measure-view-depth",
        action="store_true",
        help="measure the view-depth coefficients against the Surrey Face Model and print them",
    )
    args = ap.parse_args(argv)
    if args.patch:
        return patch(Path(args.out), lfw_dir(args.lfw), args.dlib_photos, args.workers)
    if args.measure_view_depth:
        from face3d.model import load_model
        from face3d.settings import sfm_dir

        coef, rms = measure_view_depth(load_model(Path(args.out) / "facerot_mp468.npz"), sfm_dir() / "sfm_shape_3448.bin")
        print(f"VIEW_DEPTH_COEFFS = ({', '.join(f'{c:.4f}' for c in coef)})  # {rms:.2f} mm RMS left")
        return 0
    lfw = lfw_dir(args.lfw)
    people = read_people(lfw / "peopleDevTrain.txt")
    jobs = []
    for name, n in people:
        for i in range(1, n + 1):
            jobs.append((str(lfw / "images" / name / f"{name}_{i:04d}.jpg"), name, False))
    rng = np.random.default_rng(0)
    for j in rng.choice(len(jobs), min(args.dlib_photos, len(jobs)), replace=False):
        jobs[j] = (jobs[j][0], jobs[j][1], True)
    t0 = time.time()
    results = []
    with ProcessPoolExecutor(args.workers, initializer=_init, initargs=(True,)) as ex:
        for r in tqdm(ex.map(_process, jobs, chunksize=16), total=len(jobs), desc="mediapipe", unit="img"):
            results.append(r)
    ok = [r for r in results if r[1] is not None]
    print(f"{len(ok)}/{len(jobs)} photos reconstructed in {time.time() - t0:.0f}s", file=sys.stderr)

    # ---- model space: x right, y up, z toward the camera
    shapes = np.stack([r[1] for r in ok]).astype(np.float64) * np.array([1.0, -1.0, -1.0])
    persons = [r[0] for r in ok]
    colours = np.stack([r[2] for r in ok]) / 255.0

    # ---- generalised Procrustes
    mean = shapes[0] - shapes[0].mean(0)
    aligned = shapes.copy()
    poses = [np.eye(3)] * len(shapes)
    for _ in range(5):
        for i, s in enumerate(shapes):
            sc, r, t = umeyama(s, mean)
            aligned[i] = sc * s @ r.T + t
            poses[i] = r
        new = aligned.mean(0)
        new -= new.mean(0)
        new *= np.linalg.norm(mean) / np.linalg.norm(new)
        mean = new
    mm = BIOCULAR_MM / np.linalg.norm(mean[RIGHT_EYE_OUTER] - mean[LEFT_EYE_OUTER])
    aligned *= mm
    # GPA leaves the mean in the first photo's orientation. Make (0, 0, 0) the average head pose
    # of the photos (chordal mean of their rotations), then level yaw/roll with the symmetry plane.
    u_, _, vt_ = np.linalg.svd(sum(p.T for p in poses))
    q = u_ @ np.diag([1, 1, np.linalg.det(u_ @ vt_)]) @ vt_
    aligned = aligned @ q.T
    poses = [p.T @ q.T for p in poses]  # head rotation of each photo in the new frame
    for _ in range(3):
        centre = aligned.mean((0, 1))
        aligned -= centre
        sym0 = symmetry_from_mirror(aligned.mean(0))
        mid = np.where(sym0 == np.arange(468))[0]
        pts_mid = aligned.mean(0)[mid]
        normal = np.linalg.svd(pts_mid - pts_mid.mean(0))[2][2]
        normal *= np.sign(normal[0])
        axis = np.cross(normal, [1.0, 0.0, 0.0])
        ang = np.arcsin(np.clip(np.linalg.norm(axis), -1, 1))
        if ang < 1e-6:
            break
        k = axis / np.linalg.norm(axis)
        kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        rfix = np.eye(3) + np.sin(ang) * kx + (1 - np.cos(ang)) * kx @ kx
        aligned = aligned @ rfix.T
        poses = [p @ rfix.T for p in poses]
        print(f"symmetry plane: {len(mid)} midline vertices, corrected by {np.degrees(ang):.2f} deg", file=sys.stderr)
    from face3d.camera import matrix_to_euler

    m0 = aligned.mean(0)
    eyes = m0[[RIGHT_EYE_OUTER, LEFT_EYE_OUTER]]
    ratio = (m0[NOSE_TIP, 2] - eyes[:, 2].mean()) / np.linalg.norm(eyes[0] - eyes[1])
    depth_scale = args.nose_depth_ratio / ratio if args.nose_depth_ratio > 0 else 1.0
    aligned[..., 2] *= depth_scale
    print(
        f"depth scale {depth_scale:.3f} (nose protrusion {ratio:.3f} -> {ratio * depth_scale:.3f} x outer-eye distance)",
        file=sys.stderr,
    )
    head = matrix_to_euler(np.stack(poses))
    yaws = head[:, 0]
    print(
        f"photo head pose after canonicalisation: mean yaw {yaws.mean():.2f}, mean pitch {head[:, 1].mean():.2f}, "
        f"median |yaw| {np.median(np.abs(yaws)):.1f}",
        file=sys.stderr,
    )

    # ---- MediaPipe's reconstructions deform systematically with the head pose (a non-rigid
    # distortion Procrustes cannot remove). Left in, it becomes "identity" components that mimic
    # yaw and pitch and bias every fit. Regress it out: shape ~ c + D @ f(yaw, pitch).
    yr, pr = np.radians(head[:, 0]), np.radians(head[:, 1])
    feats = np.stack([np.sin(yr), np.sin(pr), np.sin(yr) ** 2, np.sin(pr) ** 2, np.sin(yr) * np.sin(pr), np.sin(yr) ** 3], 1)
    feats -= feats.mean(0)
    flat = aligned.reshape(len(aligned), -1)
    coef, *_ = np.linalg.lstsq(feats, flat - flat.mean(0), rcond=None)
    pose_var = float(((feats @ coef) ** 2).sum() / ((flat - flat.mean(0)) ** 2).sum())
    aligned = (flat - feats @ coef).reshape(aligned.shape)
    print(f"pose-dependent distortion removed: {100 * pose_var:.1f}% of the shape variance", file=sys.stderr)

    # ---- symmetry and mirrored copies
    sym = symmetry_from_mirror(aligned.mean(0))
    flip = np.array([-1.0, 1.0, 1.0])

    def mirrored(x: np.ndarray) -> np.ndarray:
        return x[..., sym, :] * flip

    groups: dict[str, list[int]] = collections.defaultdict(list)
    for i, p in enumerate(persons):
        groups[p].append(i)
    person_means = np.stack([aligned[idx].mean(0) for idx in groups.values()])
    ident = np.concatenate([person_means, mirrored(person_means)])
    mean_shape = ident.mean(0)
    mean_shape -= mean_shape.mean(0)
    ident_c = (ident - ident.mean(0)).reshape(len(ident), -1)
    _, sv, vt = np.linalg.svd(ident_c, full_matrices=False)
    k = args.n_shape
    shape_std = sv[:k] / np.sqrt(len(ident) - 1)
    shape_basis = vt[:k].T.reshape(468, 3, k)
    id_var = (sv**2).sum()
    # expression: within-person deviations (identity photos of one person differ by expression,
    # and by what the regression above left of pose)
    dev = [aligned[i] - aligned[idx].mean(0) for idx in groups.values() if len(idx) >= 2 for i in idx]
    dev_arr = np.stack(dev)
    dev_arr = np.concatenate([dev_arr, mirrored(dev_arr)]).reshape(2 * len(dev), -1)
    _, sve, vte = np.linalg.svd(dev_arr, full_matrices=False)
    e = args.n_expr
    n_dev_people = sum(1 for idx in groups.values() if len(idx) >= 2)
    expr_std = sve[:e] / np.sqrt(max(len(dev_arr) - 2 * n_dev_people, 1))
    expr_basis = vte[:e].T.reshape(468, 3, e)

    # ---- colour statistics from near-frontal photos
    front = np.abs(yaws) < 15
    c = colours[front]
    c = 0.5 * (c + c[:, sym])
    alb_mean = c.mean(0)
    _, sva, vta = np.linalg.svd((c - alb_mean).reshape(len(c), -1), full_matrices=False)
    a = args.n_albedo
    alb_std = sva[:a] / np.sqrt(len(c) - 1)
    alb_basis = vta[:a].T.reshape(468, 3, a)

    # ---- iBUG-68 table from dlib on near-frontal photos
    pairs = [(r[1], r[3]) for r, y in zip(ok, yaws) if r[3] is not None and abs(y) < 20]
    ibug, mean_dist = ibug68_table(np.stack([p[0][:, :2] for p in pairs]), np.stack([p[1] for p in pairs]), sym)
    mapping_nme = float(mean_dist[np.arange(68), ibug].mean())

    # ---- jaw contour candidates: face-oval vertices and their 1-ring, below the eyes, per side
    from mediapipe.python.solutions import face_mesh_connections as fmc

    tri = mediapipe_triangles(mean_shape)
    oval = sorted({v for e in fmc.FACEMESH_FACE_OVAL for v in e})
    ring = set(oval)
    for t in tri:
        if set(t) & set(oval):
            ring |= set(int(x) for x in t)
    eye_y = mean_shape[[RIGHT_EYE_OUTER, LEFT_EYE_OUTER], 1].mean()
    cand = [v for v in ring if mean_shape[v, 1] < eye_y]
    right = sorted((v for v in cand if mean_shape[v, 0] <= 0), key=lambda v: -mean_shape[v, 1])
    left = sorted((v for v in cand if mean_shape[v, 0] >= 0), key=lambda v: -mean_shape[v, 1])

    model = MorphableModel(
        mean=mean_shape,
        shape_basis=shape_basis,
        shape_std=shape_std,
        expr_basis=expr_basis,
        expr_std=expr_std,
        triangles=tri,
        landmarks68=ibug.astype(np.int32),
        contour_right=np.array(right, np.int32),
        contour_left=np.array(left, np.int32),
        symmetry=sym,
        uv=cylindrical_uv(mean_shape),
        albedo_mean=np.clip(alb_mean, 0, 1),
        albedo_basis=alb_basis,
        albedo_std=alb_std,
        dense_scheme="mediapipe468",
        dense_index=np.arange(468, dtype=np.int32),
        name="facerot-mp468",
        depth_offset=view_depth_offset(mean_shape),
        metadata={
            "source": "built by tools/build_default_model.py from MediaPipe FaceMesh reconstructions of LFW photos "
            "of peopleDevTrain identities",
            "photos": len(ok),
            "people": len(groups),
            "people_with_2plus_photos": n_dev_people,
            "identity_variance_kept": float((sv[:k] ** 2).sum() / id_var),
            "expression_variance_kept": float((sve[:e] ** 2).sum() / (sve**2).sum()),
            "pose_distortion_variance_removed": pose_var,
            "depth_scale": float(depth_scale),
            "nose_depth_ratio": args.nose_depth_ratio,
            "view_depth": {
                "coefficients": list(VIEW_DEPTH_COEFFS),
                "nose_bridge_vertex": NOSE_BRIDGE,
                "measured_against": "Surrey Face Model mean (3448), --measure-view-depth",
            },
            "albedo_photos": int(front.sum()),
            "ibug68_photos": len(pairs),
            "ibug68_mapping_nme_iod": mapping_nme,
            "scale": f"outer eye corners {BIOCULAR_MM} mm apart",
            "units": "mm",
            "topology": "MediaPipe FaceMesh 468 (Apache-2.0)",
            "terms": "facerot project model: redistributable with facerot (Apache-2.0); see data/README.md for provenance",
        },
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "facerot_mp468.npz")
    atomic_write(
        out / "mediapipe_ibug68.json",
        json.dumps(
            {
                "ibug68": [int(i) for i in ibug],
                "mirror468": mirror_468(model),
                "photos": len(pairs),
                "mean_error_interocular": mapping_nme,
                "per_point_error_interocular": [round(float(x), 4) for x in mean_dist[np.arange(68), ibug]],
            },
            indent=1,
        ),
    )
    print(json.dumps(model.summary(), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
