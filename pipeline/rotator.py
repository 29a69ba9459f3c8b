"""The façade: ``FaceRotator`` — configured once, then ``rotate(image, yaws=..., pitches=...)``.

The data flow is the whole system's, in order:

    image → landmarks → fit → texture → render → (refine) → views

(landmarks and fit: :class:`face3d.fitting.Fitter`; texture, background plate and extended mesh:
:func:`face3d.synth.prepare_source`; render: :func:`face3d.synth.rotate`; refine:
:class:`ganrefine.Refiner`.)
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from face3d.fitting import FitOptions, Fitter
from face3d.imageio import as_rgb
from face3d.landmarks import box_of
from face3d.model import MorphableModel
from face3d.render import MeshRenderer
from face3d.result import FitResult
from face3d.synth import PreparedSource, RotatedView, prepare_source, rotate
from face3d.texture import PROVENANCE_NAMES

View = RotatedView


def _targets(
    yaws: Sequence[float] | float | None, pitches: Sequence[float] | float | None, rolls: Sequence[float] | float | None
) -> list[tuple[float | None, float | None, float | None]]:
    cols = []
    for v in (yaws, pitches, rolls):
        if v is None:
            cols.append([None])
        elif np.isscalar(v):
            cols.append([float(v)])  # type: ignore[arg-type]
        else:
            cols.append([None if x is None else float(x) for x in v])  # type: ignore[union-attr]
    n = max(len(c) for c in cols)
    for name, c in zip(("yaws", "pitches", "rolls"), cols):
        if len(c) not in (1, n):
            raise ValueError(f"{name} has {len(c)} values; give 1 or {n} (one view per target)")
    return [tuple(c[i] if len(c) > 1 else c[0] for c in cols) for i in range(n)]  # type: ignore[misc]


class FaceRotator:
    """Synthesise a face photo at new poses and lighting.

    Example::

        rot = FaceRotator()                                  # embedded model + the shipped refiner
        views = rot.rotate("face.jpg", yaws=[-30, 30], pitches=[0, 0])
        views[0].image, views[0].pose, views[0].landmarks68

    Args:
        model: a :class:`~face3d.model.MorphableModel`, a model path, or ``None`` (the active model).
        landmarks: landmark backend name.
        refiner: the GAN refiner: ``"default"`` (the shipped, trained one), ``None``/``"none"``
            (raw renders), ``"auto"`` (the default one, or raw renders with a warning when it
            cannot load), a weights path, or a :class:`ganrefine.Refiner`.
        device: torch device the refiner runs on.
        remove_glasses: look for glasses on the face and keep their frames out of the texture, so
            the views show the face without them (:func:`face3d.occluders.detect_glasses`);
            ``False`` (default) textures whatever the face wears like skin.
        texture_size: UV texture resolution.
        renderer: rasteriser backend (``auto``, ``numba``, ``torch``, ``pytorch3d``).
    """

    def __init__(
        self,
        model: MorphableModel | str | None = None,
        landmarks: str = "mediapipe",
        refiner: Any = "default",
        texture_size: int = 256,
        renderer: str = "auto",
        fit_options: FitOptions | None = None,
        size: int | None = None,
        lighting: str | np.ndarray | None = "keep",
        identity: bool = False,
        device: str = "cpu",
        remove_glasses: bool = False,
    ) -> None:
        from ganrefine.refiner import load_refiner

        self.refiner = load_refiner(refiner, device)
        self.renderer = MeshRenderer(renderer)
        self.fitter = Fitter(model, landmarks, fit_options, renderer=self.renderer)
        self.model = self.fitter.model
        self.texture_size = texture_size
        self.remove_glasses = remove_glasses
        self.size = size  # None: full frames; an int: square face crops of that side (1.8x the face box)
        self.lighting = lighting
        self._identity = None
        if identity:
            from .identity import DlibIdentity

            self._identity = DlibIdentity()

    def fit(self, image: Any) -> FitResult:
        """Landmarks and 3DMM fit of the largest face (raises ``face3d.NoFaceError``)."""
        return self.fitter.fit(as_rgb(image))

    def prepare(self, image: Any, fit: FitResult | None = None) -> PreparedSource:
        """image → landmarks → fit → texture (+ background plate, extended mesh), once per photo."""
        rgb = as_rgb(image)
        fit = fit or self.fitter.fit(rgb)
        return prepare_source(rgb, fit, self.model, self.renderer, self.texture_size, remove_glasses=self.remove_glasses)

    def rotate(
        self,
        image: Any,
        yaws: Sequence[float] | float | None = None,
        pitches: Sequence[float] | float | None = None,
        rolls: Sequence[float] | float | None = None,
        *,
        lighting: str | np.ndarray | None = "keep",
        relative: bool = False,
        expression: np.ndarray | None = None,
        refine: bool = True,
    ) -> list[RotatedView]:
        """One view per target (lists are paired element-wise; a single value applies to all).
        Absolute angles by default (``None`` keeps the source's angle); ``relative=True`` adds them
        to the source pose. ``lighting``: ``"keep"``, a preset name, or (9, 3) SH coefficients
        (``None``: the rotator's configured lighting). ``refine=False`` skips the refiner (raw renders)."""
        prep = image if isinstance(image, PreparedSource) else self.prepare(image)
        light = self.lighting if lighting is None else lighting
        src_desc = None
        if self._identity is not None:
            src_desc = self._identity.descriptor(prep.image, box_of(prep.fit.landmarks68))
        views = [
            rotate(prep, y, p, r, relative=relative, lighting=light, expression=expression, renderer=self.renderer)
            for y, p, r in _targets(yaws, pitches, rolls)
        ]
        if refine:
            views = self.refine(views)
        out = []
        for v in views:
            if src_desc is not None:
                d = self._identity.distance(src_desc, self._identity.descriptor(v.image, box_of(v.landmarks68)))  # type: ignore[union-attr]
                v.extra["identity_distance"] = d
                v.extra["identity_score"] = 1.0 - d
            out.append(crop_view(v, self.size) if self.size else v)
        return out

    def refine(self, views: Sequence[RotatedView]) -> list[RotatedView]:
        """Full-frame views through the refiner, as one batch (unchanged when there is none)."""
        return self.refiner.refine_views(views) if self.refiner is not None else list(views)

    def rotate_many(
        self,
        images: Sequence[Any],
        yaws: Sequence[float] | float | None = None,
        pitches: Sequence[float] | float | None = None,
        rolls: Sequence[float] | float | None = None,
        **kwargs: Any,
    ) -> list[list[RotatedView] | Exception]:
        """The same targets for many photos; the landmark fit runs as one batch. A photo that fails
        (no face, unreadable) yields its exception in place of its views, and the rest go on."""
        from face3d.landmarks import NoFaceError

        rgbs: list[Any] = []
        for im in images:
            try:
                rgbs.append(as_rgb(im))
            except (ValueError, OSError) as exc:
                rgbs.append(exc)
        faces: list[Any] = []
        for im in rgbs:
            if isinstance(im, Exception):
                faces.append(im)
                continue
            try:
                faces.append(self.fitter.detect(im)[0])
            except NoFaceError as exc:
                faces.append(exc)
        ok = [i for i, f in enumerate(faces) if not isinstance(f, Exception)]
        fits = self.fitter.fit_batch([rgbs[i] for i in ok], [faces[i] for i in ok]) if ok else []
        out: list[list[RotatedView] | Exception] = list(faces)
        for i, fit in zip(ok, fits):
            out[i] = self.rotate(self.prepare(rgbs[i], fit), yaws, pitches, rolls, **kwargs)
        return out


_VIEW_FITTERS: dict[int, Fitter] = {}


def view_fitter(model: MorphableModel) -> Fitter:
    """The fitter that reads back the pose of facerot's own views: landmarks only, with the pose
    calibration, which corrects how MediaPipe reads *renders* (it saturates near 53° of yaw on
    them). Photos are fitted without it (:class:`~face3d.fitting.FitOptions`)."""
    key = id(model)
    if key not in _VIEW_FITTERS:
        _VIEW_FITTERS[key] = Fitter(model, options=FitOptions(photometric=False, calibration="default"))
    return _VIEW_FITTERS[key]


def refit_pose(view: RotatedView, model: MorphableModel) -> tuple[float, float, float] | None:
    """The (yaw, pitch, roll) of the view's own face read back by :func:`view_fitter`, or None
    when no face of its own is found in it."""
    from face3d.landmarks import NoFaceError

    fitter = view_fitter(model)
    try:
        return fitter.fit_landmark_batch([view_face(fitter, view)])[0].pose
    except NoFaceError:
        return None


def view_face(fitter: Fitter, view: RotatedView, min_iou: float = 0.3) -> Any:
    """The detected landmarks of the view's own face, to re-fit its pose. A view can show other
    people of the photo's scene, and the detector's first face is not always the view's (a
    background face was read for a turned one); then every face is detected and the one whose box
    overlaps the view's face box most is taken. Raises ``NoFaceError`` when none overlaps it by
    ``min_iou``."""
    from face3d.landmarks import NoFaceError, box_iou

    box = box_of(view.landmarks68)
    faces = fitter.detect(view.image)
    if box_iou(faces[0].box, box) >= min_iou:
        return faces[0]
    best = max(fitter.detect(view.image, all_faces=True), key=lambda f: box_iou(f.box, box))
    if box_iou(best.box, box) < min_iou:
        raise NoFaceError("the view's own face was not found (only other faces of its scene)")
    return best


def crop_view(view: RotatedView, size: int, margin: float = 1.8) -> RotatedView:
    """The view cropped to a square around its face box (``margin`` x its size) and resized to
    ``size`` (area-averaged where it shrinks the view more than 2x; black beyond the frame);
    landmarks, box, provenance and mask follow."""
    from dataclasses import replace

    import cv2

    from face3d.region import crop_matrix, warp_crop

    x0, y0, x1, y1 = view.box
    m = crop_matrix(view.box, size, margin)
    black = cv2.BORDER_CONSTANT  # beyond the frame: black, never a mirrored copy of a close-up face
    lm = (view.landmarks68 @ m[:, :2].T + m[:, 2]).astype(np.float32)
    bx = np.array([[x0, y0], [x1, y1]]) @ m[:, :2].T + m[:, 2]
    return replace(
        view,
        image=warp_crop(view.image, m, size, border=black),
        landmarks68=lm,
        box=(float(bx[0, 0]), float(bx[0, 1]), float(bx[1, 0]), float(bx[1, 1])),
        provenance=warp_crop(view.provenance, m, size, nearest=True, border=black),
        face_mask=warp_crop(view.face_mask, m, size, border=black),
        extra={**view.extra, "crop": m.tolist()},
    )


def crop_photo(image: np.ndarray, fit: FitResult, size: int, margin: float = 1.8) -> tuple[np.ndarray, np.ndarray]:
    """The photo cropped as :func:`crop_view` crops a view of it (a square around the fitted
    mesh's box, ``margin`` x its size, ``size`` px, black beyond the frame): the crop and the fit's
    68 landmarks in its pixels. Photos and their views cropped alike can be mixed in training."""
    import cv2

    from face3d.region import crop_matrix, warp_crop

    proj = fit.project()
    m = crop_matrix((*proj.min(0), *proj.max(0)), size, margin)
    lm = (fit.landmarks68 @ m[:, :2].T + m[:, 2]).astype(np.float32)
    return warp_crop(image, m, size, border=cv2.BORDER_CONSTANT), lm


def view_metadata(view: RotatedView) -> dict[str, Any]:
    """JSON-friendly description of a view (what ``facerot rotate --meta`` writes)."""
    prov = view.provenance
    face = prov > 0
    n = max(int(face.sum()), 1)
    return {
        "yaw": round(view.pose[0], 3),
        "pitch": round(view.pose[1], 3),
        "roll": round(view.pose[2], 3),
        "source_pose": [round(float(a), 3) for a in view.source_pose],
        "landmarks68": np.round(view.landmarks68.astype(np.float64), 2).tolist(),
        "box": [round(float(b), 2) for b in view.box],
        "lighting": np.round(view.lighting.astype(np.float64), 5).tolist(),
        "face_pixels": {PROVENANCE_NAMES[k]: round(float((prov == k).sum() / n), 4) for k in (1, 2, 3)},
    }
