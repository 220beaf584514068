"""Pérez et al. Sec. 4 edits and Color2Gray (helpers.gdf.editing, helpers.gdf.color2gray).

Each edit is checked on a measured property of its result, against an independent oracle where
one exists (scipy's sparse direct solve of the same Poisson system, a discrete Laplacian computed
here with numpy), never against numbers the code under test produced.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse.linalg as spla

from helpers.errors import UserError
from helpers.gdf import color2gray as c2g
from helpers.gdf import editing
from helpers.gdf.blending import blend
from helpers.gdf.operators import masked_laplacian

LUMA = np.array([0.299, 0.587, 0.114])


def laplacian(f: np.ndarray) -> np.ndarray:
    """sum over the 4-neighbours q inside the image of (f_p - f_q), per channel (numpy oracle)."""
    out = np.zeros_like(f, dtype=np.float64)
    out[1:] += f[1:] - f[:-1]
    out[:-1] += f[:-1] - f[1:]
    out[:, 1:] += f[:, 1:] - f[:, :-1]
    out[:, :-1] += f[:, :-1] - f[:, 1:]
    return out


def harmonic_fill(values: np.ndarray, omega: np.ndarray) -> np.ndarray:
    """``values`` with Omega replaced by the solution of Laplace's equation (spsolve oracle)."""
    h, w = omega.shape
    ys, xs = np.nonzero(omega)
    b = np.zeros(ys.size)
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        qy, qx = ys + dy, xs + dx
        ok = (qy >= 0) & (qy < h) & (qx >= 0) & (qx < w)
        outside = ok.copy()
        outside[ok] = ~omega[qy[ok], qx[ok]]
        np.add.at(b, np.flatnonzero(outside), values[qy[outside], qx[outside]])
    out = values.astype(np.float64).copy()
    out[ys, xs] = spla.spsolve(masked_laplacian(omega).tocsc(), b)
    return out


def smooth(h, w, seed, channels=3):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    chans = [
        np.sin(2 * np.pi * (rng.uniform(0.5, 2) * y + rng.uniform(0.5, 2) * x) + rng.uniform(0, 6))
        for _ in range(channels)
    ]
    return 0.25 + 0.25 * (np.stack(chans, axis=2) + 1) / 2


@pytest.fixture
def region():
    m = np.zeros((48, 60), dtype=bool)
    m[8:40, 10:52] = True
    m[20:26, 28:34] = False  # a hole: Omega is not a rectangle
    return m


def test_guided_solve_matches_sparse_direct_solve(region):
    rng = np.random.default_rng(0)
    h, w = region.shape
    base = rng.random((h, w, 2))
    vx, vy = rng.normal(0, 0.05, (h, w - 1, 2)), rng.normal(0, 0.05, (h - 1, w, 2))
    res = editing.guided_solve(base, region, vx, vy)
    assert res.max_residual <= 1e-6
    assert np.array_equal(res.image[~region], base[~region])
    # oracle: Pérez Eq. 7 assembled here from the guidance, solved by spsolve
    div = np.zeros((h, w, 2))  # sum_q v_pq with v_pq the wanted f_p - f_q
    div[:, :-1] -= vx
    div[:, 1:] += vx
    div[:-1] -= vy
    div[1:] += vy
    for c in range(2):
        # f = base + e, e harmonic-with-source: solve A f = b directly
        ys, xs = np.nonzero(region)
        b = div[ys, xs, c] + (laplacian(np.where(region, 0.0, base[..., c])) * -1)[ys, xs]
        want = spla.spsolve(masked_laplacian(region).tocsc(), b)
        np.testing.assert_allclose(res.image[ys, xs, c], want, atol=2e-5)


def test_monochrome_transfer_chroma_is_harmonic_and_luma_follows_the_source(region):
    h, w = region.shape
    target = smooth(h, w, 1)
    # source: an isoluminant red | green edge inside Omega plus luminance ripples
    red, green = np.array([0.8, 0.2, 0.2]), np.array([0.2, 0.0, 0.2])
    green[1] = (red @ LUMA - green[0] * LUMA[0] - green[2] * LUMA[2]) / LUMA[1]
    source = np.where((np.arange(w) < 30)[None, :, None], red, green) * np.ones((h, w, 1))
    source += 0.05 * np.sin(np.arange(h) / 3.0)[:, None, None]
    res = editing.monochrome_transfer(source, target, region)
    assert res.max_residual <= 1e-6
    out = res.image
    for a, b in ((0, 1), (2, 1)):  # chroma R - G and B - G: the harmonic fill of the target's
        chroma = out[..., a] - out[..., b]
        want = harmonic_fill(target[..., a] - target[..., b], region)
        np.testing.assert_allclose(chroma[region], want[region], atol=1e-5)
        # the source's colour edge (a jump of |red - green| in chroma) does not survive
        jump = abs((red[a] - red[b]) - (green[a] - green[b]))
        across = region[:, 29] & region[:, 30]  # the pairs across the source's edge
        assert np.abs(chroma[across, 30] - chroma[across, 29]).max() < jump / 10
    # luma: its Laplacian on Omega is the source's (Eq. 7 with the source's luma gradients)
    lap_out, lap_src = laplacian(out @ LUMA), laplacian(source @ LUMA)
    np.testing.assert_allclose(lap_out[region], lap_src[region], atol=1e-5)
    # and it is Poisson blending of the grey source (an independent path through blend)
    grey = np.repeat((source @ LUMA)[..., None], 3, axis=2)
    np.testing.assert_allclose(out, blend(grey, target, region).image, atol=1e-5)


