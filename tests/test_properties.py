"""Property tests (hypothesis) for blending and the style losses (issue 7).

Blending: random small images (grey or colour), random masks — scattered pixels, frames and
crosses that touch every border, rings with holes, everything-but-one-pixel — and random
offsets that move the source partly off the target.  For every case: pixels outside the placed
mask equal the target exactly, the discrete Poisson residual of the independent, loop-assembled
system (``test_poisson.oracle_system``) is <= 1e-6, the result agrees with a direct
``scipy.sparse.linalg.spsolve``, and every value is finite; placements with nothing to solve or
nothing to anchor the solution are clear errors.

Losses: Gram matrices are symmetric positive semi-definite; the content and style losses are
zero (with zero gradient) for identical inputs, and the style loss ignores where features are.

The settings are deterministic (``derandomize=True``, no example database) and cheap enough for
CI: 40 examples per property.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_poisson import oracle_blend, residual_against_oracle

from helpers import gdf
from helpers.errors import UserError
from helpers.nst import losses

CI = settings(
    derandomize=True,
    max_examples=40,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)

MASK_KINDS = (
    "scattered",
    "scattered",
    "rectangle",
    "frame",
    "cross",
    "ring-with-hole",
    "all-but-one",
    "full",
    "empty",
)


def make_mask(kind: str, h: int, w: int, rng: np.random.Generator, density: float) -> np.ndarray:
    """(h, w) bool mask of one kind (frame and cross touch all four borders)."""
    m = np.zeros((h, w), bool)
    if kind == "scattered":
        m = rng.random((h, w)) < density
    elif kind == "rectangle":
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        m[y0 : rng.integers(y0 + 1, h + 1), x0 : rng.integers(x0 + 1, w + 1)] = True
    elif kind == "frame":
        m[[0, -1], :] = True
        m[:, [0, -1]] = True
    elif kind == "cross":
        m[rng.integers(0, h), :] = True
        m[:, rng.integers(0, w)] = True
    elif kind == "ring-with-hole":
        m[:, :] = True
        m[h // 2, w // 2] = False  # the hole
        if h > 3 and w > 3:  # and a margin, so the ring has an outer boundary as well
            m[0, :] = m[-1, :] = m[:, 0] = m[:, -1] = False
    elif kind == "full":
        m[:, :] = True
    elif kind == "all-but-one":
        m[:, :] = True
        m[rng.integers(0, h), rng.integers(0, w)] = False
    return m


@st.composite
def blend_cases(draw):
    h, w = draw(st.integers(2, 10)), draw(st.integers(2, 10))
    colour = draw(st.booleans())
    mode = draw(st.sampled_from(["poisson", "mixed"]))
    if draw(st.booleans()):  # a source of another size placed with an offset
        hs, ws = draw(st.integers(1, 10)), draw(st.integers(1, 10))
        # mostly overlapping the target (often cropped), sometimes missing it entirely
        offset = (draw(st.integers(-hs + 1, h - 1)), draw(st.integers(-ws + 1, w - 1)))
        if draw(st.integers(0, 9)) == 0:
            offset = (offset[0] + (h + hs) * draw(st.sampled_from([-1, 1])), offset[1])
        if offset == (0, 0):
            hs, ws = h, w
    else:
        hs, ws, offset = h, w, (0, 0)
    kind = draw(st.sampled_from(MASK_KINDS))
    density = draw(st.floats(0.05, 0.95))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    c = (3,) if colour else ()
    target = rng.random((h, w, *c)).astype(np.float32)
    source = rng.random((hs, ws, *c)).astype(np.float32)
    mask = make_mask(kind, hs, ws, rng, density)
    return source, target, mask, offset, mode


def placed_mask(mask: np.ndarray, shape: tuple[int, int], offset: tuple[int, int]) -> np.ndarray:
    """Where the mask lands on the target, pixel by pixel (an oracle for gdf.place_mask)."""
    out = np.zeros(shape, bool)
    for i, j in zip(*np.nonzero(mask)):
        y, x = i + offset[0], j + offset[1]
        if 0 <= y < shape[0] and 0 <= x < shape[1]:
            out[y, x] = True
    return out


@settings(CI, max_examples=60)
@given(blend_cases())
def test_blend_properties(case):
    source, target, mask, offset, mode = case
    omega = placed_mask(mask, target.shape[:2], offset)
    if mask.any() and not omega.any():
        with pytest.raises(UserError, match="entirely outside"):
            gdf.blend(source, target, mask, mode=mode, offset=offset)
        return
    if omega.all():
        with pytest.raises(UserError, match="whole target"):
            gdf.blend(source, target, mask, mode=mode, offset=offset)
        return
    inputs = (source, target, mask)
    copies = tuple(a.copy() for a in inputs)
    result = gdf.blend(source, target, mask, mode=mode, offset=offset)
    # inputs untouched: compared with copies taken before the call
    assert all(np.array_equal(a, c) and a.dtype == c.dtype for a, c in zip(inputs, copies))
    assert result.image.shape == target.shape
    assert np.isfinite(result.image).all()
    assert np.array_equal(result.mask, omega)
    assert result.unknowns == omega.sum()
    # outside the placed mask: the target, bit for bit
    assert np.array_equal(result.image[~omega], target[~omega].astype(np.float64))
    if not omega.any():  # empty mask: the target itself
        return
    # the discrete Poisson equations (assembled independently) hold to the documented bound
    assert np.all(residual_against_oracle(result, source, target, mask, mode, offset) <= 1e-6)
    assert np.all(result.residual <= 1e-6)
    # and the solution is the direct sparse solve's (these small systems are well conditioned)
    np.testing.assert_allclose(
        result.image, oracle_blend(source, target, mask, mode, offset), atol=1e-5
    )


@CI
@given(
    b=st.integers(1, 3),
    n=st.integers(1, 8),
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    scale=st.sampled_from([1e-3, 1.0, 1e3]),
    seed=st.integers(0, 2**31 - 1),
    gram=st.sampled_from(losses.GRAM_NORMS),
)
def test_gram_is_symmetric_positive_semidefinite(b, n, h, w, scale, seed, gram):
    g = torch.Generator().manual_seed(seed)
    features = torch.randn(b, n, h, w, generator=g, dtype=torch.float64) * scale
    features = (
        features.relu() if seed % 2 else features
    )  # post-ReLU maps too (non-negative, sparse)
    gm = losses.gram_matrix(features, gram=gram)
    assert gm.shape == (b, n, n)
    torch.testing.assert_close(gm, gm.transpose(1, 2), rtol=1e-12, atol=0)
    eig = torch.linalg.eigvalsh(gm)
    bound = 1e-10 * eig.abs().amax(dim=1, keepdim=True).clamp_min(1e-300)
    assert bool((eig >= -bound).all()), eig
    # the oracle: explicit sums over positions
    flat = features.reshape(b, n, h * w)
    want = torch.einsum("bim,bjm->bij", flat, flat) / ((n * h * w) if gram == "mean" else 1)
    torch.testing.assert_close(gm, want, rtol=1e-10, atol=1e-300)


@CI
@given(
    b=st.integers(1, 3),
    n=st.integers(1, 6),
    h=st.integers(1, 5),
    w=st.integers(2, 5),
    seed=st.integers(0, 2**31 - 1),
    gram=st.sampled_from(losses.GRAM_NORMS),
)
def test_losses_vanish_for_identical_inputs_and_style_ignores_position(b, n, h, w, seed, gram):
    g = torch.Generator().manual_seed(seed)
    features = torch.randn(b, n, h, w, generator=g, dtype=torch.float64)
    x = features.clone().requires_grad_(True)
    target_gram = losses.gram_matrix(features, gram=gram)
    style = losses.style_layer_loss(x, target_gram, gram=gram)
    content = losses.content_layer_loss(x, features)
    assert style.shape == content.shape == (b,)
    assert torch.all(style.abs() <= 1e-20) and torch.all(content == 0)
    (style.sum() + content.sum()).backward()
    assert torch.all(x.grad.abs() <= 1e-12)  # identical inputs are a minimum: zero gradient
    # weighted totals over several layers are zero too
    feats = {"a": features, "b": features[:, :1]}
    grams = {k: losses.gram_matrix(v, gram=gram) for k, v in feats.items()}
    assert torch.all(
        losses.style_loss(feats, grams, {"a": 0.3, "b": 0.7}, gram=gram).abs() <= 1e-20
    )
    assert torch.all(losses.content_loss(feats, feats, {"a": 1.0, "b": 2.0}) == 0)
    # the Gram matrix forgets where a feature is: a permutation of positions keeps the style
    # loss at zero while the content loss sees the change
    perm = torch.randperm(h * w, generator=g)
    shuffled = features.reshape(b, n, h * w)[:, :, perm].reshape(b, n, h, w)
    assert torch.all(
        losses.style_layer_loss(shuffled, target_gram, gram=gram).abs()
        <= 1e-12 * (1 + target_gram.abs().amax() ** 2)
    )
    if not torch.equal(shuffled, features):
        assert torch.all(losses.content_layer_loss(shuffled, features) > 0)
