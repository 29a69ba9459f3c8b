"""``facerot model``: convert published morphable models, inspect model files."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("model", help="convert or inspect morphable models")
    p.set_defaults(func=run)
    msub = p.add_subparsers(dest="model_command", required=True)
    conv = msub.add_parser("convert", help="convert a published model to facerot's .npz")
    conv.add_argument("--format", required=True, choices=["sfm", "bfm2009", "bfm2017", "3ddfa", "flame"])
    conv.add_argument("sources", nargs="+", help="model file first, then companions (sfm: blendshapes)")
    conv.add_argument("-o", "--output", required=True, help="output .npz")
    conv.add_argument("--mapping", default=None, help="iBUG-68 mapping file (eos ibug_to_*.txt)")
    conv.add_argument("--contours", default=None, help="jaw contour file (eos *_model_contours.json)")
    conv.add_argument("--units", default=None, choices=["auto", "mm", "um", "m", "cm"], help="source units")
    info = msub.add_parser("info", help="print a model's summary as JSON")
    info.add_argument("file", help="model .npz, or 'default'")


def run(args: argparse.Namespace) -> int:
    from face3d.converters import convert
    from face3d.model import load_model

    if args.model_command == "info":
        print(json.dumps(load_model(args.file).summary(), indent=1))
        return 0
    model = convert(args.format, args.sources, mapping=args.mapping, contours=args.contours, units=args.units)
    model.save(args.output)
    print(json.dumps(model.summary(), indent=1))
    return 0
