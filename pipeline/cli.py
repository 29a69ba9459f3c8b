"""The ``facerot`` command line.

    facerot fit IMAGE [--model M] [--landmarks B] --json OUT.json [--mesh OUT.obj|.ply] [--overlay OUT.png]
    facerot rotate IMAGE --yaw 30[,45,...] [--pitch P] [--roll R] [--light PRESET] -o OUT [--meta OUT.json]
    facerot augment INPUT OUTPUT [--yaws -60:60:15] [--pitches 0] [--workers N] [--all-faces] [--max-failures X]
    facerot model convert --format {sfm,bfm2009,bfm2017,3ddfa,flame} SRC... -o OUT.npz
    facerot model info FILE
    facerot train-refiner --config CFG.json [--steps N] [--device cpu|cuda] [--export OUT.pt] [--no-resume]
    facerot eval [DATA] [--report DIR]
    facerot demo [-o DIR]

Exit codes (every command; the reason in one line on stderr, naming the photo):

    0  success
    1  an internal error: a bug in facerot (FACEROT_DEBUG=1 prints its traceback), or out of memory
    2  bad usage or input: an unreadable or missing file, a bad option value, a missing model file
    3  no face found in the photo
    4  the fit failed its quality checks
    5  ``augment``: more photos failed than ``--max-failures`` allows
    130  interrupted (Ctrl-C)

``augment`` records a photo that fails (unreadable, no face, failed fit) in its manifest and goes on.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from face3d.settings import DEBUG_ENV

EXIT_INTERNAL, EXIT_USAGE, EXIT_NO_FACE, EXIT_FIT_FAILED, EXIT_TOO_MANY_FAILURES, EXIT_INTERRUPTED = 1, 2, 3, 4, 5, 130
#: Photos larger than this (longer side) are downscaled before ``rotate`` and ``augment`` work on them.
DEFAULT_MAX_SIDE = 2048


def _write_json(path: Path, obj: Any) -> None:
    from face3d.files import atomic_write

    atomic_write(path, json.dumps(obj, indent=1).encode())


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None,
                   help="morphable model .npz (default: $FACEROT_MODEL, else the embedded facerot-mp468)")
    p.add_argument("--landmarks", default="mediapipe", choices=["mediapipe", "dlib", "face-alignment"],
                   help="landmark backend (default: mediapipe)")


REFINER_HELP = ("refiner: default (the shipped, trained one), none (raw renders), auto (default, or raw renders "
                "with a warning when it cannot load), or a weights file from 'facerot train-refiner --export'")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="facerot", description="Pose-varied face augmentation: 3DMM fitting and more.")
    sub = ap.add_subparsers(dest="command", required=True)

    fit = sub.add_parser("fit", help="fit the morphable model to a face photo")
    fit.set_defaults(func=cmd_fit)
    fit.add_argument("image", help="input photo")
    _add_common(fit)
    fit.add_argument("--json", required=True, help="write the fit (pose, landmarks68, coefficients) to this JSON file")
    fit.add_argument("--mesh", default=None, help="write the fitted mesh with its texture (.obj or .ply)")
    fit.add_argument("--overlay", default=None, help="write the photo with the fitted mesh drawn on it (.png)")
    fit.add_argument("--sfs", action="store_true", help="refine the surface by shape from shading")
    fit.add_argument("--no-photometric", action="store_true", help="skip the albedo and lighting fit")
    fit.add_argument("--all-faces", action="store_true", help="fit every face (JSON holds a list)")
    fit.add_argument("--focal", type=float, default=None, help="focal length in pixels (default: from image size)")

    rot = sub.add_parser("rotate", help="synthesise the face at new poses and lighting (full frames)")
    rot.set_defaults(func=cmd_rotate)
    rot.add_argument("image", help="input photo")
    _add_common(rot)
    rot.add_argument("--yaw", "--yaws", dest="yaw", default=None,
                     help="target yaw(s) in degrees, comma-separated (default: keep)")
    rot.add_argument("--pitch", "--pitches", dest="pitch", default=None,
                     help="target pitch(es), one or as many as --yaw (default: keep)")
    rot.add_argument("--roll", "--rolls", dest="roll", default=None,
                     help="target roll(s), one or as many as --yaw (default: keep)")
    rot.add_argument("--relative", action="store_true", help="angles are deltas added to the photo's pose")
    rot.add_argument("--light", "--lighting", dest="light", default="keep",
                     help="lighting: keep (the photo's, moving with the head), scene (the photo's, staying put), "
                          "ambient, front, left, right, top, bottom")
    rot.add_argument("-o", "--output", required=True,
                     help="output image (.png/.jpg); with several targets, _yawY_pitchP_rollR is added to the name")
    rot.add_argument("--refiner", default="default", help=REFINER_HELP)
    rot.add_argument("--device", default="cpu", help="torch device for the refiner (cpu, cuda)")
    rot.add_argument("--meta", default=None, help="write pose, landmarks68, box and provenance of every view (JSON)")
    rot.add_argument("--masks", action="store_true", help="also write each view's provenance mask (_mask.png)")
    rot.add_argument("--max-side", type=int, default=DEFAULT_MAX_SIDE,
                     help=f"photos larger than this (longer side, px) are downscaled first; views keep the photo's "
                          f"size up to it (default {DEFAULT_MAX_SIDE})")

    aug = sub.add_parser("augment", help="synthesise views for a whole dataset (resumable, parallel)")
    aug.set_defaults(func=cmd_augment)
    aug.add_argument("input", help="folder per identity (LFW / CASIA-WebFace / VGGFace2 layout) or a CSV/list of path[,identity]")
    aug.add_argument("output", help="output folder: identity folders of views and manifest.jsonl")
    _add_common(aug)
    aug.add_argument("--yaws", "--yaw", dest="yaws", default="-45,-30,-15,15,30,45",
                     help="yaws: '-60,-30,30,60' or a range '-60:60:15'")
    aug.add_argument("--pitches", "--pitch", dest="pitches", default="0", help="pitches, same syntax (default 0)")
    aug.add_argument("--rolls", "--roll", dest="rolls", default="0", help="rolls, same syntax (default 0)")
    aug.add_argument("--lighting", "--light", dest="lighting", default="keep",
                     help="lighting presets, comma-separated (default keep)")
    aug.add_argument("--refiner", default="default", help=REFINER_HELP)
    aug.add_argument("--device", default="cpu", help="torch device for the refiner (cpu, cuda)")
    aug.add_argument("--size", type=int, default=None, help="write square face crops of this size instead of full frames")
    aug.add_argument("--format", default="png", choices=["png", "jpg"], help="output image format")
    aug.add_argument("--seed", type=int, default=0, help="random seed (kept for reproducible future sampling)")
    aug.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: cores)")
    aug.add_argument("--engine", default="local", choices=["local", "ray"], help="local processes or a Ray cluster")
    aug.add_argument("--start-method", default="auto", choices=["auto", "fork", "spawn", "forkserver"],
                     help="how local workers start (auto: fork on Linux when safe, else spawn)")
    aug.add_argument("--ray-address", default=None, help="Ray cluster address (default: start a local Ray instance)")
    aug.add_argument("--include-originals", action="store_true", help="also copy the sources into OUTPUT")
    aug.add_argument("--max-failures", default=None, help="exit 5 when failed photos exceed this count or fraction")
    aug.add_argument("--retry-failed", action="store_true", help="try photos that failed in an earlier run again")
    aug.add_argument("--max-side", type=int, default=DEFAULT_MAX_SIDE,
                     help=f"photos larger than this (longer side, px) are downscaled first; full-frame views keep the "
                          f"photo's size up to it (default {DEFAULT_MAX_SIDE})")
    aug.add_argument("--all-faces", action="store_true",
                     help="views of every face of each photo, not only the largest (group photos: the faces are "
                          "different people; names and manifest records carry the face index, _f0 largest)")
    aug.add_argument("--min-identity", type=float, default=None,
                     help="drop views whose identity score (1 - dlib descriptor distance to the source) is below this (0.4: dlib's same-person threshold)")
    aug.add_argument("--max-pose-error", type=float, default=None,
                     help="drop views whose re-fitted pose misses the target by more than this many degrees")
    aug.add_argument("--quiet", action="store_true", help="no progress bar")

    model = sub.add_parser("model", help="convert or inspect morphable models")
    model.set_defaults(func=cmd_model)
    msub = model.add_subparsers(dest="model_command", required=True)
    conv = msub.add_parser("convert", help="convert a published model to facerot's .npz")
    conv.add_argument("--format", required=True, choices=["sfm", "bfm2009", "bfm2017", "3ddfa", "flame"])
    conv.add_argument("sources", nargs="+", help="model file first, then companions (sfm: blendshapes)")
    conv.add_argument("-o", "--output", required=True, help="output .npz")
    conv.add_argument("--mapping", default=None, help="iBUG-68 mapping file (eos ibug_to_*.txt)")
    conv.add_argument("--contours", default=None, help="jaw contour file (eos *_model_contours.json)")
    conv.add_argument("--units", default=None, choices=["auto", "mm", "um", "m", "cm"], help="source units")
    info = msub.add_parser("info", help="print a model's summary as JSON")
    info.add_argument("file", help="model .npz, or 'default'")

    tr = sub.add_parser("train-refiner", help="train the GAN refiner on self-supervised LFW DevTrain pairs")
    tr.set_defaults(func=cmd_train_refiner)
    tr.add_argument("--config", required=True, help="training config (JSON; see configs/refiner_cpu.json)")
    tr.add_argument("--steps", type=int, default=None, help="override the config's number of steps")
    tr.add_argument("--device", default=None, help="override the config's device (auto, cpu, cuda)")
    tr.add_argument("--out", default=None, help="override the config's output folder")
    tr.add_argument("--time-limit", type=float, default=None, help="stop cleanly (after a checkpoint) after this many minutes")
    tr.add_argument("--no-resume", action="store_true", help="start again even if OUT/checkpoint.pt exists")
    tr.add_argument("--export", default=None, help="after training, write the generator's weights to this file")
    tr.add_argument("--metrics", default=None,
                    help="with --export: store these measured metrics (JSON, e.g. bench/results/refiner_eval.json) "
                         "inside the exported file")
    tr.add_argument("--export-only", action="store_true",
                    help="no training: export the run's latest checkpoint (with --export, --metrics)")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")

    ev = sub.add_parser("eval", help="measure identity, pose accuracy, recognition utility and speed; write a report")
    ev.set_defaults(func=cmd_eval)
    ev.add_argument("data", nargs="?", default=None,
                    help="a folder per identity (DATA/<identity>/<photo>); default: LFW peopleDevTest from ../shared")
    ev.add_argument("--report", default="eval-report", help="report folder: report.md, results.json, PNG plots")
    ev.add_argument("--max-people", type=int, default=250,
                    help="identities with >= 2 photos to use (plus as many single-photo distractors); 0: all")
    ev.add_argument("--max-probes", type=int, default=10, help="probe photos per identity at most")
    ev.add_argument("--yaws", default="-45,-30,-15,15,30,45", help="view yaws for the gallery (list or start:stop:step)")
    ev.add_argument("--refiner", default="default", help=REFINER_HELP)
    ev.add_argument("--device", default="cpu", help="torch device for the refiner")
    ev.add_argument("--aflw2000", default=None,
                    help="also fit photos annotated in the AFLW2000-3D .mat format in this folder ($FACEROT_AFLW2000)")
    ev.add_argument("--verification-folds", type=int, default=1,
                    help="LFW pairs.txt folds to verify when DATA is not given (600 pairs each; 10: the full 6,000-pair protocol; 0: skip)")
    ev.add_argument("--aflw2000-limit", type=int, default=None, help="at most this many AFLW2000 photos")
    ev.add_argument("--quiet", action="store_true", help="no progress bars")
    ev.add_argument("--landmarks", default="mediapipe", choices=["mediapipe", "dlib", "face-alignment"],
                    help="landmark backend (default: mediapipe)")

    demo = sub.add_parser("demo", help="fit the bundled example photo and write pictures")
    demo.set_defaults(func=cmd_demo)
    demo.add_argument("-o", "--output", default="out/demo", help="output folder (default: out/demo)")
    _add_common(demo)
    return ap


def cmd_fit(args: argparse.Namespace) -> int:
    from face3d.fitting import FitOptions, Fitter
    from face3d.imageio import read_image
    from face3d.mesh_io import write_mesh
    from face3d.visualize import draw_fit

    image = read_image(args.image)
    fitter = Fitter(args.model, args.landmarks,
                    FitOptions(photometric=not args.no_photometric, sfs=args.sfs, focal=args.focal))
    fits = fitter.fit_all(image) if args.all_faces else [fitter.fit(image)]
    failed = [f for f in fits if f.quality == "failed"]
    doc = [f.to_json() for f in fits]
    _write_json(Path(args.json), doc if args.all_faces else doc[0])
    if args.mesh:
        f = fits[0]
        write_mesh(args.mesh, fitter.model, f.vertices, f.albedo)
    if args.overlay:
        out = image
        for f in fits:
            out = draw_fit(out, f, fitter.model)
        _write_image(Path(args.overlay), out)
    if failed:
        print(f"facerot fit: {args.image}: fit failed: {'; '.join(failed[0].reasons)}", file=sys.stderr)
        return EXIT_FIT_FAILED
    return 0


def _angles(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"angles must be comma-separated numbers, got {text!r}") from None


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def _check_image_suffix(path: Path) -> None:
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise ValueError(f"cannot write images of type {path.suffix or '(none)'!r} ({path}); use one of "
                         + ", ".join(IMAGE_SUFFIXES))


def _write_image(path: Path, rgb: Any) -> None:
    import cv2

    from face3d.files import atomic_write

    ext = path.suffix.lower() or ".png"
    ok, buf = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.ndim == 3 else rgb)
    if not ok:
        raise ValueError(f"cannot write images of type {ext!r}")
    atomic_write(path, buf.tobytes())


def cmd_rotate(args: argparse.Namespace) -> int:
    from face3d.imageio import read_image
    from pipeline.rotator import FaceRotator, view_metadata

    out = Path(args.output)
    _check_image_suffix(out)  # before the work, not after it
    image = read_image(args.image, args.max_side)
    rot = FaceRotator(args.model, args.landmarks, refiner=args.refiner, device=args.device)
    prep = rot.prepare(image, rot.fitter.fit(image, strict=True))  # a failed fit is exit 4, not views of it
    views = rot.rotate(prep, _angles(args.yaw), _angles(args.pitch), _angles(args.roll), lighting=args.light,
                       relative=args.relative)
    meta = []
    for v in views:
        path = out
        if len(views) > 1:
            y, p, r = v.pose
            path = out.with_name(f"{out.stem}_yaw{y:+.0f}_pitch{p:+.0f}_roll{r:+.0f}{out.suffix}")
        _write_image(path, v.image)
        if args.masks:
            _write_image(path.with_name(path.stem + "_mask.png"), (v.provenance * 85).astype("uint8"))
        meta.append({"output": str(path), **view_metadata(v)})
    if args.meta:
        _write_json(Path(args.meta), meta)
    print(f"wrote {len(views)} view(s): " + ", ".join(m["output"] for m in meta))
    return 0



def cmd_augment(args: argparse.Namespace) -> int:
    from pipeline.augment import AugmentOptions, check_setup, make_targets, run_augment, summary_lines, too_many_failures

    import torch

    from ganrefine.refiner import load_refiner

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a single thread starts no OpenMP pool, so the workers can still fork
    try:
        load_refiner(args.refiner)  # fail now, with a clear message, rather than in every worker
    finally:
        torch.set_num_threads(threads)
    targets = make_targets(args.yaws, args.pitches, args.rolls, args.lighting)
    from face3d.synth import LIGHT_PRESETS

    for t in targets:
        if t.lighting not in LIGHT_PRESETS:
            raise ValueError(f"unknown lighting preset {t.lighting!r}; choose from {', '.join(LIGHT_PRESETS)}")
    opts = AugmentOptions(targets=targets, model=args.model, landmarks=args.landmarks, size=args.size,
                          fmt=args.format, include_originals=args.include_originals, max_side=args.max_side,
                          seed=args.seed, min_identity=args.min_identity, max_pose_error=args.max_pose_error,
                          refiner=args.refiner, device=args.device, all_faces=args.all_faces)
    check_setup(opts)
    summary = run_augment(Path(args.input), Path(args.output), opts, workers=args.workers,
                          retry_failed=args.retry_failed, progress=not args.quiet, engine=args.engine,
                          ray_address=args.ray_address, start_method=args.start_method)
    for line in summary_lines(summary):
        print(line, file=sys.stderr)
    return EXIT_TOO_MANY_FAILURES if too_many_failures(summary, args.max_failures) else 0


def cmd_train_refiner(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ganrefine.train import TrainConfig, export, train

    cfg = TrainConfig.load(args.config)
    metrics = None
    if args.metrics:  # read first: a bad file fails before, not after, the training
        try:
            metrics = json.loads(Path(args.metrics).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read metrics from {args.metrics}: {exc}") from exc
    over = {k: v for k, v in (("steps", args.steps), ("device", args.device), ("out", args.out),
                              ("time_limit_min", args.time_limit)) if v is not None}
    cfg = replace(cfg, **over)
    if args.export_only:
        ckpt = Path(cfg.out) / "checkpoint.pt"
        if not args.export:
            raise ValueError("--export-only needs --export OUT.pt")
        if not ckpt.is_file():
            raise FileNotFoundError(f"no checkpoint to export: {ckpt}")
    else:
        ckpt = train(cfg, resume=not args.no_resume, progress=not args.quiet)
    print(f"checkpoint: {ckpt}; losses: {Path(cfg.out) / 'log.csv'}; samples: {Path(cfg.out) / 'samples'}", file=sys.stderr)
    if args.export:
        export(ckpt, args.export, metrics=metrics, command="facerot " + " ".join(sys.argv[1:]))
        print(f"exported the generator to {args.export}", file=sys.stderr)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .angles import parse_angles
    from .evaluation import EvalConfig, run_eval
    from .evaluation.report import markdown

    cfg = EvalConfig(data=args.data, report=args.report, max_people=args.max_people or None,
                     max_probes_per_person=args.max_probes, yaws=tuple(parse_angles(args.yaws)),
                     refiner=args.refiner, device=args.device, landmarks=args.landmarks, aflw2000=args.aflw2000,
                     aflw2000_limit=args.aflw2000_limit, verification_folds=args.verification_folds, progress=not args.quiet)
    results = run_eval(cfg)
    if not args.quiet:
        print(markdown(results).split("## Identity")[0])
    print(f"report: {Path(args.report) / 'report.md'} ({results['seconds']:.0f} s)", file=sys.stderr)
    return 0


def cmd_model(args: argparse.Namespace) -> int:
    from face3d.converters import convert
    from face3d.model import load_model

    if args.model_command == "info":
        print(json.dumps(load_model(args.file).summary(), indent=1))
        return 0
    model = convert(args.format, args.sources, mapping=args.mapping, contours=args.contours, units=args.units)
    model.save(args.output)
    print(json.dumps(model.summary(), indent=1))
    return 0


def example_image() -> Any:
    """The bundled example: scikit-image's astronaut (Eileen Collins, NASA, public domain)."""
    from skimage import data

    return data.astronaut()


