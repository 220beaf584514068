"""helpers.nst.writeups and the settings taken from the two writeups: Berkeley's grid in its
own columns, its recipe, CMU's timed inits and named transfers, and the difference image.

The runs use the deterministic random VGG-19 (their subject is which settings reach the loop,
not what the trained network makes of them) and 32x32 images.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers import nst
from helpers.errors import UserError
from helpers.nst import experiments, writeups


def _spy_optimize(monkeypatch) -> list[dict]:
    """Record what reaches the loop (objectives and options) instead of running it."""
    calls: list[dict] = []

    def spy(objectives, **options):
        calls.append({"objectives": objectives, **options})
        raise _Stop

    monkeypatch.setattr(experiments, "optimize", spy)
    return calls


class _Stop(Exception):
    pass


def test_berkeley_recipe_holds_the_writeups_settings():
    rec = nst.get_recipe("berkeley")
    # Part 4/5: Adam, lr 0.2, 1200 iterations; Part 6: content weights [0, 0, 0, 1, 0] over
    # conv modules [0, 5, 10, 19, 28], i.e. the fourth block's first layer; style [0.2] x 5;
    # Part 1: 224 x 224 inputs; Part 3: the input is a clone of the content image
    assert (rec.optimizer, rec.lr, rec.steps) == ("adam", 0.2, 1200)
    assert rec.content_layers == {"relu4_1": 1.0}
    assert list(rec.style_layers) == list(nst.vgg.STYLE_LAYERS)
    assert list(rec.style_layers.values()) == pytest.approx([0.2] * 5)
    assert rec.size == "224x224" == writeups.square(writeups.BERKELEY_SIDE)
    assert rec.init == "content" and rec.content_norm == "mean" and rec.gram == "berkeley"
    # the two departures are named where the recipe is read
    notes = " ".join(rec.notes)
    assert "1e-8" in notes and "project's rule" in notes and "Caffe" in notes


def test_cmu_recipe_names_what_the_writeup_leaves_open():
    rec = nst.get_recipe("cmu")
    # CMU's conv_3 + conv_4 are the 3rd and 4th of VGG's 16 conv layers
    assert tuple(rec.content_layers) == nst.recipes.CMU_CONTENT_LAYERS == ("conv2_1", "conv2_2")
    assert tuple(rec.style_layers) == ("conv1_1", "conv1_2", "conv2_1", "conv2_2")
    assert "tutorial" in rec.source and "guess" in rec.source
    assert any("names none" in note for note in rec.notes)


def test_run_options_leave_out_the_objective():
    opts = nst.get_recipe("berkeley").run_options(size="32x32", steps=3)
    assert not {"content_layers", "style_layers", "size_free_ratio", "ratio"} & set(opts)
    assert opts["size"] == "32x32" and opts["steps"] == 3 and opts["optimizer"] == "adam"


def test_berkeley_grid_spec_has_the_writeups_columns_and_rows(monkeypatch, images):
    content, style = images
    calls = _spy_optimize(monkeypatch)
    with pytest.raises(_Stop):
        nst.berkeley_grid(content, style)
    objectives, options = calls[0]["objectives"], calls[0]
    assert len(objectives) == 25
    # row-major: the first five elements are the [1, 0, 0, 0, 0] row over the five columns
    assert [o.ratio for o in objectives[:5]] == pytest.approx([1e-2, 1e-4, 1e-6, 1e-8, 1e-10])
    assert [o.style_layers for o in objectives[::5]] == [
        nst.layer_weights(s) for s in nst.GROWING_SUBSETS
    ]
    assert all(o.content_layers == {"relu4_1": 1.0} for o in objectives)
    assert options["size"] == "224x224" and options["steps"] == 1200
    assert (options["optimizer"], options["lr"], options["init"]) == ("adam", 0.2, "content")
    assert (options["content_norm"], options["gram"]) == ("mean", "berkeley")


def test_berkeley_grid_runs_at_a_small_square(fast, images):
    content, style = images
    res = nst.berkeley_grid(content, style, side=32, steps=1, ratios=[1e-2, 1e-10], **fast)
    assert res.cols == ["α/β = 1e-02", "α/β = 1e-10"]
    assert res.rows == [nst.spec_label(s) for s in nst.GROWING_SUBSETS]
    assert res.images[0].shape == (32, 32, 3) and res.optimizer == "adam"


def test_square_sizes():
    assert nst.square(64) == "64x64" and nst.square(None) is None
    for bad in (0, -3, 2.5, True):
        with pytest.raises(UserError, match="side"):
            nst.square(bad)


def test_timed_inits_are_separate_runs_from_their_own_start(fast, images):
    content, style = images
    runs = nst.timed_inits(content, style, recipe="cmu", size=32, steps=2, noise=0.5, **fast)
    assert list(runs) == ["content", "noise"]
    assert all(len(r) == 1 and r.seconds > 0 and r.evaluations <= 2 for r in runs.values())
    # the content run starts at the photo, the noise run does not
    assert runs["content"].history.content[0, 0] == pytest.approx(0.0, abs=1e-6)
    assert runs["noise"].history.content[0, 0] > 0


def test_named_transfers_batch_the_pairs_that_share_a_photo(fast, images, monkeypatch):
    content, style = images
    other = images[0][::-1].copy()
    batches = []
    real = writeups.stylize

    def spy(photo, styles, **options):
        batches.append(list(styles) if isinstance(styles, dict) else styles)
        return real(photo, styles, **options)

    monkeypatch.setattr(writeups, "stylize", spy)
    pairs = {"a": (content, style), "b": (other, style), "c": (content, style[::-1].copy())}
    out = nst.named_transfers(pairs, recipe="cmu", size=32, steps=1, **fast)
    assert list(out) == ["a", "b", "c"] and all(len(r) == 1 for r in out.values())
    assert batches == [["a", "c"], ["b"]]
    with pytest.raises(UserError, match="no content/style pairs"):
        nst.named_transfers({})


def test_difference_image_and_grey_levels():
    a = np.zeros((4, 5, 3))
    b = a.copy()
    b[1, 2, 0] = 1.0
    b[3, 4] = 0.5
    d = nst.difference(a, b)
    assert d.image.shape == (4, 5)
    assert d.image[1, 2] == pytest.approx(1 / 3) and d.image[3, 4] == pytest.approx(0.5)
    # oracle: the sum of |a - b| over pixels and channels, per value, in grey levels
    assert d.mean_255 == pytest.approx((1.0 + 3 * 0.5) / a.size * 255)
    assert d.max_255 == pytest.approx(255)
    assert d.shown(4).max() == 1.0 and d.shown(1)[3, 4] == pytest.approx(0.5)
    assert nst.difference(a, a).mean_255 == 0
    with pytest.raises(ValueError, match="shape"):
        nst.difference(a, a[:3])


def test_practice_panel_names_both_sources_of_the_gatys_init():
    assert experiments._init_label("gatys", "content", default="paper") == (
        "content init (Gatys' code)"
    )
    assert experiments._init_label("gatys", "noise") == "noise init (the paper's figures)"
    assert experiments._init_label("cmu", "content", default="paper") == "content init (paper)"
    assert experiments._init_label("cmu", "noise") == "noise init"


def test_column_differences_against_a_reference_and_between_neighbours():
    def cell(v):
        return np.full((4, 4, 3), v, np.float32)

    grid = nst.TransferResult(
        images=[cell(0.0), cell(0.2), cell(0.2), cell(0.4), cell(0.6), cell(0.6)],
        history=None,
        losses={},
        seconds=0.0,
        loop_seconds=0.0,
        evaluations=0,
        device="cpu",
        optimizer="adam",
        objectives=[],
        rows=["r1", "r2"],
        cols=["a", "b", "c"],
    )
    far = nst.column_differences(grid, cell(0.0))
    assert far == pytest.approx({"a": 0.2 * 255, "b": 0.4 * 255, "c": 0.4 * 255}, rel=1e-5)
    near = nst.column_differences(grid)
    assert near == pytest.approx({"a → b": 0.2 * 255, "b → c": 0.0}, abs=1e-3)
    with pytest.raises(ValueError, match="grid"):
        nst.column_differences(_flat(grid))


def _flat(grid):
    from dataclasses import replace

    return replace(grid, rows=None, cols=None)
