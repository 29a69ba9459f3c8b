"""Regenerate the README's pictures from real photos and the benchmark results.

    python tools/make_figures.py        (after the benchmarks: make bench)

Writes into docs/:
  fit_grid.jpg            fitted meshes on LFW DevTest photos (near-frontal and large yaw) and the astronaut
  pose_error_vs_yaw.png   synthetic pose error against yaw (bench/results/fit_synthetic.json)
  sfs_example.png         shape from shading on a synthetic surface: fit only vs SfS vs truth
  eos_compare.png         facerot vs eos-py: accuracy and time per face (bench/results/eos_compare.json)
  rotation_grid.jpg       8 LFW DevTest people x yaw -60..60 x 2 lightings (keep, left)
  provenance_grid.png     the same views' per-pixel provenance (seen / mirrored / inpainted / background)
  frontalisation.jpg      large-yaw LFW DevTest photos frontalised, with their provenance masks
  identity_vs_yaw.png     dlib distance source->view against target yaw, beside real same-person pairs
  refit_vs_yaw.png        yaw read back from the views (ours calibrated / not, WHENet, dlib + SFM), MediaPipe's
                          reading curve, the calibration's CV error
  refiner_training.png    the shipped refiner's training curves (ganrefine/data/refiner_pretrain_log.csv, then
                          the fine-tuning's refiner_default_log.csv)
                          and identity raw vs refined per target yaw (bench/results/refiner_eval.json)
(docs/refiner_before_after.jpg is written by bench/refiner_eval.py.)
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")
warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
RESULTS = ROOT / "bench" / "results"


def _pyplot():
    """matplotlib.pyplot on the file-only Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(path: Path, rgb: np.ndarray) -> None:
    params = [cv2.IMWRITE_JPEG_QUALITY, 85] if path.suffix == ".jpg" else []
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    print(f"wrote {path.relative_to(ROOT)}")


def fit_grid() -> None:
    from skimage import data

    from face3d.fitting import Fitter
    from face3d.imageio import read_image
    from face3d.settings import lfw_dir
    from face3d.visualize import draw_fit

    fitter = Fitter()
    tiles = []
    names = []
    lfw = lfw_dir() / "images"
    large = []
    if (RESULTS / "fit_lfw.json").is_file():
        large = json.loads((RESULTS / "fit_lfw.json").read_text())["large_yaw"]["photos"][:4]
    if lfw.is_dir():
        rows = (lfw_dir() / "peopleDevTest.txt").read_text().split("\n")[1:]
        people = [r.split("\t")[0] for r in rows if r.strip()]
        frontal = [f"{p}_0001.jpg" for p in people[::211][:7]]
        names = frontal + large
    for name in names:
        img = read_image(lfw / name.rsplit("_", 1)[0] / name)
        try:
            fit = fitter.fit(img)
            tiles.append(cv2.resize(draw_fit(img, fit, fitter.model), (250, 250), interpolation=cv2.INTER_AREA))
        except Exception as exc:  # noqa: BLE001
            print(f"skipped {name}: {exc}", file=sys.stderr)
    astro = data.astronaut()
    fit = fitter.fit(astro)
    crop = draw_fit(astro, fit, fitter.model)[20:300, 100:380]
    tiles.insert(0, cv2.resize(crop, (250, 250), interpolation=cv2.INTER_AREA))
    while len(tiles) % 4:
        tiles.append(np.full_like(tiles[0], 255))
    grid = np.concatenate([np.concatenate(tiles[i : i + 4], 1) for i in range(0, len(tiles), 4)], 0)
    _save(DOCS / "fit_grid.jpg", grid)


