"""``facerot demo``: the bundled example photo fitted, turned and augmented, as pictures."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .common import add_common, write_image, write_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="fit the bundled example photo and write pictures")
    p.set_defaults(func=run)
    p.add_argument("-o", "--output", default="out/demo", help="output folder (default: out/demo)")
    add_common(p)


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
    write_image(src / "astronaut" / "astronaut_1.jpg", image[:400, 56:456])
    write_image(src / "astronaut" / "astronaut_2.jpg", np.ascontiguousarray(image[:400, 56:456][:, ::-1]))
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
            views = sorted(
                (out / "augmented" / ident).glob(f"{stem}_*"), key=lambda p: float(p.name.split("__y")[1].split("_")[0])
            )
            if not views:
                continue
            tiles = [cv2.resize(cv2.imread(str(f)), (160, 160), interpolation=cv2.INTER_AREA)]
            tiles += [cv2.imread(str(v)) for v in views]
            rows.append(np.concatenate(tiles, 1))
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows], 0)
    path = out / "contact_sheet.jpg"
    write_image(path, cv2.cvtColor(sheet, cv2.COLOR_BGR2RGB))
    return path


def run(args: argparse.Namespace) -> int:
    from face3d.fitting import FitOptions, Fitter
    from face3d.mesh_io import write_mesh
    from face3d.visualize import draw_fit

    out = Path(args.output)
    image = example_image()
    fitter = Fitter(args.model, args.landmarks, FitOptions(sfs=True))
    fit = fitter.fit(image, strict=True)
    write_image(out / "astronaut_fit.png", draw_fit(image, fit, fitter.model))
    write_json(out / "astronaut_fit.json", fit.to_json())
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

    write_image(out / "astronaut_poses.png", np.concatenate([np.concatenate(tiles[:4], 1), np.concatenate(tiles[4:], 1)], 0))
    sheet = demo_augment(out, image)
    print(f"augmented the example set: contact sheet {sheet}", file=sys.stderr)
    y, p, r = fit.pose
    print(
        f"fitted astronaut: yaw {y:+.1f} pitch {p:+.1f} roll {r:+.1f}, landmark NME {fit.nme:.4f}, "
        f"quality {fit.quality}; wrote {out / 'astronaut_fit.png'}, {out / 'astronaut_fit.json'}, "
        f"{out / 'astronaut_mesh.obj'}, {out / 'astronaut_poses.png'}"
    )
    return 0
