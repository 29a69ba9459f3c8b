import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from pipeline.cli import main

from .test_converters import write_sfm_files


@pytest.fixture(scope="module")
def astro_file(tmp_path_factory, astronaut):
    p = tmp_path_factory.mktemp("img") / "astro naut ü.jpg"
    cv2.imwrite(str(p), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    return p


def test_fit_writes_json_mesh_overlay(tmp_path, astro_file):
    rc = main(
        [
            "fit",
            str(astro_file),
            "--json",
            str(tmp_path / "o.json"),
            "--mesh",
            str(tmp_path / "m.obj"),
            "--overlay",
            str(tmp_path / "o.png"),
        ]
    )
    assert rc == 0
    d = json.loads((tmp_path / "o.json").read_text())
    assert {"yaw", "pitch", "roll", "landmarks68"} <= set(d)
    lm = np.array(d["landmarks68"])
    assert lm.shape == (68, 2) and (lm > 0).all() and (lm < 512).all()
    assert abs(d["yaw"]) < 15
    assert (tmp_path / "m.obj").stat().st_size > 1000 and (tmp_path / "m.png").is_file()
    assert "map_Kd m.png" in (tmp_path / "m.mtl").read_text()
    assert cv2.imread(str(tmp_path / "o.png")).shape == (512, 512, 3)
    rc = main(["fit", str(astro_file), "--json", str(tmp_path / "p.json"), "--mesh", str(tmp_path / "m.ply"), "--no-photometric"])
    assert rc == 0 and (tmp_path / "m.ply").read_bytes().startswith(b"ply")


def test_fit_errors_exit_nonzero(tmp_path, capsys):
    (tmp_path / "text.jpg").write_text("not an image")
    assert main(["fit", str(tmp_path / "text.jpg"), "--json", str(tmp_path / "o.json")]) == 2
    assert "not a decodable image" in capsys.readouterr().err
    cv2.imwrite(str(tmp_path / "noise.png"), (np.random.default_rng(0).random((200, 200, 3)) * 255).astype(np.uint8))
    assert main(["fit", str(tmp_path / "noise.png"), "--json", str(tmp_path / "o.json")]) == 3
    assert "no face" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()


def test_model_info_and_convert(tmp_path, capsys):
    assert main(["model", "info", "default"]) == 0
    assert json.loads(capsys.readouterr().out)["vertices"] == 468
    write_sfm_files(tmp_path)
    rc = main(
        [
            "model",
            "convert",
            "--format",
            "sfm",
            str(tmp_path / "model.bin"),
            str(tmp_path / "bs.bin"),
            "--mapping",
            str(tmp_path / "map.txt"),
            "-o",
            str(tmp_path / "out.npz"),
        ]
    )
    assert rc == 0
    capsys.readouterr()
    assert main(["model", "info", str(tmp_path / "out.npz")]) == 0
    assert json.loads(capsys.readouterr().out)["expression_components"] == 2
    assert main(["model", "info", str(tmp_path / "missing.npz")]) == 2


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", "fit", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--json" in out.stdout and "--landmarks" in out.stdout


def test_train_refiner_bad_inputs_fail_before_training(tmp_path, capsys):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"out": str(tmp_path / "run"), "pairs": {"folder": str(tmp_path / "none")}}))
    assert main(["train-refiner", "--config", str(cfg), "--metrics", str(tmp_path / "m.json"), "--quiet"]) == 2
    assert "cannot read metrics" in capsys.readouterr().err and not (tmp_path / "run").exists()
    cfg.write_text(json.dumps({"out": str(tmp_path / "run"), "learning_rate": 1}))
    assert main(["train-refiner", "--config", str(cfg), "--quiet"]) == 2
    assert "unknown training config keys: learning_rate" in capsys.readouterr().err
    cfg.write_text(json.dumps({"out": str(tmp_path / "run")}))
    assert main(["train-refiner", "--config", str(cfg), "--export-only", "--export", str(tmp_path / "w.pt")]) == 2
    assert "no checkpoint to export" in capsys.readouterr().err
