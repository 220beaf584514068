"""helpers.images: every image kind people feed in loads correctly; bad files get one clear error.

Also the one loader, :func:`helpers.images.load`: sample-asset names and paths, with a resize.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from helpers import images
from helpers.errors import UserError


@pytest.fixture
def gradient():
    """An 8-bit RGB test card: distinct rows and columns so rotations are detectable."""
    y, x = np.mgrid[0:20, 0:30]
    return np.stack([x * 8, y * 12, (x + y) * 4], axis=2).astype(np.uint8)


def _save(tmp_path, name, pil, **kw):
    path = tmp_path / name
    pil.save(path, **kw)
    return path


def test_rgb_round_trip_is_exact(tmp_path, gradient):
    path = _save(tmp_path, "rgb.png", Image.fromarray(gradient))
    arr = images.load_image(path)
    assert arr.dtype == np.float32 and arr.shape == (20, 30, 3)
    np.testing.assert_array_equal(images.to_uint8(arr), gradient)


def test_greyscale_and_grey_alpha(tmp_path, gradient):
    grey = gradient[..., 0]
    p = _save(tmp_path, "g.png", Image.fromarray(grey, "L"))
    np.testing.assert_allclose(images.load_image(p, "L"), grey / 255, atol=1e-6)
    np.testing.assert_allclose(images.load_image(p)[..., 1], grey / 255, atol=1e-6)
    la = Image.merge(
        "LA", [Image.fromarray(grey, "L"), Image.fromarray(np.full_like(grey, 128), "L")]
    )
    p2 = _save(tmp_path, "la.png", la)
    rgba = images.load_image(p2, "RGBA")
    assert rgba.shape == (20, 30, 4)
    np.testing.assert_allclose(rgba[..., 3], 128 / 255, atol=1e-6)
    np.testing.assert_allclose(rgba[..., 0], grey / 255, atol=1e-6)


def test_rgba_and_palette(tmp_path, gradient):
    alpha = np.zeros((20, 30), np.uint8)
    alpha[5:15, 5:25] = 255
    rgba = np.dstack([gradient, alpha])
    p = _save(tmp_path, "rgba.png", Image.fromarray(rgba, "RGBA"))
    arr = images.load_image(p, "RGBA")
    np.testing.assert_array_equal(images.to_uint8(arr), rgba)
    assert images.load_image(p).shape == (20, 30, 3)
    pal = Image.fromarray(gradient).quantize(colors=16)
    p2 = _save(tmp_path, "pal.png", pal)
    np.testing.assert_array_equal(
        images.to_uint8(images.load_image(p2)), np.asarray(pal.convert("RGB"))
    )


def test_16_bit_png_keeps_its_range(tmp_path):
    values = (np.arange(600, dtype=np.uint16).reshape(20, 30) * 100).astype(np.uint16)
    p = _save(tmp_path, "deep.png", Image.fromarray(values))
    arr = images.load_image(p, "L")
    np.testing.assert_allclose(arr, values / 65535.0, atol=1e-6)
    assert images.load_image(p).shape == (20, 30, 3)


def test_cmyk_jpeg(tmp_path, gradient):
    cmyk = Image.fromarray(gradient).convert("CMYK")
    p = _save(tmp_path, "cmyk.jpg", cmyk, quality=100)
    arr = images.load_image(p)
    assert arr.shape == (20, 30, 3)
    assert np.abs(images.to_uint8(arr).astype(int) - gradient.astype(int)).mean() < 6


def test_exif_orientation_is_respected(tmp_path, gradient):
    pil = Image.fromarray(gradient)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    p = _save(tmp_path, "phone.jpg", pil, exif=exif, quality=100)
    arr = images.load_image(p)
    assert arr.shape == (30, 20, 3)
    expected = np.rot90(gradient, k=-1)
    assert np.abs(images.to_uint8(arr).astype(int) - expected.astype(int)).mean() < 4


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing.png", "not found"),
        (lambda d: d, "is a directory"),
        (
            lambda d: (d / "empty.png").write_bytes(b"") and d / "empty.png" or d / "empty.png",
            "empty",
        ),
        (
            lambda d: (d / "text.png").write_text("hello, not an image") and d / "text.png",
            "not a readable image",
        ),
    ],
)
def test_bad_files_get_one_clear_error(tmp_path, make, message):
    with pytest.raises(UserError, match=message) as info:
        images.load_image(make(tmp_path))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("suffix", ["png", "jpg"])
def test_truncated_file(tmp_path, gradient, suffix):
    big = np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)
    full = _save(tmp_path, f"full.{suffix}", Image.fromarray(big))
    cut = tmp_path / f"cut.{suffix}"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(UserError, match="damaged or truncated"):
        images.load_image(cut)


def test_unreadable_file(tmp_path, gradient, monkeypatch):
    p = _save(tmp_path, "locked.png", Image.fromarray(gradient))
    p.chmod(0)
    if os.geteuid() == 0:  # root reads any file: simulate the permission check failing
        monkeypatch.setattr(images.os, "access", lambda *_: False)
    with pytest.raises(UserError, match="permission denied"):
        images.load_image(p)


def test_save_is_atomic_and_refuses_nan(tmp_path):
    out = tmp_path / "out.png"
    with pytest.raises(UserError, match="NaN"):
        images.save_image(out, np.full((4, 4, 3), np.nan))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(UserError, match="does not exist"):
        images.save_image(tmp_path / "nope" / "out.png", np.zeros((4, 4, 3)))
    images.save_image(out, np.ones((4, 4, 3)))
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_quantize_is_the_8_bit_file_and_check_output_refuses_bad_paths(tmp_path):
    x = np.array([-0.2, 0.0, 0.5 / 255, 0.4999 / 255, 0.3, 1.0, 1.7], np.float32)
    q = images.quantize(x)
    assert q.dtype == np.float32
    np.testing.assert_array_equal(q, images.to_uint8(x).astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(images.to_uint8(x), [0, 0, 1, 0, 77, 255, 255])
    src = tmp_path / "in.png"
    images.save_image(src, np.zeros((2, 2)))
    assert images.check_output(tmp_path / "out.jpg", inputs=[src, None]) == tmp_path / "out.jpg"
    with pytest.raises(UserError, match="unknown image suffix"):
        images.check_output(tmp_path / "out.gif")
    with pytest.raises(UserError, match="is an input image"):
        images.check_output(src, inputs=[None, str(src)])
    assert images.image_format(tmp_path / "a.TIF") == "TIFF"


@pytest.mark.parametrize(
    "size, shape",
    [(None, (20, 30)), (60, (40, 60)), ("15x10", (10, 15)), ((16, 16), (16, 16)), ("12", (8, 12))],
)
def test_resize_sizes(gradient, size, shape):
    assert images.resize(gradient / 255.0, size).shape[:2] == shape


@pytest.mark.parametrize("size", [0, -5, "0x10", "abc", "12xq"])
def test_bad_sizes(size):
    with pytest.raises(UserError, match="size"):
        images.parse_size(size)


# --- the one loader -------------------------------------------------------------------------


def test_load_reads_a_path_and_resizes_like_resize(tmp_path, gradient):
    path = images.save_image(tmp_path / "g.png", gradient)
    direct = images.load_image(path)
    assert np.array_equal(images.load(path), direct)
    assert np.array_equal(images.load(str(path), size=16), images.resize(direct, 16))
    assert images.load(path, size="20x10").shape == (10, 20, 3)
    assert images.load(path, mode="L").shape == gradient.shape[:2]


def test_load_resolves_sample_asset_names(monkeypatch, tmp_path, gradient):
    name = "nst/content/tubingen.jpg"
    monkeypatch.setenv("HELPERS_DATA", str(tmp_path))
    (tmp_path / "nst" / "content").mkdir(parents=True)
    images.save_image(tmp_path / name, gradient)
    assert images.resolve(name) == tmp_path / name
    assert images.load(name).shape == gradient.shape


def test_load_names_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("HELPERS_DATA", str(tmp_path))
    with pytest.raises(UserError, match="sample image nst/content/tubingen.jpg is missing"):
        images.load("nst/content/tubingen.jpg")
    with pytest.raises(UserError, match="neither a path nor a sample asset name"):
        images.load("no/such/picture.png")
    with pytest.raises(UserError, match="file not found"):
        images.load(tmp_path / "absent.png")
