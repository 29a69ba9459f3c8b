"""MobileFaceNet (128-D face embeddings) for the refiner's identity-preserving loss.

The network is the MobileNetV2-style MobileFaceNet whose trained weights sit in
``../shared/models/mobilefacenet`` (research use; see data/README.md). It is used *only* as a
frozen training loss; identity is judged with dlib's descriptor, a different network.

Input: RGB in [0, 1], aligned to 112x112 with the ArcFace 5-point template (eyes near y = 52);
:func:`align_112` does that differentiably from iBUG-68 landmarks.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: ArcFace's 5-point template for 112x112 crops: eye centres, nose tip, mouth corners.
ARCFACE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]], np.float32
)


def default_weights() -> Path:
    """The MobileFaceNet weights: ``$FACEROT_MOBILEFACENET``, else ../shared/models/mobilefacenet/..."""
    from face3d.settings import MOBILEFACENET_ENV, shared_dir

    env = os.environ.get(MOBILEFACENET_ENV)
    if env:
        return Path(env)

    return shared_dir() / "models" / "mobilefacenet" / "mobilefacenet_foamliu_state_dict.pt"


class _ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout), nn.ReLU6(inplace=True)
        )


class _DepthwiseSeparable(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn1, self.bn2 = nn.BatchNorm2d(cin), nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.depthwise(x)))
        return F.relu(self.bn2(self.pointwise(x)))


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.residual = stride == 1 and cin == cout
        self.conv = nn.Sequential(
            _ConvBNReLU(cin, hidden, 1),
            _ConvBNReLU(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


class _GDConv(nn.Module):
    def __init__(self, channels: int, k: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, k, groups=channels, bias=False)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.depthwise(x))


class MobileFaceNet(nn.Module):
    """MobileFaceNet: (B, 3, 112, 112) normalised RGB → (B, 128) embedding (not normalised).

    ``features(x, taps)`` also returns intermediate feature maps for a perceptual identity loss.
    """

    SETTINGS = ((2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1))

    def __init__(self, embedding: int = 128) -> None:
        super().__init__()
        self.conv1 = _ConvBNReLU(3, 64, 3, 2)
        self.dw_conv = _DepthwiseSeparable(64, 64)
        blocks, cin = [], 64
        for t, c, n, s in self.SETTINGS:
            for i in range(n):
                blocks.append(_InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        self.features = nn.Sequential(*blocks)
        self.conv2 = _ConvBNReLU(cin, 512, 1)
        self.gdconv = _GDConv(512, 7)
        self.conv3 = nn.Conv2d(512, embedding, 1)
        self.bn = nn.BatchNorm2d(embedding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed_with_features(x)[0]

    def embed_with_features(self, x: torch.Tensor, taps: tuple[int, ...] = ()) -> tuple[torch.Tensor, list[torch.Tensor]]:
        feats = []
        x = self.dw_conv(self.conv1(x))
        for i, block in enumerate(self.features):
            x = block(x)
            if i in taps:
                feats.append(x)
        x = self.bn(self.conv3(self.gdconv(self.conv2(x))))
        return x.flatten(1), feats


def normalise(rgb01: torch.Tensor) -> torch.Tensor:
    """The network's input scaling: (x * 255 - 127.5) / 128 on RGB in [0, 1], (B, 3, H, W)."""
    return (rgb01 * 255.0 - 127.5) / 128.0


def load_mobilefacenet(path: str | os.PathLike[str] | None = None, device: str = "cpu") -> MobileFaceNet:
    """The frozen network with the shared weights (raises FileNotFoundError naming the path)."""
    p = Path(path) if path else default_weights()
    if not p.is_file():
        raise FileNotFoundError(f"MobileFaceNet weights not found at {p} (set FACEROT_MOBILEFACENET or provide ../shared)")
    net = MobileFaceNet()
    state = torch.load(p, map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    net.eval().requires_grad_(False)
    return net.to(device)


def five_points(landmarks68: np.ndarray) -> np.ndarray:
    """ArcFace's 5 points (eye centres, nose tip, mouth corners) from iBUG-68 landmarks."""
    lm = np.asarray(landmarks68, np.float32)
    return np.stack([lm[36:42].mean(0), lm[42:48].mean(0), lm[30], lm[48], lm[54]])


def align_matrix(landmarks68: np.ndarray) -> np.ndarray:
    """2x3 similarity transform taking the face to the 112x112 ArcFace template."""
    import cv2

    m, _ = cv2.estimateAffinePartial2D(five_points(landmarks68), ARCFACE_112, method=cv2.LMEDS)
    if m is None:
        raise ValueError("could not align the face to the ArcFace template")
    return m.astype(np.float32)


def align_112(images: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Differentiable warp of (B, 3, H, W) images by (B, 2, 3) pixel-space matrices to 112x112."""
    import kornia.geometry.transform as kt

    return kt.warp_affine(images, matrices, (112, 112), mode="bilinear", padding_mode="border", align_corners=False)