def demo_augment(out: Path, image: Any) -> Path:
    """Run the batch engine on a small example set — the astronaut (and its mirror image as a second
    photo), plus four LFW DevTest people when ../shared has LFW — and write a contact sheet."""
    import shutil

    import cv2
    import numpy as np

    from face3d.settings import lfw_dir
    from pipeline.augment import AugmentOptions, make_targets, run_augment

    src = out / "example_set"
    (src / "astronaut").mkdir(parents=True, exist_ok=True)
    _write_image(src / "astronaut" / "astronaut_1.jpg", image[:400, 56:456])
    _write_image(src / "astronaut" / "astronaut_2.jpg", np.ascontiguousarray(image[:400, 56:456][:, ::-1]))
    lfw = lfw_dir()
    if (lfw / "peopleDevTest.txt").is_file():
        names = [r.split("\t")[0] for r in (lfw / "peopleDevTest.txt").read_text().split("\n")[1:] if r.strip()]
        for name in names[10::400][:4]:
            (src / name).mkdir(exist_ok=True)
            shutil.copy(lfw / "images" / name / f"{name}_0001.jpg", src / name / f"{name}_0001.jpg")
    targets = make_targets("-45,-20,20,45", "0", "0", "keep")
    run_augment(src, out / "augmented", AugmentOptions(targets=targets, size=160), workers=1, progress=False)
    rows = []
    for ident in sorted(p.name for p in (out / "augmented").iterdir() if p.is_dir() and not p.name.startswith(".")):
        for f in sorted((src / ident).iterdir()):
            stem = f.stem
            views = sorted((out / "augmented" / ident).glob(f"{stem}_*"),
                           key=lambda p: float(p.name.split("__y")[1].split("_")[0]))
            if not views:
                continue
            tiles = [cv2.resize(cv2.imread(str(f)), (160, 160), interpolation=cv2.INTER_AREA)]
            tiles += [cv2.imread(str(v)) for v in views]
            rows.append(np.concatenate(tiles, 1))
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows], 0)
    path = out / "contact_sheet.jpg"
    _write_image(path, cv2.cvtColor(sheet, cv2.COLOR_BGR2RGB))
    return path