def _step_with_texture(h=40, w=48):
    """A vertical step (0.3 -> 0.7 between columns 23 and 24) plus weak texture patches that
    stay away from the step and from Omega's border (Omega = rows/cols 4..-4)."""
    y, x = np.mgrid[0:h, 0:w]
    step = np.where(x >= 24, 0.7, 0.3)
    texture = 0.02 * np.sin(x * 1.3) * np.sin(y * 0.9)
    texture[:, 18:30] = 0.0
    texture[:7], texture[-7:], texture[:, :7], texture[:, -7:] = 0.0, 0.0, 0.0, 0.0
    omega = np.zeros((h, w), dtype=bool)
    omega[4:-4, 4:-4] = True
    return step, texture, omega


@pytest.mark.parametrize("rule", ["either", "forward"])
def test_texture_flatten_keeps_only_edge_gradients(rule):
    step, texture, omega = _step_with_texture()
    image = np.repeat((step + texture)[..., None], 3, axis=2)
    edges = editing.edge_map(image, method="threshold", threshold=0.2)
    assert edges.any() and not edges[:, :20].any()  # the step only, not the texture
    res = editing.texture_flatten(image, omega, edges="threshold", threshold=0.2, rule=rule)
    assert res.max_residual <= 1e-6
    out = res.image[..., 0]
    gx = np.diff(out, axis=1)
    in_x = omega[:, 1:] & omega[:, :-1]
    on_x = in_x & (edges[:, 1:] | edges[:, :-1])
    # off the edge map the gradients vanish, on it they are the source's
    assert np.abs(gx[in_x & ~on_x]).max() <= 1e-5
    np.testing.assert_allclose(gx[on_x], np.diff(step + texture, axis=1)[on_x], atol=1e-5)
    assert np.abs(np.diff(out, axis=0)[omega[1:] & omega[:-1]]).max() <= 1e-5


def test_texture_flatten_with_canny_flattens_a_noisy_image():
    pytest.importorskip("cv2")
    rng = np.random.default_rng(3)
    step, _, omega = _step_with_texture()
    image = np.repeat((step + rng.normal(0, 0.01, step.shape))[..., None], 3, axis=2)
    res = editing.texture_flatten(image, omega, edges="canny")
    inside = omega[:, 1:] & omega[:, :-1] & (np.abs(np.diff(step, axis=1)) == 0)
    before = np.abs(np.diff(image[..., 0], axis=1))[inside].mean()
    after = np.abs(np.diff(res.image[..., 0], axis=1))[inside].mean()
    assert after < before / 3, (before, after)


def test_illumination_field_follows_the_formula(region):
    image = smooth(*region.shape, 4)
    vx, _, a = editing.illumination_field(image, region, alpha=0.3, beta=0.4, alpha_units="unit")
    gx, gy = np.zeros_like(image), np.zeros_like(image)
    gx[:, :-1], gy[:-1] = np.diff(image, axis=1), np.diff(image, axis=0)
    norm = np.hypot(gx, gy)[:, :-1]
    want = 0.3**0.4 * norm ** (-0.4) * np.diff(image, axis=1)
    np.testing.assert_allclose(vx, np.where(norm > 0, want, 0.0), rtol=1e-12)
    assert a == 0.3


@pytest.mark.parametrize("beta", [0.4, -0.4])
def test_illumination_change_moves_gradients_the_way_beta_says(region, beta):
    rng = np.random.default_rng(5)
    image = smooth(*region.shape, 6) + rng.normal(0, 0.03, region.shape + (3,))
    res = editing.illumination_change(image, region, alpha=0.2, beta=beta)
    assert res.max_residual <= 1e-6

    def mean_gradient(f):
        inside = region[:, 1:] & region[:, :-1]
        return np.abs(np.diff(f, axis=1))[inside].mean()

    before, after = mean_gradient(image), mean_gradient(res.image)
    # alpha is 0.2 x the mean gradient: most gradients exceed it, so beta > 0 shrinks them
    assert (after < before) if beta > 0 else (after > before), (before, after)


