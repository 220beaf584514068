"""The ipywidgets panels, headless: build each one, set its controls as a reader would, run it,
and check that the preview changed and shows an image of the expected size."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest

from helpers import widgets
from helpers.nst import vgg

pytest.importorskip("ipywidgets")


def _png_size(data: bytes) -> tuple[int, int]:
    """(height, width) of PNG bytes."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return image.height, image.width


def test_panels_off_build_nothing(capsys):
    assert widgets.preview_panel(None, None, enabled=False) is None
    assert widgets.blend_panel(enabled=False) is None
    assert capsys.readouterr().out.count("INTERACTIVE = True") == 2


def test_preview_panel_reruns_with_new_controls(random_weights, rng):
    content, style = rng.random((20, 30, 3)), rng.random((24, 24, 3))
    panel = widgets.preview_panel(
        content, style, size=24, steps=5, weights=random_weights, device="cpu"
    )
    controls = panel.controls
    first_layer = vgg.STYLE_LAYERS[0]
    assert {"ratio", *vgg.STYLE_LAYERS, "steps", "init", "run"} <= set(controls)
    assert panel.preview.value == b""  # nothing runs before "Run"

    controls["steps"].value = 5
    controls["run"].click()
    assert panel.wait(60)
    first = panel.preview.value
    assert _png_size(first) == (16, 24)  # the content's aspect at the longer side 24

    controls["ratio"].value = controls["ratio"].value + 6  # far more content weight
    controls[first_layer].value = 1.0
    controls["init"].value = "noise"
    controls["run"].click()
    assert panel.wait(60)
    second = panel.preview.value
    assert _png_size(second) == (16, 24)
    assert second != first


def test_preview_panel_shows_a_bad_input_as_one_error_line(random_weights):
    panel = widgets.preview_panel(
        "no/such/image.png", "no/such/style.png", size=16, steps=5, weights=random_weights
    )
    panel.controls["run"].click()
    assert panel.wait(60)
    errors = panel.children[-1]
    text = "".join(o.get("text", "") for o in errors.outputs)
    assert text.startswith("error: ") and text.count("\n") == 1
    assert panel.preview.value == b""


def test_preview_panel_second_press_stops_the_first_run(random_weights, rng):
    """A press while a run goes stops that run and starts the new one: no backlog, only the
    newest run's result is shown, and the status line shows progress while a run goes."""
    content, style = rng.random((20, 30, 3)), rng.random((24, 24, 3))
    panel = widgets.preview_panel(
        content, style, size=24, steps=500, weights=random_weights, device="cpu"
    )
    statuses, images = [], []
    panel.status.observe(lambda change: statuses.append(change["new"]), names="value")
    panel.preview.observe(lambda change: images.append(change["new"]), names="value")

    panel.controls["run"].click()  # 500 evaluations: far longer than this test waits
    deadline = time.monotonic() + 30
    while not any(s.startswith("running: evaluation") for s in statuses):
        assert time.monotonic() < deadline, statuses
        time.sleep(0.01)
    panel.controls["steps"].value = 5
    for _ in range(3):  # three quick presses: the first two runs never finish
        panel.controls["run"].click()
    assert panel.wait(60)

    (first, first_shown), (last, last_shown) = panel.runs[0], panel.runs[-1]
    assert len(panel.runs) <= 2  # the middle presses were replaced before they started
    assert first.evaluations < 500 and not first_shown  # stopped early, never shown
    assert last.evaluations == 5 and last_shown and panel.result is last
    assert images == [widgets.png_bytes(last.images[0])]  # one image: the last run's
    assert "5 evaluations" in panel.status.value


def test_preview_panel_shows_an_unexpected_error_in_the_panel(random_weights, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(widgets, "_preview_run", broken)
    panel = widgets.preview_panel(None, None, weights=random_weights)
    panel.controls["run"].click()
    assert panel.wait(10)
    errors = panel.children[-1]
    text = "".join(o.get("text", "") for o in errors.outputs)
    assert "Traceback" in text and "RuntimeError: boom" in text
    assert panel.runs == [] and panel.preview.value == b""


def test_png_rows_encode_only_a_band_losslessly(rng):
    from PIL import Image

    base = (rng.random((37, 11, 3)) * 255).astype(np.uint8)
    png = widgets._PngRows(base)
    for y0, rows in [(0, 0), (0, 37), (5, 3), (15, 2), (30, 7), (16, 16)]:
        band = (rng.random((rows, 11, 3)) * 255).astype(np.uint8)
        expected = base.copy()
        expected[y0 : y0 + rows] = band
        with Image.open(io.BytesIO(png.encode(band, y0))) as image:
            assert np.array_equal(np.asarray(image), expected)
    for shape in [(9, 5), (9, 5, 2), (9, 5, 4)]:  # grey, grey + alpha, RGBA
        pixels = (rng.random(shape) * 255).astype(np.uint8)
        with Image.open(io.BytesIO(widgets._PngRows(pixels).encode())) as image:
            assert np.array_equal(np.asarray(image), pixels)


def test_blend_panel_solves_the_full_resolution_exactly():
    """The default panel blends the example as stored, to the solver's tolerance, and shows
    every pixel of that blend."""
    from PIL import Image

    from helpers import gdf
    from helpers.errors import UserError
    from helpers.images import to_uint8

    try:
        ex = gdf.load_example("bird_sky")
        panel = widgets.blend_panel("bird_sky")
    except UserError as exc:  # the sample images are not fetched
        pytest.skip(str(exc))
    panel.controls["dx"].value = -7
    panel.controls["mode"].value = "mixed"
    res = panel.result
    assert res.image.shape == ex.target.shape and res.offset == (0, -7) and res.mode == "mixed"
    assert gdf.relative_residual(res, ex.source, ex.target, ex.mask).max() <= 1e-6
    with Image.open(io.BytesIO(panel.preview.value)) as image:
        assert np.array_equal(np.asarray(image), to_uint8(res.clipped))
    assert panel.status.value.startswith("offset (0, -7): mixed blend")


def test_blend_panel_moves_and_switches_mode():
    from helpers.errors import UserError

    try:
        panel = widgets.blend_panel("penguin_snow", size=64)
    except UserError as exc:  # the sample images are not fetched
        pytest.skip(str(exc))
    start = panel.preview.value  # drawn once on build
    h, w = _png_size(start)
    assert max(h, w) == 64

    panel.controls["dy"].value = 4
    moved = panel.preview.value
    assert _png_size(moved) == (h, w) and moved != start

    panel.controls["mode"].value = "mixed"
    mixed = panel.preview.value
    assert _png_size(mixed) == (h, w) and mixed != moved


def test_png_bytes_round_trip(rng):
    from PIL import Image

    image = rng.random((5, 7, 3))
    with Image.open(io.BytesIO(widgets.png_bytes(image))) as png:
        back = np.asarray(png, dtype=np.float64) / 255
    assert np.abs(back - image).max() <= 0.5 / 255 + 1e-9
