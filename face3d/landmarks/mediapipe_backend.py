"""MediaPipe FaceMesh backend (default): 478 points (468 mesh + 10 iris) and the iBUG-68 subset.

FaceMesh's own detector is short-range (faces that fill a good part of the frame). For other
photos — small faces in a large frame, several faces — MediaPipe's full-range face detector
finds the faces first and FaceMesh runs on a square crop around each, mapped back to the photo.

The iBUG-68 subset is a fixed vertex table (``face3d/data/mediapipe_ibug68.json``) measured by
``tools/build_default_model.py``: for each iBUG point, the mesh vertex closest on average to
dlib's 68-point detections on LFW training photos.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .base import FaceLandmarks, NoFaceError, box_iou, box_of, check_image

MAPPING_PATH = Path(__file__).resolve().parent.parent / "data" / "mediapipe_ibug68.json"


@lru_cache(maxsize=1)
def ibug68_indices() -> np.ndarray:
    """(68,) MediaPipe vertex index of each iBUG-68 point."""
    if not MAPPING_PATH.is_file():
        raise FileNotFoundError(f"{MAPPING_PATH} is missing; rebuild it with: python tools/build_default_model.py")
    idx = np.asarray(json.loads(MAPPING_PATH.read_text())["ibug68"], np.int64)
    if idx.shape != (68,):
        raise ValueError(f"{MAPPING_PATH}: expected 68 indices")
    return idx


@lru_cache(maxsize=1)
def mirror468() -> np.ndarray:
    """(468,) the mirror point of each mesh point (measured on the embedded model's mean)."""
    data = json.loads(MAPPING_PATH.read_text()) if MAPPING_PATH.is_file() else {}
    if "mirror468" not in data:
        raise FileNotFoundError(
            f"{MAPPING_PATH} has no mirror468 table; add it with: python tools/build_default_model.py --patch"
        )
    return np.asarray(data["mirror468"], np.int64)


class Box(NamedTuple):
    """A face detection: its box in the photo's pixels, score, and which detector found it."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float
    source: str = "mediapipe"


def _merge(boxes: list[Box]) -> list[Box]:
    """Drop boxes that overlap a higher-scoring one (the same face seen in two tiles)."""
    out: list[Box] = []
    for b in sorted(boxes, key=lambda b: -b[4]):

        def iou(a: tuple[float, ...], c: tuple[float, ...]) -> float:
            ix = max(0.0, min(a[2], c[2]) - max(a[0], c[0]))
            iy = max(0.0, min(a[3], c[3]) - max(a[1], c[1]))
            inter = ix * iy
            return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (c[2] - c[0]) * (c[3] - c[1]) - inter + 1e-9)

        if all(iou(b, o) < 0.3 for o in out):
            out.append(b)
    return out


#: dlib HOG detections count from this detection score (its default threshold is 0; below ~0.5 it
#: also takes patches, logos and chests for faces).
DLIB_MIN_SCORE = 0.5


def _dlib_boxes(image: np.ndarray, max_side: int = 2048) -> list[Box]:
    """dlib's HOG face detections scoring at least :data:`DLIB_MIN_SCORE` (upsampled once, on a
    copy at most ``max_side`` px), or none when dlib is not installed. Scored 0.5 in the merge:
    MediaPipe's own detections win where both overlap."""
    if not _has_dlib():
        return []
    import cv2
    import dlib

    s = min(1.0, max_side / max(image.shape[:2]))
    small = image if s == 1.0 else cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    rects, scores, _ = _hog(dlib).run(np.ascontiguousarray(small), 1, 0.0)
    return [
        Box(r.left() / s, r.top() / s, r.right() / s, r.bottom() / s, 0.5, "dlib")
        for r, sc in zip(rects, scores)
        if sc >= DLIB_MIN_SCORE
    ]


@lru_cache(maxsize=1)
def _has_dlib() -> bool:
    import importlib.util

    return importlib.util.find_spec("dlib") is not None and importlib.util.find_spec("face_recognition_models") is not None


@lru_cache(maxsize=1)
def _hog(dlib: Any) -> Any:
    return dlib.get_frontal_face_detector()


