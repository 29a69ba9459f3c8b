"""``facerot eval``: run the experiments on a data set and write a Markdown report with PNG plots."""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .data import EvalSet, folder_set, lfw_set
from .features import PhotoFeatures, StageTimer, photo_features
from .gallery import GalleryEntry, MobileFaceNetCosine, build_gallery
from .identity import identity_vs_yaw
from .pose import aflw2000_accuracy, view_pose_accuracy
from .utility import METHODS, recognition_utility


@dataclass
class EvalConfig:
    """What ``facerot eval`` measures. ``data``: a folder per identity, or ``None`` for LFW
    peopleDevTest (people the shipped refiner never saw)."""

    data: str | None = None
    report: str = "eval-report"
    max_people: int | None = 250  # identities with ≥ 2 photos (plus as many single-photo distractors)
    max_probes_per_person: int = 10
    yaws: tuple[float, ...] = (-45.0, -30.0, -15.0, 15.0, 30.0, 45.0)
    refiner: Any = "default"
    device: str = "cpu"
    landmarks: str = "mediapipe"
    aflw2000: str | None = None  # a folder of AFLW2000-3D .jpg + .mat (env FACEROT_AFLW2000)
    aflw2000_limit: int | None = None
    verification_folds: int = 1  # LFW pairs.txt folds (600 pairs each; 10 = the full protocol; 0: skip)
    mobilefacenet: bool = True  # the training network's cosine, reported apart (skipped when absent)
    independent_pose: bool = True  # also read the views with WHENet (skipped when its weights are absent)
    seed: int = 0
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def _dataset(cfg: EvalConfig) -> EvalSet:
    return (folder_set(cfg.data) if cfg.data else lfw_set("DevTest")).limit(cfg.max_people)


def run_eval(cfg: EvalConfig) -> dict[str, Any]:
    """Run every experiment and write ``cfg.report``/report.md, results.json and the plots.
    (Long on purpose: the report's experiments in order, each a call.)"""
    from tqdm import tqdm

    from ..identity import DlibIdentity
    from ..rotator import FaceRotator

    t0 = time.time()
    out = Path(cfg.report)
    out.mkdir(parents=True, exist_ok=True)
    data = _dataset(cfg)
    gallery_photos, probe_photos = data.gallery_probes(cfg.max_probes_per_person)
    timer = StageTimer()
    with timer.stage("start-up (models)"):
        rot = FaceRotator(landmarks=cfg.landmarks, refiner=cfg.refiner, device=cfg.device)
        ident = DlibIdentity()
    mfn = None
    if cfg.mobilefacenet:
        try:
            mfn = MobileFaceNetCosine()
        except (FileNotFoundError, OSError):
            mfn = None
    bar = tqdm(
        total=len(gallery_photos) + len(probe_photos),
        desc="eval: photos",
        unit="photo",
        disable=not cfg.progress,
        dynamic_ncols=True,
    )
    g_feat: list[PhotoFeatures] = []
    for p in gallery_photos:
        g_feat.append(photo_features(p, rot, ident, timer, keep_prepared=True))
        bar.update(1)
    p_feat = []
    for p in probe_photos:
        p_feat.append(photo_features(p, rot, ident, timer, keep_prepared=False))
        bar.update(1)
    bar.close()
    reader = None
    if cfg.independent_pose:
        from .headpose import WHENetEstimator

        try:
            with timer.stage("start-up (WHENet)"):
                reader = WHENetEstimator()
        except FileNotFoundError:
            reader = None
    bar = tqdm(total=len(g_feat), desc="eval: gallery views", unit="photo", disable=not cfg.progress, dynamic_ncols=True)
    # single-photo identities are distractors: they need a template but views only where probes exist
    gallery = build_gallery(g_feat, rot, ident, cfg.yaws, timer, mfn=mfn, progress=bar, pose_reader=reader)
    bar.close()
    results: dict[str, Any] = {
        "data": data.name,
        "identities": len(data.people),
        "photos": data.n_photos,
        "gallery": len(gallery_photos),
        "probes": len(probe_photos),
        "yaws": list(cfg.yaws),
        "refiner": rot.refiner.name if rot.refiner is not None else None,
        "failures": _failures(g_feat + p_feat, gallery),
        "identity": identity_vs_yaw(gallery, p_feat),
        "pose": view_pose_accuracy(gallery),
        "pose_reader": "WHENet" if reader is not None else None,
        "utility": recognition_utility(gallery, p_feat, seed=cfg.seed),
        "stages": timer.rows(),
    }
    if cfg.verification_folds and cfg.data is None:  # LFW's protocol: with the LFW evaluation only
        from .verification import read_pairs, verification

        try:
            pairs = read_pairs(folds=cfg.verification_folds)
        except FileNotFoundError as exc:
            results["verification"] = {"error": str(exc)}
        else:
            bar = tqdm(total=len(pairs), desc="eval: LFW pairs", unit="pair", disable=not cfg.progress, dynamic_ncols=True)
            results["verification"] = verification(pairs, rot, ident, timer, progress=bar)
            bar.close()
        results["stages"] = timer.rows()
    from face3d.settings import AFLW2000_ENV

    aflw = cfg.aflw2000 or os.environ.get(AFLW2000_ENV)
    if aflw:
        results["aflw2000"] = (
            aflw2000_accuracy(aflw, rot.fitter, cfg.aflw2000_limit)
            if Path(aflw).is_dir()
            else {"error": f"AFLW2000-3D folder not found: {aflw}"}
        )
    results["seconds"] = round(time.time() - t0, 1)
    results["machine"] = f"{platform.machine()} {os.cpu_count()} cores"
    results["config"] = {k: v for k, v in asdict(cfg).items() if k != "extra"}
    plots(results, out)
    _write_grid(gallery, out / "views.jpg", results, rot)
    _write(out / "results.json", json.dumps(results, indent=1, default=_json_default))
    _write(out / "report.md", markdown(results))
    return results


