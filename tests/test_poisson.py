"""Gradient-domain fusion: every guarantee of issue 4, checked against independent oracles.

The oracle for blending assembles Pérez et al.'s discrete system (Eq. 7 with the guidance of
Eq. 11 / 13) pixel by pixel with Python loops and solves it with ``scipy.sparse.linalg.spsolve``
— nothing from ``helpers`` is used to build it.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from helpers import gdf, tables
from helpers.errors import UserError
from helpers.gdf import operators

NEIGHBOURS = ((-1, 0), (1, 0), (0, -1), (0, 1))


def oracle_system(src, tgt, mask, mode="poisson", offset=(0, 0)):
    """Loop-assembled ``A``, ``b`` (per channel) and Omega for the blend of ``src`` into ``tgt``."""
    src = np.asarray(src, dtype=np.float64)
    tgt = np.asarray(tgt, dtype=np.float64)
    src3 = src if src.ndim == 3 else src[..., None]
    tgt3 = tgt if tgt.ndim == 3 else tgt[..., None]
    h, w, c = tgt3.shape
    hs, ws = src3.shape[:2]
    dy, dx = offset
    omega = np.zeros((h, w), dtype=bool)
    for i in range(hs):
        for j in range(ws):
            if mask[i, j] and 0 <= i + dy < h and 0 <= j + dx < w:
                omega[i + dy, j + dx] = True
    index = {}
    for y in range(h):
        for x in range(w):
            if omega[y, x]:
                index[(y, x)] = len(index)
    n = len(index)
    a = sp.lil_matrix((n, n))
    b = np.zeros((n, c))
    for (y, x), k in index.items():
        for oy, ox in NEIGHBOURS:
            qy, qx = y + oy, x + ox
            if not (0 <= qy < h and 0 <= qx < w):
                continue  # no neighbour outside the image: natural Neumann edge
            a[k, k] += 1
            gt = tgt3[y, x] - tgt3[qy, qx]
            sy, sx, ty, tx = y - dy, x - dx, qy - dy, qx - dx
            gs = src3[sy, sx] - src3[ty, tx] if 0 <= ty < hs and 0 <= tx < ws else gt
            # mixed: the larger gradient, ties go to the source
            v = np.where(np.abs(gs) >= np.abs(gt), gs, gt) if mode == "mixed" else gs
            b[k] += v
            if (qy, qx) in index:
                a[k, index[(qy, qx)]] -= 1
            else:
                b[k] += tgt3[qy, qx]
    return a.tocsc(), b, omega


def oracle_blend(src, tgt, mask, mode="poisson", offset=(0, 0)):
    a, b, omega = oracle_system(src, tgt, mask, mode, offset)
    tgt3 = np.asarray(tgt, dtype=np.float64)
    tgt3 = tgt3 if tgt3.ndim == 3 else tgt3[..., None]
    out = tgt3.copy()
    if b.shape[0]:
        out[omega] = spla.spsolve(a, b).reshape(b.shape)
    return out if np.asarray(tgt).ndim == 3 else out[..., 0]


def residual_against_oracle(result, src, tgt, mask, mode="poisson", offset=(0, 0)):
    a, b, omega = oracle_system(src, tgt, mask, mode, offset)
    img = result.image if result.image.ndim == 3 else result.image[..., None]
    x = img[omega]
    return np.linalg.norm(b - a @ x, axis=0) / np.linalg.norm(b, axis=0)


def smooth_image(rng, h, w, c=3):
    """A smooth random colour image in [0, 1] (sums of low-frequency waves), float32."""
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    out = np.zeros((h, w, c))
    for k in range(c):
        for _ in range(3):
            fy, fx, ph = rng.uniform(0.5, 4, 2).tolist() + [rng.uniform(0, 6)]
            out[..., k] += np.sin(2 * np.pi * (fy * y + fx * x) + ph)
    out = (out - out.min()) / (out.max() - out.min())
    return out.astype(np.float32) if c > 1 else out[..., 0].astype(np.float32)


def blob_mask(h, w, cy, cx, radius, *, wobble=0.25, lobes=5):
    yy, xx = np.mgrid[0:h, 0:w]
    th = np.arctan2(yy - cy, xx - cx)
    r = np.hypot(yy - cy, xx - cx)
    return r < radius * (1 - wobble + wobble * np.sin(lobes * th))


@pytest.fixture
def scene(rng):
    h, w = 36, 44
    src = smooth_image(rng, h, w)
    tgt = smooth_image(rng, h, w)
    mask = blob_mask(h, w, 18, 22, 14)
    return src, tgt, mask


# --------------------------------------------------------------------------- operators


def test_forward_differences_match_np_diff(rng):
    img = rng.random((7, 9))
    dx, dy = operators.forward_differences(img.shape)
    gx, gy = operators.gradients(img)
    np.testing.assert_allclose((dx @ img.ravel()).reshape(7, 8), np.diff(img, axis=1))
    np.testing.assert_allclose((dy @ img.ravel()).reshape(6, 9), np.diff(img, axis=0))
    np.testing.assert_allclose(gx, np.diff(img, axis=1))
    np.testing.assert_allclose(gy, np.diff(img, axis=0))


def test_masked_laplacian_matches_loop_oracle(rng):
    h, w = 9, 11
    mask = rng.random((h, w)) < 0.6
    mask[0, :] = True  # touches the border
    pins = np.zeros((h, w))
    pins[0, 3] = 0.5
    a = operators.masked_laplacian(mask, pins=pins).toarray()
    coords = list(zip(*np.nonzero(mask)))
    index = {p: k for k, p in enumerate(coords)}
    want = np.zeros((len(coords), len(coords)))
    for (y, x), k in index.items():
        want[k, k] = pins[y, x]
        for oy, ox in NEIGHBOURS:
            qy, qx = y + oy, x + ox
            if 0 <= qy < h and 0 <= qx < w:
                want[k, k] += 1
                if (qy, qx) in index:
                    want[k, index[(qy, qx)]] = -1
    np.testing.assert_array_equal(a, want)
    # full mask, no pins: the Neumann grid Laplacian D^T D
    full = operators.masked_laplacian(np.ones((h, w), bool)).toarray()
    np.testing.assert_array_equal(full, operators.grid_laplacian((h, w)).toarray())


@pytest.mark.parametrize("spacing", [None, 0, 4, 8])
@pytest.mark.parametrize("case", ["interior", "corner", "all_borders", "pins", "thin", "one_pixel"])
def test_system_operators_and_solve_match_sparse(rng, case, spacing):
    """Both preconditioner choices (box solve alone, box + coarse space) and the automatic
    one give the products and the solution of the sparse matrix."""
    if spacing == 0 and case in ("all_borders", "pins"):
        pytest.skip("a pure Neumann box needs the coarse space (it supplies the constant mode)")
    h, w = 29, 37
    pins = None
    if case == "interior":
        mask = blob_mask(h, w, 14, 18, 11)
    elif case == "corner":  # touches bottom and right: Neumann on those sides
        mask = rng.random((h, w)) < 0.9
        mask[:3] = False
        mask[:, :4] = False
    elif case == "all_borders":
        mask = rng.random((h, w)) < 0.85
    elif case == "pins":
        mask = np.ones((h, w), bool)
        pins = np.zeros((h, w))
        pins[0, 0] = 1.0
    elif case == "thin":
        mask = np.zeros((h, w), bool)
        mask[3:26, 9] = True
        mask[14, 2:35] = True
    else:
        mask = np.zeros((h, w), bool)
        mask[10, 12] = True
    system = gdf.PoissonSystem(mask, pins=pins, coarse_spacing=spacing)
    if spacing == 0 or (spacing is None and case not in ("all_borders", "pins")):
        assert system.coarse is None  # small and not pure Neumann: the box solve alone
    elif case != "one_pixel":
        assert system.coarse is not None
    a = operators.masked_laplacian(mask, pins=pins)
    ys, xs = np.nonzero(mask)
    oy, ox = system.origin
    x = rng.random((2,) + system.shape) * system.inside32
    ax = system.apply(x)
    np.testing.assert_allclose(ax[:, ys - oy, xs - ox].T, a @ x[:, ys - oy, xs - ox].T, atol=1e-12)
    assert not np.any(ax * (1 - system.inside32))
    # the stencil-free products of the two preconditioner parts equal A times their output
    r = (rng.random((2,) + system.shape) * system.inside32).astype(np.float32)
    y, ay = system.box_solve(r)
    np.testing.assert_allclose(ay, system.apply(y), rtol=0, atol=2e-5 * np.abs(ay).max())
    if system.coarse is not None:
        v, av = system.coarse_solve(r)
        np.testing.assert_allclose(
            av, system.apply(v.astype(np.float64)), rtol=0, atol=2e-4 * np.abs(av).max()
        )
    # the solve against spsolve
    b = rng.random((2,) + system.shape) * system.inside32
    sol, info = gdf.solve(system, b, tol=1e-10)
    want = spla.spsolve(a.tocsc(), b[:, ys - oy, xs - ox].T)
    assert info.converged and np.all(info.residual <= 1e-10)
    atol = 1e-7 * max(1.0, np.abs(want).max())
    np.testing.assert_allclose(sol[:, ys - oy, xs - ox].T, want, atol=atol)


def test_coarse_matrix_is_galerkin_product(rng):
    h, w = 40, 52
    mask = blob_mask(h, w, 20, 26, 17)
    mask[0:6, 0:5] = True
    system = gdf.PoissonSystem(mask, coarse_spacing=8)
    co = system.coarse
    a = operators.masked_laplacian(mask)
    ys, xs = np.nonzero(mask)
    oy, ox = system.origin
    z = co.prolong(np.eye(co.n), dtype=np.float64)[:, ys - oy, xs - ox].T  # explicit Z (n x nc)
    want = z.T @ (a @ z)
    got = co.matrix.toarray()
    # equal up to the relative diagonal regularisation (1e-8)
    np.testing.assert_allclose(got, want, atol=2e-8 * np.abs(want).max())
    r = rng.random((1,) + system.shape) * system.inside32
    np.testing.assert_allclose(co.restrict(r)[:, 0], z.T @ r[0, ys - oy, xs - ox], atol=1e-9)


# --------------------------------------------------------------------------- toy problem


def test_toy_reconstruction_is_exact_on_the_sample():
    from helpers import images

    image = images.load("gdf/toy_problem.png", mode="L")
    result = gdf.toy_reconstruct(image)
    assert result.max_abs_error <= 1e-6
    assert result.image.shape == image.shape
    gx, gy = result.gradients
    np.testing.assert_allclose(gx, np.diff(image.astype(np.float64), axis=1), atol=1e-12)
    np.testing.assert_allclose(gy, np.diff(image.astype(np.float64), axis=0), atol=1e-12)


def test_toy_naive_agrees_with_fast(rng):
    image = rng.random((9, 12))
    fast = gdf.toy_reconstruct(image)
    naive = gdf.toy_reconstruct_naive(image)
    assert fast.max_abs_error <= 1e-9
    np.testing.assert_allclose(naive.image, image, atol=1e-6)
    np.testing.assert_allclose(fast.image, naive.image, atol=1e-6)


def test_toy_rejects_bad_input():
    with pytest.raises(UserError, match="grey"):
        gdf.toy_reconstruct(np.zeros((1, 5)))
    with pytest.raises(UserError, match="NaN"):
        gdf.toy_reconstruct(np.full((4, 4), np.nan))


# --------------------------------------------------------------------------- blending guarantees


@pytest.mark.parametrize("mode", ["poisson", "mixed"])
def test_blend_matches_oracle_and_keeps_outside_exact(scene, mode):
    src, tgt, mask = scene
    src_before, tgt_before, mask_before = src.copy(), tgt.copy(), mask.copy()
    result = gdf.blend(src, tgt, mask, mode=mode)
    # outside the mask: the target, bit for bit
    assert np.array_equal(result.image[~mask], tgt[~mask].astype(np.float64))
    # inside: the exact discrete solution
    want = oracle_blend(src, tgt, mask, mode)
    np.testing.assert_allclose(result.image, want, atol=1e-5)
    assert np.all(residual_against_oracle(result, src, tgt, mask, mode) <= 1e-6)
    assert np.all(result.residual <= 1e-6)
    assert result.unknowns == mask.sum() and result.mode == mode
    # inputs untouched
    assert np.array_equal(src, src_before) and np.array_equal(tgt, tgt_before)
    assert np.array_equal(mask, mask_before)


def test_mixed_takes_larger_gradient_with_ties_to_source(rng):
    h, w = 20, 24
    tgt = smooth_image(rng, h, w, 1)
    stripes = np.zeros((h, w), np.float32)
    stripes[:, ::4] = 1.0  # strong source edges
    mask = np.zeros((h, w), bool)
    mask[5:15, 6:18] = True
    mixed = gdf.blend(stripes, tgt, mask, mode="mixed")
    np.testing.assert_allclose(mixed.image, oracle_blend(stripes, tgt, mask, "mixed"), atol=1e-5)
    # a real tie everywhere: equal magnitude, opposite sign (source = 1 - target).  Values on a
    # 1/64 grid make 1 - t and every difference exact, so |g_source| == |g_target| bit for bit.
    # Ties -> source gives the Poisson blend of the inverted image; ties -> target would give
    # the target itself (its own gradients, its own border).
    grid = (rng.integers(0, 65, (h, w)) / 64).astype(np.float32)
    inverted = (1 - grid).astype(np.float32)
    gs, gt = np.diff(inverted.astype(np.float64), axis=1), np.diff(grid.astype(np.float64), axis=1)
    assert np.array_equal(np.abs(gs), np.abs(gt)) and np.array_equal(gs, -gt)
    a = gdf.blend(inverted, grid, mask, mode="mixed").image
    b = gdf.blend(inverted, grid, mask, mode="poisson").image
    np.testing.assert_allclose(a, b, atol=1e-9)
    np.testing.assert_allclose(a, oracle_blend(inverted, grid, mask, "mixed"), atol=1e-6)
    assert np.abs(a - grid)[mask].max() > 0.1  # not the target: the tie went to the source
    # a flat source: the target gradient is larger everywhere, so mixed keeps the target
    flat = np.full((h, w), 0.5, np.float32)
    kept = gdf.blend(flat, tgt, mask, mode="mixed")
    np.testing.assert_allclose(kept.image, tgt, atol=1e-5)


def test_empty_mask_returns_target(scene):
    src, tgt, _ = scene
    result = gdf.blend(src, tgt, np.zeros(tgt.shape[:2], bool))
    assert np.array_equal(result.image, tgt.astype(np.float64))
    assert result.unknowns == 0


def test_source_equal_to_target_returns_target(scene):
    _, tgt, mask = scene
    for mode in ("poisson", "mixed"):
        result = gdf.blend(tgt, tgt, mask, mode=mode)
        np.testing.assert_array_equal(result.image, tgt.astype(np.float64))


@pytest.mark.parametrize("where", ["top_left", "bottom_right", "full_width", "all_but_one"])
def test_mask_touching_the_border(rng, where):
    h, w = 30, 34
    src, tgt = smooth_image(rng, h, w), smooth_image(rng, h, w)
    mask = np.zeros((h, w), bool)
    if where == "top_left":
        mask[:12, :15] = True
    elif where == "bottom_right":
        mask[20:, 25:] = True
        mask[10:, 30:] = True
    elif where == "full_width":
        mask[8:20, :] = True
    else:
        mask[:] = True
        mask[15, 17] = False  # one Dirichlet pixel anchors the whole image
    result = gdf.blend(src, tgt, mask)
    np.testing.assert_allclose(result.image, oracle_blend(src, tgt, mask), atol=1e-4)
    assert np.all(residual_against_oracle(result, src, tgt, mask) <= 1e-6)
    assert np.array_equal(result.image[~mask], tgt[~mask].astype(np.float64))


def test_offset_places_and_crops(rng):
    src = smooth_image(rng, 16, 20)
    tgt = smooth_image(rng, 30, 40)
    mask = blob_mask(16, 20, 8, 10, 7)
    for offset in [(5, 12), (-3, 30), (22, -4)]:  # inside, cropped right, cropped bottom-left
        result = gdf.blend(src, tgt, mask, offset=offset)
        want = oracle_blend(src, tgt, mask, offset=offset)
        np.testing.assert_allclose(result.image, want, atol=1e-5)
        assert np.array_equal(result.mask, gdf.place_mask(mask, (30, 40), offset))
        assert np.array_equal(result.image[~result.mask], tgt[~result.mask].astype(np.float64))
        assert np.all(residual_against_oracle(result, src, tgt, mask, offset=offset) <= 1e-6)
    with pytest.raises(UserError, match="entirely outside"):
        gdf.blend(src, tgt, mask, offset=(100, 0))


def test_alpha_channel_is_the_mask(scene):
    src, tgt, mask = scene
    rgba = np.concatenate([src, np.where(mask, 0.9, 0.1)[..., None].astype(np.float32)], axis=2)
    via_alpha = gdf.blend(rgba, tgt)
    via_mask = gdf.blend(src, tgt, mask)
    np.testing.assert_array_equal(via_alpha.image, via_mask.image)
    with pytest.raises(UserError, match="alpha"):
        gdf.blend(src, tgt)


def test_grey_and_colour(scene):
    src, tgt, mask = scene
    grey = gdf.blend(src[..., 0], tgt[..., 0], mask)
    assert grey.image.ndim == 2
    colour = gdf.blend(src, tgt, mask)
    np.testing.assert_allclose(grey.image, colour.image[..., 0], atol=1e-6)
    np.testing.assert_allclose(grey.image, oracle_blend(src[..., 0], tgt[..., 0], mask), atol=1e-5)
    mixed_kinds = gdf.blend(src[..., 0], tgt, mask)  # grey source into a colour target
    assert mixed_kinds.image.shape == tgt.shape
    rgb_src = np.repeat(src[..., :1], 3, axis=2)
    np.testing.assert_allclose(mixed_kinds.image, gdf.blend(rgb_src, tgt, mask).image, atol=1e-9)


def test_anti_aliased_mask_threshold(scene):
    src, tgt, mask = scene
    soft = np.where(mask, 0.6, 0.4)
    np.testing.assert_array_equal(gdf.blend(src, tgt, soft).mask, mask)
    assert gdf.MASK_THRESHOLD == 0.5


def test_bad_blend_inputs_raise_user_errors(scene):
    src, tgt, mask = scene
    with pytest.raises(UserError, match="36x44"):
        gdf.blend(src[:30], tgt, mask[:30])
    with pytest.raises(UserError, match="mask is 36x40"):
        gdf.blend(src, tgt, mask[:, :40])
    with pytest.raises(UserError, match="whole target"):
        gdf.blend(src, tgt, np.ones(mask.shape, bool))
    with pytest.raises(UserError, match="mode"):
        gdf.blend(src, tgt, mask, mode="average")
    with pytest.raises(UserError, match="NaN"):
        gdf.blend(np.full_like(src, np.nan), tgt, mask)
    with pytest.raises(UserError, match="dtype"):
        gdf.blend((src * 255).astype(np.uint8), tgt, mask)
    with pytest.raises(UserError, match="offset"):
        gdf.blend(src, tgt, mask, offset=(1.5, 2))


def test_several_components_and_holes(rng):
    h, w = 40, 48
    src, tgt = smooth_image(rng, h, w), smooth_image(rng, h, w)
    mask = blob_mask(h, w, 20, 24, 16, wobble=0.1)
    mask[16:24, 20:28] = False  # a hole
    mask[2:6, 2:9] = True  # a separate island
    result = gdf.blend(src, tgt, mask, mode="mixed")
    np.testing.assert_allclose(result.image, oracle_blend(src, tgt, mask, "mixed"), atol=1e-5)
    assert np.all(residual_against_oracle(result, src, tgt, mask, "mixed") <= 1e-6)


def test_relative_residual_helper_agrees_with_oracle(scene):
    src, tgt, mask = scene
    result = gdf.blend(src, tgt, mask, mode="mixed")
    np.testing.assert_allclose(
        gdf.relative_residual(result, src, tgt, mask),
        residual_against_oracle(result, src, tgt, mask, "mixed"),
        rtol=1e-6,
    )


def test_naive_paste(scene):
    src, tgt, mask = scene
    pasted = gdf.naive_paste(src, tgt, mask)
    np.testing.assert_array_equal(pasted[mask], src[mask])
    np.testing.assert_array_equal(pasted[~mask], tgt[~mask])


def test_larger_blend_residual(rng):
    """Large sizes belong to the benchmark; 140x170 already exercises the coarse space."""
    h, w = 140, 170
    src, tgt = smooth_image(rng, h, w), smooth_image(rng, h, w)
    mask = blob_mask(h, w, 70, 85, 62)
    result = gdf.blend(src, tgt, mask)
    assert np.all(residual_against_oracle(result, src, tgt, mask) <= 1e-6)
    assert np.array_equal(result.image[~mask], tgt[~mask].astype(np.float64))


# --------------------------------------------------------------------------- notebook helpers


def test_compare_example_and_saving(scene):
    src, tgt, mask = scene
    ex = gdf.Example("synthetic", src, tgt, mask)
    comp = gdf.compare_example(ex, opencv=gdf.opencv_available())
    assert list(comp.images) == list(gdf.COLUMNS)
    assert comp.outside_exact and comp.unknowns == mask.sum()
    assert max(comp.residuals.values()) <= 1e-6
    want = np.clip(oracle_blend(src, tgt, mask), 0, 1)
    np.testing.assert_allclose(comp.images["Poisson"], want, atol=1e-5)
    saved, regions = {}, {}

    def save(name, img, region):
        saved[name], regions[name] = img, region

    names = gdf.save_comparisons([comp], save)
    assert names == ["synthetic-poisson", "synthetic-mixed"] and set(saved) == set(names)
    ys, xs = np.nonzero(mask)  # the regression check compares blends inside the mask's box
    box = (ys.min(), xs.min(), ys.max() + 1, xs.max() + 1)
    assert all(r == box for r in regions.values())
    top, left, bottom, right = box
    assert not mask[:top].any() and not mask[bottom:].any() and mask[top].any()
    assert not mask[:, :left].any() and not mask[:, right:].any() and mask[:, left].any()
    assert "synthetic" in tables.blend_comparison_table([comp])
    no_cv = gdf.compare_example(ex, opencv=False)
    assert no_cv.images["OpenCV normal"] is None and np.isnan(no_cv.opencv_difference())
    summary = gdf.summarize([comp, no_cv])
    assert summary.names == ["synthetic", "synthetic"] and summary.outside_exact and summary.finite
    assert summary.max_residual == max(max(comp.residuals.values()), max(no_cv.residuals.values()))
    assert not summary.opencv_complete and summary.metrics["synthetic"]["unknowns"] == mask.sum()
    assert gdf.pick([comp], ["nothing"]) == [comp] and gdf.pick([comp], ["synthetic"]) == [comp]
    crop = gdf.mask_crop(comp.images["Poisson"], mask, margin=0.0)
    ys, xs = np.nonzero(mask)
    assert crop.shape[:2] == (ys.max() - ys.min() + 5, xs.max() - xs.min() + 5)


@pytest.mark.skipif(not gdf.opencv_available(), reason="OpenCV (the opencv extra) not installed")
def test_opencv_clone_lines_up(scene):
    src, tgt, mask = scene
    out = gdf.opencv_clone(src, tgt, mask)
    assert out.shape == tgt.shape
    far = np.ones_like(mask)
    ys, xs = np.nonzero(mask)
    # OpenCV only touches the mask's box
    far[ys.min() - 1 : ys.max() + 2, xs.min() - 1 : xs.max() + 2] = False
    np.testing.assert_allclose(out[far], tgt[far], atol=1 / 255 + 1e-6)


def test_load_example_sizes():
    names = gdf.list_examples()
    assert "penguin_snow" in names and "toy_problem" not in names
    ex = gdf.load_example("bird_sky", size=(64, 48))
    assert ex.target.shape == (48, 64, 3) and ex.mask.shape == (48, 64) and ex.mask.dtype == bool
    ex = gdf.load_example("bird_sky", size=100)
    assert max(ex.target.shape[:2]) == 100
    with pytest.raises(UserError, match="unknown example"):
        gdf.load_example("no_such_example")


def test_toy_timing(rng):
    image = rng.random((8, 10))
    timing = gdf.toy_timing(image, repeats=2, naive=True)
    # no wall-clock assert: the speed-up is only checked to be the ratio it claims to be
    assert timing.naive is not None
    assert timing.speedup == pytest.approx(timing.naive_seconds / timing.fast_seconds, rel=1e-12)
    # both timed solvers solved the same problem
    np.testing.assert_allclose(timing.naive.image, timing.fast.image, atol=1e-4)
    np.testing.assert_allclose(timing.fast.image, image, atol=1e-6)
    alone = gdf.toy_timing(image, repeats=1, naive=False)
    assert alone.naive is None and np.isnan(alone.speedup)
    assert set(timing.seconds) == {"vectorised (toy_reconstruct)", "seed: per-pixel loops + lsqr"}
    assert "faster" in timing.summary()


def test_single_threaded_blas_limits_and_restores_numpys_blas():
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before = blas_threads()
    with gdf.single_threaded_blas() as limited:
        assert limited == bool(before)  # NumPy's wheels bring OpenBLAS: True here
        assert all(n == 1 for n in blas_threads())
    assert blas_threads() == before


def test_target_alpha_passes_through(scene):
    src, tgt, mask = scene
    alpha = np.linspace(0, 1, tgt.shape[0] * tgt.shape[1], dtype=np.float32).reshape(tgt.shape[:2])
    rgba = np.concatenate([tgt, alpha[..., None]], axis=2)
    res = gdf.blend(src, rgba, mask)
    assert res.image.shape == rgba.shape
    np.testing.assert_array_equal(res.image[..., 3], alpha.astype(np.float64))
    np.testing.assert_array_equal(res.image[..., :3], gdf.blend(src, tgt, mask).image)


def _scipy_transform(x, kinds, inverse):
    """The oracle: the box transform spelled out with public scipy.fft (Dirichlet at the low
    end: a sine transform; the same kind at both ends: type II, else type IV), one n-D call
    when both axes have the same kind, else one call per axis."""
    import scipy.fft as sfft

    def pick(kind, nd):
        sine, typ = kind[0] == "D", 2 if kind in ("DD", "NN") else 4
        names = ("idst" if sine else "idct") if inverse else ("dst" if sine else "dct")
        return getattr(sfft, names + ("n" if nd else "")), typ

    if kinds[0] == kinds[1]:
        fn, typ = pick(kinds[0], nd=True)
        return fn(x, type=typ, axes=(1, 2), norm="ortho")
    out = x
    for axis, kind in ((1, kinds[0]), (2, kinds[1])):
        fn, typ = pick(kind, nd=False)
        out = fn(out, type=typ, axis=axis, norm="ortho")
    return out


@pytest.mark.parametrize("kinds", [("DD", "DD"), ("NN", "NN"), ("ND", "DN"), ("DN", "NN")])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_box_transform_equals_public_scipy_fft(rng, kinds, dtype):
    from helpers.gdf import box

    x = rng.random((2, 12, 20)).astype(dtype)
    fwd = box.transform(x, kinds, inverse=False, in_place=False)
    inv = box.transform(fwd.copy(), kinds, inverse=True)
    # bit for bit what public scipy.fft computes (the solver's numbers did not change when the
    # private pocketfft binding was dropped)
    np.testing.assert_array_equal(fwd, _scipy_transform(x, kinds, inverse=False))
    np.testing.assert_array_equal(inv, _scipy_transform(fwd, kinds, inverse=True))
    np.testing.assert_allclose(inv, x, atol=1e-5 if dtype == np.float32 else 1e-12)


def test_box_uses_public_scipy_fft_only():
    import inspect

    from helpers.gdf import box

    source = inspect.getsource(box)
    assert "_pocketfft" not in source and "scipy.fft._" not in source


def test_mixed_gradient_takes_the_larger_and_ties_go_to_the_source():
    ds = np.array([0.5, -0.2, 0.1, -0.3, 0.0])
    dt = np.array([-0.5, 0.3, 0.0, 0.3, -1e-9])
    np.testing.assert_array_equal(gdf.mixed_gradient(ds, dt), [0.5, 0.3, 0.1, -0.3, -1e-9])


def test_results_share_one_summary_line():
    blend = gdf.BlendResult(np.zeros((2, 2)), np.ones((2, 2), bool), "mixed", (0, 0), 1234,
                            np.array([1e-7, 3e-7]), 7, 0.5)  # fmt: skip
    grey = gdf.Color2GrayResult(np.zeros((3, 4)), np.zeros((3, 4)), 2e-9, 2, 0.25)
    assert isinstance(blend, gdf.SolvedImage) and isinstance(grey, gdf.SolvedImage)
    assert blend.summary() == "mixed blend: 1,234 unknowns, residual 3.0e-07, 7 iterations, 0.500 s"
    assert grey.summary() == "color2gray: 12 unknowns, residual 2.0e-09, 2 iterations, 0.250 s"
    assert grey.max_residual == 2e-9 and np.array_equal(grey.clipped, grey.image)


def test_poisson_guidance_equals_guidance_divergence(rng):
    from helpers.gdf.blending import _guidance

    h, w = 40, 50
    mask = blob_mask(h, w, 20, 25, 12)
    src, tgt = rng.random((h, w, 3)).astype(np.float32), rng.random((h, w, 3)).astype(np.float32)
    system = gdf.PoissonSystem(mask)
    g, _ = _guidance(system, src, tgt, (0, 0), "poisson")
    want = operators.guidance_divergence(
        system.to_box(src, np.float32), system.to_box(tgt, np.float32)
    )
    np.testing.assert_allclose(g, want * system.inside32, rtol=0, atol=1e-12)
