"""Named recipes (``helpers.nst.recipes``), the relu/conv feature variants and the size-free
alpha/beta.

The CLI and optimiser checks use the ``random_weights`` fixture (their subject is the plumbing);
the size-carrying check uses the Caffe weights, since the balance it measures is that of the
trained network on a real photo.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import images, nst
from helpers.cli import main
from helpers.cli import stylize as cli_stylize
from helpers.errors import UserError
from helpers.images import save_image
from helpers.nst import vgg


@pytest.fixture
def inputs(tmp_path):
    g = np.random.default_rng(1)
    content, style = tmp_path / "c.png", tmp_path / "s.png"
    save_image(content, g.random((16, 20, 3)))
    save_image(style, g.random((24, 24, 3)))
    return content, style


def _spy(monkeypatch) -> dict:
    seen: dict = {}
    real = nst.stylize

    def spy(c, s, **kwargs):
        seen.update(kwargs)
        return real(c, s, **kwargs)

    monkeypatch.setattr(nst, "stylize", spy)
    return seen


@pytest.mark.parametrize("name", nst.RECIPE_NAMES)
def test_recipe_settings_round_trip_into_the_cli(
    name, inputs, tmp_path, monkeypatch, capsys, random_weights
):
    recipe = nst.get_recipe(name)
    seen = _spy(monkeypatch)
    code = main(
        [
            "stylize",
            *map(str, inputs),
            "-o",
            str(tmp_path / "o.png"),
            "--recipe",
            name,
            "--weights",
            random_weights,
            "--size",
            "32",
            "--steps",
            "1",
            "--no-progress",
        ]
    )
    capsys.readouterr()
    assert code == 0
    for key in (
        "pooling",
        "gram",
        "content_norm",
        "optimizer",
        "lr",
        "init",
        "noise",
        "style_size",
    ):
        assert seen[key] == getattr(recipe, key), key
    assert seen["content_layers"] == pytest.approx(recipe.content_layers)
    assert seen["style_layers"] == pytest.approx(recipe.style_layers)
    assert seen["size_free_ratio"] == recipe.ratio
    # explicit options win over the recipe's values
    assert seen["size"] == "32" and seen["steps"] == 1 and seen["weights"] == random_weights


def test_explicit_options_override_the_recipe(
    inputs, tmp_path, monkeypatch, capsys, random_weights
):
    seen = _spy(monkeypatch)
    code = main(
        [
            "stylize",
            *map(str, inputs),
            "-o",
            str(tmp_path / "o.png"),
            "--recipe",
            "cmu",
            "--weights",
            random_weights,
            "--size",
            "32",
            "--steps",
            "1",
            "--pooling",
            "avg",
            "--content-layers",
            "relu3_1",
            "--ratio",
            "0.5",
            "--optimizer",
            "adam",
            "--lr",
            "0.01",
            "--no-progress",
        ]
    )
    capsys.readouterr()
    assert code == 0
    assert seen["pooling"] == "avg" and seen["content_layers"] == {"relu3_1": 1.0}
    assert seen["ratio"] == 0.5 and "size_free_ratio" not in seen
    assert seen["optimizer"] == "adam" and seen["lr"] == 0.01
    assert seen["gram"] == "mean"  # not overridden: still the recipe's


def test_help_lists_the_recipes(capsys):
    with pytest.raises(SystemExit):
        main(["stylize", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in nst.RECIPE_NAMES:
        assert f"{name}:" in text
    # the CLI's text (written without importing torch) names what the recipes hold
    for name, recipe in nst.RECIPES.items():
        line = cli_stylize.RECIPE_HELP.split(f"{name}:")[1]
        assert recipe.optimizer.replace("lbfgs", "L-BFGS").lower() in line.lower()
        assert next(iter(recipe.content_layers)) in line


def test_unknown_recipe_is_a_user_error():
    with pytest.raises(UserError, match="gatys, berkeley, cmu"):
        nst.get_recipe("johnson")


def test_berkeley_optimiser_gets_lr_0_2(monkeypatch, random_weights):
    made = []
    real = torch.optim.Adam

    def adam(params, **kwargs):
        opt = real(params, **kwargs)
        made.append(opt)
        return opt

    monkeypatch.setattr(torch.optim, "Adam", adam)
    g = np.random.default_rng(0)
    options = nst.get_recipe("berkeley").options(size="16x16", steps=2, weights=random_weights)
    nst.stylize(
        g.random((16, 16, 3)), g.random((16, 16, 3)), progress=False, device="cpu", **options
    )
    assert len(made) == 1
    assert made[0].param_groups[0]["lr"] == pytest.approx(0.2)


def test_relu_features_are_non_negative_and_conv_features_are_not(random_weights):
    layers = [*vgg.STYLE_LAYERS, *vgg.CONV_STYLE_LAYERS]
    net = nst.build_network(layers, weights=random_weights)
    x = torch.from_numpy(np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32))
    out = net(x)
    for relu, conv in zip(vgg.STYLE_LAYERS, vgg.CONV_STYLE_LAYERS):
        assert float(out[relu].min()) >= 0.0
        assert float(out[conv].min()) < 0.0
        # oracle: the rectified feature is the conv response clamped at 0
        torch.testing.assert_close(out[relu], out[conv].clamp_min(0))
    assert vgg.as_kind(["conv1_1", "pool1", "relu2_1"], "relu") == ["relu1_1", "pool1", "relu2_1"]


def test_defaults_are_the_rectified_paper_layers():
    assert vgg.STYLE_LAYERS == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    assert [vgg.LAYER_INDEX[n] - 1 for n in vgg.STYLE_LAYERS] == [0, 5, 10, 19, 28]
    assert nst.DEFAULT_CONTENT_LAYERS == {"relu4_2": 1.0}


def test_ratio_at_is_inverse_to_size_free_ratio():
    for pixels in (64 * 48, 512 * 512, 1000):
        r = nst.ratio_at(3e-4, pixels)
        assert nst.size_free_ratio(r, pixels) == pytest.approx(3e-4)
    assert nst.ratio_at(3e-4, 512 * 512) == pytest.approx(3e-4)
    assert nst.ratio_at(2e-6, 100, content_norm="mean") == 2e-6  # mean losses: size-free


BALANCE_TOLERANCE = 1.5
"""Largest factor between the content/style balance at 64 and at 128 px under the carried
alpha/beta; a fixed alpha/beta would differ by about the area factor, 4."""


@pytest.mark.weights
def test_carried_ratio_keeps_the_content_style_balance_across_sizes():
    """alpha·L_content / (beta·L_style) of the same half-stylised picture at two sizes: with
    the carried ratio it stays within BALANCE_TOLERANCE; with one fixed ratio it moves ~4×."""
    balance, fixed = {}, {}
    for size in (64, 128):
        photo = images.load("nst/content/tubingen.jpg", size=size)
        painting = images.load("nst/style/starry_night.jpg", size=(photo.shape[1], photo.shape[0]))
        picture = 0.5 * photo + 0.5 * painting  # some image between the two
        ratio = nst.carried_ratio(nst.DEFAULT_RATIO_512, photo)
        res = nst.stylize(
            photo, painting, ratio=ratio, init=picture, steps=1, progress=False, device="cpu"
        )
        content, style = res.history.content[0, 0], res.history.style[0, 0]
        balance[size] = ratio * content / style
        fixed[size] = nst.DEFAULT_RATIO_512 * content / style
    carried = max(balance.values()) / min(balance.values())
    uncarried = max(fixed.values()) / min(fixed.values())
    assert carried < BALANCE_TOLERANCE
    assert uncarried > 2.5  # the check can fail: without carrying, the balance moves


def test_berkeley_and_mse_normalisations_match_their_formulas():
    """Oracles: Berkeley's Gram MSE / (4N²M²) is the paper's E_l / N²; the MSE content loss is
    the paper's ½·Σ times 2 / (N·M)."""
    from helpers.nst import losses

    g = torch.Generator().manual_seed(0)
    f, s = torch.rand(2, 6, 5, 4, generator=g), torch.rand(1, 6, 5, 4, generator=g)
    n, m = 6, 20
    target = losses.gram_matrix(s)
    paper = losses.style_layer_loss(f, target, gram="raw")
    berkeley = losses.style_layer_loss(f, target, gram="berkeley")
    torch.testing.assert_close(berkeley, paper / n**2)
    direct = ((torch.einsum("bim,bjm->bij", f.flatten(2), f.flatten(2)) - target) ** 2).mean(
        dim=(1, 2)
    ) / (4 * n**2 * m**2)
    torch.testing.assert_close(berkeley, direct)
    half_sum = losses.content_layer_loss(f, s)
    torch.testing.assert_close(losses.content_layer_loss(f, s, norm="mean"), half_sum * 2 / (n * m))
