import numpy as np
import pytest

from face3d.landmarks import LandmarkModelMissing, NoFaceError, get_detector


def test_mediapipe_on_photo(astronaut):
    det = get_detector("mediapipe")
    faces = det.detect(astronaut)
    assert len(faces) == 1
    f = faces[0]
    assert f.points68.shape == (68, 2) and f.dense.shape == (468, 2) and f.dense_scheme == "mediapipe468"
    x0, y0, x1, y1 = f.box
    assert 150 < x0 < x1 < 320 and 60 < y0 < y1 < 220  # the astronaut's face
    # iBUG semantics: subject's right eye corner (37) left of the left eye corner (46) in the image
    assert f.points68[36, 0] < f.points68[45, 0] and f.points68[8, 1] > f.points68[30, 1]


def test_multi_face_largest_first(astronaut):
    import cv2

    small = cv2.resize(astronaut, (307, 307))
    canvas = np.full((512, 900, 3), 128, np.uint8)
    canvas[:512, :512] = astronaut
    canvas[102:409, 520:827] = small
    det = get_detector("mediapipe")
    faces = det.detect(canvas, all_faces=True)
    assert len(faces) == 2 and faces[0].area > faces[1].area
    assert len(det.detect(canvas)) == 1


def test_no_face():
    with pytest.raises(NoFaceError):
        get_detector("mediapipe").detect(np.zeros((100, 100, 3), np.uint8))


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown landmark backend"):
        get_detector("nope")


def test_dlib_backend(astronaut):
    pytest.importorskip("dlib")
    mp = get_detector("mediapipe").detect(astronaut)[0].points68
    dl = get_detector("dlib").detect(astronaut)[0].points68
    iod = np.linalg.norm(dl[36] - dl[45])
    # the MediaPipe iBUG table agrees with dlib to within 12% of the eye distance on average
    assert np.linalg.norm(mp - dl, axis=1).mean() < 0.12 * iod


def test_face_alignment_missing_weights_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    import torch.hub

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    from face3d.landmarks.fan_backend import FanLandmarks

    with pytest.raises(LandmarkModelMissing) as ei:
        FanLandmarks()
    msg = str(ei.value)
    assert "2DFAN4-cd938726ad.zip" in msg and str(tmp_path / "hub" / "checkpoints") in msg


def test_flip_average_is_mirror_exact(astronaut):
    """Flip-averaged landmarks of the mirrored photo are the mirrored landmarks, so the fitted pose
    of a mirrored photo is the mirrored pose (yaw and roll negated) to float precision; the plain
    detector is not mirror-exact."""
    from face3d.fitting import FitOptions, Fitter
    from face3d.landmarks.flip import IBUG68_MIRROR

    assert np.array_equal(IBUG68_MIRROR[IBUG68_MIRROR], np.arange(68))
    flipped = np.ascontiguousarray(astronaut[:, ::-1])
    w = astronaut.shape[1]
    det = get_detector("mediapipe")
    a, b = det.detect(astronaut)[0], det.detect(flipped)[0]
    assert a.extra.get("flip_averaged") and b.extra.get("flip_averaged")
    b68 = b.points68[IBUG68_MIRROR].copy()
    b68[:, 0] = w - b68[:, 0]
    np.testing.assert_allclose(a.points68, b68, atol=1e-3)
    from face3d.landmarks.mediapipe_backend import mirror468

    # the depths are mirrored point to point and averaged like the points (a mirror keeps depth)
    np.testing.assert_allclose(a.extra["depth"], b.extra["depth"][mirror468()], atol=1e-3)
    assert len(a.extra["reading_depths"]) == 2
    fit = Fitter(options=FitOptions(photometric=False))
    pa, pb = fit.fit(astronaut).pose, fit.fit(flipped).pose
    np.testing.assert_allclose([pa[0], pa[1], pa[2]], [-pb[0], pb[1], -pb[2]], atol=0.02)
    plain = get_detector("mediapipe", flip_average=False)
    assert not plain.detect(astronaut)[0].extra.get("flip_averaged")
    q = plain.detect(flipped)[0].points68[IBUG68_MIRROR].copy()
    q[:, 0] = w - q[:, 0]
    assert np.abs(plain.detect(astronaut)[0].points68 - q).max() > 0.05  # the detector alone is not symmetric


def test_flip_average_falls_back_to_the_photo_alone():
    """A detector that finds nothing in the mirror image, or a different face there, leaves the
    photo's own landmarks; agreeing detections are averaged."""
    from face3d.landmarks import FaceLandmarks, FlipAveraged
    from face3d.landmarks.flip import IBUG68_MIRROR

    rng = np.random.default_rng(0)
    base = np.stack([rng.uniform(40, 60, 68), rng.uniform(30, 70, 68)], 1).astype(np.float32)

    class Fake:
        name = "fake"

        def __init__(self, shift):
            self.shift = shift

        def detect(self, image, all_faces=False):
            if image[0, 0, 0] == 1 and self.shift is None:  # the mirror image: no face
                raise NoFaceError("none")
            pts = base.copy()
            if image[0, 0, 0] == 1:  # the mirror image: the mirrored face, moved by `shift`
                pts = pts[IBUG68_MIRROR]
                pts[:, 0] = image.shape[1] - pts[:, 0] + self.shift
            return [
                FaceLandmarks(
                    pts,
                    (float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())),
                    image.shape[:2],
                    "fake",
                )
            ]

    img = np.zeros((100, 100, 3), np.uint8)
    img[0, -1, 0] = 1  # marks the mirror image
    got = FlipAveraged(Fake(2.0)).detect(img)[0].points68
    np.testing.assert_allclose(got, base - [1.0, 0.0], atol=1e-4)  # the mirrored detection is 2 px off: half of it
    np.testing.assert_allclose(FlipAveraged(Fake(None)).detect(img)[0].points68, base)
    np.testing.assert_allclose(FlipAveraged(Fake(30.0)).detect(img)[0].points68, base)  # disagree: the photo's own
    with pytest.raises(ValueError, match="involution"):
        FlipAveraged(Fake(0.0), dense_mirror=np.array([1, 2, 0]))


def test_box_of_ignores_points_a_view_lost():
    from face3d.landmarks import box_iou, box_of

    pts = np.array([[10.0, 20.0], [np.nan, np.nan], [30.0, 5.0], [15.0, 40.0]])
    assert box_of(pts) == (10.0, 5.0, 30.0, 40.0)
    assert box_iou(box_of(pts), (10.0, 5.0, 30.0, 40.0)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == 50 / 150
