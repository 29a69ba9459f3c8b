"""The README's Python code blocks run as written (on the astronaut, saved under the file names the
blocks use), and its command lines parse."""

import re
import shlex
from pathlib import Path

import cv2
import pytest

from pipeline.cli import _join_negative_angles, build_parser

README = Path(__file__).resolve().parent.parent / "README.md"


def _blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), re.S)


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_blocks_run(index, tmp_path, monkeypatch, astronaut):
    pytest.importorskip("dlib")  # the blocks use FaceRotator(identity=True)
    for name in ("face.jpg", "photo.jpg", "group.jpg", "a.jpg", "b.jpg"):
        cv2.imwrite(str(tmp_path / name), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    monkeypatch.chdir(tmp_path)
    exec(compile(_blocks("python")[index], f"README.md python block {index}", "exec"), {})


def test_command_lines_parse():
    lines = []
    for block in _blocks("bash"):
        text = block.replace("\\\n", " ")
        lines += [ln.split("#")[0].strip() for ln in text.splitlines() if ln.strip().startswith("facerot ")]
    assert len(lines) >= 7
    for line in lines:
        argv = [a for a in shlex.split(line)[1:] if not (a.startswith("[") or a.endswith("]"))]
        argv = [a for a in argv if a not in ("...", "|")]
        if "{sfm,bfm2009,bfm2017,3ddfa,flame}" in line:
            argv = ["model", "convert", "--format", "sfm", "SRC", "-o", "OUT.npz"]
        build_parser().parse_args(_join_negative_angles(argv))