def _json_default(x: Any) -> Any:
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)


def _write(path: Path, text: str) -> None:
    from face3d.files import atomic_write

    atomic_write(path, text.encode())


def _failures(feats: list[PhotoFeatures], gallery: list[GalleryEntry]) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in feats:
        if f.error:
            key = f.error.split(":")[0]
            out[key] = out.get(key, 0) + 1
    out["gallery photos without views"] = sum(g.error is not None for g in gallery)
    return out


def _pct(ci: Any) -> str:
    m, lo, hi = ci
    return "–" if not np.isfinite(m) else f"{100 * m:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]"


def _dpct(ci: Any) -> str:
    m, lo, hi = ci
    return "–" if not np.isfinite(m) else f"{100 * m:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]"


def _f(x: Any, fmt: str = "{:.3f}") -> str:
    return "–" if x is None else fmt.format(x)


def markdown(r: dict[str, Any]) -> str:
    """The report's text (tables; the plots are beside it). (Long on purpose: the report's
    sections in order.)"""
    L = [
        f"# facerot evaluation — {r['data']}",
        "",
        f"{r['identities']} identities, {r['photos']} photos; gallery {r['gallery']} photos (one per identity), "
        f"{r['probes']} probes; views at yaw {', '.join(f'{y:+g}°' for y in r['yaws'])}; refiner: "
        f"{r['refiner'] or 'none (raw renders)'}. {r['seconds']:.0f} s on {r['machine']}. Identity is judged by "
        "dlib's ResNet descriptor (distance < 0.6: same person), a network facerot never trains with.",
        "",
        "Unusable photos: " + (", ".join(f"{k}: {v}" for k, v in r["failures"].items()) or "none") + ".",
        "",
        "## Recognition utility (rank-1 identification)",
        "",
        "Each probe is matched to its nearest gallery template. 95% bootstrap intervals over probes; the "
        "difference to the plain gallery is paired (same probes).",
        "",
    ]
    u = r["utility"]
    if u.get("bins"):
        labels = list(u["bins"])
        L.append("| gallery | " + " | ".join(f"{k} ({u['bins'][k]['probes']} probes)" for k in labels) + " |")
        L.append("|---" * (len(labels) + 1) + "|")
        for name in METHODS:
            L.append(f"| {name} | " + " | ".join(_pct(u["bins"][k][name]) for k in labels) + " |")
        for name in list(METHODS)[1:]:
            L.append(f"| {name} − plain (points) | " + " | ".join(_dpct(u["bins"][k][name + " − plain"]) for k in labels) + " |")
        L += [
            "",
            "Templates: " + "; ".join(f"**{k}**: {v}" for k, v in METHODS.items()) + ".",
            f"Pose gap = |probe yaw − gallery photo yaw| (median {u['gap_quantiles'][0]}°, 90th percentile "
            f"{u['gap_quantiles'][1]}°).",
            "",
            "![rank-1](utility.png)",
            "",
        ]
    v = r.get("verification")
    if v and "subsets" in v:
        names = ("photos", "pose-matched views", "fused (mean of both)")
        L += [
            "## LFW verification",
            "",
            f"pairs.txt fold(s) {', '.join(str(f + 1) for f in v['folds'])}: {v['used']} of {v['pairs']} pairs usable "
            f"({v['skipped']} with a photo without a usable face). Accuracy at dlib's fixed threshold {v['threshold']} "
            "(nothing tuned on the test pairs); 95% bootstrap intervals. Pose-matched: A synthesised at B's pose "
            "against B, and B at A's pose against A (mean distance).",
            "",
            "| pairs | " + " | ".join(names) + " | views − photos | fused − photos |",
            "|---" * 6 + "|",
        ]
        for label, row in v["subsets"].items():
            L.append(
                f"| {label} ({row['pairs']}) | "
                + " | ".join(_pct(row[n]) for n in names)
                + " | "
                + _dpct(row["pose-matched views − photos"])
                + " | "
                + _dpct(row["fused (mean of both) − photos"])
                + " |"
            )
        L.append("")
    elif v:
        L += ["## LFW verification", "", str(v.get("error")), ""]
    L += [
        "## Identity against target yaw",
        "",
        "| target yaw | views | dlib distance to source | same person | MobileFaceNet cosine (training network) |",
        "|---|---|---|---|---|",
    ]
    for row in r["identity"]["per_yaw"]:
        L.append(
            f"| {row['target_yaw']:+g}° | {row['views']} | {row['dlib_distance']:.3f} | "
            f"{100 * row['same_person']:.1f}% | {_f(row['mobilefacenet_cosine'])} |"
        )
    L += [
        "",
        "Beside real photos of the same people at the same yaw gap (gallery photo vs the person's other photos):",
        "",
        "| yaw gap | views | view distance | view same person | real pairs | real distance | real same person |",
        "|---|---|---|---|---|---|---|",
    ]
    for g in r["identity"]["per_gap"]:
        L.append(
            f"| {g['gap']} | {g['views']} | {_f(g['view_distance'])} | {_f(g['view_same_person'], '{:.1%}')} | "
            f"{g['real_pairs']} | {_f(g['real_distance'])} | {_f(g['real_same_person'], '{:.1%}')} |"
        )
    L += [
        "",
        "![identity](identity_vs_yaw.png)",
        "",
        "## Pose accuracy of the views",
        "",
        "Each view re-fitted by the landmark fitter, and read by WHENet (a head-pose network that is "
        "not ours, mirror-symmetric; when its weights are installed); signed: mean error in the turning "
        "direction (negative: reads as less turned than asked).",
        "",
        "| target yaw | views | re-fit missed | yaw MAE | signed | WHENet missed | WHENet yaw MAE | WHENet signed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in r["pose"]:
        other = (
            f"{row['other_missed']} | {_f(row['other_yaw_mae'], '{:.1f}°')} | {_f(row['other_signed'], '{:+.1f}°')}"
            if r.get("pose_reader")
            else "– | – | –"
        )  # – : WHENet's weights not installed
        L.append(
            f"| {row['target_yaw']:+g}° | {row['views']} | {row['refit_missed']} | {_f(row['yaw_mae'], '{:.1f}°')} | "
            f"{_f(row['signed'], '{:+.1f}°')} | {other} |"
        )
    if "aflw2000" in r:
        a = r["aflw2000"]
        L += ["", "### Fitting on AFLW2000-3D-format annotations", ""]
        if "yaw_mae" in a:
            L += [
                "| photos | no face / unreadable | yaw MAE | pitch MAE | roll MAE | NME 68 | signs flipped |",
                "|---|---|---|---|---|---|---|",
                f"| {a['photos']} | {a['no_face']} / {a.get('unreadable', 0)} | {a['yaw_mae']:.2f}° | "
                f"{a['pitch_mae']:.2f}° | {a['roll_mae']:.2f}° | {100 * a['nme68']:.2f}% | "
                f"{', '.join(a['signs_flipped']) or 'none'} |",
            ]
        else:
            L.append(str(a.get("error", a)))
    L += [
        "",
        "## Time and memory per stage",
        "",
        "| stage | items | seconds | ms per item | peak RSS after |",
        "|---|---|---|---|---|",
    ]
    for s in r["stages"]:
        L.append(f"| {s['stage']} | {s['items']} | {s['seconds']} | {s['ms_per_item']} | {s['peak_rss_mb']} MB |")
    L += ["", "![stages](stages.png)", "", "![views](views.jpg)", ""]
    return "\n".join(L)


def plots(r: dict[str, Any], out: Path) -> None:
    """The report's plots, from its results alone (``results.json``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    u = r["utility"]
    if u.get("bins"):
        labels = list(u["bins"])
        fig, ax = plt.subplots(figsize=(7.5, 3.6))
        w = 0.8 / len(METHODS)
        for i, name in enumerate(METHODS):
            m = np.array([u["bins"][k][name] for k in labels], float)
            x = np.arange(len(labels)) + (i - (len(METHODS) - 1) / 2) * w
            ax.bar(x, 100 * m[:, 0], w, yerr=100 * np.abs(m[:, 1:].T - m[:, 0]), capsize=2, label=name)
        ax.set_xticks(np.arange(len(labels)), [f"{k}\n({u['bins'][k]['probes']})" for k in labels])
        ax.set_ylabel("rank-1 (%)")
        lo = min(100 * u["bins"][k][n][1] for k in labels for n in METHODS if np.isfinite(u["bins"][k][n][1]))
        ax.set_ylim(max(0, lo - 5), 100)
        ax.legend(fontsize=7, ncol=2)
        ax.set_title("identification with augmented galleries (95% CI)")
        fig.tight_layout()
        fig.savefig(out / "utility.png", dpi=110)
        plt.close(fig)
    gaps = [g for g in r["identity"]["per_gap"] if g["views"] or g["real_pairs"]]
    if gaps:
        fig, ax = plt.subplots(figsize=(6.5, 3.4))
        mid = [np.mean([float(x) for x in g["gap"].rstrip("°").split("–")]) for g in gaps]
        vx = [(m, g["view_distance"]) for m, g in zip(mid, gaps) if g["view_distance"] is not None]
        rx = [(m, g["real_distance"]) for m, g in zip(mid, gaps) if g["real_distance"] is not None and g["real_pairs"] >= 5]
        if vx:
            ax.plot(*zip(*vx), "o-", label="facerot view vs its source photo")
        if rx:
            ax.plot(*zip(*rx), "s--k", label="real photo vs another photo of the person")
        ax.axhline(0.6, color="r", lw=0.8, label="dlib threshold (same person below)")
        ax.set_xlabel("yaw gap (°)")
        ax.set_ylabel("dlib distance")
        ax.set_ylim(0, 0.7)
        ax.legend(fontsize=7, loc="lower right")
        ax.set_title("identity against yaw gap")
        fig.tight_layout()
        fig.savefig(out / "identity_vs_yaw.png", dpi=110)
        plt.close(fig)
    st = [s for s in r["stages"] if s["items"]]
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    ax.barh([s["stage"] for s in st], [s["ms_per_item"] for s in st])
    ax.set_xscale("log")
    ax.set_xlabel("ms per item (log)")
    fig.tight_layout()
    fig.savefig(out / "stages.png", dpi=110)
    plt.close(fig)


def _write_grid(gallery: list[GalleryEntry], path: Path, r: dict[str, Any], rot: Any) -> None:
    """Source photo and its views for the first gallery photos (re-synthesised: views are not kept)."""
    from face3d.files import write_image
    from face3d.imageio import read_image
    from face3d.landmarks import box_of
    from face3d.region import crop_matrix, warp_crop

    from ..rotator import crop_view

    rows = []
    for g in [g for g in gallery if g.error is None][:5]:
        try:
            prep = rot.prepare(read_image(g.features.photo.path))
            views = rot.rotate(prep, list(r["yaws"]))
        except Exception:  # noqa: BLE001 - the picture is best effort
            continue
        src = warp_crop(prep.image, crop_matrix(box_of(prep.fit.landmarks68), 128, 1.8), 128)
        rows.append(np.concatenate([src] + [crop_view(v, 128).image for v in views], axis=1))
    if rows:
        grid = np.concatenate(rows, axis=0)
        write_image(path, grid, jpeg_quality=90)