def pose_error_plot() -> None:
    plt = _pyplot()

    p = RESULTS / "fit_synthetic.json"
    if not p.is_file():
        print("no bench/results/fit_synthetic.json: run bench/fit_synthetic.py first", file=sys.stderr)
        return
    res = json.loads(p.read_text())["results"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), sharey=True)
    bins = np.arange(-70, 71, 10)
    for name, r in res.items():
        if "170-280" not in name:
            continue
        e = np.array(r["err_by_yaw"])
        centres, means = [], []
        for lo, hi in zip(bins[:-1], bins[1:]):
            s = (e[:, 0] >= lo) & (e[:, 0] < hi)
            if s.any():
                centres.append((lo + hi) / 2)
                means.append(e[s, 1:].mean(0))
        means = np.array(means)
        for k, ax in enumerate(axes):
            ax.plot(centres, means[:, k], marker="o", label=name.split(", faces")[0])
    for ax, t in zip(axes, ("yaw", "pitch", "roll")):
        ax.set_title(f"{t} error vs true yaw")
        ax.set_xlabel("true yaw (°)")
        ax.grid(alpha=0.3)
        ax.axhline(1.5, color="grey", ls="--", lw=0.8)
    axes[0].set_ylabel("mean absolute error (°)")
    axes[0].legend(fontsize=8)
    fig.suptitle("Synthetic faces, 1 px landmark noise (dashed: 1.5° goal)")
    fig.tight_layout()
    fig.savefig(DOCS / "pose_error_vs_yaw.png", dpi=110)
    print("wrote docs/pose_error_vs_yaw.png")


