"""ganrefine — the TP-GAN-style refiner: renders in, photorealistic identity-consistent faces out.

* :mod:`ganrefine.networks`: the two-pathway generator (global U-Net + eye/nose/mouth pathways,
  max fusion, residual output) and the multi-scale patch discriminator;
* :mod:`ganrefine.losses`: multi-scale L1, symmetry (pixel, Laplacian), identity, hinge, TV;
* :mod:`ganrefine.identity_net`: the frozen MobileFaceNet (training loss only) and ArcFace alignment;
* :mod:`ganrefine.pairs`: self-supervised Rotate-and-Render pairs from single LFW DevTrain photos;
* :mod:`ganrefine.train`: ``facerot train-refiner`` (checkpoints, resume, logs, samples, export);
* :mod:`ganrefine.refiner`: :class:`Refiner`, the trained generator at inference (shipped weights
  in ``ganrefine/data/refiner_default.pt``).
"""

from __future__ import annotations

from .refiner import DEFAULT_WEIGHTS, Refiner, RefinerError, load_refiner

__all__ = ["Refiner", "RefinerError", "load_refiner", "DEFAULT_WEIGHTS"]
