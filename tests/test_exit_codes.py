"""Every documented exit code of the command line, each with a one-line reason naming the photo
and no traceback (pipeline/cli.py's docstring lists them)."""

import cv2
import numpy as np
import pytest

from pipeline import cli
from pipeline.cli import main


@pytest.fixture(scope="module")
def photos(tmp_path_factory, astronaut):
    root = tmp_path_factory.mktemp("codes")
    cv2.imwrite(str(root / "astronaut.jpg"), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(root / "noise.png"), (np.random.default_rng(1).random((200, 200, 3)) * 255).astype(np.uint8))
    (root / "text.jpg").write_text("not a photo")
    return root


def _run(capsys, argv):
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return rc, err.strip().splitlines()[-1] if err.strip() else ""


def test_0_success(photos, tmp_path, capsys):
    rc, _ = _run(capsys, ["rotate", photos / "astronaut.jpg", "--yaw", "20", "--refiner", "none", "-o", tmp_path / "v.jpg"])
    assert rc == 0 and (tmp_path / "v.jpg").is_file()


def test_1_internal_error_is_one_line(photos, tmp_path, capsys, monkeypatch):
    from pipeline.rotator import FaceRotator

    def broken(*a, **k):
        raise RuntimeError("simulated defect")

    monkeypatch.setattr(FaceRotator, "rotate", broken)
    rc, line = _run(capsys, ["rotate", photos / "astronaut.jpg", "--yaw", "20", "--refiner", "none", "-o", tmp_path / "v.jpg"])
    assert rc == cli.EXIT_INTERNAL == 1
    assert "astronaut.jpg" in line and "internal error" in line and "simulated defect" in line
    assert not (tmp_path / "v.jpg").exists()


@pytest.mark.parametrize("case", ["unreadable", "missing", "bad light", "bad suffix", "unwritable"])
def test_2_bad_input(photos, tmp_path, capsys, case):
    (tmp_path / "file").write_text("x")
    argv = {
        "unreadable": ["rotate", photos / "text.jpg", "-o", tmp_path / "v.png"],
        "missing": ["fit", photos / "absent.jpg", "--json", tmp_path / "f.json"],
        "bad light": ["rotate", photos / "astronaut.jpg", "--light", "disco", "--refiner", "none", "-o", tmp_path / "v.png"],
        "bad suffix": ["rotate", photos / "astronaut.jpg", "--refiner", "none", "-o", tmp_path / "v.xyz"],
        "unwritable": ["rotate", photos / "astronaut.jpg", "--refiner", "none", "-o", tmp_path / "file" / "v.png"],
    }[case]
    rc, line = _run(capsys, argv + (["--yaw", "10"] if argv[0] == "rotate" else []))
    assert rc == cli.EXIT_USAGE == 2, line
    assert line.startswith(f"facerot {argv[0]}: {argv[1]}: "), line


def test_3_no_face(photos, tmp_path, capsys):
    rc, line = _run(capsys, ["rotate", photos / "noise.png", "--yaw", "20", "--refiner", "none", "-o", tmp_path / "v.png"])
    assert rc == cli.EXIT_NO_FACE == 3 and "noise.png" in line and "no face" in line


def test_4_failed_fit(photos, tmp_path, capsys, monkeypatch):
    import face3d.fitting.fitter as fitting

    monkeypatch.setattr(fitting, "_quality", lambda res, opt: ("failed", ["landmark residual too large (simulated)"]))
    for argv in (
        ["rotate", photos / "astronaut.jpg", "--yaw", "20", "--refiner", "none", "-o", tmp_path / "v.png"],
        ["fit", photos / "astronaut.jpg", "--json", tmp_path / "f.json"],
    ):
        rc, line = _run(capsys, argv)
        assert rc == cli.EXIT_FIT_FAILED == 4 and "astronaut.jpg" in line and "simulated" in line
    assert not (tmp_path / "v.png").exists()


def test_5_too_many_failures(photos, tmp_path, capsys):
    rc, line = _run(
        capsys,
        [
            "augment",
            photos,
            tmp_path / "out",
            "--yaws",
            "20",
            "--refiner",
            "none",
            "--workers",
            "1",
            "--quiet",
            "--max-failures",
            "1",
        ],
    )
    assert rc == cli.EXIT_TOO_MANY_FAILURES == 5  # text.jpg and noise.png failed, astronaut made its view
    assert (tmp_path / "out" / "manifest.jsonl").read_text().count('"status": "ok"') == 1


def test_130_interrupted(photos, tmp_path, capsys, monkeypatch):
    from pipeline.rotator import FaceRotator

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(FaceRotator, "prepare", interrupt)
    rc, line = _run(capsys, ["rotate", photos / "astronaut.jpg", "--yaw", "20", "--refiner", "none", "-o", tmp_path / "v.png"])
    assert rc == cli.EXIT_INTERRUPTED == 130 and line.endswith("interrupted")
