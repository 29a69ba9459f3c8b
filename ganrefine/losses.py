"""The refiner's losses, each weighted by :class:`LossWeights` (functional, typed, differentiable).

* multi-scale pixel L1 (full, 1/2, 1/4);
* symmetry in pixel and Laplacian space (kornia), only where it is valid (``valid`` per sample:
  frontal outputs);
* identity preservation on the frozen MobileFaceNet: embedding cosine and intermediate features;
* adversarial (hinge) for generator and discriminator;
* total variation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class LossWeights:
    pixel: float = 1.0
    symmetry: float = 0.3
    symmetry_laplacian: float = 0.3
    identity: float = 0.5
    identity_features: float = 0.1
    adversarial: float = 0.05
    tv: float = 1e-4


def multiscale_l1(out: torch.Tensor, target: torch.Tensor, scales: int = 3) -> torch.Tensor:
    loss = out.new_zeros(())
    for s in range(scales):
        if s:
            out, target = F.avg_pool2d(out, 2), F.avg_pool2d(target, 2)
        loss = loss + (out - target).abs().mean()
    return loss / scales


def symmetry(out: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(pixel, Laplacian) L1 between the image and its mirror, averaged over ``valid`` samples (B,)."""
    import kornia.filters as kf

    w = valid.to(out.dtype)
    if float(w.sum()) == 0:
        z = out.new_zeros(())
        return z, z
    flip = out.flip(-1)
    pix = ((out - flip).abs().mean((1, 2, 3)) * w).sum() / w.sum()
    lap = kf.laplacian(out, 3)
    lap_l = ((lap - lap.flip(-1)).abs().mean((1, 2, 3)) * w).sum() / w.sum()
    return pix, lap_l


def identity(
    net: torch.nn.Module, out112: torch.Tensor, target112: torch.Tensor, taps: tuple[int, ...] = (4, 10)
) -> tuple[torch.Tensor, torch.Tensor]:
    """(1 - cosine of embeddings, L1 of intermediate features) on aligned, normalised 112x112 crops."""
    e_o, f_o = net.embed_with_features(out112, taps)  # type: ignore[operator]
    with torch.no_grad():
        e_t, f_t = net.embed_with_features(target112, taps)  # type: ignore[operator]
    cos = F.cosine_similarity(e_o, e_t, dim=1).mean()
    feat = sum(((a - b).abs().mean() for a, b in zip(f_o, f_t)), out112.new_zeros(()))
    return 1 - cos, feat / max(len(taps), 1)


def hinge_d(real_logits: list[torch.Tensor], fake_logits: list[torch.Tensor]) -> torch.Tensor:
    return sum(
        (F.relu(1 - r).mean() + F.relu(1 + f).mean() for r, f in zip(real_logits, fake_logits)), real_logits[0].new_zeros(())
    ) / len(real_logits)


def hinge_g(fake_logits: list[torch.Tensor]) -> torch.Tensor:
    return sum((-f.mean() for f in fake_logits), fake_logits[0].new_zeros(())) / len(fake_logits)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()
