"""Glasses: found on the face, their frames kept out of the texture (face3d.occluders)."""

import numpy as np
import pytest

from face3d.occluders import detect_glasses
from face3d.synth import prepare_source, rotate
from face3d.texture import INPAINTED, MIRRORED, SEEN, extract_texture


@pytest.fixture(scope="module")
def astro_fit(fitter, astronaut):
    return fitter.fit(astronaut)


def draw_glasses(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Dark frames drawn round both eyes and across the nose."""
    import cv2

    out = image.copy()
    left, right = points[36:42].mean(0), points[42:48].mean(0)
    iod = float(np.linalg.norm(right - left))
    t = max(1, round(0.06 * iod))
    for c in (left, right):
        centre = (int(c[0]), int(c[1]))
        cv2.ellipse(out, centre, (int(0.42 * iod), int(0.3 * iod)), 0, 0, 360, (25, 25, 25), t, cv2.LINE_AA)
    a, b = (int(left[0] + 0.42 * iod), int(left[1])), (int(right[0] - 0.42 * iod), int(right[1]))
    cv2.line(out, a, b, (25, 25, 25), t, cv2.LINE_AA)
    return out


def test_glasses_are_found_and_their_frames_masked(astronaut, astro_fit):
    points = astro_fit.landmarks_input
    plain = detect_glasses(astronaut, points)
    assert not plain.present and plain.score < 0 and not plain.mask.any()
    worn = draw_glasses(astronaut, points)
    found = detect_glasses(worn, points)
    assert found.present and found.mask.shape == astronaut.shape[:2]
    frame = np.abs(worn.astype(int) - astronaut.astype(int)).sum(2) > 60
    assert (found.mask[frame] > 0.5).mean() > 0.6  # most of the frame is masked
    assert (found.mask > 0.5).mean() < 0.03  # and little of the photo beside it


def test_glasses_are_found_on_a_photo_four_times_larger(astronaut, astro_fit):
    import cv2

    worn = draw_glasses(astronaut, astro_fit.landmarks_input)
    big = cv2.resize(worn, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    small, large = detect_glasses(worn, astro_fit.landmarks_input), detect_glasses(big, astro_fit.landmarks_input * 4 + 1.5)
    assert large.present and abs(large.score - small.score) < 1.0
    assert large.mask.shape == big.shape[:2]


def test_occluded_pixels_are_neither_seen_nor_mirrored(astronaut, astro_fit, default_model):
    h, w = astronaut.shape[:2]
    right_half = np.zeros((h, w), np.float32)
    right_half[:, int(astro_fit.landmarks68[:, 0].mean()) :] = 1.0  # the photo's right half of the face
    base = extract_texture(astronaut, astro_fit, default_model)
    cut = extract_texture(astronaut, astro_fit, default_model, occluder=right_half)
    half = base.size // 2
    # the model's UV layout is mirror-symmetric: the photo's right half is one side of the UV charts
    seen_base = [(base.provenance[:, s] == SEEN).mean() for s in (slice(0, half), slice(half, None))]
    seen_cut = [(cut.provenance[:, s] == SEEN).mean() for s in (slice(0, half), slice(half, None))]
    assert min(seen_cut) < 0.1 * min(seen_base)  # one side is no longer seen...
    assert max(seen_cut) > 0.8 * max(seen_base)  # ...the other still is
    assert cut.seen_share is not None and float(cut.seen_share.mean()) < 0.6 * float(base.seen_share.mean())
    with pytest.raises(ValueError, match="occluder is"):
        extract_texture(astronaut, astro_fit, default_model, occluder=right_half[:-1])


def test_prepare_source_keeps_frames_out_of_the_texture(astronaut, astro_fit, default_model):
    worn = draw_glasses(astronaut, astro_fit.landmarks_input)
    with_frames = prepare_source(worn, astro_fit, default_model)
    without = prepare_source(worn, astro_fit, default_model, remove_glasses=True)
    assert with_frames.glasses is None and without.glasses is not None and without.glasses.present
    assert float(without.texture.seen_share.sum()) < float(with_frames.texture.seen_share.sum())
    # turned 30°, the frames' dark lines are gone from the face: where the frame-kept view draws
    # them dark, the view without them shows skin
    kept, gone = (rotate(p, 30, 0, 0).image.astype(float).mean(2) for p in (with_frames, without))
    dark = (kept < 60) & (rotate(without, 30, 0, 0).face_mask > 0.99)
    assert dark.sum() > 100 and gone[dark].mean() > kept[dark].mean() + 40


def test_a_dark_outer_cheek_is_not_mirrored(astronaut, astro_fit, default_model):
    h, w = astronaut.shape[:2]
    lm = astro_fit.landmarks68
    right_half = np.zeros((h, w), np.float32)
    right_half[:, int(lm[:, 0].mean()) :] = 1.0  # the photo's right half unseen: filled from the left
    dark = astronaut.copy()  # hair over the left outer cheek, beside the eye
    x_eye = lm[36, 0] - 0.15 * (lm[:, 0].mean() - lm[36, 0])
    dark[int(lm[36, 1]) : int(lm[48, 1]), : int(x_eye)] = 15
    on = extract_texture(dark, astro_fit, default_model, occluder=right_half)
    off = extract_texture(dark, astro_fit, default_model, occluder=right_half, mirror_skin=False)
    changed = (off.provenance == MIRRORED) & (on.provenance == INPAINTED)
    assert changed.sum() > 100  # the hair's mirror texels are filled, not mirrored...
    assert on.albedo[changed].mean() > off.albedo[changed].mean() + 0.15  # ...and not dark
    untouched = extract_texture(astronaut, astro_fit, default_model, occluder=right_half)
    plain = extract_texture(astronaut, astro_fit, default_model, occluder=right_half, mirror_skin=False)
    assert ((untouched.provenance == MIRRORED) != (plain.provenance == MIRRORED)).mean() < 0.01  # skin is mirrored as before
