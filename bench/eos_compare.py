"""Side by side with eos-py's fit_shape_and_pose: same SFM model and blendshapes, same landmarks,
same process, one face at a time (and ours batched).

    python bench/eos_compare.py [--n 200] [--lfw 100]

Synthetic faces (known pose and shape) and real LFW photos (dlib 68 landmarks; accuracy is the
reprojection error of the 51 inner landmarks, normalised by the landmarks' box size).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from common import lfw_photos, require, save, synthetic_faces, table

from face3d.camera import PerspectiveCamera, matrix_to_euler
from face3d.fitting import LandmarkFitOptions, fit_landmarks
from face3d.parametric import FaceModelTensors
from face3d.settings import sfm_dir

INNER = np.arange(17, 68)


class Eos:
    def __init__(self, folder):
        import eos

        self.eos = eos
        base = eos.morphablemodel.load_model(str(folder / "sfm_shape_3448.bin"))
        bs = eos.morphablemodel.load_blendshapes(str(folder / "expression_blendshapes_3448.bin"))
        self.model = eos.morphablemodel.MorphableModel(
            base.get_shape_model(),
            bs,
            color_model=eos.morphablemodel.PcaModel(),
            vertex_definitions=None,
            texture_coordinates=base.get_texture_coordinates(),
        )
        self.mapper = eos.core.LandmarkMapper(str(folder / "ibug_to_sfm.txt"))
        self.edges = eos.morphablemodel.load_edge_topology(str(folder / "sfm_3448_edge_topology.json"))
        self.contour_lm = eos.fitting.ContourLandmarks.load(str(folder / "ibug_to_sfm.txt"))
        self.contour = eos.fitting.ModelContour.load(str(folder / "sfm_model_contours.json"))

    def fit(self, pts, w, h):
        lms = [self.eos.core.Landmark(str(i + 1), [float(x), float(y)]) for i, (x, y) in enumerate(pts)]
        mesh, pose, shape, bsc = self.eos.fitting.fit_shape_and_pose(
            self.model, lms, self.mapper, w, h, self.edges, self.contour_lm, self.contour
        )
        v = np.asarray(mesh.vertices)
        mv, pr = np.asarray(pose.get_modelview()), np.asarray(pose.get_projection())
        clip = (np.c_[v, np.ones(len(v))] @ mv.T) @ pr.T
        screen = np.stack([(clip[:, 0] + 1) / 2 * w, h - (clip[:, 1] + 1) / 2 * h], 1)
        return matrix_to_euler(mv[:3, :3]), v, screen


def ours_fit(fm, model, pts, w, h):
    b = len(pts)
    cam = PerspectiveCamera.for_image(h, w)
    st = fit_landmarks(
        fm,
        torch.as_tensor(np.asarray(pts), dtype=torch.float32),
        model.landmarks68,
        torch.ones(b, 68),
        torch.full((b,), cam.focal),
        torch.tensor([[cam.cx, cam.cy]] * b),
        LandmarkFitOptions(),
        ibug_positions=np.arange(68),
    )
    poses = matrix_to_euler(st.rotation.double().numpy())
    out = []
    for i in range(b):
        v = model.vertices(st.shape[i].numpy(), st.expr[i].numpy())
        scr = cam.project(cam.to_camera(v, st.rotation[i].double().numpy(), st.translation[i].double().numpy()))
        out.append((poses[i], v, scr))
    return out


def centred_error(a, b):
    return float(np.linalg.norm((a - a.mean(0)) - (b - b.mean(0)), axis=1).mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200, help="synthetic faces")
    ap.add_argument("--lfw", type=int, default=100, help="LFW photos")
    args = ap.parse_args()
    folder = sfm_dir()
    require(folder / "sfm_shape_3448.bin", "Surrey Face Model")
    try:
        eos_fit = Eos(folder)
    except ImportError:
        print("eos-py is not installed (pip install 'facerot[eos]'); nothing to compare.")
        return
    from face3d.converters import convert_sfm

    model = convert_sfm(folder / "sfm_shape_3448.bin")
    fm = FaceModelTensors(model)
    data = synthetic_faces(model, args.n, seed=1)
    ours_fit(fm, model, data["points"][:2], 500, 500)  # warm-up
    rows, res = [], {}

    def run(name, pts_list, w, h, gt_pose=None, gt_verts=None):
        t0 = time.perf_counter()
        e = [eos_fit.fit(p, w, h) for p in pts_list]
        t_eos = (time.perf_counter() - t0) / len(pts_list)
        t0 = time.perf_counter()
        o1 = [ours_fit(fm, model, p[None], w, h)[0] for p in pts_list]
        t_one = (time.perf_counter() - t0) / len(pts_list)
        t0 = time.perf_counter()
        ours_fit(fm, model, np.stack(pts_list), w, h)  # timed only: batched
        t_batch = (time.perf_counter() - t0) / len(pts_list)
        out = {"eos_ms": t_eos * 1e3, "ours_ms_single": t_one * 1e3, "ours_ms_batched": t_batch * 1e3}
        for label, fits in (("eos", e), ("ours", o1)):
            if gt_pose is not None:
                err = np.abs(np.stack([f[0] for f in fits]) - gt_pose).mean(0)
                out[f"{label}_pose_mae"] = err.tolist()
                out[f"{label}_vertex_mm"] = float(np.mean([centred_error(f[1], g) for f, g in zip(fits, gt_verts)]))
            nme = []
            for f, p in zip(fits, pts_list):
                box = np.ptp(p, 0)
                nme.append(np.linalg.norm(f[2][model.landmarks68[INNER]] - p[INNER], axis=1).mean() / np.sqrt(box[0] * box[1]))
            out[f"{label}_nme_inner51"] = float(np.mean(nme))
        res[name] = out
        for label in ("eos", "ours"):
            pm = out.get(f"{label}_pose_mae", [float("nan")] * 3)
            rows.append(
                [
                    name,
                    label,
                    *[round(x, 2) for x in pm],
                    round(out.get(f"{label}_vertex_mm", float("nan")), 2),
                    round(out[f"{label}_nme_inner51"] * 100, 2),
                    round(out["eos_ms"] if label == "eos" else out["ours_ms_single"], 2),
                    "" if label == "eos" else round(out["ours_ms_batched"], 3),
                    "" if label == "eos" else round(out["eos_ms"] / out["ours_ms_single"], 1),
                ]
            )

    run(f"synthetic ({args.n})", list(data["points"]), 500, 500, data["pose"], data["vertices"])
    try:
        from face3d.imageio import read_image
        from face3d.landmarks import get_detector

        det = get_detector("dlib")
        photos = lfw_photos(args.lfw)
        pts = []
        for p in photos:
            try:
                pts.append(det.detect(read_image(p))[0].points68)
            except Exception:  # noqa: BLE001 - photos dlib misses are left out for both
                pass
        if pts:
            run(f"LFW DevTest, dlib 68 ({len(pts)})", pts, 250, 250)
    except ImportError as exc:
        print(f"(LFW rows skipped: {exc})")
    print(
        table(
            [
                "data",
                "fitter",
                "yaw MAE °",
                "pitch MAE °",
                "roll MAE °",
                "vertex err mm",
                "NME inner-51 %",
                "ms/face (one at a time)",
                "ms/face (batched)",
                "speed-up vs eos",
            ],
            rows,
            "facerot vs eos-py 1.5 fit_shape_and_pose (SFM 3448 + 6 blendshapes, same landmarks, same process)",
        )
    )
    save("eos_compare", {"results": res})


if __name__ == "__main__":
    main()
