"""facerot augment: listing, hostile input, manifest, resume, crash safety (issue 4)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from pipeline.angles import parse_angles
from pipeline.augment import AugmentOptions, iter_sources, make_targets, run_augment
from pipeline.cli import main


def _save_rgb(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, astronaut):
    root = tmp_path_factory.mktemp("hostile")
    face = astronaut[:400, 56:456]
    good = root / "José Ñoño"
    _save_rgb(good / "photo one.jpg", face)
    _save_rgb(good / "photo one.png", face[:, ::-1])  # same stem: output names must not collide
    bad = root / "bad"
    bad.mkdir()
    (bad / "zero.jpg").write_bytes(b"")
    ok, buf = cv2.imencode(".jpg", face)
    (bad / "truncated.jpg").write_bytes(buf.tobytes()[:120])
    (bad / "random.jpg").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    (bad / "text.jpg").write_text("this is not a photo\n")
    _save_rgb(bad / "noise.png", (np.random.default_rng(1).random((300, 300, 3)) * 255).astype(np.uint8))
    _save_rgb(bad / "tiny.png", face[::40, ::40])
    os.symlink(bad / "absent.jpg", bad / "dangling.jpg")
    fmt = root / "formats"
    fmt.mkdir()
    cv2.imwrite(str(fmt / "grey.png"), cv2.cvtColor(face, cv2.COLOR_RGB2GRAY))
    cv2.imwrite(
        str(fmt / "rgba.png"),
        np.concatenate([cv2.cvtColor(face, cv2.COLOR_RGB2BGR), np.full(face.shape[:2] + (1,), 200, np.uint8)], 2),
    )
    cv2.imwrite(str(fmt / "sixteen.png"), cv2.cvtColor(face, cv2.COLOR_RGB2BGR).astype(np.uint16) * 257)
    Image.fromarray(face).convert("CMYK").save(fmt / "cmyk.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: a viewer turns it 90° clockwise
    Image.fromarray(np.ascontiguousarray(np.rot90(face, 1))).save(fmt / "exif rotated.jpg", exif=exif)
    big = np.full((7000, 9000, 3), 120, np.uint8)
    big[3000:5000, 3500:5500] = cv2.resize(face, (2000, 2000))
    cv2.imwrite(str(fmt / "huge.jpg"), big, [cv2.IMWRITE_JPEG_QUALITY, 80])
    os.symlink(root, root / "loop")  # a symlink loop back to the root
    return root


def test_angles_and_targets():
    assert parse_angles("-60:60:30") == [-60, -30, 0, 30, 60]
    assert parse_angles("-30, 30") == [-30, 30] and parse_angles(None) == [None]
    with pytest.raises(ValueError, match="angles"):
        parse_angles("a:b")
    t = make_targets("-30,30", "0", None, "keep,left")
    assert len(t) == 4 and {x.lighting for x in t} == {"keep", "left"}


def test_listing_folder_and_csv(hostile, tmp_path):
    names = [s.name for s in iter_sources(hostile)]
    assert "José Ñoño/photo one.jpg" in names and "formats/huge.jpg" in names
    assert not any(n.startswith("loop/") for n in names), "the symlink loop must not be entered"
    lst = tmp_path / "list.csv"
    lst.write_text(f"path,identity\n{hostile / 'formats' / 'grey.png'},someone\n# comment\n")
    srcs = list(iter_sources(lst))
    assert len(srcs) == 1 and srcs[0].identity == "someone"


def test_hostile_corpus_is_recorded_not_fatal(hostile, tmp_path):
    out = tmp_path / "out"
    rc = main(["augment", str(hostile), str(out), "--yaws", "25", "--workers", "1", "--quiet"])
    assert rc == 0
    recs = [json.loads(line) for line in (out / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    by_src = {r["source"]: r for r in recs}
    for name in (
        "bad/zero.jpg",
        "bad/truncated.jpg",
        "bad/random.jpg",
        "bad/text.jpg",
        "bad/noise.png",
        "bad/tiny.png",
        "bad/dangling.jpg",
    ):
        assert by_src[name]["status"] == "failed" and by_src[name]["error"], name
    assert "empty file" in by_src["bad/zero.jpg"]["error"]
    assert "NoFaceError" in by_src["bad/noise.png"]["error"] and "too small" in by_src["bad/tiny.png"]["error"]
    for name in (
        "formats/grey.png",
        "formats/rgba.png",
        "formats/sixteen.png",
        "formats/cmyk.jpg",
        "formats/exif rotated.jpg",
        "formats/huge.jpg",
        "José Ñoño/photo one.jpg",
        "José Ñoño/photo one.png",
    ):
        assert by_src[name]["status"] == "ok", (name, by_src[name].get("error"))
        img = cv2.imread(str(out / by_src[name]["output"]))
        assert img is not None and img.shape[2] == 3
    # EXIF orientation honoured: the face was found upright, so the view is the upright photo's size
    assert cv2.imread(str(out / by_src["formats/exif rotated.jpg"]["output"])).shape[:2] == (400, 400)
    # the huge photo was downscaled (bounded memory) and still fitted
    assert max(cv2.imread(str(out / by_src["formats/huge.jpg"]["output"])).shape[:2]) <= 2048
    ok = [r for r in recs if r["status"] == "ok"]
    assert len({r["output"] for r in ok}) == len(ok), "output names collide"
    assert not (out / ".facerot-tmp").exists()
    # failures over the limit give a non-zero exit code; a re-run skips what is done
    assert main(["augment", str(hostile), str(out), "--yaws", "25", "--workers", "1", "--quiet", "--max-failures", "2"]) == 5
    assert (out / "manifest.jsonl").read_text(encoding="utf-8").count("\n") == len(recs)


def _expected(out: Path, sources: int, targets: int) -> list[dict]:
    recs = [json.loads(line) for line in (out / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    ok = [r for r in recs if r["status"] == "ok"]
    keys = [(r["source"], r["yaw"]) for r in ok]
    assert len(keys) == len(set(keys)) == sources * targets, "each output exactly once in the manifest"
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "manifest.jsonl")
    assert sorted(out / r["output"] for r in ok) == files, "manifest and files agree"
    assert not any(".facerot-tmp" in str(p) for p in files)
    assert all(r["glasses_removed"] is None for r in ok)  # not looked for unless asked
    return ok


def test_kill_minus_9_and_rerun(tmp_path, astronaut):
    src = tmp_path / "in"
    for i in range(4):
        _save_rgb(src / f"p{i}" / "x.jpg", np.roll(astronaut, 20 * i, axis=1)[:420, 40:460])
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "pipeline.cli",
        "augment",
        str(src),
        str(out),
        "--yaws",
        "-20,0,20",
        "--workers",
        "2",
        "--quiet",
    ]  # two forked workers, as the command line runs by default
    for wait_lines in (0, 4):  # kill right after start, then mid-way
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 120
        manifest = out / "manifest.jsonl"
        while time.time() < deadline and proc.poll() is None:
            n = manifest.read_bytes().count(b"\n") if manifest.exists() else 0
            if n >= wait_lines and (wait_lines or (out / ".facerot-tmp").exists()):
                break
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    _expected(out, sources=4, targets=3)
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert "0 views written" in again.stderr
    _expected(out, sources=4, targets=3)


def test_two_workers_same_result(tmp_path, astronaut):
    src = tmp_path / "in"
    for i in range(3):
        _save_rgb(src / f"id{i}" / "a.jpg", np.roll(astronaut, 15 * i, axis=0)[:420, 40:460])
    opts = AugmentOptions(targets=make_targets("-15,15", "0", "0", "keep"))
    s = run_augment(src, tmp_path / "out", opts, workers=2, progress=False)
    assert s.ok == 6 and s.failed == 0 and s.start_method == "spawn"
    _expected(tmp_path / "out", sources=3, targets=2)
    # this test process has run OpenCV's thread pool (the fixtures): forking now could hang a worker
    assert run_augment(src, tmp_path / "auto", opts, workers=2, progress=False, start_method="auto").start_method == "spawn"
    # a fresh command line forks its workers, and they write the very same files
    cmd = [
        sys.executable,
        "-m",
        "pipeline.cli",
        "augment",
        str(src),
        str(tmp_path / "fork"),
        "--yaws",
        "-15,15",
        "--refiner",
        "none",
        "--workers",
        "2",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "workers started by fork" in done.stderr, done.stderr[-2000:]
    outs = sorted((tmp_path / "out").rglob("*.png"))
    assert len(outs) == 6
    for a in outs:  # the same views; which worker fits a photo first moves pixels by a grey level or two
        x = cv2.imread(str(a)).astype(int)
        y = cv2.imread(str(tmp_path / "fork" / a.relative_to(tmp_path / "out"))).astype(int)
        assert np.abs(x - y).max() <= 3 and np.abs(x - y).mean() < 0.05, a.name


def test_auto_start_method_spawns_once_a_thread_runs():
    import threading

    from pipeline.augment import resolve_start_method

    assert resolve_start_method("spawn") == "spawn"
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:  # a thread started after import: it could hold a lock a forked child would inherit
        assert resolve_start_method("auto") == "spawn"
    finally:
        stop.set()
        t.join()


def test_quality_filters_drop_and_record(tmp_path, astronaut):
    pytest.importorskip("dlib")
    src = tmp_path / "in"
    _save_rgb(src / "a" / "x.jpg", astronaut[:420, 40:460])
    out = tmp_path / "out"
    rc = main(["augment", str(src), str(out), "--yaws", "-20,20", "--workers", "1", "--quiet", "--min-identity", "0.99"])
    assert rc == 0
    recs = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [r["status"] for r in recs] == ["skipped", "skipped"]
    assert all("identity score" in r["error"] and 0 < r["identity_score"] < 0.99 for r in recs)
    assert not list((out / "a").glob("*")) if (out / "a").exists() else True
    out2 = tmp_path / "out2"
    rc = main(
        [
            "augment",
            str(src),
            str(out2),
            "--yaws",
            "-20,20",
            "--workers",
            "1",
            "--quiet",
            "--min-identity",
            "0.4",
            "--max-pose-error",
            "45",
        ]
    )
    recs = [json.loads(line) for line in (out2 / "manifest.jsonl").read_text().splitlines()]
    assert rc == 0 and [r["status"] for r in recs] == ["ok", "ok"] and all(r["identity_score"] > 0.4 for r in recs)


def test_ray_engine_matches_local(tmp_path, astronaut):
    pytest.importorskip("ray")
    src = tmp_path / "in"
    for i in range(3):
        _save_rgb(src / f"id{i}" / "a.jpg", np.roll(astronaut, 15 * i, axis=0)[:420, 40:460])
    (src / "id0" / "bad.jpg").write_text("not an image")
    opts = AugmentOptions(targets=make_targets("-15,15", "0", "0", "keep"))
    local = run_augment(src, tmp_path / "local", opts, workers=1, progress=False)
    ray_s = run_augment(src, tmp_path / "ray", opts, workers=2, progress=False, engine="ray")
    assert (ray_s.ok, ray_s.failed) == (local.ok, local.failed) == (6, 1)

    def listing(out):
        recs = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
        return sorted((r["source"], r["status"], r.get("output"), r.get("yaw")) for r in recs)

    assert listing(tmp_path / "ray") == listing(tmp_path / "local")
    files = lambda out: sorted(p.relative_to(out) for p in out.rglob("*.png"))  # noqa: E731
    assert files(tmp_path / "ray") == files(tmp_path / "local")


def test_refiner_option_default_none_and_bad_path(tmp_path, astronaut):
    src = tmp_path / "in"
    _save_rgb(src / "a" / "x.jpg", astronaut[:420, 40:460])
    outs = {}
    for name in ("none", "default"):
        out = tmp_path / name
        assert main(["augment", str(src), str(out), "--yaws", "30", "--workers", "1", "--quiet", "--refiner", name]) == 0
        rec = json.loads((out / "manifest.jsonl").read_text().splitlines()[0])
        assert rec["status"] == "ok" and rec["refiner"] == (None if name == "none" else "default")
        outs[name] = cv2.imread(str(out / rec["output"])).astype(int)
    assert np.abs(outs["none"] - outs["default"]).mean() > 0.2  # the refiner changed the face
    assert main(["augment", str(src), str(tmp_path / "bad"), "--refiner", str(tmp_path / "missing.pt"), "--quiet"]) == 2


def test_ray_refiner_actor_matches_local_refinement(tmp_path, astronaut, monkeypatch):
    """With GPUs, Ray workers send crops to refiner actors (one per GPU); forced here on the CPU,
    the outputs must equal the local engine's, where each worker refines itself."""
    pytest.importorskip("ray")
    from face3d.settings import RAY_REFINER_ACTOR_ENV

    src = tmp_path / "in"
    for i in range(2):
        _save_rgb(src / f"id{i}" / "a.jpg", np.roll(astronaut, 15 * i, axis=0)[:420, 40:460])
    opts = AugmentOptions(targets=make_targets("-20,20", "0", "0", "keep"), refiner="default")
    run_augment(src, tmp_path / "local", opts, workers=1, progress=False)
    monkeypatch.setenv(RAY_REFINER_ACTOR_ENV, "1")
    s = run_augment(src, tmp_path / "ray", opts, workers=2, progress=False, engine="ray")
    assert s.ok == 4
    recs = [json.loads(line) for line in (tmp_path / "ray" / "manifest.jsonl").read_text().splitlines()]
    assert all(r["refiner"] == "default" for r in recs)
    for r in recs:
        a = cv2.imread(str(tmp_path / "ray" / r["output"])).astype(int)
        b = cv2.imread(str(tmp_path / "local" / r["output"])).astype(int)
        # the same up to float rounding (the actor and the workers run torch with different thread counts)
        assert np.abs(a - b).max() <= 3 and np.abs(a - b).mean() < 0.05


