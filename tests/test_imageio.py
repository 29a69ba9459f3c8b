"""Reading what users' folders hold: any format by content, EXIF orientation, alpha, huge photos."""

import numpy as np
import pytest
from PIL import Image

from face3d.imageio import ImageReadError, read_image
from face3d.settings import shared_dir

REALWORLD = shared_dir() / "data" / "realworld" / "images"


def _photo(h=120, w=90):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, np.full_like(x, 128)], -1).astype(np.uint8)


@pytest.mark.parametrize(
    "fmt,ext", [("PNG", ".jpg"), ("WEBP", ".jpeg"), ("TIFF", ".tif"), ("BMP", ".png"), ("GIF", ".gif"), ("JPEG", ".png")]
)
def test_any_format_behind_any_name(tmp_path, fmt, ext):
    rgb = _photo()
    p = tmp_path / f"photo{ext}"
    Image.fromarray(rgb).save(p, format=fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))
    got = read_image(p)
    assert got.shape == rgb.shape and got.dtype == np.uint8
    assert np.abs(got.astype(int) - rgb).mean() < (12 if fmt in ("GIF", "JPEG", "WEBP") else 0.5)


def test_grey_cmyk_16bit_and_alpha(tmp_path):
    rgb = _photo()
    Image.fromarray(rgb).convert("L").save(tmp_path / "grey.png")
    assert read_image(tmp_path / "grey.png").shape == rgb.shape
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    assert np.abs(read_image(tmp_path / "cmyk.jpg").astype(int) - rgb).mean() < 12
    Image.fromarray((rgb[..., 0].astype(np.uint16) * 257)).save(tmp_path / "deep.png")
    assert np.array_equal(read_image(tmp_path / "deep.png")[..., 1], rgb[..., 0])  # 16 bit to 8
    rgba = np.dstack([np.full_like(rgb, 255), np.zeros(rgb.shape[:2], np.uint8)])
    rgba[30:90, 20:70, 3] = 255  # an opaque white cut-out on a transparent (white-valued) background
    Image.fromarray(rgba).save(tmp_path / "cutout.png")
    got = read_image(tmp_path / "cutout.png")
    assert got[0, 0].tolist() == [0, 0, 0] and got[60, 40].tolist() == [255, 255, 255]


def test_exif_orientation_and_max_side(tmp_path):
    rgb = _photo(300, 200)
    im = Image.fromarray(np.ascontiguousarray(np.rot90(rgb, 1)))  # stored sideways, as phones do
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    im.save(tmp_path / "phone.jpg", quality=95, exif=exif)
    got = read_image(tmp_path / "phone.jpg")
    assert got.shape == rgb.shape and np.abs(got.astype(int) - rgb).mean() < 12
    assert read_image(tmp_path / "phone.jpg", max_side=100).shape == (100, 67, 3)
    big = np.repeat(np.repeat(_photo(400, 300), 10, 0), 10, 1)  # 4000 x 3000, read at reduced size
    Image.fromarray(big).save(tmp_path / "big.jpg", quality=90)
    assert read_image(tmp_path / "big.jpg", max_side=1000).shape == (1000, 750, 3)


def test_unreadable_files_say_why(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("not an image")
    Image.fromarray(_photo()).save(tmp_path / "cut.jpg", quality=95)
    (tmp_path / "cut.jpg").write_bytes((tmp_path / "cut.jpg").read_bytes()[:200])
    for name, why in [
        ("empty.jpg", "empty"),
        ("text.jpg", "not a decodable"),
        ("cut.jpg", "not a decodable"),
        ("missing.jpg", "no such file"),
        (".", "folder"),
    ]:
        with pytest.raises(ImageReadError, match=why):
            read_image(tmp_path / name)


@pytest.mark.skipif(not REALWORLD.is_dir(), reason=f"real-world photos not found at {REALWORLD}")
def test_realworld_odd_formats():
    # WEBP and PNG data behind .jpeg/.jpg names, RGBA PNG, an EXIF-rotated phone photo, grey
    shapes = {
        "insightface__d1.jpeg": (1300, 1000),
        "insightface__jntm.jpg": (667, 539),
        "insightface__image_T1.jpeg": (640, 480),
        "scikit-image__camera.png": (512, 512),
        "mediapipe__sergey.png": (600, 600),
    }
    for name, hw in shapes.items():
        img = read_image(REALWORLD / name)
        assert img.shape == (*hw, 3) and img.dtype == np.uint8, name
