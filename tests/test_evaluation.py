"""facerot eval: data sets, statistics, the recognition-utility arithmetic, the AFLW2000-3D fitting
accuracy on generated .mat files, and the command end to end on a tiny folder set."""

import json

import cv2
import numpy as np
import pytest
import scipy.io

from pipeline.evaluation import bootstrap_ci, folder_set, rank1_hits
from pipeline.evaluation.data import EvalPhoto
from pipeline.evaluation.features import PhotoFeatures
from pipeline.evaluation.gallery import GalleryEntry, ViewRecord
from pipeline.evaluation.utility import recognition_utility


def test_rank1_and_bootstrap():
    g = np.array([[0.0, 0], [1, 0], [0, 1]])
    gid = np.array(["a", "b", "c"])
    p = np.array([[0.1, 0], [0.9, 0.1], [0.5, 0.9], [0, 0.8]])
    hits = rank1_hits(p, np.array(["a", "b", "b", "c"]), g, gid)
    assert hits.tolist() == [True, True, False, True]
    m, lo, hi = bootstrap_ci(hits.astype(float))
    assert m == 0.75 and 0 <= lo <= 0.75 <= hi <= 1 and lo < hi
    assert bootstrap_ci(np.ones(10)) == (1.0, 1.0, 1.0)
    assert np.isnan(bootstrap_ci(np.array([]))[0])


