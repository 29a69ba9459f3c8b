"""The fitter: landmarks → pose, shape and expression (with the pose calibration) → albedo and
lighting → (optional) shape from shading, with a quality verdict per fit."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..camera import PerspectiveCamera, matrix_to_euler
from ..imageio import as_rgb
from ..landmarks import FaceLandmarks, LandmarkDetector, box_of, get_detector
from ..model import MorphableModel, load_model
from ..parametric import FaceModelTensors
from ..region import face_region
from ..render import MeshRenderer, default_renderer
from ..result import FitResult
from .calibration import PoseCalibration, calibrated_points, load_calibration
from .landmark_fit import LandmarkFitOptions, LandmarkFitState, fit_landmarks
from .mesh_pitch import face_meshes, mesh_pitch
from .photometric import fit_photometric
from .sfs import refine_depth
from .uncertainty import load_error_model
from .view_surface import view_surface_offsets


class FitError(RuntimeError):
    """The fit failed its quality checks; ``result`` holds the rejected fit for inspection."""

    def __init__(self, message: str, result: FitResult | None = None) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class FitOptions:
    """Everything the fitter can be told (defaults: landmarks + photometric, no SfS)."""

    landmarks: LandmarkFitOptions = field(default_factory=LandmarkFitOptions)
    photometric: bool = True
    sfs: bool = False
    focal: float | None = None  # pixels; default from the image size (see face3d.camera)
    dense: bool = True  # use dense correspondences when model and detector share a scheme
    # move the fitted mesh onto the model's view surface (its depth_offset; see view_surface):
    # the photo's projection is unchanged, new viewpoints see real depth at the jaw and chin
    view_depth: bool = True
    # the dense detector's yaw-dependent bias *on facerot's own renders*, removed in a second
    # landmark fit (see calibration): None (off: photos), "default" (the shipped table, when it was
    # measured for this model and detector scheme: for reading back views), a path or a
    # PoseCalibration. Off for photos: on real LFW photos it did not bring the fit closer to an
    # independent reader (WHENet) past 35° of yaw and moved pitch away from it (docs/results.md)
    calibration: str | Path | PoseCalibration | None = None
    # hold the pose's pitch, in the landmark fit, to the pitch of the dense detector's own 3D mesh
    # (MediaPipe's depth): its 2D points alone compress pitch (see mesh_pitch)
    mesh_pitch: bool = True
    calibration_min_yaw: float = 20.0  # second pass only from this fitted |yaw| (below, it moves the pose < 0.1°)
    max_nme_ok: float = 0.04  # "poor" above this landmark residual (fraction of the face size), or shape > 6 sd
    max_nme_poor: float = 0.08  # "failed" above this residual, or shape > 9 sd, or an implausible pose


#: The photometric fit (lighting and albedo: low-frequency) runs on the face's region of the
#: photo, reduced so the face is at most this many pixels across.
PHOTOMETRIC_MAX_FACE = 320
#: Shape from shading runs on the face's region reduced so the face is at most this large.
SFS_MAX_FACE = 512


def _quality(res: FitResult, opt: FitOptions) -> tuple[str, list[str]]:
    reasons = []
    if not np.isfinite(res.nme) or res.nme > opt.max_nme_poor:
        reasons.append(f"landmark residual {res.nme:.3f} of face size exceeds {opt.max_nme_poor}")
    y, p, _ = res.pose
    if abs(y) > 100 or abs(p) > 80:
        reasons.append(f"implausible pose yaw={y:.0f} pitch={p:.0f}")
    shape_sd = float(np.abs(res.shape).max()) if res.shape.size else 0.0
    if shape_sd > 9:
        reasons.append(f"shape coefficient {shape_sd:.1f} sd from the mean")
    if float(res.translation[2]) <= 0:
        reasons.append("face behind the camera")
    if reasons:
        return "failed", reasons
    poor = []
    if res.nme > opt.max_nme_ok:
        poor.append(f"landmark residual {res.nme:.3f} of face size exceeds {opt.max_nme_ok}")
    if shape_sd > 6:  # the pose still holds; the shape is stretched to meet the landmarks
        poor.append(f"shape coefficient {shape_sd:.1f} sd from the mean")
    return ("poor", poor) if poor else ("ok", [])


class Fitter:
    """Fit a morphable model to photos.

    Example::

        fitter = Fitter()                      # embedded model, MediaPipe landmarks
        res = fitter.fit("face.jpg")
        print(res.pose, res.quality)
    """

    def __init__(
        self,
        model: MorphableModel | str | None = None,
        landmarks: str | LandmarkDetector = "mediapipe",
        options: FitOptions | None = None,
        renderer: MeshRenderer | None = None,
    ) -> None:
        self.model = model if isinstance(model, MorphableModel) else load_model(model)
        self.renderer = renderer or default_renderer()
        self.detector = get_detector(landmarks) if isinstance(landmarks, str) else landmarks
        self.options = options or FitOptions()
        lo = self.options.landmarks
        self.tensors = FaceModelTensors(self.model, lo.n_shape, lo.n_expr)
        self.calibration = self._load_calibration(self.options.calibration)

    def _load_calibration(self, spec: str | Path | PoseCalibration | None) -> PoseCalibration | None:
        if spec is None or not self.model.dense_scheme:
            return None
        if isinstance(spec, PoseCalibration):
            cal = spec
        elif isinstance(spec, str) and spec == "default":
            try:
                cal = load_calibration()
            except FileNotFoundError:
                return None
            # the shipped table belongs to the embedded model and MediaPipe; others fit uncalibrated
            return cal if cal.applies_to(self.model.name, self.model.dense_scheme) else None
        else:
            cal = load_calibration(spec)
        if not cal.applies_to(self.model.name, self.model.dense_scheme):
            raise ValueError(
                f"pose calibration was measured for model {cal.model_name!r} / points {cal.dense_scheme!r}, "
                f"not {self.model.name!r} / {self.model.dense_scheme!r}"
            )
        return cal

    # ------------------------------------------------------------------ public
    def detect(self, image: Any, all_faces: bool = False) -> list[FaceLandmarks]:
        return self.detector.detect(as_rgb(image), all_faces=all_faces)

    def fit(self, image: Any, face: FaceLandmarks | None = None, strict: bool = False) -> FitResult:
        """Fit the largest face in ``image`` (path, RGB array or PIL image). ``strict`` raises
        :class:`FitError` when the quality check fails."""
        return self.fit_batch([image], [face] if face is not None else None, strict=strict)[0]

    def fit_all(self, image: Any, strict: bool = False) -> list[FitResult]:
        """Fit every face in the image, largest first."""
        rgb = as_rgb(image)
        faces = self.detect(rgb, all_faces=True)
        return self.fit_batch([rgb] * len(faces), faces, strict=strict)

    def fit_batch(
        self, images: Sequence[Any], faces: Sequence[FaceLandmarks] | None = None, strict: bool = False
    ) -> list[FitResult]:
        """Fit many photos; the landmark fit runs as one batch. Raises :class:`NoFaceError` for the
        first photo without a face (pass ``faces`` to control detection yourself)."""
        rgbs = [as_rgb(im) for im in images]
        t0 = time.perf_counter()
        if faces is None:
            faces = [self.detector.detect(im)[0] for im in rgbs]
        t_det = (time.perf_counter() - t0) / max(len(rgbs), 1)
        results = self.fit_landmark_batch(faces)
        for rgb, res in zip(rgbs, results):
            res.timings["landmarks"] = t_det
            if self.options.photometric and res.quality != "failed":
                self._photometric(rgb, res)
            if self.options.sfs and res.quality != "failed" and res.albedo is not None:
                self._sfs(rgb, res)
            if strict and res.quality == "failed":
                raise FitError("fit failed: " + "; ".join(res.reasons), res)
        return results

    def fit_landmark_batch(self, faces: Sequence[FaceLandmarks]) -> list[FitResult]:
        """Landmark fit only (pose, shape, expression) for detected faces, batched."""
        if not faces:
            return []
        t0 = time.perf_counter()
        m = self.model
        dense = (
            self.options.dense
            and bool(m.dense_scheme)
            and all(f.dense_scheme == m.dense_scheme and f.dense is not None for f in faces)
        )
        if dense:
            pts = np.stack([f.dense for f in faces])
            ids, ibug_pos = m.dense_index, None
        else:
            pts = np.stack([f.points68 for f in faces])
            ids, ibug_pos = m.landmarks68, np.arange(68)
        b = len(faces)
        targets = self._mesh_pitches(faces) if dense and self.options.mesh_pitch else np.full(b, np.nan)
        cams = [PerspectiveCamera.for_image(*f.image_size, focal=self.options.focal) for f in faces]
        focal, centre = torch.tensor([c.focal for c in cams]), torch.tensor([[c.cx, c.cy] for c in cams])
        state = fit_landmarks(
            self.tensors,
            torch.as_tensor(pts, dtype=torch.float32),
            ids,
            torch.ones(b, pts.shape[1]),
            focal,
            centre,
            self.options.landmarks,
            ibug_positions=ibug_pos,
            pitch_target=torch.as_tensor(targets),
        )
        calibrated = np.zeros(b, bool)
        if dense and self.calibration is not None:
            state, calibrated = self._calibrated_pass(state, pts, ids, focal, centre, targets)
        spread = self._reading_spread(faces, dense, ids, ibug_pos, focal, centre)
        dt = (time.perf_counter() - t0) / b
        out = [self._result(state, i, f, cam, dense, bool(calibrated[i]), dt) for i, (f, cam) in enumerate(zip(faces, cams))]
        model = load_error_model()
        for res, sd, face, target in zip(out, spread, faces, targets):
            if np.isfinite(target):
                res.mesh_pitch = float(target)
                sd = self._mesh_spread(sd, face)
            res.pose_spread = sd
            if sd is not None and model is not None:
                res.pose_uncertainty = model.predict(abs(res.yaw), sd, res.nme)
        return out

    def _reading_spread(
        self,
        faces: Sequence[FaceLandmarks],
        dense: bool,
        ids: np.ndarray,
        ibug_pos: np.ndarray | None,
        focal: torch.Tensor,
        centre: torch.Tensor,
    ) -> list[tuple[float, float, float] | None]:
        """Per face: half the difference (yaw, pitch, roll, degrees) between the poses fitted to the
        detector's two readings — of the photo, and of its mirror image mirrored back — that the
        flip-averaged landmarks average; None where the detector gave one reading."""
        readings = [f.extra.get("readings") for f in faces]
        ok = [i for i, r in enumerate(readings) if r is not None and (r[0].shape[0] == len(ids))]
        out: list[tuple[float, float, float] | None] = [None] * len(faces)
        if not ok:
            return out
        pts = np.stack([readings[i][k] for i in ok for k in (0, 1)]).astype(np.float32)
        sel = torch.as_tensor(np.repeat(ok, 2))
        st = fit_landmarks(
            self.tensors,
            torch.as_tensor(pts),
            ids,
            torch.ones(len(pts), pts.shape[1]),
            focal[sel],
            centre[sel],
            self.options.landmarks,
            ibug_positions=ibug_pos,
        )
        if dense and self.calibration is not None:
            st, _ = self._calibrated_pass(st, pts, ids, focal[sel], centre[sel])
        poses = matrix_to_euler(st.rotation.double().numpy())
        for j, i in enumerate(ok):
            d = np.abs(poses[2 * j] - poses[2 * j + 1]) / 2
            out[i] = (float(d[0]), float(d[1]), float(d[2]))
        return out

    def _result(
        self,
        state: LandmarkFitState,
        i: int,
        face: FaceLandmarks,
        cam: PerspectiveCamera,
        dense: bool,
        calibrated: bool,
        seconds: float,
    ) -> FitResult:
        """The :class:`FitResult` of face ``i`` of a batch's landmark fit, with its quality verdict."""
        m = self.model
        shape, expr = state.shape[i].numpy(), state.expr[i].numpy()
        verts = m.vertices(shape, expr)
        rot, tr = state.rotation[i].double().numpy(), state.translation[i].double().numpy()
        proj = cam.project(cam.to_camera(verts, rot, tr))
        view_off = None
        if self.options.view_depth and m.depth_offset is not None:
            view_off = view_surface_offsets(verts, rot, tr, m.triangles, m.depth_offset)
        # the 68 landmarks; with 68-point fits, the pose-dependent contour vertices the fit chose
        lm_ids = m.landmarks68.copy() if dense else state.vertex_ids[i].numpy().copy()
        lm68 = np.where((lm_ids >= 0)[:, None], proj[np.maximum(lm_ids, 0)], np.nan).astype(np.float32)
        res = FitResult(
            image_size=face.image_size,
            camera=cam,
            rotation=rot,
            translation=tr,
            shape=shape,
            expr=expr,
            vertices=verts if view_off is None else (verts + view_off).astype(np.float32),
            view_offsets=view_off,
            landmarks68=lm68,
            landmarks_input=face.points68.astype(np.float32),
            residual_px=float(state.residual_px[i]),
            pose_calibrated=calibrated,
            nme=float(state.residual_px[i] / state.scale[i]),
            model_name=m.name,
            landmark_backend=face.backend,
            timings={"landmark_fit": seconds},
        )
        res.quality, res.reasons = _quality(res, self.options)
        if face.extra.get("cut_by_border"):
            res.reasons.append(
                "the face is cut by the frame's border: its landmarks there were found on the "
                "frame mirrored at the border, so its pose is less certain"
            )
            res.quality = "poor" if res.quality == "ok" else res.quality
        return res

    def _calibrated_pass(
        self,
        state: LandmarkFitState,
        pts: np.ndarray,
        ids: np.ndarray,
        focal: torch.Tensor,
        centre: torch.Tensor,
        pitch_target: np.ndarray | None = None,
    ) -> tuple[LandmarkFitState, np.ndarray]:
        """Second landmark fit of the faces turned past ``calibration_min_yaw``, on their points
        with the detector's bias at the first fit's pose taken off (:mod:`.calibration`), their
        pitch held as in the first. Returns the state and which faces were fitted again."""
        yaw = matrix_to_euler(state.rotation.double().numpy())[:, 0]
        which = np.abs(yaw) >= self.options.calibration_min_yaw
        sel = np.nonzero(which)[0]
        if not len(sel):
            return state, which
        pts = pts.copy()
        for i in sel:
            pts[i] = calibrated_points(self.calibration, pts[i], state.rotation[i].double().numpy())
        st2 = fit_landmarks(
            self.tensors,
            torch.as_tensor(pts[sel], dtype=torch.float32),
            ids,
            torch.ones(len(sel), pts.shape[1]),
            focal[sel],
            centre[sel],
            self.options.landmarks,
            pitch_target=None if pitch_target is None else torch.as_tensor(pitch_target[sel]),
        )
        for name in ("rotation", "translation", "shape", "expr", "vertex_ids", "residual_px", "scale"):
            merged = getattr(state, name).clone()
            merged[torch.as_tensor(sel)] = getattr(st2, name).to(merged.dtype)
            setattr(state, name, merged)
        return state, which

    def _mesh_pitches(self, faces: Sequence[FaceLandmarks]) -> np.ndarray:
        """Per face, the pitch of the detector's 3D mesh aligned to the model's mean shape
        (:mod:`.mesh_pitch`), which the landmark fit holds; NaN where the detector gave no depth."""
        m = self.model
        return np.array([mesh_pitch(x[0], m.mean, m.dense_index) if (x := face_meshes(f)) else np.nan for f in faces])

    def _mesh_spread(self, spread: tuple[float, float, float] | None, face: FaceLandmarks) -> tuple[float, float, float] | None:
        """The pose spread with its pitch taken from the detector's two 3D meshes (half the
        difference of their pitches), as the pitch is held to their mean's."""
        meshes = face_meshes(face)
        if spread is None or len(meshes) < 3:
            return spread
        p1, p2 = (mesh_pitch(x, self.model.mean, self.model.dense_index) for x in meshes[1:3])
        return (spread[0], abs(p1 - p2) / 2, spread[2])

    # ---------------------------------------------------------------- stages
    def _photometric(self, rgb: np.ndarray, res: FitResult) -> None:
        t0 = time.perf_counter()
        region = face_region(rgb, res.camera, box_of(res.project()), max_face=PHOTOMETRIC_MAX_FACE)
        try:
            ph = fit_photometric(
                region.image, self.model, res.vertices, res.rotation, res.translation, region.camera, renderer=self.renderer
            )
        except ValueError as exc:
            res.reasons.append(f"photometric fit skipped: {exc}")
            return
        res.albedo, res.albedo_coeffs, res.sh, res.photometric_error = ph.albedo, ph.albedo_coeffs, ph.sh, ph.error
        res.timings["photometric"] = time.perf_counter() - t0

    def _sfs(self, rgb: np.ndarray, res: FitResult) -> None:
        """Refine the surface by shape from shading and move visible vertices along their viewing rays."""
        from ..render import interpolate

        t0 = time.perf_counter()
        region = face_region(rgb, res.camera, box_of(res.project()), max_face=SFS_MAX_FACE)
        cam = region.camera
        h, w = cam.height, cam.width
        pc = torch.as_tensor(res.vertices_camera(), dtype=torch.float32)
        tri = torch.as_tensor(self.model.triangles, dtype=torch.long)
        screen = cam.to_screen(pc)
        frags = self.renderer.rasterize(screen, tri, h, w)
        alb = interpolate(frags, tri, torch.as_tensor(res.albedo, dtype=torch.float32)).numpy()
        try:
            sfs = refine_depth(
                region.image.astype(np.float32) / 255.0,
                frags.depth.numpy(),
                alb,
                res.sh,
                cam,
                mask=frags.mask.numpy(),
            )
        except ValueError as exc:
            res.reasons.append(f"shape from shading skipped: {exc}")
            return
        xi = screen[:, 0].round().long().clamp(0, w - 1).numpy()
        yi = screen[:, 1].round().long().clamp(0, h - 1).numpy()
        z_new, z_old = sfs.depth[yi, xi], sfs.depth_init[yi, xi]
        ok = sfs.mask[yi, xi] & np.isfinite(z_new) & (np.abs(z_old - pc[:, 2].numpy()) < 0.02 * pc[:, 2].numpy())
        ratio = np.where(ok, z_new / np.where(ok, z_old, 1.0), 1.0)
        p_new = pc.numpy() * ratio[:, None]
        from ..camera import FLIP

        offsets_model = (p_new - pc.numpy()) @ (FLIP @ res.rotation)  # inverse of the model-to-camera rotation
        res.sfs_offsets = offsets_model.astype(np.float32)
        res.vertices = (res.vertices + res.sfs_offsets).astype(np.float32)
        res.timings["sfs"] = time.perf_counter() - t0


def fit_image(
    image: Any,
    model: MorphableModel | str | None = None,
    landmarks: str = "mediapipe",
    options: FitOptions | None = None,
    strict: bool = True,
) -> FitResult:
    """Fit the largest face in ``image`` with a one-off :class:`Fitter` (raises :class:`NoFaceError`
    or, with ``strict``, :class:`FitError`)."""
    return Fitter(model, landmarks, options).fit(image, strict=strict)
