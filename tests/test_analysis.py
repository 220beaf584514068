"""helpers.nst.analysis: the image metrics against independent computations, and the notebook
analyses (03's noisy-cell budget check, 07's colour check) on small random-weight runs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import torch

from helpers import nst
from helpers.nst import controls, losses

FAST = dict(weights="random", device="cpu", steps=2)


@pytest.fixture
def picture():
    g = np.random.default_rng(0)
    yy, xx = np.mgrid[0:24, 0:24] / 23.0
    smooth = np.stack([xx, yy, 0.5 * (xx + yy)], axis=2)
    return np.clip(smooth + 0.05 * g.standard_normal(smooth.shape), 0, 1).astype(np.float32)


def test_high_frequency_energy_is_the_mean_squared_laplacian(picture):
    lap = np.stack([scipy.ndimage.laplace(picture[..., c].astype(np.float64)) for c in range(3)])
    expected = np.mean(lap[:, 1:-1, 1:-1] ** 2)  # interior pixels: no boundary rule
    assert nst.high_frequency_energy(picture) == pytest.approx(expected, rel=1e-12)


def test_mean_squared_gradient_is_squared_tv_per_value_and_another_metric(picture):
    tv = losses.total_variation(torch.from_numpy(picture.transpose(2, 0, 1).copy())[None].double())
    assert nst.mean_squared_gradient(picture) == pytest.approx(tv.item() / picture.size)
    # a linear ramp: neighbour differences, but no curvature for the Laplacian to see
    ramp = np.repeat((np.arange(16) / 15.0)[None, :, None], 16, axis=0).repeat(3, axis=2)
    assert nst.mean_squared_gradient(ramp) > 0
    assert nst.high_frequency_energy(ramp) == pytest.approx(0.0, abs=1e-20)


def test_budget_check_reruns_the_cell_with_a_larger_budget(picture):
    style = np.ascontiguousarray(picture[::-1])
    grid = nst.alpha_beta_grid(
        picture, style, ratios=[1e-2, 1e-4], style_layer_sets=[[1, 0, 0, 0, 0]], **FAST
    )
    cell = grid.at(grid.rows[0], grid.cols[1])
    check = nst.budget_check(picture, style, cell, factor=3, **FAST)
    assert check.longer.evaluations <= 6 and check.longer_steps == 6 and check.steps == 2
    assert check.longer.objectives[0].ratio == cell.objectives[0].ratio
    assert check.longer.objectives[0].style_layers == cell.objectives[0].style_layers
    assert list(check.energy) == ["photo", "style", "2 evals", "6 evals"]
    assert check.cell_energy == nst.high_frequency_energy(cell.image)
    assert check.longer_energy == nst.high_frequency_energy(check.longer.image)
    halved = check.longer_energy < 0.5 * check.cell_energy
    assert check.verdict == ("the budget" if halved else "the objective")


def test_color_check_measures_the_colour_grid(picture):
    styles = {"a": np.ascontiguousarray(picture[::-1]), "b": np.ascontiguousarray(picture[:, ::-1])}
    grid = controls.color_grid(picture, styles, content_layers="conv1_1", **FAST)
    check = nst.color_check(picture, styles, grid)
    assert len(check.luminance_only) == 2
    assert check.luminance_only[1] is grid.images[4]  # row b, column luminance-only
    ycc = controls.rgb_to_ycbcr(picture)
    own = controls.rgb_to_ycbcr(grid.images[1])
    assert check.chroma_error_255[0] == pytest.approx(np.abs(own - ycc)[..., 1:].mean() * 255)
    assert check.luma_change_255[0] == pytest.approx(np.abs(own - ycc)[..., 0].mean() * 255)
    assert max(check.chroma_error_255) <= 1.0  # luminance-only keeps the photo's chroma
    assert check.histogram_mean_error < 1e-3  # matched means before clipping
    shift = np.abs(grid.images[0].mean(axis=(0, 1)) - picture.mean(axis=(0, 1))).max() * 255
    assert check.plain_shift_255 == pytest.approx(shift, rel=1e-4)
