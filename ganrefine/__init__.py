"""ganrefine — the TP-GAN-style refiner (issue 5), in progress.

So far only :mod:`ganrefine.identity_net`: the frozen MobileFaceNet (loaded from the shared
weights, verified against their ONNX export) and the ArcFace 112x112 alignment that the
identity-preserving loss will use. No generator is trained or shipped yet.
"""
