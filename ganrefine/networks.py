"""The refiner's networks: a TP-GAN-style two-pathway generator, a multi-scale patch discriminator
and CAPG-GAN's couple-agent discriminator.

Generator input: the render (RGB in [0, 1]) and its provenance as one-hot channels (background,
seen, mirrored, inpainted) — 7 channels, 128x128 by default (256 by configuration) — and, with
``GeneratorConfig.heatmap_sigma > 0``, CAPG-GAN's pose guidance: Gaussian heatmaps of the target
view's iBUG-68 landmarks, max-fused per face part (jaw, brows, nose, eyes, mouth: 5 more channels,
so guidance costs little on a CPU). The global
pathway is a U-Net with residual blocks; four local pathways (left eye, right eye, nose, mouth)
work on patches cropped at the landmarks and are pasted back onto the canvas, fused by a maximum
as in TP-GAN, then joined with the global features before the last layers. The output is the
render plus a predicted residual, so an untrained generator starts near the identity.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

#: iBUG-68 indices of the four local regions and their patch size as a fraction of the image side.
REGIONS = {
    "left_eye": (list(range(42, 48)), (0.3125, 0.3125)),
    "right_eye": (list(range(36, 42)), (0.3125, 0.3125)),
    "nose": ([27, 28, 29, 30, 31, 32, 33, 34, 35], (0.3125, 0.3125)),
    "mouth": (list(range(48, 68)), (0.25, 0.375)),
}

#: iBUG-68 landmarks of each pose-guidance channel.
PARTS = {
    "jaw": range(0, 17),
    "brows": range(17, 27),
    "nose": range(27, 36),
    "eyes": range(36, 48),
    "mouth": range(48, 68),
}


@dataclass
class GeneratorConfig:
    size: int = 128
    width: int = 24
    local_width: int = 16
    res_blocks: int = 1
    in_channels: int = 7
    max_mult: int = 4  # channels cap at width * max_mult (keeps the weights within 25 MB and CPU-friendly)
    heatmap_sigma: float = 0.0  # > 0: landmark heatmaps of this width (pixels) as pose guidance (CAPG-GAN)

    @property
    def input_channels(self) -> int:
        return self.in_channels + (len(PARTS) if self.heatmap_sigma > 0 else 0)


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.InstanceNorm2d(cout, affine=True), nn.LeakyReLU(0.2, True))


class _Res(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_block(c, c), nn.Conv2d(c, c, 3, 1, 1), nn.InstanceNorm2d(c, affine=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x + self.body(x), 0.2)


class UNet(nn.Module):
    """Encoder–decoder with skip connections and residual blocks at every scale."""

    def __init__(self, cin: int, width: int, depth: int, res_blocks: int, max_mult: int = 4) -> None:
        super().__init__()
        chans = [width * min(2**i, max_mult) for i in range(depth + 1)]
        self.inp = _block(cin, chans[0])
        self.down = nn.ModuleList(
            nn.Sequential(_block(chans[i], chans[i + 1], 2), *[_Res(chans[i + 1]) for _ in range(res_blocks)])
            for i in range(depth)
        )
        self.up = nn.ModuleList(
            nn.Sequential(_block(chans[i + 1] + chans[i], chans[i]), *[_Res(chans[i]) for _ in range(res_blocks)])
            for i in reversed(range(depth))
        )
        self.out_channels = chans[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.inp(x)]
        for d in self.down:
            skips.append(d(skips[-1]))
        y = skips.pop()
        for u in self.up:
            s = skips.pop()
            y = u(torch.cat([F.interpolate(y, size=s.shape[-2:], mode="bilinear", align_corners=False), s], 1))
        return y


def region_boxes(landmarks: torch.Tensor, size: int) -> dict[str, torch.Tensor]:
    """(B, 4) boxes (x0, y0, x1, y1) in pixels of the four local regions, centred on their landmarks."""
    out = {}
    for name, (idx, (fw, fh)) in REGIONS.items():
        c = landmarks[:, idx].mean(1)
        w, h = fw * size, fh * size
        out[name] = torch.stack([c[:, 0] - w / 2, c[:, 1] - h / 2, c[:, 0] + w / 2, c[:, 1] + h / 2], 1)
    return out


def landmark_heatmaps(landmarks: torch.Tensor, size: int, sigma: float) -> torch.Tensor:
    """(B, 5, size, size) pose-guidance heatmaps in [0, 1]: a Gaussian of width ``sigma`` (pixels)
    at every landmark, max-fused within each of :data:`PARTS` (pixel centres at i + 0.5)."""
    ax = torch.arange(size, device=landmarks.device, dtype=landmarks.dtype) + 0.5
    gx = torch.exp(-((ax[None, None, :] - landmarks[..., 0:1]) ** 2) / (2 * sigma**2))  # (B, 68, W)
    gy = torch.exp(-((ax[None, None, :] - landmarks[..., 1:2]) ** 2) / (2 * sigma**2))  # (B, 68, H)
    heat = gy[..., :, None] * gx[..., None, :]  # separable: (B, 68, H, W)
    return torch.stack([heat[:, list(idx)].amax(1) for idx in PARTS.values()], 1)


def _crop(x: torch.Tensor, box: torch.Tensor, out_hw: tuple[int, int]) -> torch.Tensor:
    """Differentiable crop-and-resize of (B, C, H, W) at (B, 4) boxes in continuous pixel coordinates
    (pixel i spans [i, i + 1))."""
    b, _, h, w = x.shape
    ys = (torch.arange(out_hw[0], device=x.device, dtype=x.dtype) + 0.5) / out_hw[0]
    xs = (torch.arange(out_hw[1], device=x.device, dtype=x.dtype) + 0.5) / out_hw[1]
    gy = box[:, 1, None] + (box[:, 3] - box[:, 1])[:, None] * ys[None]  # (B, oh) sample centres
    gx = box[:, 0, None] + (box[:, 2] - box[:, 0])[:, None] * xs[None]  # (B, ow)
    grid = torch.stack(
        [(gx[:, None, :].expand(-1, out_hw[0], -1)) / w * 2 - 1, (gy[:, :, None].expand(-1, -1, out_hw[1])) / h * 2 - 1], -1
    )
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _paste(patch: torch.Tensor, box: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """Place (B, C, ph, pw) patches back on an (H, W) canvas at their boxes (zeros elsewhere)."""
    h, w = hw
    ys = torch.arange(h, device=patch.device, dtype=patch.dtype) + 0.5
    xs = torch.arange(w, device=patch.device, dtype=patch.dtype) + 0.5
    u = (xs[None] - box[:, 0, None]) / (box[:, 2] - box[:, 0])[:, None]  # (B, W) in [0, 1] inside the box
    v = (ys[None] - box[:, 1, None]) / (box[:, 3] - box[:, 1])[:, None]
    grid = torch.stack([u[:, None, :].expand(-1, h, -1) * 2 - 1, v[:, :, None].expand(-1, -1, w) * 2 - 1], -1)
    return F.grid_sample(patch, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class TwoPathwayGenerator(nn.Module):
    """TP-GAN-style generator: ``forward(render, provenance_onehot, landmarks68) -> refined``."""

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or GeneratorConfig()
        cin = c.input_channels
        self.global_path = UNet(cin, c.width, depth=4, res_blocks=c.res_blocks, max_mult=c.max_mult)
        self.local_paths = nn.ModuleDict(
            {k: UNet(cin, c.local_width, depth=3, res_blocks=1, max_mult=c.max_mult) for k in REGIONS}
        )
        self.patch_hw = {k: (int(round(fh * c.size)), int(round(fw * c.size))) for k, (_, (fw, fh)) in REGIONS.items()}
        fused = self.global_path.out_channels + c.local_width + cin
        self.head = nn.Sequential(_block(fused, c.width), _Res(c.width), nn.Conv2d(c.width, 3, 3, 1, 1))

    def forward(self, render: torch.Tensor, provenance: torch.Tensor, landmarks: torch.Tensor) -> torch.Tensor:
        parts = [render * 2 - 1, provenance]
        if self.config.heatmap_sigma > 0:
            parts.append(landmark_heatmaps(landmarks, render.shape[-1], self.config.heatmap_sigma))
        x = torch.cat(parts, 1)
        g = self.global_path(x)
        boxes = region_boxes(landmarks, self.config.size)
        local = None
        for name, path in self.local_paths.items():
            feat = path(_crop(x, boxes[name], self.patch_hw[name]))
            canvas = _paste(feat, boxes[name], x.shape[-2:])
            local = canvas if local is None else torch.maximum(local, canvas)  # TP-GAN's max fusion
        residual = self.head(torch.cat([g, local, x], 1))
        return (render + 0.5 * torch.tanh(residual)).clamp(0, 1)


class PatchDiscriminator(nn.Module):
    """Multi-scale PatchGAN: one patch critic per scale (full, 1/2), each a list of logit maps."""

    def __init__(self, in_channels: int = 3, width: int = 32, scales: int = 2, layers: int = 4) -> None:
        super().__init__()

        def critic() -> nn.Sequential:
            mods: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
            c = width
            for i in range(1, layers):
                n = min(c * 2, width * 8)
                mods += [nn.utils.spectral_norm(nn.Conv2d(c, n, 4, 2 if i < layers - 1 else 1, 1)), nn.LeakyReLU(0.2, True)]
                c = n
            mods.append(nn.Conv2d(c, 1, 3, 1, 1))
            return nn.Sequential(*mods)

        self.critics = nn.ModuleList(critic() for _ in range(scales))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for i, c in enumerate(self.critics):
            outs.append(c(x if i == 0 else F.avg_pool2d(x, 2**i)))
        return outs


class GlobalCritic(nn.Module):
    """One logit per image: four stride-2 conv blocks with batch norm on the image at ``size``
    pixels (average-pooled from the input), global mean pooling, a linear head — the shape of the
    classifier the realism test trains. Returned as a one-item list, as the patch critics' maps.
    Batch norm: judge real and fake images in one batch (``forward`` on their concatenation)."""

    def __init__(self, width: int = 32, size: int = 64) -> None:
        super().__init__()
        self.size = size
        chans = [3, width, 2 * width, 4 * width, 4 * width]
        layers: list[nn.Module] = []
        for a, b in zip(chans[:-1], chans[1:]):
            layers += [nn.Conv2d(a, b, 3, 2, 1), nn.BatchNorm2d(b), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(chans[-1], 1)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 4 × width) the pooled features the head judges."""
        if x.shape[-1] != self.size:
            x = F.adaptive_avg_pool2d(x, self.size)
        return self.features(x * 2 - 1).mean((2, 3))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self.head(self.embed(x))[:, 0]]