def test_view_face_is_the_views_own_not_a_background_face():
    from types import SimpleNamespace

    from face3d.landmarks import FaceLandmarks, NoFaceError
    from pipeline.rotator import view_face

    def face(x0, y0, x1, y1):
        return FaceLandmarks(np.zeros((68, 2)), (x0, y0, x1, y1), (250, 250), "stub")

    own, other = face(60, 60, 170, 190), face(190, 0, 250, 70)
    lm = np.array([[65.0, 70.0], [165.0, 185.0]])  # the view's face box: (65, 70)-(165, 185)
    view = SimpleNamespace(image=np.zeros((250, 250, 3), np.uint8), landmarks68=lm)

    class Stub:  # a detector whose first face is a person of the background (seen on a +30 view)
        def __init__(self, first, every):
            self.first, self.every = first, every

        def detect(self, image, all_faces=False):
            return list(self.every) if all_faces else [self.first]

    assert view_face(Stub(other, [other, own]), view) is own
    assert view_face(Stub(own, [own, other]), view) is own
    with pytest.raises(NoFaceError):
        view_face(Stub(other, [other]), view)


def test_a_worker_that_cannot_set_up_fails_its_photos_not_the_pool(tmp_path, astronaut):
    """A pool worker whose set-up raises would be restarted forever; it records why instead."""
    _save_rgb(tmp_path / "in" / "a" / "one.jpg", astronaut[:400, 56:456])
    _save_rgb(tmp_path / "in" / "a" / "two.jpg", astronaut[:400, 56:456][:, ::-1])
    opts = AugmentOptions(targets=make_targets("20", "0", "0", "keep"), model=str(tmp_path / "absent.npz"))
    s = run_augment(tmp_path / "in", tmp_path / "out", opts, workers=2, progress=False, start_method="spawn")
    recs = [json.loads(line) for line in (tmp_path / "out" / "manifest.jsonl").read_text().splitlines()]
    assert s.failed_sources == 2 and all("worker set-up failed" in r["error"] and "absent.npz" in r["error"] for r in recs)


