"""``facerot rotate``: one photo's face at new poses and lighting, as full frames."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..angles import parse_angles
from .common import add_common, add_max_side, add_refiner, add_remove_glasses, check_image_suffix, write_image, write_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rotate", help="synthesise the face at new poses and lighting (full frames)")
    p.set_defaults(func=run)
    p.add_argument("image", help="input photo")
    add_common(p)
    p.add_argument("--yaw", "--yaws", dest="yaw", default=None, help="target yaw(s) in degrees, comma-separated (default: keep)")
    p.add_argument(
        "--pitch", "--pitches", dest="pitch", default=None, help="target pitch(es), one or as many as --yaw (default: keep)"
    )
    p.add_argument("--roll", "--rolls", dest="roll", default=None, help="target roll(s), one or as many as --yaw (default: keep)")
    p.add_argument("--relative", action="store_true", help="angles are deltas added to the photo's pose")
    p.add_argument(
        "--light",
        "--lighting",
        dest="light",
        default="keep",
        help="lighting: keep (the photo's, moving with the head), scene (the photo's, staying put), "
        "ambient, front, left, right, top, bottom",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="output image (.png/.jpg); with several targets, _yawY_pitchP_rollR is added to the name",
    )
    add_refiner(p)
    p.add_argument("--meta", default=None, help="write pose, landmarks68, box and provenance of every view (JSON)")
    p.add_argument("--masks", action="store_true", help="also write each view's provenance mask (_mask.png)")
    add_max_side(p)
    add_remove_glasses(p)


def run(args: argparse.Namespace) -> int:
    from face3d.imageio import read_image
    from pipeline.rotator import FaceRotator, view_metadata

    out = Path(args.output)
    check_image_suffix(out)  # before the work, not after it
    image = read_image(args.image, args.max_side)
    rot = FaceRotator(args.model, args.landmarks, refiner=args.refiner, device=args.device, remove_glasses=args.remove_glasses)
    prep = rot.prepare(image, rot.fitter.fit(image, strict=True))  # a failed fit is exit 4, not views of it
    views = rot.rotate(
        prep,
        parse_angles(args.yaw),
        parse_angles(args.pitch),
        parse_angles(args.roll),
        lighting=args.light,
        relative=args.relative,
    )
    meta = []
    for v in views:
        path = out
        if len(views) > 1:
            y, p, r = v.pose
            path = out.with_name(f"{out.stem}_yaw{y:+.0f}_pitch{p:+.0f}_roll{r:+.0f}{out.suffix}")
        write_image(path, v.image)
        if args.masks:
            write_image(path.with_name(path.stem + "_mask.png"), (v.provenance * 85).astype("uint8"))
        meta.append({"output": str(path), **view_metadata(v)})
    if args.meta:
        write_json(Path(args.meta), meta)
    print(f"wrote {len(views)} view(s): " + ", ".join(m["output"] for m in meta))
    return 0
