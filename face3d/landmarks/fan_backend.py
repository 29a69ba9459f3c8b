"""face-alignment (FAN) backend (extra ``facerot[face-alignment]``).

face-alignment downloads its weights at run time; facerot never does. It reads them from the
torch hub cache (``$TORCH_HOME/hub/checkpoints``) and, when a file is absent, raises
:class:`LandmarkModelMissing` naming the file and the folder to put it in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import FaceLandmarks, LandmarkModelMissing, NoFaceError, check_image

#: Files face-alignment 1.x fetches for 2D landmarks with the SFD detector.
REQUIRED_FILES = ("2DFAN4-cd938726ad.zip", "s3fd-619a316812.pth")


def hub_checkpoint_dir() -> Path:
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def missing_weights() -> list[Path]:
    folder = hub_checkpoint_dir()
    return [folder / f for f in REQUIRED_FILES if not (folder / f).is_file()]


class FanLandmarks:
    name = "face-alignment"

    def __init__(self, device: str = "cpu") -> None:
        missing = missing_weights()
        if missing:
            raise LandmarkModelMissing(
                "face-alignment weights are not in the torch hub cache and facerot does not download them: "
                + "; ".join(f"missing {p.name} (put it at {p})" for p in missing)
                + ". Copy them from a machine where face-alignment has run once, or use --landmarks mediapipe."
            )
        try:
            import face_alignment
        except ImportError as exc:
            raise ImportError("the face-alignment backend needs: pip install 'facerot[face-alignment]'") from exc
        lt = getattr(face_alignment.LandmarksType, "TWO_D", None) or getattr(face_alignment.LandmarksType, "_2D")
        self._fa = face_alignment.FaceAlignment(lt, device=device, flip_input=False)

    def detect(self, image: np.ndarray, all_faces: bool = False) -> list[FaceLandmarks]:
        image = check_image(image)
        h, w = image.shape[:2]
        preds = self._fa.get_landmarks_from_image(image)
        if not preds:
            raise NoFaceError("no face detected (face-alignment)")
        faces = []
        for p in preds:
            p = np.asarray(p, np.float32)[:, :2]
            x0, y0 = p.min(0)
            x1, y1 = p.max(0)
            faces.append(
                FaceLandmarks(points68=p, box=(float(x0), float(y0), float(x1), float(y1)), image_size=(h, w), backend=self.name)
            )
        faces.sort(key=lambda f: -f.area)
        return faces if all_faces else faces[:1]