def test_augment_checks_its_setup_before_starting(tmp_path, capsys, astronaut):
    _save_rgb(tmp_path / "in" / "a" / "one.jpg", astronaut[:400, 56:456])
    rc = main(
        [
            "augment",
            str(tmp_path / "in"),
            str(tmp_path / "out"),
            "--model",
            str(tmp_path / "absent.npz"),
            "--workers",
            "2",
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "absent.npz" in err and "Traceback" not in err


def test_all_faces_views_each_face_and_resumes_per_face(tmp_path, astronaut):
    canvas = np.full((512, 900, 3), 128, np.uint8)
    canvas[:512, :512] = astronaut
    canvas[102:409, 520:827] = cv2.resize(astronaut, (307, 307))
    _save_rgb(tmp_path / "in" / "group" / "two.jpg", canvas)
    opts = AugmentOptions(targets=make_targets("-20,20", "0", "0", "keep"), all_faces=True)
    s1 = run_augment(tmp_path / "in", tmp_path / "out", opts, workers=1, progress=False)
    recs = [json.loads(line) for line in (tmp_path / "out" / "manifest.jsonl").read_text().splitlines()]
    faces = [r for r in recs if r["status"] == "faces"]
    assert len(faces) == 1 and faces[0]["faces"] >= 2 and s1.ok == 2 * faces[0]["faces"]
    ok = [r for r in recs if r["status"] == "ok"]
    assert {r["face"] for r in ok} == set(range(faces[0]["faces"])) and all("_f" in r["output"] for r in ok)
    s2 = run_augment(tmp_path / "in", tmp_path / "out", opts, workers=1, progress=False)
    assert s2.ok == 0 and s2.skipped == s1.ok  # a re-run finds every face's views done
    (tmp_path / "out" / ok[-1]["output"]).unlink()
    s3 = run_augment(tmp_path / "in", tmp_path / "out", opts, workers=1, progress=False)
    assert s3.ok == 1 and (tmp_path / "out" / ok[-1]["output"]).is_file()


def test_manifest_record_schema_round_trip_and_old_records(tmp_path):
    from pipeline.augment import SCHEMA_VERSION, ManifestRecord, read_manifest

    ok = ManifestRecord(
        "a/x.jpg",
        "a",
        "ok",
        output="a/x_1__y+30.png",
        yaw=30.0,
        pitch=None,
        roll=0.0,
        lighting="keep",
        achieved=[30.0, 1.0, 0.0],
        glasses_removed=True,
        model="m",
        refiner=None,
    )
    line = ok.to_json()
    d = json.loads(line)
    assert d["glasses_removed"] is True
    assert d["schema"] == SCHEMA_VERSION == 5 and d["pitch"] is None and d["refiner"] is None and "face" not in d
    assert "original" not in d and ManifestRecord.from_json(line) == ok
    assert ok.key() == ("a/x.jpg", None, 30.0, None, 0.0, "keep")
    failed = ManifestRecord("b.jpg", "", "failed", error="NoFaceError: no face")
    assert not failed.is_view and "yaw" not in json.loads(failed.to_json())
    old = (
        '{"source": "a/x.jpg", "identity": "a", "status": "skipped", "yaw": 15, "pitch": 0, "roll": 0, '
        '"lighting": "keep", "error": "identity"}'
    )
    rec = ManifestRecord.from_json(old)
    assert rec.schema == 1 and rec.is_view and rec.status == "skipped"
    with pytest.raises(ValueError, match="not a manifest record"):
        ManifestRecord.from_json('{"status": "maybe"}')
    (tmp_path / "m.jsonl").write_text(line + "\n" + failed.to_json() + "\n" + '{"source": "c", "sta')
    assert [r.status for r in read_manifest(tmp_path / "m.jsonl")] == ["ok", "failed"]  # torn last line left out


def test_originals_cropped_like_their_views(tmp_path, astronaut):
    """With --size, a photo's copy is cropped around its face as its views are (a training set
    mixes them), its record carrying the fitted pose and the landmarks in the crop's pixels."""
    canvas = np.full((700, 900, 3), 90, np.uint8)
    canvas[100:612, 300:812] = astronaut
    _save_rgb(tmp_path / "in" / "someone" / "photo.jpg", canvas)
    opts = AugmentOptions(targets=make_targets("0", "0", "0", "keep"), size=96, include_originals=True)
    s = run_augment(tmp_path / "in", tmp_path / "out", opts, workers=1, progress=False)
    recs = [json.loads(line) for line in (tmp_path / "out" / "manifest.jsonl").read_text().splitlines()]
    view = next(r for r in recs if r["status"] == "ok" and not r.get("original"))
    orig = next(r for r in recs if r.get("original"))
    assert s.ok == 2
    a = cv2.imread(str(tmp_path / "out" / orig["output"]))
    b = cv2.imread(str(tmp_path / "out" / view["output"]))
    assert a.shape == b.shape == (96, 96, 3)
    # the view at the photo's own yaw, pitch 0, lies where the photo does: same crop, same landmarks
    lm_o, lm_v = np.array(orig["landmarks68"]), np.array(view["landmarks68"])
    assert np.all((lm_o > 0) & (lm_o < 96)) and np.median(np.abs(lm_o - lm_v)) < 6
    assert len(orig["achieved"]) == 3


def test_realism_gate_drops_or_keeps_flagged_views(tmp_path, astronaut):
    """--min-realism scores every view; flagged views are dropped with the reason, or written with
    their reasons in ``flags`` (--keep-flagged). (The scorer here is untrained: the test is about
    the gate, with a threshold no score reaches.)"""
    from pipeline.evaluation.realism import RealismNet, RealismScorer, save_scorer

    scorer = tmp_path / "scorer.pt"
    save_scorer(RealismNet(), scorer, {"trained_on": "nothing (test)"})
    assert RealismScorer(scorer).meta["trained_on"] == "nothing (test)"
    _save_rgb(tmp_path / "in" / "a" / "x.jpg", astronaut[:420, 40:460])
    base = ["augment", str(tmp_path / "in"), "--yaws", "-20,20", "--workers", "1", "--quiet", "--min-realism", "1.01"]
    assert main([*base[:2], str(tmp_path / "drop"), *base[2:], "--realism-scorer", str(scorer)]) == 0
    recs = [json.loads(line) for line in (tmp_path / "drop" / "manifest.jsonl").read_text().splitlines()]
    assert [r["status"] for r in recs] == ["skipped", "skipped"]
    assert all("realism score" in r["error"] and 0 <= r["realism_score"] <= 1 for r in recs)
    keep = [*base[:2], str(tmp_path / "keep"), *base[2:], "--realism-scorer", str(scorer), "--keep-flagged", "--remove-glasses"]
    assert main(keep) == 0
    recs = [json.loads(line) for line in (tmp_path / "keep" / "manifest.jsonl").read_text().splitlines()]
    assert [r["status"] for r in recs] == ["ok", "ok"] and all("realism score" in r["flags"][0] for r in recs)
    assert all(r["glasses_removed"] is False for r in recs)  # --remove-glasses: looked for, none found
    assert all((tmp_path / "keep" / r["output"]).is_file() for r in recs)
    assert main([*base[:2], str(tmp_path / "none"), *base[2:], "--realism-scorer", str(tmp_path / "absent.pt")]) != 0
    assert not (tmp_path / "none" / "manifest.jsonl").exists()