class MediaPipeLandmarks:
    """FaceMesh in static-image mode. One instance per process/thread (MediaPipe graphs are not shared)."""

    name = "mediapipe"

    def __init__(self, max_faces: int = 8, min_confidence: float = 0.5, crop_size: int = 384) -> None:
        try:
            from mediapipe.python.solutions import face_detection, face_mesh
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise ImportError("the mediapipe backend needs mediapipe==0.10.14 (pip install mediapipe==0.10.14)") from exc
        self._mesh = face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=max_faces, refine_landmarks=True, min_detection_confidence=min_confidence
        )
        self._detector = face_detection.FaceDetection(model_selection=1, min_detection_confidence=min_confidence)
        self.max_faces, self.crop_size = max_faces, crop_size
        self._short: Any = None
        self._min_conf = min_confidence

    def close(self) -> None:
        self._mesh.close()
        self._detector.close()
        if self._short is not None:
            self._short.close()

    def _mesh_points(self, rgb: np.ndarray, central: bool = False) -> np.ndarray | None:
        """Points of the largest face FaceMesh finds in ``rgb`` (478 x 3) — with ``central``, of
        the face nearest the image's centre (a crop around one face of a crowd) — or None."""
        res = self._mesh.process(rgb)
        if not res.multi_face_landmarks:
            return None
        h, w = rgb.shape[:2]
        faces = [np.array([(p.x * w, p.y * h, p.z * w) for p in f.landmark], np.float32) for f in res.multi_face_landmarks]
        if central:
            return min(faces, key=lambda p: float(np.hypot(*(p[:468, :2].mean(0) - (w / 2, h / 2)))))
        return max(faces, key=lambda p: float(np.prod(np.ptp(p[:468, :2], 0))))

    def _detect_boxes(self, image: np.ndarray, x0: int = 0, y0: int = 0, detector: Any = None) -> list[Box]:
        h, w = image.shape[:2]
        res = (detector or self._detector).process(np.ascontiguousarray(image))
        boxes = []
        for d in res.detections or []:
            b = d.location_data.relative_bounding_box
            boxes.append(
                Box(
                    x0 + b.xmin * w, y0 + b.ymin * h, x0 + (b.xmin + b.width) * w, y0 + (b.ymin + b.height) * h, float(d.score[0])
                )
            )
        return boxes

    def _face_boxes(self, image: np.ndarray) -> list[Box]:
        """Faces of the whole frame; when there are none, of overlapping tiles (2x2, then 3x3), so
        faces small in a large photo — which the detector sees at 192 px — are found too."""
        h, w = image.shape[:2]
        boxes = self._detect_boxes(image)
        for n in (2, 3):
            if boxes:
                break
            boxes = _merge(self._tile_boxes(image, n))
        boxes.sort(key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
        return boxes[: self.max_faces]

    def _tile_boxes(self, image: np.ndarray, n: int) -> list[Box]:
        """Detections in n x n overlapping tiles (1.5x the tile pitch), in the photo's pixels."""
        h, w = image.shape[:2]
        if min(h, w) < 256 * n / 1.5:
            return []
        th, tw = int(h / n * 1.5), int(w / n * 1.5)
        boxes = []
        for i in range(n):
            for j in range(n):
                y0 = min(int(i * (h - th) / max(n - 1, 1)), h - th)
                x0 = min(int(j * (w - tw) / max(n - 1, 1)), w - tw)
                boxes += self._detect_boxes(image[y0 : y0 + th, x0 : x0 + tw], x0, y0)
        return boxes

    def _all_face_boxes(self, image: np.ndarray) -> tuple[list[Box], list[Box]]:
        """Every face a detector finds: the full-range detector on the whole frame and on 2x2 and
        3x3 tiles, the short-range detector on the whole frame, and dlib's HOG detector when dlib
        is installed (it finds small frontal faces in crowds that MediaPipe's misses); and dlib's
        detections alone."""
        boxes = self._detect_boxes(image) + self._tile_boxes(image, 2) + self._tile_boxes(image, 3)
        boxes += self._detect_boxes(image, detector=self._short_range())
        dlib_boxes = _dlib_boxes(image)
        boxes = _merge(boxes + dlib_boxes)
        boxes.sort(key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
        return boxes, dlib_boxes

    def _short_range(self):  # noqa: ANN202 - a MediaPipe graph, made when first needed
        if self._short is None:
            from mediapipe.python.solutions import face_detection

            self._short = face_detection.FaceDetection(model_selection=0, min_detection_confidence=self._min_conf)
        return self._short

    def _mesh_in_box(self, image: np.ndarray, box: tuple[float, ...]) -> tuple[np.ndarray | None, bool]:
        """FaceMesh on a square crop (2.2x the detector's box) resized to ``crop_size``: the points
        in the photo's pixels (or None), and whether the face is cut by the frame's border and was
        meshed with the frame mirrored at that border (FaceMesh finds no face cut in half)."""
        import cv2

        x0, y0, x1, y1 = box[:4]
        cx, cy, side = (x0 + x1) / 2, (y0 + y1) / 2 - 0.1 * (y1 - y0), 2.2 * max(x1 - x0, y1 - y0)
        s = self.crop_size / side
        m = np.array([[s, 0, self.crop_size / 2 - s * cx], [0, s, self.crop_size / 2 - s * cy]], np.float32)
        h, w = image.shape[:2]
        cut = x0 < 0 or y0 < 0 or x1 > w or y1 > h
        for border in (cv2.BORDER_CONSTANT, cv2.BORDER_REFLECT) if cut else (cv2.BORDER_CONSTANT,):
            crop = cv2.warpAffine(
                image, m, (self.crop_size, self.crop_size), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR, borderMode=border
            )
            pts = self._mesh_points(crop, central=True)
            if pts is not None:
                pts[:, 0] = (pts[:, 0] - m[0, 2]) / s
                pts[:, 1] = (pts[:, 1] - m[1, 2]) / s
                pts[:, 2] = pts[:, 2] / s
                return pts, border != cv2.BORDER_CONSTANT
        return None, False

    def _face(self, pts: np.ndarray, size: tuple[int, int], score: float = 1.0, mirrored_border: bool = False) -> FaceLandmarks:
        idx = ibug68_indices()
        extra = {"depth": pts[:468, 2].copy(), "iris": pts[468:, :2].copy()}
        if mirrored_border:
            extra["cut_by_border"] = True
        return FaceLandmarks(
            points68=pts[idx, :2].copy(),
            box=box_of(pts[:468, :2]),
            image_size=size,
            backend=self.name,
            dense=pts[:468, :2].copy(),
            dense_scheme="mediapipe468",
            score=score,
            extra=extra,
        )

    def detect(self, image: np.ndarray, all_faces: bool = False) -> list[FaceLandmarks]:
        image = check_image(image)
        size = image.shape[:2]
        if not all_faces:
            pts = self._mesh_points(image)
            if pts is not None:
                return [self._face(pts, size)]
        faces: list[FaceLandmarks] = []
        boxes, dlib_boxes = self._all_face_boxes(image) if all_faces else (self._face_boxes(image), [])
        for box in boxes:
            pts, mirrored = self._mesh_in_box(image, box)
            if pts is not None:
                face = self._face(pts, size, box[4], mirrored)
            elif any(box_iou(box, d) >= 0.3 for d in dlib_boxes):
                # a face FaceMesh cannot mesh (half hidden) that dlib's detector confirms: dlib's 68 points
                from .dlib_backend import landmarks_in_box

                pts68 = landmarks_in_box(image, box[:4])
                face = FaceLandmarks(
                    points68=pts68,
                    box=box_of(pts68),
                    image_size=size,
                    backend="dlib",
                    score=box.score,
                    extra={"detector": box.source},
                )
            else:
                continue
            if all(box_iou(face.box, f.box) < 0.5 for f in faces):  # two boxes of one face: meshed once
                faces.append(face)
            if not all_faces:
                break
        if not faces:
            raise NoFaceError("no face detected (mediapipe)")
        faces.sort(key=lambda f: -f.area)
        return faces