def test_folder_set_split_and_limit(tmp_path):
    for ident, k in (("ann", 3), ("bob", 1), ("cy", 12)):
        (tmp_path / ident).mkdir()
        for i in range(k):
            (tmp_path / ident / f"{i:02d}.jpg").write_bytes(b"x")
    (tmp_path / "ann" / "notes.txt").write_text("not an image")
    s = folder_set(tmp_path)
    assert list(s.people) == ["ann", "bob", "cy"] and s.n_photos == 16
    gallery, probes = s.gallery_probes(max_probes_per_person=10)
    assert [g.identity for g in gallery] == ["ann", "bob", "cy"] and gallery[0].path.name == "00.jpg"
    assert len(probes) == 2 + 10  # cy's 11 other photos capped at 10
    assert set(s.limit(1).people) == {"ann", "bob"}  # one multi-photo identity + one distractor
    with pytest.raises(FileNotFoundError):
        folder_set(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no identity folders"):
        folder_set(tmp_path / "empty")


def _feat(ident, desc, yaw):
    return PhotoFeatures(EvalPhoto(ident, None), np.asarray(desc, np.float32), yaw)


def test_recognition_utility_counts_and_pose_matching():
    """Two people whose frontal gallery photos look alike; a profile probe of A is nearest B's photo
    but nearest A's 45° view: plain misses it, pose-matching finds it."""
    a = GalleryEntry(
        _feat("A", [0, 0], 0),
        views=[ViewRecord(45, 45, np.array([5.0, 0], np.float32), 0.5)],
        classic=[np.array([0.0, 0.1], np.float32)],
    )
    b = GalleryEntry(
        _feat("B", [1, 0], 0),
        views=[ViewRecord(45, 45, np.array([1.0, 5], np.float32), 0.5)],
        classic=[np.array([1.0, 0.1], np.float32)],
    )
    bad = GalleryEntry(PhotoFeatures(EvalPhoto("C", None), error="no face found"), error="no face found")
    probes = [
        _feat("A", [0.1, 0], 2),
        _feat("B", [0.9, 0], 3),
        _feat("A", [4.0, 0], 44),
        PhotoFeatures(EvalPhoto("A", None), error="no face found"),
        _feat("C", [3, 3], 0),
    ]
    r = recognition_utility([a, b, bad], probes)
    assert r["probes"] == 3 and r["gallery"] == 2
    assert r["skipped"] == {"probe not usable (no face / fit failed)": 1, "identity's gallery photo not usable": 1}
    allp, big = r["bins"]["all probes"], r["bins"]["pose gap ≥ 30°"]
    assert big["probes"] == 1
    assert allp["plain"][0] == pytest.approx(2 / 3) and big["plain"][0] == 0.0
    assert big["facerot, pose-matched"][0] == 1.0 and big["facerot, pose-matched − plain"][0] == 1.0
    assert allp["facerot, pose-matched"][0] == 1.0


def _write_mat(folder, name, fit, image, pitch_offset=0.0):
    pitch, yaw, roll = np.radians([fit.pitch + pitch_offset, fit.yaw, fit.roll])
    pts = np.vstack([fit.landmarks68.T, np.zeros((1, 68))])
    scipy.io.savemat(folder / f"{name}.mat", {"Pose_Para": np.array([[pitch, yaw, roll, 0, 0, 0, 1e-3]]), "pt3d_68": pts})
    cv2.imwrite(str(folder / f"{name}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 98])


def test_aflw2000_accuracy_on_generated_files(tmp_path, astronaut, fitter):
    """Annotations written from the fitter's own result are matched to ~0; a wrong annotation shows up;
    an unreadable image is counted, not fatal."""
    from pipeline.evaluation.pose import aflw2000_accuracy

    img = np.ascontiguousarray(astronaut[:420, 40:460])
    fit = fitter.fit(img)
    _write_mat(tmp_path, "image00001", fit, img)
    r = aflw2000_accuracy(tmp_path, fitter)
    assert r["photos"] == 1 and r["no_face"] == 0
    assert r["yaw_mae"] < 0.5 and r["pitch_mae"] < 0.5 and r["nme68"] < 0.005
    _write_mat(tmp_path, "image00002", fit, img, pitch_offset=10)  # a second photo annotated 10° off in pitch
    scipy.io.savemat(tmp_path / "image00003.mat", {"Pose_Para": np.zeros((1, 7)), "pt3d_68": np.zeros((3, 68))})
    (tmp_path / "image00003.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    r = aflw2000_accuracy(tmp_path, fitter)
    assert r["photos"] == 3 and r["unreadable"] == 1
    assert r["pitch_mae"] == pytest.approx(5.0, abs=0.5) and r["yaw_mae"] < 0.5


def test_facerot_eval_end_to_end(tmp_path, astronaut):
    """Two 'people' made from the astronaut photo: the report, its JSON and its plots are written,
    every experiment reports numbers, and a missing data folder is a usage error."""
    from pipeline.cli import main

    data = tmp_path / "data"
    base = np.ascontiguousarray(astronaut[:420, 40:460])
    for ident, tweak in (("p1", lambda im: im), ("p2", lambda im: np.ascontiguousarray(im[:, ::-1]))):
        (data / ident).mkdir(parents=True)
        for i, shift in enumerate((0, 12)):
            im = tweak(np.roll(base, shift, axis=1))
            cv2.imwrite(str(data / ident / f"{i}.jpg"), cv2.cvtColor(im, cv2.COLOR_RGB2BGR))
    out = tmp_path / "report"
    assert main(["eval", str(data), "--report", str(out), "--yaws", "-30,30", "--refiner", "none", "--quiet"]) == 0
    r = json.loads((out / "results.json").read_text())
    assert r["identities"] == 2 and r["gallery"] == 2 and r["probes"] == 2
    assert [row["target_yaw"] for row in r["identity"]["per_yaw"]] == [-30, 30]
    assert all(0 < row["dlib_distance"] < 0.6 for row in r["identity"]["per_yaw"])
    from pipeline.evaluation.headpose import find_whenet_weights

    try:
        find_whenet_weights()
    except FileNotFoundError:
        assert r["pose_reader"] is None
    else:  # the independent reader read the views, turned the asked way
        assert r["pose_reader"] == "WHENet"
        assert all(row["other_missed"] == 0 and row["other_signed"] > -10 for row in r["pose"]), r["pose"]
    assert r["utility"]["probes"] == 2 and r["utility"]["bins"]["all probes"]["plain"][0] == 1.0
    stages = {s["stage"] for s in r["stages"]}
    assert {"landmarks", "fit", "texture", "render", "encode (PNG)", "read (decode)"} <= stages
    assert "refine" in stages  # timed even without a refiner (then it costs nothing)
    text = (out / "report.md").read_text()
    assert "Recognition utility" in text and "| -30° |" in text
    for f in ("utility.png", "identity_vs_yaw.png", "stages.png", "views.jpg"):
        assert (out / f).stat().st_size > 1000
    assert main(["eval", str(tmp_path / "nowhere"), "--report", str(out), "--quiet"]) == 2


def _lfw_tree(root, base):
    """A miniature LFW: three people, pairs.txt with one fold of 2 matched + 2 mismatched pairs."""
    shots = {"Ann_A": [0, 14], "Bo_B": [0, 9], "Cy_C": [0]}
    for name, shifts in shots.items():
        (root / "images" / name).mkdir(parents=True)
        for i, sh in enumerate(shifts, 1):
            im = np.roll(base, sh, axis=1)
            im = np.ascontiguousarray(im[:, ::-1]) if name == "Bo_B" else im
            cv2.imwrite(str(root / "images" / name / f"{name}_{i:04d}.jpg"), cv2.cvtColor(im, cv2.COLOR_RGB2BGR))
    (root / "pairs.txt").write_text("1\t2\nAnn_A\t1\t2\nBo_B\t1\t2\nAnn_A\t1\tCy_C\t1\nBo_B\t2\tCy_C\t1\n")
    (root / "peopleDevTrain.txt").write_text("1\nCy_C\t1\n")


def test_lfw_pairs_reader_and_verification(tmp_path, astronaut):
    from pipeline.evaluation.features import StageTimer
    from pipeline.evaluation.verification import read_pairs, verification
    from pipeline.identity import DlibIdentity
    from pipeline.rotator import FaceRotator

    pytest.importorskip("dlib")
    _lfw_tree(tmp_path, np.ascontiguousarray(astronaut[:420, 40:460]))
    pairs = read_pairs(tmp_path)
    assert [p.same for p in pairs] == [True, True, False, False]
    assert pairs[2].b.name == "Cy_C_0001.jpg" and pairs[3].a.name == "Bo_B_0002.jpg"
    r = verification(pairs, FaceRotator(refiner=None), DlibIdentity(), StageTimer(), lfw=tmp_path)
    assert r["used"] == 4 and r["skipped"] == 0
    assert r["subsets"]["pairs without DevTrain people"]["pairs"] == 2  # the two with Cy_C are left out
    # the 'mismatched' pairs are the same astronaut: photos and views both call them the same person
    assert r["subsets"]["all pairs"]["photos"][0] == 0.5
    (tmp_path / "pairs.txt").write_text("1\t1\nAnn_A\t1\n")
    with pytest.raises(ValueError, match="tab-separated"):
        read_pairs(tmp_path)


def test_view_pose_accuracy_reports_both_readers():
    from pipeline.evaluation.pose import view_pose_accuracy

    d = np.zeros(2, np.float32)
    views = [
        ViewRecord(30, 30, d, 0.3, refit_yaw=28.0, other_yaw=33.0),
        ViewRecord(30, 30, d, 0.3, refit_yaw=31.0),  # WHENet found no face
        ViewRecord(-30, -30, d, 0.3, refit_yaw=float("nan"), other_yaw=-27.0),
    ]
    rows = {r["target_yaw"]: r for r in view_pose_accuracy([GalleryEntry(_feat("A", [0, 0], 0), views=views)])}
    assert rows[30]["refit_missed"] == 0 and rows[30]["yaw_mae"] == pytest.approx(1.5)
    assert rows[30]["other_missed"] == 1 and rows[30]["other_yaw_mae"] == pytest.approx(3.0)
    assert rows[30]["other_signed"] == pytest.approx(3.0)
    assert rows[-30]["refit_missed"] == 1 and rows[-30]["yaw_mae"] is None
    assert rows[-30]["other_signed"] == pytest.approx(-3.0)  # read less turned than asked


def test_realism_two_sample_test_tells_apart_what_differs_and_not_what_does_not():
    from pipeline.evaluation.realism import CropSet, two_sample_test

    rng = np.random.default_rng(0)

    def sets(blur: bool, n: int) -> CropSet:
        s = CropSet()
        for i in range(n):
            img = rng.integers(0, 256, (64, 64, 3)).astype(np.uint8)
            if blur:  # the "views": smoothed noise, a fingerprint of resampling
                img = ((img.astype(np.float32) + np.roll(img, 1, 0) + np.roll(img, 1, 1)) / 3).astype(np.uint8)
            s.add(img, rng.uniform(-60, 60), f"p{i}")
        return s

    res = two_sample_test(sets(False, 200), sets(True, 200), sets(False, 120), sets(True, 120), epochs=15)
    assert res["overall"]["accuracy"] > 0.9 and len(res["bands"]) == 5
    same = two_sample_test(sets(False, 200), sets(False, 200), sets(False, 120), sets(False, 120), epochs=15)
    assert abs(same["overall"]["accuracy"] - 0.5) < 0.1


def test_artefact_census_of_own_pose_and_turned_views(astronaut):
    from pipeline import FaceRotator
    from pipeline.evaluation.artefacts import census, summarise

    rot = FaceRotator(refiner=None)
    prep = rot.prepare(astronaut)
    own = rot.rotate(prep, None)[0]
    rows = census(prep, [own] + rot.rotate(prep, yaws=[-60, 60]))
    assert abs(rows[0]["seam_ratio"] - 1) < 0.15 and rows[0]["stretched_share"] < 0.01  # the photo, redrawn
    assert max(r["stretched_share"] for r in rows[1:]) > 0.05  # a far cheek at ±60° is magnified
    s = summarise(rows)
    assert s["all"]["seam"].endswith("/3") and set(s) >= {"0", "60", "all"}