def test_color_change_scales_each_channels_laplacian(region):
    image = smooth(*region.shape, 7)
    same = editing.color_change(image, region, (1.0, 1.0, 1.0))
    np.testing.assert_allclose(same.image, image, atol=1e-6)
    gains = np.array([1.5, 0.5, 1.0])
    res = editing.color_change(image, region, tuple(gains))
    assert res.max_residual <= 1e-6 and np.array_equal(res.image[~region], image[~region])
    np.testing.assert_allclose(
        laplacian(res.image)[region], (laplacian(image) * gains)[region], atol=1e-5
    )


def test_seamless_tile_has_no_seam():
    rng = np.random.default_rng(8)
    # a texture whose opposite borders do not match (a ramp plus noise)
    y, x = np.mgrid[0:40, 0:52]
    image = np.stack([0.2 + 0.6 * x / 52, 0.3 + 0.4 * y / 40, 0.5 + 0 * x], axis=2)
    image = image + rng.normal(0, 0.02, image.shape)
    plain = editing.seam_difference(image)
    res = editing.seamless_tile(image)
    assert res.max_residual <= 1e-6
    assert plain > 0.1  # measured on the plain tile: a visible seam
    assert editing.seam_difference(res.image) <= 1 / 255
    # inside, the tile keeps the texture's Laplacian (its gradients, in Eq. 7's sense)
    inner = np.zeros(image.shape[:2], dtype=bool)
    inner[1:-1, 1:-1] = True
    np.testing.assert_allclose(laplacian(res.image)[inner], laplacian(image)[inner], atol=1e-5)
    tiled = editing.tile(res.image)
    assert tiled.shape == (80, 104, 3)


def test_color2gray_keeps_isoluminant_contrast():
    pattern = c2g.isoluminant_pattern(64)
    lum = pattern.astype(np.float64) @ LUMA
    edges = c2g.colour_edges(pattern)
    assert edges[0].sum() + edges[1].sum() > 50
    res = c2g.color2gray(pattern)
    kept, plain = c2g.contrast_kept(res.image, edges), c2g.contrast_kept(lum, edges)
    assert kept >= 10 * plain, (kept, plain)
    assert abs(res.image.mean() - lum.mean()) <= 1e-9


def test_color2gray_of_a_grey_image_is_that_image():
    grey = smooth(20, 24, 9, channels=1)
    res = c2g.color2gray(np.repeat(grey, 3, axis=2))
    np.testing.assert_allclose(res.image, grey[..., 0], atol=1e-6)


def test_rgb_to_lab_known_values():
    lab = c2g.rgb_to_lab(np.array([[[1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]]))
    np.testing.assert_allclose(lab[0, 0], [100, 0, 0], atol=1e-3)
    np.testing.assert_allclose(lab[0, 1], [53.24, 80.09, 67.20], atol=0.05)  # sRGB red
    np.testing.assert_allclose(lab[0, 2], [0, 0, 0], atol=1e-9)


def test_opencv_agrees_where_the_field_is_the_same(region):
    pytest.importorskip("cv2")
    from helpers.gdf.edit_examples import compare_edit

    image = smooth(*region.shape, 10).astype(np.float32)
    for kind, params in (("color", {"gains": (1.5, 0.5, 1.0)}), ("illumination", {})):
        c = compare_edit(kind, image, region, **params)
        assert c.opencv is not None and c.opencv.shape == image.shape
        assert c.difference < 10, (kind, c.difference)  # 8-bit levels, eroded mask aside


@pytest.mark.parametrize(
    ("call", "text"),
    [
        (lambda i, m: editing.color_change(i, np.zeros_like(m)), "empty"),
        (lambda i, m: editing.color_change(i, np.ones_like(m)), "whole image"),
        (lambda i, m: editing.color_change(i, m, (1, 2)), "three numbers"),
        (lambda i, m: editing.color_change(i, m[:-1]), "same size"),
        (lambda i, m: editing.texture_flatten(i, m, edges="sobel"), "edge method"),
        (lambda i, m: editing.illumination_change(i, m, alpha=0.0), "alpha"),
        (lambda i, m: editing.illumination_change(i, m, alpha_units="px"), "alpha units"),
        (lambda i, m: editing.seamless_tile(i[:2]), "3x3"),
        (lambda i, m: editing.seamless_tile(i * np.nan), "NaN"),
        (lambda i, m: editing.monochrome_transfer(i[:30], i, m[:30]), "offset"),
        (lambda i, m: c2g.color2gray(i[..., 0]), "(H, W, 3)"),
    ],
)
def test_bad_input_is_one_user_error(region, call, text):
    image = smooth(*region.shape, 11)
    with pytest.raises(UserError) as info:
        call(image, region)
    assert text.lower() in str(info.value).lower() and "\n" not in str(info.value)
