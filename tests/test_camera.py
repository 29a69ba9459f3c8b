import numpy as np
import pytest

from face3d.camera import PerspectiveCamera, euler_to_matrix, matrix_to_euler


def test_euler_roundtrip():
    rng = np.random.default_rng(1)
    ang = np.stack([rng.uniform(-85, 85, 200), rng.uniform(-60, 60, 200), rng.uniform(-90, 90, 200)], 1)
    back = matrix_to_euler(euler_to_matrix(ang[:, 0], ang[:, 1], ang[:, 2]))
    np.testing.assert_allclose(back, ang, atol=1e-8)
    r = euler_to_matrix(10, 20, 30)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.isclose(np.linalg.det(r), 1)


def _project(yaw, pitch, roll, pts):
    cam = PerspectiveCamera.for_image(200, 200)
    return cam.project(cam.to_camera(pts, euler_to_matrix(yaw, pitch, roll), np.array([0, 0, 1000.0])))


def test_pose_convention_in_the_image():
    nose, centre = np.array([[0, 0, 50.0]]), np.zeros((1, 3))
    top = np.array([[0, 60.0, 0]])
    c = _project(0, 0, 0, centre)[0]
    assert _project(30, 0, 0, nose)[0, 0] > c[0] + 5  # yaw > 0: nose toward the image's right edge
    assert _project(0, 20, 0, nose)[0, 1] < c[1] - 5  # pitch > 0: chin raised, nose up in the image
    t0, t1 = _project(0, 0, 0, top)[0], _project(0, 0, 20, top)[0]
    assert t0[1] < c[1]  # the top of the head is up in the image
    assert t1[0] > t0[0] + 5  # roll > 0: clockwise (the top moves right)


def test_crop_camera_sees_the_same_rays():
    from face3d.camera import PerspectiveCamera
    from face3d.region import face_region

    cam = PerspectiveCamera.for_image(3000, 2000)
    pts = np.array([[10.0, -20.0, 9000.0], [-150.0, 80.0, 9500.0], [0.0, 0.0, 8000.0]])
    full = cam.project(pts)
    reg = face_region(None, cam, (900.0, 1200.0, 1300.0, 1700.0), margin=0.1, max_face=100)
    assert reg.scale == pytest.approx(100 / 500, rel=0.01) and (reg.x0, reg.y0) == (850, 1150)
    assert reg.camera.width == round((reg.x1 - reg.x0) * reg.scale)
    np.testing.assert_allclose(reg.to_photo(reg.camera.project(pts)), full, atol=1e-6)
    small = face_region(None, cam, (900.0, 1200.0, 1300.0, 1700.0), max_face=1000)
    assert small.scale == 1.0 and small.camera.width == small.x1 - small.x0
    edge = face_region(None, cam, (-50.0, 2900.0, 100.0, 3100.0))  # a face cut by the frame
    assert (edge.x0, edge.y1) == (0, 3000)


def test_upsample_window_is_a_window_of_the_resize():
    import cv2

    from face3d.region import upsample_window

    small = np.random.default_rng(0).uniform(0, 255, (64, 50, 3)).astype(np.float32)
    full = cv2.resize(small, (333, 401), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(upsample_window(small, (401, 333), (17, 30, 300, 390)), full[30:390, 17:300], atol=1e-3)
