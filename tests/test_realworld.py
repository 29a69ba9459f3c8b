"""Real-world photos of every size and kind through the command line, as users run it: views or a
documented error with its exit code, never an internal error (exit 1) or a traceback.

A fixed sample of ../shared/data/realworld (FACEROT_REALWORLD_ALL=1: all 54; the whole corpus with
timings is ``bench/realworld.py``) and generated cases (pipeline.evaluation.cases) from LFW DevTest
photos, or from the astronaut where LFW is absent.
"""

import json
import os
import shutil

import numpy as np
import pytest

from face3d.imageio import read_image
from face3d.landmarks import box_iou
from face3d.settings import lfw_dir, shared_dir
from pipeline import cli
from pipeline.cli import main
from pipeline.evaluation.cases import make_cases

REALWORLD = shared_dir() / "data" / "realworld" / "images"
#: one of each kind: a 1,638 x 2,048 portrait (face ~1,000 px), a group of 7, WEBP behind .jpeg, an
#: EXIF-rotated phone photo, grey, a masked close-up cut by the border (detectors miss it: exit 3)
SAMPLE = [
    "facenet-pytorch__paul_rudd_1.jpg",
    "dlib__2008_007676.jpg",
    "insightface__d1.jpeg",
    "insightface__image_T1.jpeg",
    "scikit-image__camera.png",
    "insightface__crop_mask.png",
]
DOCUMENTED = (0, cli.EXIT_NO_FACE, cli.EXIT_FIT_FAILED)


def _corpus_names():
    if not REALWORLD.is_dir():
        return []
    if os.environ.get("FACEROT_REALWORLD_ALL") == "1":
        return sorted(p.name for p in REALWORLD.iterdir())
    return [n for n in SAMPLE if (REALWORLD / n).is_file()]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, astronaut):
    """A folder holding the real-world sample and the generated cases."""
    folder = tmp_path_factory.mktemp("realworld") / "photos"
    folder.mkdir()
    for name in _corpus_names():
        shutil.copy(REALWORLD / name, folder / name)
    lfw = lfw_dir()
    if (lfw / "peopleDevTest.txt").is_file():
        names = [r.split("\t")[0] for r in (lfw / "peopleDevTest.txt").read_text().split("\n")[1:] if r.strip()]
        photos = [read_image(lfw / "images" / n / f"{n}_0001.jpg") for n in names[5::97][:4]]
    else:
        photos = [astronaut[:400, 56:456]] * 4
    make_cases(folder, photos, sides=(1000, 4000))
    return folder


def _run(capsys, argv):
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err[-500:]
    return rc, err


def test_fit_and_rotate_every_photo(inputs, tmp_path, capsys):
    for photo in sorted(inputs.iterdir()):
        rc, err = _run(capsys, ["fit", photo, "--json", tmp_path / "f.json"])
        assert rc in DOCUMENTED, (photo.name, rc, err[-300:])
        if rc == 0:
            fit = json.loads((tmp_path / "f.json").read_text())
            h, w = fit["image_size"]
            lm = np.array(fit["landmarks68"])
            assert np.isfinite(lm).all() and (lm[:, 0].mean() < w) and (lm[:, 1].mean() < h), photo.name
        rc2, err = _run(capsys, ["rotate", photo, "--yaw", "30", "-o", tmp_path / "v.jpg", "--meta", tmp_path / "v.json"])
        assert rc2 in DOCUMENTED, (photo.name, rc2, err[-300:])
        if rc2 == 0:
            src, view = read_image(photo, cli.DEFAULT_MAX_SIDE), read_image(tmp_path / "v.jpg")
            assert view.shape == src.shape, photo.name  # the photo's size, up to --max-side
            assert abs(json.loads((tmp_path / "v.json").read_text())[0]["yaw"] - 30) < 1e-3


def _detector_boxes(rgb):
    """Faces MediaPipe's full-range detector finds on the whole frame, and dlib's HOG (score >= 0.5)."""
    from mediapipe.python.solutions import face_detection

    h, w = rgb.shape[:2]
    boxes = []
    with face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5) as det:
        for d in det.process(rgb).detections or []:
            b = d.location_data.relative_bounding_box
            boxes.append((b.xmin * w, b.ymin * h, (b.xmin + b.width) * w, (b.ymin + b.height) * h))
    try:
        import dlib
    except ImportError:
        return boxes
    rects, scores, _ = dlib.get_frontal_face_detector().run(rgb, 1, 0.0)
    return boxes + [(r.left(), r.top(), r.right(), r.bottom()) for r, s in zip(rects, scores) if s >= 0.5]


def _covered(box, found):
    """Another detector's box is found when one of ours overlaps most of it (boxes of the two kinds
    differ in how much forehead and chin they take)."""

    def inter(a, b):
        return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))

    area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
    return any(inter(box, f) >= 0.5 * min(area(box), area(f)) or box_iou(box, f) >= 0.3 for f in found)


def test_augment_all_faces(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    rc, err = _run(
        capsys, ["augment", inputs, out, "--all-faces", "--yaws", "30", "--workers", "1", "--quiet", "--max-side", "1600"]
    )
    assert rc == 0, err[-500:]
    recs = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert not [r for r in recs if "unexpected" in r.get("error", "")]
    faces = {r["source"]: r for r in recs if r["status"] == "faces"}
    for photo in sorted(inputs.iterdir()):
        rgb = read_image(photo, 1600)
        found = faces[photo.name]["boxes"] if photo.name in faces else []
        missed = [b for b in _detector_boxes(rgb) if not _covered(b, found)]
        assert not missed, (photo.name, missed, found)
        views = [r for r in recs if r["source"] == photo.name and r["status"] == "ok"]
        assert len(views) + sum(1 for r in recs if r["source"] == photo.name and r["status"] == "failed" and "face" in r) == len(
            found
        ), photo.name
        for r in views:
            assert (out / r["output"]).is_file() and r["face"] < len(found)