def cmd_demo(args: argparse.Namespace) -> int:
    from face3d.fitting import FitOptions, Fitter
    from face3d.mesh_io import write_mesh
    from face3d.visualize import draw_fit

    out = Path(args.output)
    image = example_image()
    fitter = Fitter(args.model, args.landmarks, FitOptions(sfs=True))
    fit = fitter.fit(image, strict=True)
    _write_image(out / "astronaut_fit.png", draw_fit(image, fit, fitter.model))
    _write_json(out / "astronaut_fit.json", fit.to_json())
    write_mesh(out / "astronaut_mesh.obj", fitter.model, fit.vertices, fit.albedo)
    from pipeline.rotator import FaceRotator

    rot = FaceRotator(fitter.model)
    prep = rot.prepare(image, fit)
    targets = [(-45, 0, 0), (-20, 0, 0), (20, 0, 0), (45, 0, 0), (0, 20, 0), (0, -15, 0), (0, 0, 20)]
    tiles = [image[:320, 96:416]]
    for yaw_, pitch_, roll_ in targets:
        v = rot.rotate(prep, yaw_, pitch_, roll_)[0]
        tiles.append(v.image[:320, 96:416])
    import numpy as np

    _write_image(out / "astronaut_poses.png", np.concatenate([np.concatenate(tiles[:4], 1), np.concatenate(tiles[4:], 1)], 0))
    sheet = demo_augment(out, image)
    print(f"augmented the example set: contact sheet {sheet}", file=sys.stderr)
    y, p, r = fit.pose
    print(f"fitted astronaut: yaw {y:+.1f} pitch {p:+.1f} roll {r:+.1f}, landmark NME {fit.nme:.4f}, "
          f"quality {fit.quality}; wrote {out / 'astronaut_fit.png'}, {out / 'astronaut_fit.json'}, "
          f"{out / 'astronaut_mesh.obj'}, {out / 'astronaut_poses.png'}")
    return 0


