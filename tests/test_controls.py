"""The Gatys et al. 2017 controls (helpers.nst.controls, helpers.nst.color, the guided Gram in
helpers.nst.losses): each checked on a measured property against an independent computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import nst
from helpers.errors import UserError
from helpers.nst import color, controls, losses

FAST = dict(
    weights="random",
    device="cpu",
    progress=False,
    content_layers="conv1_1",
    style_layers="conv1_1,conv2_1,conv3_1",
    ratio=1e-2,
)


def smooth(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth random colour image, (h, w, 3) float32 in [0.1, 0.9]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    chans = [
        np.sin(2 * np.pi * (rng.uniform(1, 4) * y + rng.uniform(1, 4) * x) + rng.uniform(0, 6))
        for _ in range(3)
    ]
    return (0.5 + 0.4 * np.stack(chans, axis=2)).astype(np.float32)


def stripes(h: int, w: int, period: int, tint) -> np.ndarray:
    """A texture: stripes of ``period`` px in colour ``tint`` over dark grey."""
    x = np.arange(w)[None, :] + np.arange(h)[:, None] * (period // 2)
    on = ((x // period) % 2 == 0)[..., None]
    return np.where(on, np.asarray(tint, np.float32), np.float32(0.15)).astype(np.float32)


@pytest.fixture(scope="module")
def images():
    return {
        "content": smooth(32, 40, 0),
        "a": stripes(32, 40, 4, (0.9, 0.8, 0.1)),
        "b": stripes(32, 40, 11, (0.1, 0.3, 0.9)),
    }


# --- colour ------------------------------------------------------------------------------------


def test_ycbcr_round_trip_and_known_values():
    rgb = np.random.default_rng(0).random((5, 6, 3)).astype(np.float32)
    assert np.allclose(color.ycbcr_to_rgb(color.rgb_to_ycbcr(rgb)), rgb, atol=1e-5)
    ycc = color.rgb_to_ycbcr(np.array([[[1.0, 1.0, 1.0], [0.0, 0.0, 1.0]]]))
    assert np.allclose(ycc[0, 0], [1.0, 0.5, 0.5], atol=1e-6)  # white: no chroma
    assert np.allclose(ycc[0, 1], [0.114, 1.0, 0.5 - 0.081312], atol=1e-6)  # JPEG's blue


@pytest.mark.parametrize("method", color.HISTOGRAM_METHODS)
def test_histogram_matching_gives_the_content_mean_and_covariance(images, method):
    content = images["content"]
    # a style with its own colour cast and full-rank colour covariance (a two-colour image has
    # a rank-1 covariance, which no linear map can turn into the content's)
    style = smooth(30, 30, 7) @ np.array([[0.7, 0.2, 0.0], [0.1, 0.5, 0.1], [0.0, 0.2, 0.3]])
    out = color.match_histogram(style, content, method=method, clip=False)
    px, ref = out.reshape(-1, 3).astype(np.float64), content.reshape(-1, 3).astype(np.float64)
    assert np.allclose(px.mean(0), ref.mean(0), atol=1e-5)
    cov, cov_ref = np.cov(px, rowvar=False, bias=True), np.cov(ref, rowvar=False, bias=True)
    assert np.abs(cov - cov_ref).max() < 1e-3 * np.abs(cov_ref).max()
    # the style's own colours are far from the content's, so the match is not vacuous
    before = np.cov(style.reshape(-1, 3), rowvar=False, bias=True)
    assert np.abs(before - cov_ref).max() > 100 * np.abs(cov - cov_ref).max()


def test_histogram_variants_differ_but_both_match():
    rng = np.random.default_rng(1)
    mix = np.array([[0.6, 0.3, 0.1], [0.1, 0.7, 0.2], [0.3, 0.1, 0.6]])
    style = np.clip(rng.random((20, 20, 3)) @ mix, 0, 1).astype(np.float32)
    content = np.clip(rng.random((20, 20, 3)) @ mix.T, 0, 1).astype(np.float32)
    eig = color.match_histogram(style, content, method="eigen", clip=False)
    chol = color.match_histogram(style, content, method="cholesky", clip=False)
    assert np.abs(eig - chol).max() > 1e-3
    with pytest.raises(UserError, match="histogram method"):
        color.match_histogram(style, content, method="lu")


def test_luminance_only_keeps_the_content_chroma(images):
    content = images["content"]
    options = {**FAST, "ratio": 1e-4}
    out = controls.stylize_controlled(
        content, images["a"], preserve_colors="luminance", steps=8, **options
    ).image
    got, ref = color.rgb_to_ycbcr(out), color.rgb_to_ycbcr(content)
    chroma = np.abs(got[..., 1:] - ref[..., 1:]).mean()
    luma = np.abs(got[..., 0] - ref[..., 0]).mean()
    assert chroma <= 1 / 255
    assert luma > 4 / 255 and luma > 10 * chroma  # the luminance was transferred


def test_luminance_inputs_match_the_content_luma_statistics(images):
    grey_c, grey_s = color.luminance_inputs(images["content"], images["b"])
    yc = color.rgb_to_ycbcr(images["content"])[..., 0]
    assert np.allclose(grey_c[..., 0], grey_c[..., 2]) and np.allclose(grey_c[..., 0], yc)
    assert abs(grey_s[..., 0].mean() - yc.mean()) < 0.01
    assert abs(grey_s[..., 0].std() - yc.std()) < 0.01


# --- guided Gram matrices ------------------------------------------------------------------------


def test_guided_gram_against_an_einsum_oracle():
    torch.manual_seed(0)
    feats = torch.rand(2, 5, 6, 8, dtype=torch.float64)
    mask = torch.zeros(1, 1, 6, 8, dtype=torch.float64)
    mask[..., 1:4, 2:7] = 1.0
    area = int(mask.sum())
    sel = feats[:, :, 1:4, 2:7].reshape(2, 5, -1)
    oracle = torch.einsum("bim,bjm->bij", sel, sel) * (48 / area)
    assert torch.allclose(losses.guided_gram_matrix(feats, mask), oracle)
    ones = torch.ones(1, 1, 6, 8, dtype=torch.float64)
    assert torch.allclose(losses.guided_gram_matrix(feats, ones), losses.gram_matrix(feats))


def test_masks_are_area_averaged_to_each_layer():
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :, :3] = 1.0
    small = losses.layer_mask(mask, (4, 4))
    assert torch.allclose(small[0, 0, 0], torch.tensor([1.0, 0.5, 0.0, 0.0]))


def test_style_mix_is_the_weighted_sum_of_guided_losses():
    torch.manual_seed(1)
    feats = torch.rand(3, 4, 6, 6, dtype=torch.float64, requires_grad=True)
    grams = tuple(losses.gram_matrix(torch.rand(1, 4, 6, 6, dtype=torch.float64)) for _ in "ab")
    mask = torch.zeros(1, 1, 6, 6, dtype=torch.float64)
    mask[..., :2, :] = 1.0
    weights = torch.tensor([[1.0, 0.25, 0.0], [0.0, 0.75, 1.0]], dtype=torch.float64)
    mix = losses.StyleMix(grams, weights, (mask, None))
    got = losses.style_layer_loss(feats, mix)
    n, m = 4, 36
    flat = feats.detach().reshape(3, 4, -1)
    masked = (feats.detach() * mask).reshape(3, 4, -1)
    g_masked = torch.einsum("bim,bjm->bij", masked, masked) * (m / 12)
    g_all = torch.einsum("bim,bjm->bij", flat, flat)
    e_a = ((g_masked - grams[0]) ** 2).sum((1, 2)) / (4 * n * n * m * m)
    e_b = ((g_all - grams[1]) ** 2).sum((1, 2)) / (4 * n * n * m * m)
    assert torch.allclose(got, weights[0] * e_a + weights[1] * e_b)
    assert torch.autograd.gradcheck(lambda f: losses.style_layer_loss(f, mix), (feats,))


# --- several styles ---------------------------------------------------------------------------


def test_blend_one_to_zero_is_the_single_style_bitwise_and_one_to_one_differs(images):
    c, a, b = images["content"], images["a"], images["b"]
    single_a = nst.stylize(c, a, steps=5, **FAST).image
    single_b = nst.stylize(c, b, steps=5, **FAST).image
    one_zero = controls.stylize_controlled(c, [a, b], blend=[1, 0], steps=5, **FAST).image
    half = controls.stylize_controlled(c, [a, b], blend=[1, 1], steps=5, **FAST).image
    assert np.array_equal(one_zero, single_a)
    assert np.abs(half - single_a).mean() > 1e-3 and np.abs(half - single_b).mean() > 1e-3


def test_blend_row_runs_every_blend_in_one_batch(images):
    row = controls.blend_row(
        images["content"], [images["a"], images["b"]], blends=[(1, 0), (1, 1)], steps=3, **FAST
    )
    assert row.cols == ["1:0", "1:1"] and len(row) == 2
    assert np.abs(row.images[0] - row.images[1]).mean() > 1e-4


def test_each_masked_region_is_closer_to_its_own_style(images):
    c, a, b = images["content"], images["a"], images["b"]
    top = np.zeros(c.shape[:2], np.float32)
    top[:16] = 1.0
    masks = [top, 1.0 - top]
    options = {**FAST, "ratio": 1e-4}
    layers = options["style_layers"]
    before = controls.region_style_losses(c, [a, b], masks, style_layers=layers, weights="random")
    assert before[0, 0] > before[0, 1]  # the photo's top is closer to style b: not vacuous
    out = controls.stylize_controlled(c, [a, b], masks=masks, steps=15, **options).image
    table = controls.region_style_losses(out, [a, b], masks, style_layers=layers, weights="random")
    assert table[0, 0] < table[0, 1] and table[1, 1] < table[1, 0]


def test_blend_weights_and_masks_are_checked():
    assert np.allclose(controls.blend_weights([3, 1], 2), [0.75, 0.25])
    with pytest.raises(UserError, match="3 blend weights for 2 style images"):
        controls.blend_weights([1, 1, 1], 2)
    with pytest.raises(UserError, match="all blend weights are zero"):
        controls.blend_weights([0, 0], 2)
    top = np.zeros((10, 12), np.float32)
    top[:4] = 1.0
    with pytest.raises(UserError, match=r"72 of 120 output pixels \(60.0%\) have no style"):
        controls.prepare_masks([top, top], 2, (10, 12))
    with pytest.raises(UserError, match="is empty"):
        controls.prepare_masks([top, np.zeros_like(top)], 2, (10, 12))
    masks, notes = controls.prepare_masks([top[::2, ::2], 1 - top], 2, (10, 12))
    assert masks[0].shape == (10, 12) and len(notes) == 1 and "resized" in notes[0]
    binary = (top / 255.0).astype(np.float32)  # an 8-bit 0/1 mask
    assert controls.load_mask(binary).max() == 1.0


# --- scales --------------------------------------------------------------------------------------


def test_scales_are_checked():
    assert controls.check_scales([16, 32], 4) == ([16, 32], [4, 4])
    assert controls.check_scales([16, 32], [5, 2]) == ([16, 32], [5, 2])
    with pytest.raises(UserError, match="must increase"):
        controls.check_scales([32, 32], 4)
    with pytest.raises(UserError, match="3 step counts for 2 scales"):
        controls.check_scales([16, 32], [1, 2, 3])


def test_multiscale_starts_each_scale_from_the_previous_result(images, monkeypatch):
    c, a = images["content"], images["a"]
    calls = []
    real = controls.stylize

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(controls, "stylize", spy)
    multi = controls.multiscale(c, a, scales=[20, 40], steps=[6, 2], **FAST)
    assert [max(s.image.shape[:2]) for s in multi.stages] == [20, 40]
    assert [k["steps"] for k in calls] == [6, 2] and calls[0]["init"] == "content"
    assert calls[1]["init"] is multi.stages[0].image  # the coarse result, upsampled by the loop
    assert multi.evaluations == 8 and multi.seconds >= sum(s.loop_seconds for s in multi.stages)


def test_cli_runs_every_control(images, tmp_path):
    from PIL import Image

    from helpers.cli import main

    paths = {}
    for name in ("content", "a", "b"):
        paths[name] = tmp_path / f"{name}.png"
        Image.fromarray((images[name] * 255).astype(np.uint8)).save(paths[name])
    mask = np.zeros((32, 40), np.uint8)
    mask[:16] = 255
    Image.fromarray(mask).save(tmp_path / "top.png")
    Image.fromarray(255 - mask).save(tmp_path / "bottom.png")
    out = tmp_path / "out.png"
    code = main(
        [
            "stylize",
            str(paths["content"]),
            str(paths["a"]),
            str(paths["b"]),
            "-o",
            str(out),
            "--weights",
            "random",
            "--no-progress",
            "--style-layers",
            "conv1_1,conv2_1",
            "--content-layers",
            "conv1_1",
            "--style-blend",
            "3,1",
            "--style-mask",
            str(tmp_path / "top.png"),
            "--style-mask",
            str(tmp_path / "bottom.png"),
            "--preserve-colors",
            "histogram",
            "--scales",
            "20,40",
            "--steps",
            "2,1",
        ]
    )
    assert code == 0 and np.asarray(Image.open(out)).shape == (32, 40, 3)
