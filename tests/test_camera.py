import numpy as np

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
