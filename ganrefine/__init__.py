"""ganrefine — the TP-GAN-style refiner (issue 5), in progress; nothing here is trained yet.

* :mod:`ganrefine.identity_net`: the frozen MobileFaceNet (shared weights, verified against their
  ONNX export) and the ArcFace 112x112 alignment for the identity-preserving loss;
* :mod:`ganrefine.networks`: the two-pathway generator (global U-Net + eye/nose/mouth pathways,
  max fusion, residual output) and the multi-scale patch discriminator;
* :mod:`ganrefine.losses`: multi-scale L1, symmetry (pixel and Laplacian), identity, hinge, TV.

Still to come: the self-supervised pair builder, ``facerot train-refiner`` and trained weights.
"""