ANGLE_OPTIONS = ("--yaw", "--pitch", "--roll", "--yaws", "--pitches", "--rolls")


def _join_negative_angles(argv: list[str]) -> list[str]:
    """Let ``--yaw -30,30`` through: argparse would read ``-30,30`` as an option."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ANGLE_OPTIONS and i + 1 < len(argv) and argv[i + 1][:1] == "-" and argv[i + 1][1:2].isdigit():
            out.append(f"{a}={argv[i + 1]}")
            i += 2
            continue
        out.append(a)
        i += 1
    return out


def _subject(args: argparse.Namespace) -> str:
    """What the command works on, to name in its error messages: ``"photo.jpg: "`` or ``""``."""
    for name in ("image", "input", "config", "file", "data"):
        value = getattr(args, name, None)
        if value:
            return f"{value}: "
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import warnings

    warnings.filterwarnings("ignore", module="google.protobuf")
    args = build_parser().parse_args(_join_negative_angles(list(sys.argv[1:] if argv is None else argv)))
    code, message = run_command(args)
    if message:
        subject = _subject(args)
        print(f"facerot {args.command}: {'' if message.startswith(subject) else subject}{message}", file=sys.stderr)
    return code


def run_command(args: argparse.Namespace) -> tuple[int, str | None]:
    """Run the parsed command: (exit code, the one-line reason when it did not succeed). Every
    exception is caught here; the known ones are the user's to fix (codes 2-4), the rest a bug (1)."""
    from face3d.fitting import FitError
    from face3d.imageio import ImageReadError
    from face3d.landmarks import LandmarkModelMissing, NoFaceError
    from face3d.model import ModelFormatError
    from ganrefine.refiner import RefinerError

    try:
        return args.func(args), None
    except NoFaceError as exc:
        return EXIT_NO_FACE, f"no face: {exc}"
    except FitError as exc:
        return EXIT_FIT_FAILED, str(exc)
    except (ImageReadError, ModelFormatError, LandmarkModelMissing, ValueError, ImportError, RefinerError) as exc:
        return EXIT_USAGE, str(exc)  # incl. the batch's InputError
    except OSError as exc:  # a missing input, an unwritable output, a full disk
        return EXIT_USAGE, str(exc) if exc.strerror is None else f"{exc.strerror}: {exc.filename or exc}"
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED, "interrupted"
    except MemoryError:
        return EXIT_INTERNAL, "out of memory (a smaller --max-side, fewer --workers or targets need less)"
    except Exception as exc:  # noqa: BLE001 - a bug: one line, the traceback on request
        if os.environ.get(DEBUG_ENV) == "1":
            import traceback

            traceback.print_exc()
        return EXIT_INTERNAL, (f"internal error ({type(exc).__name__}: {exc}); this is a bug in facerot: please report it "
                               f"(set {DEBUG_ENV}=1 for the traceback)")


if __name__ == "__main__":
    raise SystemExit(main())
