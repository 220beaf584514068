"""The ipywidgets panels, headless: build each one, set its controls as a reader would, run it,
and check that the preview changed and shows an image of the expected size."""

from __future__ import annotations

import io

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
    first = panel.preview.value
    assert _png_size(first) == (16, 24)  # the content's aspect at the longer side 24

    controls["ratio"].value = controls["ratio"].value + 6  # far more content weight
    controls[first_layer].value = 1.0
    controls["init"].value = "noise"
    controls["run"].click()
    second = panel.preview.value
    assert _png_size(second) == (16, 24)
    assert second != first


def test_preview_panel_shows_a_bad_input_as_one_error_line(random_weights):
    panel = widgets.preview_panel(
        "no/such/image.png", "no/such/style.png", size=16, steps=5, weights=random_weights
    )
    panel.controls["run"].click()
    errors = panel.children[-1]
    text = "".join(o.get("text", "") for o in errors.outputs)
    assert text.startswith("error: ") and text.count("\n") == 1
    assert panel.preview.value == b""


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
