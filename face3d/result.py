"""The fit result: the typed record that leaves :mod:`face3d.fitting` for rendering and the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .camera import PerspectiveCamera


@dataclass
class FitResult:
    """A fitted face. Angles follow :mod:`face3d.camera`'s convention (degrees).

    Attributes:
        image_size: (height, width) of the input image.
        camera: the pinhole camera used.
        rotation, translation: model-to-camera pose (see :mod:`face3d.camera`).
        shape, expr: standardised model coefficients.
        vertices: (N, 3) fitted mesh in model space (mm), shape + expression (+ the model's view
            depth, ``view_offsets``) (+ shape-from-shading, ``sfs_offsets``).
        landmarks68: (68, 2) model landmarks projected into the input image (pixels).
        landmarks_input: (68, 2) detected landmarks the fit used.
        albedo: (N, 3) per-vertex albedo in [0, 1] after the photometric fit, or None.
        sh: (9, 3) spherical-harmonics lighting (RGB) or None.
        residual_px: RMS landmark residual in pixels; nme: the same normalised by the landmarks' box size.
        quality: "ok", "poor" or "failed"; reasons: why it is not "ok".
        pose_calibrated: the landmark fit was run again with the detector's pose bias taken off
            (:mod:`face3d.fitting.calibration`); ``residual_px``/``nme`` then refer to those points.
        pose_spread: (yaw, pitch, roll) degrees: half the difference between the poses fitted to
            the detector's reading of the photo and of its mirror image (the landmarks are their
            mean), a per-photo sign of how uncertain the pose is; None with one reading.
        mesh_pitch: the pitch (degrees) read from the dense detector's own 3D mesh that the pose's
            pitch was held to (:mod:`face3d.fitting.mesh_pitch`); None: pitch from the 2D points.
        pose_uncertainty: {"yaw": °, "pitch": °}, the expected absolute error of this pose on a real
            photo (:mod:`face3d.fitting.uncertainty`: from |yaw|, the spread and the residual,
            against an independent reader); None without a spread or the model.
    """

    image_size: tuple[int, int]
    camera: PerspectiveCamera
    rotation: np.ndarray
    translation: np.ndarray
    shape: np.ndarray
    expr: np.ndarray
    vertices: np.ndarray
    landmarks68: np.ndarray
    landmarks_input: np.ndarray
    residual_px: float
    nme: float
    quality: str = "ok"
    reasons: list[str] = field(default_factory=list)
    albedo: np.ndarray | None = None
    albedo_coeffs: np.ndarray | None = None
    sh: np.ndarray | None = None
    photometric_error: float | None = None
    sfs_offsets: np.ndarray | None = None
    view_offsets: np.ndarray | None = None
    pose_calibrated: bool = False
    mesh_pitch: float | None = None
    pose_spread: tuple[float, float, float] | None = None
    pose_uncertainty: dict[str, float] | None = None
    model_name: str = ""
    landmark_backend: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def pose(self) -> tuple[float, float, float]:
        """(yaw, pitch, roll) in degrees."""
        from .camera import matrix_to_euler

        y, p, r = matrix_to_euler(self.rotation)
        return float(y), float(p), float(r)

    @property
    def yaw(self) -> float:
        return self.pose[0]

    @property
    def pitch(self) -> float:
        return self.pose[1]

    @property
    def roll(self) -> float:
        return self.pose[2]

    def vertices_camera(self) -> np.ndarray:
        """(N, 3) vertices in OpenCV camera coordinates."""
        return self.camera.to_camera(self.vertices, self.rotation, self.translation)

    def project(self) -> np.ndarray:
        """(N, 2) vertices projected into the input image (pixels)."""
        return self.camera.project(self.vertices_camera())

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable summary (what ``facerot fit --json`` writes)."""
        y, p, r = self.pose
        out: dict[str, Any] = {
            "yaw": round(y, 3),
            "pitch": round(p, 3),
            "roll": round(r, 3),
            "landmarks68": np.round(self.landmarks68.astype(np.float64), 2).tolist(),
            "landmarks_input": np.round(self.landmarks_input.astype(np.float64), 2).tolist(),
            "image_size": list(self.image_size),
            "focal": self.camera.focal,
            "rotation": np.round(np.asarray(self.rotation, np.float64), 6).tolist(),
            "translation": np.round(np.asarray(self.translation, np.float64), 3).tolist(),
            "shape": np.round(np.asarray(self.shape, np.float64), 5).tolist(),
            "expression": np.round(np.asarray(self.expr, np.float64), 5).tolist(),
            "residual_px": round(self.residual_px, 3),
            "nme": round(self.nme, 5),
            "quality": self.quality,
            "reasons": self.reasons,
            "model": self.model_name,
            "landmark_backend": self.landmark_backend,
            "pose_spread": None if self.pose_spread is None else [round(a, 3) for a in self.pose_spread],
            "pose_uncertainty": self.pose_uncertainty,
            "pose_calibrated": self.pose_calibrated,
            "mesh_pitch": None if self.mesh_pitch is None else round(self.mesh_pitch, 3),
            "timings_ms": {k: round(v * 1e3, 2) for k, v in self.timings.items()},
        }
        if self.sh is not None:
            out["sh"] = np.round(np.asarray(self.sh, np.float64), 5).tolist()
        if self.albedo_coeffs is not None:
            out["albedo_coeffs"] = np.round(np.asarray(self.albedo_coeffs, np.float64), 5).tolist()
        if self.photometric_error is not None:
            out["photometric_error"] = round(self.photometric_error, 5)
        return out
