"""CLI ``blend`` and ``toy``: one summary line on success; bad input = one error line, exit 2,
no output file, inputs untouched."""

from __future__ import annotations

import numpy as np
import pytest
from badinput import assert_clean_error, hashes, run_cli
from PIL import Image

from helpers.images import load_image


def _smooth(h, w, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    chans = [
        np.sin(2 * np.pi * (rng.uniform(0.5, 3) * y + rng.uniform(0.5, 3) * x) + rng.uniform(0, 6))
        for _ in range(3)
    ]
    return ((np.stack(chans, axis=2) + 1) * 127.5).astype(np.uint8)


@pytest.fixture
def files(tmp_path):
    h, w = 40, 52
    src, tgt = _smooth(h, w, 1), _smooth(h, w, 2)
    mask = np.zeros((h, w), np.uint8)
    mask[8:30, 10:40] = 255
    paths = {
        "source": tmp_path / "source.png",
        "target": tmp_path / "target.jpg",
        "mask": tmp_path / "mask.png",
        "rgba": tmp_path / "source_rgba.png",
        "empty": tmp_path / "empty_mask.png",
        "small_mask": tmp_path / "small_mask.png",
        "small_source": tmp_path / "small_source.png",
        "small_source_mask": tmp_path / "small_source_mask.png",
    }
    Image.fromarray(src).save(paths["source"])
    Image.fromarray(tgt).save(paths["target"], quality=95)
    Image.fromarray(mask, "L").save(paths["mask"])
    Image.fromarray(np.dstack([src, mask])).save(paths["rgba"])
    Image.fromarray(np.zeros((h, w), np.uint8), "L").save(paths["empty"])
    Image.fromarray(mask[:20, :20], "L").save(paths["small_mask"])
    Image.fromarray(src[:20, :26]).save(paths["small_source"])
    Image.fromarray(mask[:20, :26], "L").save(paths["small_source_mask"])
    return paths


@pytest.mark.parametrize("mode", ["poisson", "mixed"])
def test_blend_writes_result_and_summary(files, tmp_path, mode):
    out = tmp_path / "out.png"
    before = hashes([files["source"], files["target"], files["mask"]])
    res = run_cli(
        "blend", files["source"], files["target"], files["mask"], "-o", out, "--mode", mode
    )
    assert res.code == 0, res.stderr
    line = res.stdout.strip()
    assert "\n" not in line and "unknowns" in line and "residual" in line and " s" in line
    assert f"{mode} blend" in line
    img = load_image(out)
    tgt = load_image(files["target"])
    m = load_image(files["mask"], "L") > 0.5
    assert img.shape == tgt.shape
    # outside: the target (8-bit output)
    np.testing.assert_allclose(img[~m], tgt[~m], atol=1 / 255 + 1e-6)
    assert hashes(before) == before


def test_blend_alpha_as_mask_and_offset(files, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert run_cli("blend", files["rgba"], files["target"], "-o", a).code == 0
    assert run_cli("blend", files["source"], files["target"], files["mask"], "-o", b).code == 0
    np.testing.assert_array_equal(load_image(a), load_image(b))
    c = tmp_path / "c.png"
    res = run_cli(
        "blend",
        files["small_source"],
        files["target"],
        files["small_source_mask"],
        "-o",
        c,
        "--offset",
        "30",
        "40",
    )
    assert res.code == 0, res.stderr
    assert "cropped" in res.stdout  # part of the mask lands outside the 40x52 target


def test_toy_command(tmp_path):
    from helpers.assets import asset_path

    out = tmp_path / "toy.png"
    res = run_cli("toy", asset_path("gdf/toy_problem.png"), "-o", out)
    assert res.code == 0, res.stderr
    assert "max |error|" in res.stdout and "unknowns" in res.stdout
    want = load_image(asset_path("gdf/toy_problem.png"), "L")
    np.testing.assert_allclose(load_image(out, "L"), want, atol=1e-6)


def _bad(files, tmp_path, args, contains, out_name="out.png"):
    out = tmp_path / out_name
    inputs = [files[k] for k in ("source", "target", "mask", "rgba", "empty")]
    before = hashes(inputs)
    res = run_cli(*args, "-o", out)
    return assert_clean_error(res, output=out, inputs_before=before, contains=contains)


def test_blend_bad_inputs(files, tmp_path):
    f = files
    _bad(f, tmp_path, ["blend", f["source"], f["target"], f["empty"]], "empty")
    _bad(f, tmp_path, ["blend", f["source"], f["target"]], "alpha")
    _bad(f, tmp_path, ["blend", f["source"], f["target"], f["small_mask"]], ("20x20", "40x52"))
    small = ["blend", f["small_source"], f["target"], f["small_source_mask"]]
    _bad(f, tmp_path, small, "same size")
    far = ["blend", f["source"], f["target"], f["mask"], "--offset", "500", "0"]
    _bad(f, tmp_path, far, "outside")
    _bad(f, tmp_path, ["blend", tmp_path / "nope.png", f["target"], f["mask"]], "not found")
    _bad(f, tmp_path, ["blend", f["source"], f["target"], f["mask"], "--mode", "average"], "mode")
    _bad(f, tmp_path, ["blend", f["source"], f["target"], f["mask"]], "suffix", out_name="out.xyz")
    full = tmp_path / "full.png"
    Image.fromarray(np.full((40, 52), 255, np.uint8), "L").save(full)
    _bad(f, tmp_path, ["blend", f["source"], f["target"], full], "whole target")
    # the output folder must exist, checked before any work
    missing = tmp_path / "missing_dir" / "o.png"
    res = run_cli("blend", f["source"], f["target"], f["mask"], "-o", missing)
    assert res.code == 2 and "does not exist" in res.stderr
    # never overwrite an input
    before = hashes([f["target"]])
    same = f["target"].with_suffix(".jpg")
    res = run_cli("blend", f["source"], f["target"], f["mask"], "-o", same)
    assert res.code == 2 and "input" in res.stderr and hashes(before) == before


def test_toy_bad_inputs(tmp_path):
    line = tmp_path / "line.png"
    Image.fromarray(np.zeros((1, 9), np.uint8), "L").save(line)
    out = tmp_path / "o.png"
    before = hashes([line])
    res = run_cli("toy", line, "-o", out)
    assert_clean_error(res, output=out, inputs_before=before, contains="2x2")
    res = run_cli("toy", tmp_path / "none.png", "-o", out)
    assert_clean_error(res, output=out, inputs_before=before, contains="not found")


# ----------------------------------------------------------------- issue 14: editing modes


@pytest.mark.parametrize("mode", ["flatten", "illumination", "color"])
def test_blend_in_place_modes(files, tmp_path, mode):
    out = tmp_path / "edit.png"
    extra = {"flatten": ["--edge-threshold", "0.05"], "illumination": ["--beta", "0.3"],
             "color": ["--color-gain", "1.5,0.5,1"]}[mode]  # fmt: skip
    before = hashes([files["source"], files["mask"]])
    res = run_cli("blend", files["source"], files["mask"], "-o", out, "--mode", mode, *extra)
    assert res.code == 0, res.stderr
    assert "unknowns" in res.stdout and "residual" in res.stdout and "\n" not in res.stdout.strip()
    img, src = load_image(out), load_image(files["source"])
    m = load_image(files["mask"], "L") > 0.5
    np.testing.assert_allclose(img[~m], src[~m], atol=1 / 255 + 1e-6)  # outside: untouched
    assert np.abs(img[m] - src[m]).max() > 2 / 255  # inside: edited
    assert hashes(before) == before


def test_blend_monochrome_is_the_library_edit(files, tmp_path):
    from helpers.gdf import monochrome_transfer

    out = tmp_path / "mono.png"
    res = run_cli("blend", files["source"], files["target"], files["mask"], "-o", out,
                  "--mode", "monochrome", "--offset", "2", "-3")  # fmt: skip
    assert res.code == 0 and "monochrome transfer" in res.stdout, res.stderr
    m = load_image(files["mask"], "L")
    want = monochrome_transfer(
        load_image(files["source"]), load_image(files["target"]), m, offset=(2, -3)
    ).clipped
    np.testing.assert_allclose(load_image(out), want, atol=0.5 / 255 + 1e-6)


def test_tile_command(files, tmp_path):
    one, four = tmp_path / "tile.png", tmp_path / "tiled.png"
    res = run_cli("tile", files["source"], "-o", one)
    assert res.code == 0 and "seam" in res.stdout, res.stderr
    tile = load_image(one)
    np.testing.assert_array_equal(tile[0], tile[-1])  # the borders agree: no seam
    np.testing.assert_array_equal(tile[:, 0], tile[:, -1])
    assert run_cli("tile", files["source"], "-o", four, "--repeat", "2", "3").code == 0
    assert load_image(four).shape == (2 * tile.shape[0], 3 * tile.shape[1], 3)


def test_color2gray_command(tmp_path):
    from helpers.gdf import colour_edges, contrast_kept, isoluminant_pattern

    pattern = tmp_path / "pattern.png"
    Image.fromarray((isoluminant_pattern(48) * 255 + 0.5).astype(np.uint8)).save(pattern)
    out = tmp_path / "grey.png"
    res = run_cli("color2gray", pattern, "-o", out)
    assert res.code == 0 and "contrast across colour edges" in res.stdout, res.stderr
    rgb = load_image(pattern)
    edges = colour_edges(rgb)
    kept = contrast_kept(load_image(out, "L"), edges)
    plain = contrast_kept(rgb @ np.array([0.299, 0.587, 0.114]), edges)
    assert kept >= 10 * plain, (kept, plain)


def test_editing_bad_inputs(files, tmp_path):
    f = files
    in_place = ["blend", f["source"], f["mask"]]
    _bad(f, tmp_path, [*in_place, "--mode", "color"], "--color-gain")
    _bad(f, tmp_path, [*in_place, "--mode", "color", "--color-gain", "1,x,2"], "three numbers")
    _bad(f, tmp_path, [*in_place, "--mode", "color", "--color-gain", "1,-1,2"], "three numbers")
    _bad(f, tmp_path, [*in_place, "--mode", "flatten", "--alpha", "0.3"], "--alpha")
    _bad(f, tmp_path, ["blend", f["source"], f["target"], f["mask"], "--beta", "1"], "--beta")
    _bad(f, tmp_path, ["blend", f["source"], f["target"], f["mask"], "--mode", "flatten"],
         "IMAGE MASK")  # fmt: skip
    _bad(f, tmp_path, [*in_place, "--mode", "illumination", "--alpha", "0"], "alpha")
    _bad(f, tmp_path, ["blend", f["source"], f["empty"], "--mode", "flatten"], "empty")
    _bad(f, tmp_path, ["blend", f["source"], f["small_mask"], "--mode", "flatten"], "same size")
    _bad(f, tmp_path, [*in_place, "--mode", "flatten", "--offset", "1", "1"], "--offset")
    _bad(f, tmp_path, ["tile", f["source"], "--repeat", "0", "2"], "--repeat")
    _bad(f, tmp_path, ["tile", tmp_path / "nope.png"], "not found")
    _bad(f, tmp_path, ["color2gray", f["source"]], "suffix", out_name="out.xyz")
    _bad(f, tmp_path, ["color2gray", f["source"], "--mu", "0"], "mu")
    line = tmp_path / "line.png"
    Image.fromarray(np.zeros((2, 9, 3), np.uint8)).save(line)
    _bad(f, tmp_path, ["tile", line], "3x3")


def test_blend_modes_are_gdfs_mode_table():
    from helpers import gdf
    from helpers.cli import build_parser

    blend = build_parser()._subparsers._group_actions[0].choices["blend"]
    mode = next(a for a in blend._actions if a.dest == "mode")
    assert tuple(mode.choices) == tuple(gdf.MODES)
    assert set(gdf.EDIT_MODES) == set(gdf.EDITS) == {"flatten", "illumination", "color"}