class CriticEnsemble(nn.Module):
    """Several :class:`GlobalCritic` s, each initialised apart, judging the same images; their
    logits returned as one list (``hinge_d``/``hinge_g`` average over it). A pattern that fools
    one critic need not fool the others."""

    def __init__(self, count: int, width: int = 32, size: int = 64) -> None:
        super().__init__()
        self.members = nn.ModuleList(GlobalCritic(width, size) for _ in range(count))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [m(x)[0] for m in self.members]


class CoupleAgentDiscriminator(nn.Module):
    """CAPG-GAN's couple-agent discriminator: an identity agent judges {source, image} (is this a
    real photo of the face in the source render?) and a pose agent judges {landmark heatmaps, image}
    (is it a real face with these landmarks?). Each is a :class:`PatchDiscriminator`; ``forward``
    returns both agents' logit maps in one list."""

    def __init__(self, width: int = 32, scales: int = 2, sigma: float = 2.0) -> None:
        super().__init__()
        self.sigma = sigma
        self.identity_agent = PatchDiscriminator(6, width, scales)
        self.pose_agent = PatchDiscriminator(3 + len(PARTS), width, scales)

    def forward(self, image: torch.Tensor, source: torch.Tensor, landmarks: torch.Tensor) -> list[torch.Tensor]:
        heat = landmark_heatmaps(landmarks, image.shape[-1], self.sigma)
        return self.identity_agent(torch.cat([source * 2 - 1, image * 2 - 1], 1)) + self.pose_agent(
            torch.cat([heat, image * 2 - 1], 1)
        )


def widen_inputs(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """``state`` fitted to ``model`` where the model's convolutions take more input channels (the
    pose-guidance heatmaps, appended last): old weights kept, the new channels' weights zero, so the
    widened network starts computing exactly what ``state`` did. Other mismatches are left for
    ``load_state_dict`` to report."""
    target = model.state_dict()
    out = dict(state)
    for k, v in state.items():
        t = target.get(k)
        if t is not None and v.ndim == 4 and t.ndim == 4 and v.shape[1] < t.shape[1] and v.shape[0] == t.shape[0]:
            w = torch.zeros_like(t)
            w[:, : v.shape[1]] = v
            out[k] = w
    return out
