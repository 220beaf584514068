"""The blending examples derived from their public originals (helpers.gdf.samples), each
derivation checked against the same quantity computed another way: raw PIL arrays, PIL's own
8-bit Lanczos resize, and the drawn mask's measured region."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from helpers import images
from helpers.assets import asset_path
from helpers.errors import UserError
from helpers.gdf import load_example
from helpers.gdf.samples import EXAMPLES, ExampleSpec, Placed, derive_example


def _raw(name: str) -> np.ndarray:
    """The original's 8-bit pixels straight from PIL (no helpers code)."""
    with Image.open(asset_path(name)) as im:
        return np.asarray(im.convert("RGBA"))


def _u8(a: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(a) * 255).astype(int)


@pytest.mark.parametrize(
    ("example", "source", "mask", "channel", "xy"),
    [
        ("graffiti_wall", "df.png", "df_mask.png", 3, (5, 5)),
        ("kitten_library", "kitten.png", "kittenmask.png", 0, (280, 340)),
        ("moon_gothenburg", "moon.png", "moonmask.png", 0, (350, 0)),
        ("penguin_snow", "penguin.png", "penguinmask.png", 0, (300, 560)),
    ],
)
def test_placed_source_and_channel_mask_match_the_originals(example, source, mask, channel, xy):
    x, y = xy
    src = _raw(f"gdf/{example}/{source}")[..., :3]
    m = _raw(f"gdf/{example}/{mask}")[..., channel] > 127
    ex = load_example(example)
    h, w = src.shape[:2]
    assert np.array_equal(_u8(ex.source[y : y + h, x : x + w]), src)
    assert np.array_equal(ex.mask[y : y + h, x : x + w], m)
    outside = np.ones(ex.mask.shape, bool)
    outside[y : y + h, x : x + w] = False
    assert not ex.mask[outside].any() and not ex.source[outside].any()  # black canvas elsewhere
    if example == "graffiti_wall":  # the mask really is the alpha channel: colour is all zero
        assert not _raw(f"gdf/{example}/{mask}")[..., :3].any() and m.any()


@pytest.mark.parametrize("example", ["bear_pool", "bird_sky", "jet_valley"])
def test_published_aligned_examples_are_loaded_as_they_are(example):
    spec = EXAMPLES[example]
    ex = load_example(example)
    assert np.array_equal(_u8(ex.target), _raw(spec.target)[..., :3])
    assert np.array_equal(_u8(ex.source), _raw(spec.source)[..., :3])
    with Image.open(asset_path(spec.mask)) as im:  # PIL's own grey conversion, thresholded
        assert np.array_equal(ex.mask, np.asarray(im.convert("L")) > 127)


@pytest.mark.parametrize(
    ("example", "size"), [("penguin_snow", (1024, 768)), ("penguin_chick_snow", (768, 1024))]
)
def test_large_targets_are_downscaled_to_1024_px(example, size):
    spec = EXAMPLES[example]
    ex = load_example(example)
    with Image.open(asset_path(spec.target)) as im:
        oracle = np.asarray(im.convert("RGB").resize(size, Image.Resampling.LANCZOS)).astype(int)
    assert ex.target.shape[1::-1] == size
    diff = np.abs(_u8(ex.target) - oracle)
    # PIL's 8-bit Lanczos rounds and clips between its two passes; the float one does not
    assert diff.max() <= 6 and diff.mean() < 0.25, (diff.max(), diff.mean())


def test_chick_is_scaled_by_0_44_and_placed_at_70_715():
    ex = load_example("penguin_chick_snow")
    with Image.open(asset_path("gdf/penguin_chick_snow/penguin-chick.jpeg")) as im:
        assert im.size == (404, 500)
        oracle = np.asarray(im.convert("RGB").resize((178, 220), Image.Resampling.LANCZOS))
    diff = np.abs(_u8(ex.source[715:935, 70:248]) - oracle.astype(int))
    assert diff.max() <= 6 and diff.mean() < 0.25, (diff.max(), diff.mean())
    assert not ex.source[:715].any() and not ex.source[935:].any()


def test_chick_polygon_covers_the_drawn_region():
    """The polygon was traced once from the hand-drawn mask (22272 pixels, rows 724-919, columns
    91-232); the rasterised polygon must cover the same region to within a pixel on the edge."""
    mask = load_example("penguin_chick_snow").mask
    ys, xs = np.nonzero(mask)
    assert abs(int(mask.sum()) - 22272) <= 0.01 * 22272
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (724, 919, 91, 232)


def test_derivation_does_not_fit_the_canvas_is_one_clear_error():
    spec = ExampleSpec(
        target="gdf/bird_sky/target.png",
        source=Placed("gdf/kitten_library/kitten.png", x=250, y=0),
        mask="gdf/bird_sky/mask.png",
    )
    with pytest.raises(UserError, match=r"kitten\.png \(126x156\) at x=250, y=0 does not fit"):
        derive_example(spec)


def test_derived_examples_are_not_shared_between_callers():
    a = load_example("moon_gothenburg")
    a.source[...] = 0
    assert load_example("moon_gothenburg").source.any()


def test_nst_originals_load_at_the_size_asked():
    """Large style-transfer originals are used as published and downscaled on load."""
    assert images.load("nst/content/fallingwater.png").shape == (1240, 1548, 3)
    assert images.load("nst/content/fallingwater.png", size=96).shape == (77, 96, 3)