def sfs_example() -> None:
    import torch

    sys.path.insert(0, str(ROOT / "bench"))
    from sfs_synthetic import CAMERA, angle, surface

    from face3d.fitting.sfs import normals_from_depth, refine_depth
    from face3d.shading import directional, sh_basis

    base, true, mask = surface("wrinkles", np.random.default_rng(0))
    light = directional((-0.4, 0.3, 1.0), 0.7, 0.5)
    nt = normals_from_depth(torch.tensor(np.where(mask, true, 500.0), dtype=torch.float32), CAMERA).numpy()
    alb = np.full(true.shape + (3,), (0.75, 0.6, 0.5), np.float32)
    img = np.clip(alb * (sh_basis(torch.tensor(nt)).numpy() @ light), 0, 1).astype(np.float32)
    out = refine_depth(img, np.where(mask, base, np.inf), alb, light, CAMERA)
    nb = normals_from_depth(torch.tensor(np.where(mask, base, 500.0), dtype=torch.float32), CAMERA).numpy()
    grey = directional((-0.6, 0.5, 0.8), 0.9, 0.15)

    def shade(n):
        s = np.clip(sh_basis(torch.tensor(n)).numpy() @ grey[:, 0], 0, 1) * out.mask
        return (np.repeat(s[..., None], 3, 2) * 255).astype(np.uint8)

    tiles = [(img * 255 * mask[..., None]).astype(np.uint8), shade(nb), shade(out.normals), shade(nt)]
    labels = [
        "input photo",
        f"3DMM fit only ({angle(nb, nt, out.mask):.1f} deg)",
        f"after SfS ({angle(out.normals, nt, out.mask):.1f} deg)",
        "true surface",
    ]
    out_tiles = []
    for t, lab in zip(tiles, labels):
        head = np.full((22, 240, 3), 255, np.uint8)
        cv2.putText(head, lab, (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
        out_tiles.append(np.concatenate([head, cv2.resize(t, (240, 240))], 0))
    _save(DOCS / "sfs_example.png", np.concatenate(out_tiles, 1))


def eos_plot() -> None:
    plt = _pyplot()

    p = RESULTS / "eos_compare.json"
    if not p.is_file():
        return
    res = json.loads(p.read_text())["results"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    names = list(res)
    x = np.arange(len(names))
    axes[0].bar(x - 0.2, [res[n]["eos_nme_inner51"] * 100 for n in names], 0.4, label="eos-py")
    axes[0].bar(x + 0.2, [res[n]["ours_nme_inner51"] * 100 for n in names], 0.4, label="facerot")
    axes[0].set_ylabel("inner-51 landmark NME (%)")
    axes[1].bar(x - 0.27, [res[n]["eos_ms"] for n in names], 0.27, label="eos-py")
    axes[1].bar(x, [res[n]["ours_ms_single"] for n in names], 0.27, label="facerot, one at a time")
    axes[1].bar(x + 0.27, [res[n]["ours_ms_batched"] for n in names], 0.27, label="facerot, batched")
    axes[1].set_ylabel("ms per face")
    for ax in axes:
        ax.set_xticks(x, [n.split(" (")[0] for n in names], fontsize=8)
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Same SFM model, same landmarks, same process")
    fig.tight_layout()
    fig.savefig(DOCS / "eos_compare.png", dpi=110)
    print("wrote docs/eos_compare.png")


def rotation_grids() -> None:
    from face3d.imageio import read_image
    from face3d.landmarks import NoFaceError
    from face3d.settings import lfw_dir
    from pipeline.rotator import FaceRotator

    lfw = lfw_dir() / "images"
    if not lfw.is_dir():
        return
    rot = FaceRotator()
    rows = (lfw_dir() / "peopleDevTest.txt").read_text().split("\n")[1:]
    people = [r.split("\t")[0] for r in rows if r.strip()]
    yaws = list(range(-60, 61, 15))
    size = 128
    colours = {0: (40, 40, 40), 1: (60, 170, 60), 2: (60, 110, 220), 3: (230, 150, 40)}
    img_rows, prov_rows = [], []
    for name in people[5::97]:
        if len(img_rows) == 16:
            break
        try:
            prep = rot.prepare(read_image(lfw / name / f"{name}_0001.jpg"))
        except NoFaceError:
            continue
        if abs(prep.fit.yaw) > 12:
            continue
        for light in ("keep", "left"):
            views = rot.rotate(prep, yaws, 0, 0, lighting=light)
            src = cv2.resize(prep.image, (size, size), interpolation=cv2.INTER_AREA)
            tiles = [src] + [cv2.resize(v.image, (size, size), interpolation=cv2.INTER_AREA) for v in views]
            img_rows.append(np.concatenate(tiles, 1))
            if light == "keep":
                masks = [np.zeros((size, size, 3), np.uint8) + 255]
                for v in views:
                    m = np.zeros(v.provenance.shape + (3,), np.uint8)
                    for k, c in colours.items():
                        m[v.provenance == k] = c
                    masks.append(cv2.resize(m, (size, size), interpolation=cv2.INTER_NEAREST))
                prov_rows.append(np.concatenate(masks, 1))
    head = np.full((24, size * (len(yaws) + 1), 3), 255, np.uint8)
    for i, lab in enumerate(["source"] + [f"yaw {y:+d}" for y in yaws]):
        cv2.putText(head, lab, (i * size + 6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    _save(DOCS / "rotation_grid.jpg", np.concatenate([head] + img_rows, 0))
    legend = np.full((24, head.shape[1], 3), 255, np.uint8)
    for i, (k, lab) in enumerate([(1, "seen"), (2, "mirrored"), (3, "inpainted"), (0, "background (warped photo)")]):
        cv2.rectangle(legend, (6 + 150 * i, 6), (20 + 150 * i, 18), colours[k], -1)
        cv2.putText(legend, lab, (26 + 150 * i, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    _save(DOCS / "provenance_grid.png", np.concatenate([head, legend] + prov_rows, 0))


def frontalisation() -> None:
    from face3d.imageio import read_image
    from face3d.settings import lfw_dir
    from pipeline.rotator import FaceRotator

    p = RESULTS / "fit_lfw.json"
    if not p.is_file() or not (lfw_dir() / "images").is_dir():
        return
    names = json.loads(p.read_text())["large_yaw"]["photos"][:6]
    rot = FaceRotator()
    size = 160
    colours = {0: (40, 40, 40), 1: (60, 170, 60), 2: (60, 110, 220), 3: (230, 150, 40)}
    cols = []
    for name in names:
        prep = rot.prepare(read_image(lfw_dir() / "images" / name.rsplit("_", 1)[0] / name))
        half, front = rot.rotate(prep, [prep.fit.yaw / 2, 0.0], 0, 0)
        m = np.zeros(front.provenance.shape + (3,), np.uint8)
        for k, c in colours.items():
            m[front.provenance == k] = c
        tiles = [prep.image, half.image, front.image, m]
        cols.append(np.concatenate([cv2.resize(t, (size, size), interpolation=cv2.INTER_AREA) for t in tiles], 0))
    _save(DOCS / "frontalisation.jpg", np.concatenate(cols, 1))


def refit_plot() -> None:
    """Re-fit yaw error of the synthesised views against the target yaw, MediaPipe's reading curve,
    and the cross-validated error of the calibration's two parts (inverse curve, yaw regressor)."""
    plt = _pyplot()

    p, q = RESULTS / "rotate_eval.json", RESULTS / "pose_calibration.json"
    if not p.is_file():
        return
    res = json.loads(p.read_text())["targets"]
    ys = sorted(int(k) for k in res)
    cur = json.loads(q.read_text()) if q.is_file() else None
    cv = (cur or {}).get("regressor_cv") or []
    n = 1 + (cur is not None) + bool(cv)
    fig, axes = plt.subplots(1, n, figsize=(5.6 * n, 3.9), squeeze=False)
    ax = axes[0, 0]
    for key, lab, st in (
        ("ours_mae", "ours, calibrated (default)", "o-"),
        ("uncalibrated_mae", "ours, uncalibrated", "s--"),
        ("whenet_mae", "WHENet, mirror-symmetric", "d-."),
        ("other_flip_mae", "dlib 68 + SFM, mirror-symmetric", "^:"),
    ):
        vals = [res[str(y)].get(key) for y in ys]
        if all(v is not None for v in vals):
            ax.plot(ys, vals, st, label=lab)
    ax.axhline(2, color="tab:green", ls="--", lw=1, label="2° goal (our re-fit)")
    ax.axhline(3, color="tab:olive", ls=":", lw=1, label="3° goal (other estimator)")
    ax.set_ylim(0, 10)
    ax.set_xticks(ys)
    ax.set_xlabel("target yaw (°)")
    ax.set_ylabel("re-fit yaw MAE (°)")
    ax.set_title("DevTest views: yaw read back")
    ax.legend(fontsize=8)
    if cur is not None:
        ax2 = axes[0, 1]
        ax2.plot(cur["true_yaw"], cur["read_yaw"], "o-", ms=3, label="MediaPipe fit, uncalibrated")
        ax2.plot([-70, 70], [-70, 70], color="grey", ls=":", label="identity")
        ax2.set_xlabel("true yaw of the view (°)")
        ax2.set_ylabel("yaw read (°)")
        # the table counts every view twice: as it is and mirrored
        ax2.set_title(f"reading curve on {int(sum(cur['views'])) // 2:,} DevTrain views of known pose")
        ax2.legend(fontsize=8)
    if cv:
        ax3 = axes[0, n - 1]
        t = [float(r["true_yaw"]) for r in cv]
        for key, lab, st in (
            ("curve_mae", "inverse reading curve", "s--"),
            ("regressor_mae", "yaw regressor", "^:"),
            ("blended_mae", "blended (the fit's calibration)", "o-"),
        ):
            ax3.plot(t, [r[key] for r in cv], st, ms=4, label=lab)
        ax3.set_xlabel("true |yaw| of the view (°)")
        ax3.set_ylabel("yaw MAE (°)")
        ax3.set_title("calibration, 5-fold cross-validation over photos")
        ax3.legend(fontsize=8)
    for a in axes.ravel():
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(DOCS / "refit_vs_yaw.png", dpi=110)
    print("wrote docs/refit_vs_yaw.png")


def identity_plot() -> None:
    plt = _pyplot()

    p, q = RESULTS / "rotate_eval.json", RESULTS / "real_pairs.json"
    if not p.is_file():
        return
    res = json.loads(p.read_text())["targets"]
    ys = sorted(int(k) for k in res)
    fig, ax = plt.subplots(figsize=(7, 3.8))
    data = [res[str(y)]["identity"] for y in ys]
    ax.boxplot(data, positions=ys, widths=6, showfliers=False)
    ax.plot(ys, [np.mean(d) for d in data], "o-", label="synthesised view vs its source (mean)")
    if q.is_file():
        real = {int(k): v for k, v in json.loads(q.read_text())["by_gap"].items()}
        gaps = sorted(real)
        for sign in (-1, 1):
            ax.plot(
                [sign * g for g in gaps],
                [np.mean(real[g]) for g in gaps],
                "s--",
                color="tab:green",
                label="real photos of the same person at this yaw gap" if sign > 0 else None,
            )
    ax.axhline(0.6, color="tab:red", ls=":", label="dlib same-person threshold")
    ax.set_xlabel("target yaw (°) / yaw gap of real pairs")
    ax.set_ylabel("dlib descriptor distance")
    ax.set_xticks(ys)
    ax.legend(fontsize=8, loc="upper center")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(DOCS / "identity_vs_yaw.png", dpi=110)
    print("wrote docs/identity_vs_yaw.png")


def refiner_plots() -> None:
    import csv

    plt = _pyplot()

    log = ROOT / "ganrefine" / "data" / "refiner_default_log.csv"
    ev = RESULTS / "refiner_eval.json"
    if not log.is_file():
        return
    rows = list(csv.DictReader(open(log)))
    pre = ROOT / "ganrefine" / "data" / "refiner_pretrain_log.csv"
    start = 0
    if pre.is_file():  # a fine-tuned refiner: its pre-training first, the fine-tuning's steps after it
        first = list(csv.DictReader(open(pre)))
        start = int(first[-1]["step"])
        rows = first + [{**r, "step": str(int(r["step"]) + start)} for r in rows]
    fig, axes = plt.subplots(1, 3 if ev.is_file() else 2, figsize=(14 if ev.is_file() else 9.5, 3.6))
    step = np.array([int(r["step"]) for r in rows])
    if start:
        for ax in axes[:2]:
            ax.axvline(start, color="grey", ls=":", lw=1)
        axes[1].text(
            start,
            1.0,
            " fine-tuning on\n fresh renders",
            transform=axes[1].get_xaxis_transform(),
            fontsize=7,
            va="top",
            color="grey",
        )
    for key, lab in (("l1", "multi-scale L1"), ("id", "identity (1 - cos, MobileFaceNet)")):
        v = np.array([float(r[key]) for r in rows])
        k = max(1, len(v) // 60)
        axes[0].plot(step[: len(v) // k * k].reshape(-1, k).mean(1), v[: len(v) // k * k].reshape(-1, k).mean(1), label=lab)
    axes[0].set_xlabel("step")
    axes[0].set_title("training losses (batch means)")
    axes[0].legend(fontsize=8)
    val = [r for r in rows if r.get("val_l1")]
    vs = [int(r["step"]) for r in val]
    axes[1].plot(vs, [float(r["val_l1"]) for r in val], "o-", label="refined")
    axes[1].plot(vs, [float(r["val_l1_raw"]) for r in val], "--", label="raw back-render")
    axes[1].set_title("held-out pairs: L1 to the real photo")
    axes[1].set_xlabel("step")
    axes[1].legend(fontsize=8)
    if ev.is_file():
        res = json.loads(ev.read_text())["identity"]
        ys = sorted(int(k) for k in res)
        axes[2].plot(ys, [res[str(y)]["raw_mean"] for y in ys], "s--", label="raw render")
        axes[2].plot(ys, [res[str(y)]["refined_mean"] for y in ys], "o-", label="refined")
        axes[2].axhline(0.6, color="tab:red", ls=":", label="same-person threshold")
        axes[2].set_xticks(ys)
        axes[2].set_xlabel("target yaw (°)")
        axes[2].set_title("DevTest: dlib distance view → source")
        axes[2].legend(fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(DOCS / "refiner_training.png", dpi=110)
    print("wrote docs/refiner_training.png")


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    only = set(sys.argv[1:])
    steps = {
        "fits": fit_grid,
        "pose": pose_error_plot,
        "sfs": sfs_example,
        "eos": eos_plot,
        "rotation": rotation_grids,
        "frontal": frontalisation,
        "identity": identity_plot,
        "refit": refit_plot,
        "refiner": refiner_plots,
    }
    for name, step in steps.items():
        if not only or name in only:
            step()


if __name__ == "__main__":
    main()
