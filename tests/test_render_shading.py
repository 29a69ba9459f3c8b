import numpy as np
import torch

from face3d.camera import PerspectiveCamera, euler_to_matrix
from face3d.fitting import fit_photometric, refine_depth
from face3d.fitting.sfs import normals_from_depth
from face3d.render import interpolate, rasterize
from face3d.shading import directional, sh_basis, vertex_normals


def test_rasterize_square_and_depth_order():
    # two overlapping quads facing the camera; the nearer one must win
    v = torch.tensor(
        [[2, 2, 10], [2, 12, 10], [12, 12, 10], [12, 2, 10], [6, 6, 5], [6, 16, 5], [16, 16, 5], [16, 6, 5]], dtype=torch.float32
    )
    tri = torch.tensor([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    fr = rasterize(v, tri, 20, 20, cull_backfaces=False)
    assert fr.mask.sum() == 11 * 11 + 11 * 11 - 7 * 7
    assert abs(fr.depth[8, 8] - 5) < 1e-4 and abs(fr.depth[3, 3] - 10) < 1e-4 and fr.face[0, 0] == -1
    assert torch.allclose(fr.bary[fr.mask].sum(-1), torch.ones(int(fr.mask.sum())))
    # the winding seen on screen decides culling
    assert rasterize(v, tri, 20, 20, cull_backfaces=True).mask.sum() in (0, fr.mask.sum())


def test_barycentrics_are_differentiable():
    v = torch.tensor([[1.0, 1.0, 3.0], [1.0, 15.0, 3.0], [15.0, 1.0, 3.0]], requires_grad=True)
    tri = torch.tensor([[0, 1, 2]])
    fr = rasterize(v, tri, 16, 16, cull_backfaces=False)
    col = interpolate(fr, tri, torch.eye(3))
    col[..., 0].sum().backward()
    assert v.grad is not None and v.grad.abs().sum() > 0


def test_photometric_recovers_lighting(default_model):
    m = default_model
    cam = PerspectiveCamera.for_image(256, 256)
    rot, t = euler_to_matrix(15, 5, 0), np.array([0.0, 0.0, cam.focal * 170 / 190])
    v = torch.as_tensor(m.mean)
    pc = torch.as_tensor(cam.to_camera(m.mean, rot, t), dtype=torch.float32)
    tri = torch.as_tensor(m.triangles, dtype=torch.long)
    screen = cam.to_screen(pc)
    light = directional((0.5, 0.3, 1.0), 0.5, 0.6)
    n = vertex_normals((v @ torch.as_tensor(rot, dtype=torch.float32).T)[None], tri)[0]
    colour = torch.as_tensor(m.albedo()) * (sh_basis(n) @ torch.as_tensor(light))
    fr = rasterize(screen, tri, 256, 256)
    img = (interpolate(fr, tri, colour).clamp(0, 1).numpy() * 255).round().astype(np.uint8)
    res = fit_photometric(img, m, m.mean, rot, t, cam)
    shade_true = (sh_basis(n) @ torch.as_tensor(light)).numpy()
    shade_fit = (sh_basis(n) @ torch.as_tensor(res.sh)).numpy()
    vis = res.visible
    rel = np.abs(shade_fit[vis] - shade_true[vis]).mean() / shade_true[vis].mean()
    assert rel < 0.03, rel
    assert res.error < 0.01


def test_sfs_recovers_fine_detail():
    h = w = 96
    f, c = 400.0, 48.0
    cam = PerspectiveCamera(f, c, c, w, h)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    x, y = (xx + 0.5 - c) / f * 500, (yy + 0.5 - c) / f * 500
    r2 = x**2 + y**2
    mask = r2 < 60**2
    base = 500 - np.sqrt(np.clip(80**2 - r2, 0, None)) + 80
    detail = 0.6 * np.sin(2 * np.pi * x / 9) * np.sin(2 * np.pi * y / 11)
    true = torch.tensor(np.where(mask, base + detail, 500.0), dtype=torch.float32)
    light = directional((0.4, 0.3, 1.0), 0.7, 0.5)
    nt = normals_from_depth(true, cam)
    alb = np.full((h, w, 3), 0.7, np.float32)
    img = alb * (sh_basis(nt).numpy() @ light)
    init = np.where(mask, base, np.inf)
    res = refine_depth(img, init, alb, light, cam, iterations=150)
    m = res.mask
    ni = normals_from_depth(torch.tensor(np.where(mask, base, 500.0), dtype=torch.float32), cam).numpy()

    def ang(n):
        return np.degrees(np.arccos(np.clip((n * nt.numpy()).sum(-1), -1, 1)))[m].mean()

    assert ang(res.normals) < 0.7 * ang(ni)
    assert res.energy[1] < res.energy[0]
