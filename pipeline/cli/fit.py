"""``facerot fit``: the morphable model fitted to a photo's faces."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import EXIT_FIT_FAILED, add_common, write_image, write_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fit", help="fit the morphable model to a face photo")
    p.set_defaults(func=run)
    p.add_argument("image", help="input photo")
    add_common(p)
    p.add_argument("--json", required=True, help="write the fit (pose, landmarks68, coefficients) to this JSON file")
    p.add_argument("--mesh", default=None, help="write the fitted mesh with its texture (.obj or .ply)")
    p.add_argument("--overlay", default=None, help="write the photo with the fitted mesh drawn on it (.png)")
    p.add_argument("--sfs", action="store_true", help="refine the surface by shape from shading")
    p.add_argument("--no-photometric", action="store_true", help="skip the albedo and lighting fit")
    p.add_argument("--all-faces", action="store_true", help="fit every face (JSON holds a list)")
    p.add_argument("--focal", type=float, default=None, help="focal length in pixels (default: from image size)")


def run(args: argparse.Namespace) -> int:
    from face3d.fitting import FitOptions, Fitter
    from face3d.imageio import read_image
    from face3d.mesh_io import write_mesh
    from face3d.visualize import draw_fit

    image = read_image(args.image)
    fitter = Fitter(args.model, args.landmarks, FitOptions(photometric=not args.no_photometric, sfs=args.sfs, focal=args.focal))
    fits = fitter.fit_all(image) if args.all_faces else [fitter.fit(image)]
    failed = [f for f in fits if f.quality == "failed"]
    doc = [f.to_json() for f in fits]
    write_json(Path(args.json), doc if args.all_faces else doc[0])
    if args.mesh:
        f = fits[0]
        write_mesh(args.mesh, fitter.model, f.vertices, f.albedo)
    if args.overlay:
        out = image
        for f in fits:
            out = draw_fit(out, f, fitter.model)
        write_image(Path(args.overlay), out)
    if failed:
        print(f"facerot fit: {args.image}: fit failed: {'; '.join(failed[0].reasons)}", file=sys.stderr)
        return EXIT_FIT_FAILED
    return 0
