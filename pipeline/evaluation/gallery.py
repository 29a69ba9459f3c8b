"""The gallery photos' synthesised views (facerot) and classic 2D augmentations, each described
by dlib; the views' re-fitted pose and, labelled as the training network, MobileFaceNet cosine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .features import PhotoFeatures, StageTimer, classic_descriptors, describe_view


@dataclass
class ViewRecord:
    target_yaw: float
    yaw: float  # achieved (rendered) yaw
    descriptor: np.ndarray
    distance: float  # dlib distance to the source photo
    refit_yaw: float = float("nan")  # the view re-fitted by the landmark fitter (nan: no face found)
    other_yaw: float = float("nan")  # read by an estimator that is not ours (WHENet; nan: none or no face)
    mfn_cosine: float = float("nan")  # MobileFaceNet (the refiner's training network) source-view cosine


@dataclass
class GalleryEntry:
    features: PhotoFeatures
    views: list[ViewRecord] = field(default_factory=list)
    classic: list[np.ndarray] = field(default_factory=list)
    error: str | None = None


class MobileFaceNetCosine:
    """Cosine similarity in MobileFaceNet space — the network the refiner trained with, so shown
    apart and never used to judge identity."""

    def __init__(self) -> None:
        from ganrefine.identity_net import load_mobilefacenet

        self.net = load_mobilefacenet()

    def embed(self, rgb: np.ndarray, landmarks68: np.ndarray) -> np.ndarray:
        import cv2
        import torch

        from ganrefine.identity_net import align_matrix, normalise

        crop = cv2.warpAffine(rgb, align_matrix(landmarks68), (112, 112), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        x = torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255
        with torch.no_grad():
            e = self.net(normalise(x))[0].numpy()
        return e / np.linalg.norm(e)


def _encode_png(rgb: np.ndarray) -> bytes:
    import cv2

    _, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return buf.tobytes()


def build_gallery(
    entries: Sequence[PhotoFeatures],
    rot: Any,
    ident: Any,
    yaws: Sequence[float],
    timer: StageTimer,
    refit: bool = True,
    mfn: MobileFaceNetCosine | None = None,
    progress: Any = None,
    pose_reader: Any = None,
) -> list[GalleryEntry]:
    """Views at ``yaws`` (absolute; the source's pitch and roll kept) and classic augmentations of
    every usable gallery photo. ``pose_reader`` (e.g. a
    :class:`~pipeline.evaluation.headpose.WHENetEstimator`) also reads each view's pose."""
    from face3d.landmarks import NoFaceError

    from ..rotator import refit_pose

    out = []
    for f in entries:
        g = GalleryEntry(f)
        out.append(g)
        if progress is not None:
            progress.update(1)
        if f.error is not None or f.prepared is None:
            g.error = f.error or "not prepared"
            continue
        prep = f.prepared
        try:
            with timer.stage("render", len(yaws)):
                raw = rot.rotate(prep, list(yaws), None, None, refine=False)
            with timer.stage("refine", len(yaws)):
                views = rot.refine(raw)
            with timer.stage("encode (PNG)", len(views)):
                for v in views:
                    _encode_png(v.image)
            src_mfn = mfn.embed(prep.image, prep.fit.landmarks68) if mfn is not None else None
            for t, v in zip(yaws, views):
                with timer.stage("descriptor (dlib)"):
                    d = describe_view(ident, v.image, v.landmarks68)
                rec = ViewRecord(float(t), float(v.pose[0]), d, ident.distance(f.descriptor, d))
                if refit:
                    with timer.stage("re-fit views"):
                        read = refit_pose(v, rot.model)
                        if read is not None:
                            rec.refit_yaw = float(read[0])
                if pose_reader is not None:
                    with timer.stage("read views (WHENet)"):
                        try:
                            rec.other_yaw = float(pose_reader.estimate(v.image, mirror=True).yaw)
                        except NoFaceError:
                            pass
                if mfn is not None:
                    rec.mfn_cosine = float(src_mfn @ mfn.embed(v.image, v.landmarks68))
                g.views.append(rec)
            with timer.stage("classic 2D augmentation + descriptors", 5):
                g.classic = classic_descriptors(ident, prep.image, prep.fit.landmarks68)
        except Exception as exc:  # noqa: BLE001 - reported, the evaluation goes on
            g.error = f"{type(exc).__name__}: {exc}"
        f.prepared = None  # the texture is no longer needed
    return out
