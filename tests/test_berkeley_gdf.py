"""The Berkeley writeup's Project 2 as written (issue 26): its toy-problem pin, its Poisson
equations and its 4-channel source, each checked against an independent oracle.

* The equations: assembled pixel by pixel from the writeup's sentences (diagonal 4; a neighbour
  inside the mask gets -1 and ``b -= s_q - s_p``, one outside ``b += t_q``) and solved with
  ``scipy.sparse.linalg.spsolve``; the same loops with Pérez's two terms (``|N_p|``, guidance on
  every pair) give the series' system, so the difference is checked term by term.
* The toy pin: the loops' matrix against the vectorised one, and the exact solution each pin
  must give (the image, or the image shifted by ``-s(0, 1) / 2``).
* The RGBA source: the blend with no mask against the example's masked blend.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from helpers import gdf
from helpers.errors import UserError
from helpers.gdf import toy
from helpers.gdf.samples import EXAMPLES, derive_rgba_source

NEIGHBOURS = ((-1, 0), (1, 0), (0, -1), (0, 1))


def writeup_system(src, tgt, mask, *, berkeley=True, mode="poisson"):
    """``A``, ``b`` (per channel) over the mask pixels, assembled with loops.

    ``berkeley``: the writeup's sentences (diagonal 4; guidance only towards neighbours in the
    mask; a neighbour outside the image adds nothing).  Otherwise Pérez's Eq. 7 (diagonal
    ``|N_p|``, guidance towards every neighbour in the image)."""
    src3 = np.atleast_3d(np.asarray(src, dtype=np.float64))
    tgt3 = np.atleast_3d(np.asarray(tgt, dtype=np.float64))
    h, w, c = tgt3.shape
    coords = list(zip(*np.nonzero(mask), strict=True))
    index = {p: k for k, p in enumerate(coords)}
    a = sp.lil_matrix((len(coords), len(coords)))
    b = np.zeros((len(coords), c))
    for e, (y, x) in enumerate(coords):
        if berkeley:
            a[e, e] = 4  # "A[e, v[y, x]] = 4"
        for dy, dx in NEIGHBOURS:
            ny, nx = y + dy, x + dx
            if not (0 <= ny < h and 0 <= nx < w):
                continue
            if not berkeley:
                a[e, e] += 1  # |N_p|
            gs = src3[y, x] - src3[ny, nx]
            gt = tgt3[y, x] - tgt3[ny, nx]
            v = np.where(np.abs(gs) >= np.abs(gt), gs, gt) if mode == "mixed" else gs
            if mask[ny, nx]:
                a[e, index[(ny, nx)]] = -1
                b[e] += v  # "subtract b[e] by (s[n] - s[p])"
            else:
                b[e] += tgt3[ny, nx]  # "add b[e] by t[n]"
                if not berkeley:
                    b[e] += v  # Pérez: the guidance on the boundary pair too
    return a.tocsc(), b, coords


def writeup_blend(src, tgt, mask, **kwargs):
    a, b, coords = writeup_system(src, tgt, mask, **kwargs)
    out = np.atleast_3d(np.asarray(tgt, dtype=np.float64)).copy()
    ys, xs = np.array(coords).T
    out[ys, xs] = spla.spsolve(a, b).reshape(b.shape)
    return out


def smooth(rng, h, w, c=3):
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    out = np.zeros((h, w, c))
    for k in range(c):
        fy, fx, ph = rng.uniform(0.5, 3, 3)
        out[..., k] = 0.5 + 0.4 * np.sin(2 * np.pi * (fy * y + fx * x) + ph)
    return out.astype(np.float32)


@pytest.fixture
def scene(rng):
    h, w = 30, 38
    yy, xx = np.mgrid[0:h, 0:w]
    mask = (yy - 15) ** 2 / 100 + (xx - 19) ** 2 / 160 < 1
    return smooth(rng, h, w), smooth(rng, h, w), mask


# --------------------------------------------------------------------------- the equations


@pytest.mark.parametrize("mode", ["poisson", "mixed"])
@pytest.mark.parametrize("where", ["inside", "touching the image border"])
def test_berkeley_equations_match_a_direct_sparse_solve(scene, mode, where):
    src, tgt, mask = scene
    if where != "inside":
        mask = mask.copy()
        mask[:6, 10:20] = True  # reaches the top row: the diagonals 4 and |N_p| differ there
        mask[12:18, -4:] = True  # and the right column
    result = gdf.blend(src, tgt, mask, mode=mode, equations="berkeley", tol=1e-10)
    oracle = writeup_blend(src, tgt, mask, mode=mode)
    np.testing.assert_allclose(result.image, oracle, atol=1e-8)
    assert np.array_equal(result.image[~mask], tgt[~mask].astype(np.float64))
    assert result.equations == "berkeley" and "Berkeley" in result.summary()
    perez = gdf.blend(src, tgt, mask, mode=mode, tol=1e-10)
    np.testing.assert_allclose(
        perez.image, writeup_blend(src, tgt, mask, berkeley=False, mode=mode), atol=1e-8
    )


def test_the_two_systems_differ_only_by_the_boundary_guidance(scene):
    src, tgt, mask = scene  # the mask stays inside the image: |N_p| = 4 everywhere on it
    a_b, b_b, coords = writeup_system(src, tgt, mask)
    a_p, b_p, _ = writeup_system(src, tgt, mask, berkeley=False)
    assert abs(a_b - a_p).max() == 0  # the same matrix
    s = np.asarray(src, dtype=np.float64)
    expected = np.zeros_like(b_p)
    for e, (y, x) in enumerate(coords):
        for dy, dx in NEIGHBOURS:
            if not mask[y + dy, x + dx]:
                expected[e] += s[y, x] - s[y + dy, x + dx]
    np.testing.assert_allclose(b_p - b_b, expected, atol=1e-12)
    assert gdf.berkeley.border_pins(mask) is None


def test_unknown_equations_are_refused(scene):
    src, tgt, mask = scene
    with pytest.raises(UserError, match="equations"):
        gdf.blend(src, tgt, mask, equations="cmu")


def test_seam_steps_on_a_hand_made_step():
    target = np.zeros((5, 5))
    source = np.zeros((5, 5))
    mask = np.zeros((5, 5), dtype=bool)
    mask[2, 2] = True
    image = target.copy()
    image[2, 2] = 10 / 255  # a step of 10 levels to each of the 4 neighbours
    source[2, 2] = 4 / 255  # the source's own step: 4 levels
    steps = gdf.seam_steps(image, source, target, mask)
    assert steps.pairs == 4
    assert steps.step == pytest.approx(10) and steps.source_step == pytest.approx(4)
    assert steps.error == pytest.approx(6)


def test_compare_equations_reports_where_they_differ(scene):
    src, tgt, mask = scene
    edge = mask.copy()
    edge[0, 15:20] = True
    edge[1, 15:20] = True
    ex = gdf.Example("synthetic", src, tgt, edge)
    c = gdf.compare_equations(ex)
    assert c.border_pixels == 5  # the top row: |N_p| = 3 there, the writeup's diagonal 4
    assert c.max_difference > 0 and 0 < c.mean_difference <= c.max_difference
    assert set(c.metrics()) >= {"max_difference", "seam_perez", "seam_berkeley"}
    assert len(c.panels()) == 4 and "levels" in c.summary()


# --------------------------------------------------------------------------- the toy pin


@pytest.mark.parametrize("pin", toy.PINS)
def test_toy_system_is_the_loops_matrix(rng, pin):
    image = rng.random((6, 8))
    a, b = toy.toy_system(image, pin=pin)
    a_loops, b_loops = toy._loop_system(image, pin)
    assert a.shape == a_loops.shape == ((2 * 48, 48) if pin != "row" else (6 * 7 + 5 * 8 + 1, 48))
    assert abs(a - a_loops.tocsr()).max() == 0
    np.testing.assert_array_equal(b, b_loops)


def test_toy_pins_recover_the_image_or_shift_it_by_half_s01(rng):
    image = rng.random((9, 11))
    row = toy.toy_reconstruct_naive(image, pin="row")
    replaced = toy.toy_lsqr(image, pin="replace")
    as_written = toy.toy_lsqr(image, pin="overwrite")
    np.testing.assert_allclose(row.image, image, atol=1e-7)  # the oracle: the image itself
    np.testing.assert_allclose(replaced.image, image, atol=1e-7)
    # as written, row 0 reads v(0,0) + v(0,1) = s(0,0): every gradient kept, shifted by -s01/2
    np.testing.assert_allclose(as_written.image, image - image[0, 1] / 2, atol=1e-7)
    assert as_written.offset == pytest.approx(-image[0, 1] / 2, abs=1e-7)
    assert as_written.spread <= 1e-7
    naive = toy.toy_reconstruct_naive(image, pin="overwrite")
    np.testing.assert_allclose(naive.image, as_written.image, atol=1e-7)


def test_toy_pins_figure_data(rng):
    pins = gdf.toy_pins(rng.random((12, 10)))
    assert list(pins.results) == ["row", "overwrite", "replace"]
    assert len(pins.panels()) == 4
    assert pins.metrics()["replace"]["max_abs_difference"] <= 1e-6
    with pytest.raises(ValueError, match="pin"):
        toy.toy_system(np.zeros((3, 3)), pin="first")


# --------------------------------------------------------------------------- the RGBA source


@pytest.mark.parametrize("size", [None, "224x224", 96])
def test_rgba_source_blend_equals_the_masked_blend(size):
    check = gdf.alpha_source_blend("graffiti_wall", size=size)
    assert check.rgba.shape[2] == 4
    assert check.same_region and check.identical and check.max_difference == 0
    ex = gdf.load_example("graffiti_wall", size=size)
    np.testing.assert_array_equal(check.rgba[..., :3], ex.source)
    assert len(check.panels()) == 4 and check.metrics()["identical"]


def test_rgba_source_needs_a_source_and_mask_placed_together():
    with pytest.raises(UserError, match="RGBA"):
        derive_rgba_source(EXAMPLES["bird_sky"])
