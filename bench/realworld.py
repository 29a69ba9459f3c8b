"""Real-world photos through the command line, as users run it: every photo of
../shared/data/realworld (54) and the generated hard cases (pipeline.evaluation.cases, from LFW
DevTest photos), each through ``facerot fit``, ``facerot rotate`` and, for the whole folder,
``facerot augment --all-faces``. Prints and stores (bench/results/realworld.json):

- per photo: size, exit codes of fit and rotate, the reason of a non-zero code, seconds;
- the peak memory of ``facerot rotate`` in its own process for the largest photos, at the default
  --max-side (2048) and at 4096;
- ``augment --all-faces``: views written, faces found against the faces MediaPipe's full-range
  detector and dlib's HOG detector (score >= 0.5) find, and which of theirs it did not find.

    cd bench && python realworld.py [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import save, table

from face3d.imageio import read_image
from face3d.settings import lfw_dir, shared_dir
from pipeline.cli import DEFAULT_MAX_SIDE, build_parser, run_command
from pipeline.evaluation.cases import make_cases

REALWORLD = shared_dir() / "data" / "realworld" / "images"
FACEROT = str(Path(sys.executable).with_name("facerot"))


def _cli(argv: list[str]) -> tuple[int, str, float]:
    """One command in this process: (exit code, reason, seconds)."""
    args = build_parser().parse_args([str(a) for a in argv])
    t0 = time.perf_counter()
    code, message = run_command(args)
    return code, message or "", time.perf_counter() - t0


def _peak_rss(argv: list[str]) -> tuple[int, float, float]:
    """(exit code, seconds, peak resident memory in GB) of ``facerot ARGV`` in its own process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([FACEROT, *map(str, argv)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    return os.waitstatus_to_exitcode(status), time.perf_counter() - t0, usage.ru_maxrss / 1e6


def _photos(folder: Path) -> list[Path]:
    for p in sorted(REALWORLD.iterdir()):
        shutil.copy(p, folder / p.name)
    lfw = lfw_dir()
    names = [r.split("\t")[0] for r in (lfw / "peopleDevTest.txt").read_text().split("\n")[1:] if r.strip()]
    make_cases(folder, [read_image(lfw / "images" / n / f"{n}_0001.jpg") for n in names[5::97][:4]])
    return sorted(folder.iterdir())


def _coverage(folder: Path, out: Path) -> dict:
    """Faces of the detectors (see tests/test_realworld.py) that augment --all-faces did not find."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from test_realworld import _covered, _detector_boxes

    recs = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    faces = {r["source"]: r["boxes"] for r in recs if r["status"] == "faces"}
    theirs, missed = 0, []
    for p in sorted(folder.iterdir()):
        boxes = _detector_boxes(read_image(p, DEFAULT_MAX_SIDE))
        theirs += len(boxes)
        missed += [
            {"photo": p.name, "box": [round(float(v)) for v in b]} for b in boxes if not _covered(b, faces.get(p.name, []))
        ]
    return {
        "faces_found": sum(len(v) for v in faces.values()),
        "detector_faces": theirs,
        "missed": missed,
        "views": sum(r["status"] == "ok" for r in recs),
        "failed_faces": sum(r["status"] == "failed" and "face" in r and "yaw" not in r for r in recs),
        "failed_photos": sorted({r["source"] for r in recs if r["status"] == "failed" and "face" not in r and "yaw" not in r}),
        "unexpected": [r for r in recs if "unexpected" in r.get("error", "")],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="facerot-realworld-"))
    folder = tmp / "photos"
    folder.mkdir()
    try:
        rows, per_photo = [], []
        for p in _photos(folder):
            h, w = read_image(p).shape[:2]
            fc, fmsg, fs = _cli(["fit", p, "--json", tmp / "f.json"])
            rc, rmsg, rs = _cli(["rotate", p, "--yaw", "30", "-o", tmp / "v.jpg"])
            per_photo.append(
                {
                    "photo": p.name,
                    "size": [w, h],
                    "fit": fc,
                    "rotate": rc,
                    "fit_s": round(fs, 2),
                    "rotate_s": round(rs, 2),
                    "reason": fmsg or rmsg,
                }
            )
            rows.append([p.name[:38], f"{w}x{h}", fc, rc, f"{fs:.1f}", f"{rs:.1f}", (fmsg or rmsg)[:70]])
            print(rows[-1], flush=True)
        print(table(["photo", "size", "fit", "rotate", "fit s", "rotate s", "reason"], rows, "Every photo (exit codes)"))
        big = [folder / r["photo"] for r in sorted(per_photo, key=lambda r: -r["size"][0] * r["size"][1])[:3]]
        memory = []
        for p in big:
            for side in (DEFAULT_MAX_SIDE, 4096):
                code, sec, gb = _peak_rss(["rotate", p, "--yaw", "30", "-o", tmp / "m.jpg", "--max-side", side])
                memory.append(
                    {"photo": p.name, "max_side": side, "exit": code, "seconds": round(sec, 1), "peak_gb": round(gb, 2)}
                )
        print(
            table(
                ["photo", "--max-side", "exit", "s (incl. start)", "peak GB"],
                [[m["photo"], m["max_side"], m["exit"], m["seconds"], m["peak_gb"]] for m in memory],
                "facerot rotate in its own process: peak memory",
            )
        )
        out = tmp / "augmented"
        t0 = time.perf_counter()
        aug = subprocess.run(
            [FACEROT, "augment", folder, out, "--all-faces", "--yaws", "-30,30", "--workers", str(args.workers), "--quiet"],
            capture_output=True,
            text=True,
        )
        aug_s = time.perf_counter() - t0
        cov = _coverage(folder, out)
        print(
            table(
                [
                    "photos",
                    "exit",
                    "seconds",
                    "views",
                    "faces found",
                    "detectors' faces (each counted)",
                    "of theirs missed",
                    "faces not fitted",
                    "photos failed",
                    "unexpected errors",
                ],
                [
                    [
                        len(per_photo),
                        aug.returncode,
                        f"{aug_s:.0f}",
                        cov["views"],
                        cov["faces_found"],
                        cov["detector_faces"],
                        len(cov["missed"]),
                        cov["failed_faces"],
                        len(cov["failed_photos"]),
                        len(cov["unexpected"]),
                    ]
                ],
                f"facerot augment --all-faces --yaws -30,30 --workers {args.workers}",
            )
        )
        print("missed:", cov["missed"], "\nphotos failed:", cov["failed_photos"])
        codes = {k: sum(r[k] == c for r in per_photo) for k in ("fit", "rotate") for c in (0,)}
        save(
            "realworld",
            {
                "photos": per_photo,
                "memory": memory,
                "augment_all_faces": {"exit": aug.returncode, "seconds": round(aug_s, 1), "workers": args.workers, **cov},
                "summary": {
                    "photos": len(per_photo),
                    "fit_ok": codes["fit"],
                    "rotate_ok": codes["rotate"],
                    "internal_errors": sum(r["fit"] == 1 or r["rotate"] == 1 for r in per_photo),
                },
            },
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
