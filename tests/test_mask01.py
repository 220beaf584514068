"""A mask saved from NumPy as uint8 0/1 blends exactly like the same mask saved as 0/255, with
one note line (issue 19); 0-255 masks keep the 0.5 threshold."""

from __future__ import annotations

import numpy as np
from badinput import run_cli
from PIL import Image

from helpers.gdf import mask_levels


def test_zero_one_mask_blends_like_zero_255(tmp_path):
    rng = np.random.default_rng(0)
    source, target = (rng.integers(0, 256, (20, 26, 3), dtype=np.uint8) for _ in range(2))
    region = np.zeros((20, 26), np.uint8)
    region[5:15, 6:20] = 1
    paths = {name: tmp_path / f"{name}.png" for name in ("source", "target", "m01", "m255")}
    Image.fromarray(source).save(paths["source"])
    Image.fromarray(target).save(paths["target"])
    Image.fromarray(region).save(paths["m01"])  # values 0 and 1
    Image.fromarray(region * 255).save(paths["m255"])
    outs = []
    for mask in ("m01", "m255"):
        out = tmp_path / f"out-{mask}.png"
        result = run_cli("blend", paths["source"], paths["target"], paths[mask], "-o", out)
        assert result.code == 0, result.stderr
        outs.append((np.asarray(Image.open(out)), result.stderr))
    (blend01, note01), (blend255, note255) = outs
    assert np.array_equal(blend01, blend255)
    assert not np.array_equal(blend01, target)  # something was blended
    notes = [line for line in note01.splitlines() if line.strip()]
    assert len(notes) == 1 and notes[0].startswith("note:") and "0/1" in notes[0]
    assert note255.strip() == ""


def test_mask_levels_keeps_the_threshold_for_0_255_masks():
    grey = np.array([[0, 100, 128, 255]], np.float32) / 255
    levels, zero_one = mask_levels(grey)
    assert not zero_one and np.array_equal(levels, grey)
    assert (levels > 0.5).tolist() == [[False, False, True, True]]
    ones, zero_one = mask_levels(np.array([[0, 1, 1, 0]], np.float32) / 255)
    assert zero_one and ones.tolist() == [[0, 1, 1, 0]]
    empty, zero_one = mask_levels(np.zeros((2, 2), np.float32))
    assert not zero_one and not empty.any()
