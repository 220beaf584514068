"""helpers.nst.losses against independent oracles: loops, einsum, hand values, the paper's
gradients, gradcheck."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.nst import losses


def _loop_gram(f: torch.Tensor) -> torch.Tensor:
    """G[b, i, j] = Σ_p F[b, i, p]·F[b, j, p] with explicit Python loops (the oracle)."""
    b, n, h, w = f.shape
    flat = f.reshape(b, n, h * w).tolist()
    out = torch.zeros(b, n, n, dtype=torch.float64)
    for k in range(b):
        for i in range(n):
            for j in range(n):
                out[k, i, j] = sum(x * y for x, y in zip(flat[k][i], flat[k][j]))
    return out


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_gram_matches_explicit_loops_and_einsum(layout):
    f = torch.randn(2, 3, 4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    f = f.contiguous(memory_format=layout)
    g = losses.gram_matrix(f)
    assert g.shape == (2, 3, 3)
    torch.testing.assert_close(g, _loop_gram(f))
    torch.testing.assert_close(g, torch.einsum("bihw,bjhw->bij", f, f))


def test_mean_gram_is_a_named_option_dividing_by_n_m():
    f = torch.randn(1, 4, 3, 3, dtype=torch.float64)
    torch.testing.assert_close(
        losses.gram_matrix(f, gram="mean"), torch.einsum("bihw,bjhw->bij", f, f) / (4 * 9)
    )
    with pytest.raises(ValueError, match="gram"):
        losses.gram_matrix(f, gram="tutorial")


def test_style_layer_loss_hand_computed():
    # F = [[1, 2], [3, 4]] (N = 2 filters, M = 2 positions): G = [[5, 11], [11, 25]].
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)
    a = torch.zeros(1, 2, 2)
    # Σ G² = 25 + 121 + 121 + 625 = 892; 4·N²·M² = 4·4·4 = 64.
    assert losses.style_layer_loss(f, a).item() == pytest.approx(892 / 64)
    a2 = torch.tensor([[[5.0, 10.0], [10.0, 20.0]]])  # differences 0, 1, 1, 5 -> 27
    assert losses.style_layer_loss(f, a2).item() == pytest.approx(27 / 64)
    # the named option: mean over the N² entries of (G/(N·M) − A/(N·M))² = Σ(G−A)²/(N⁴·M²)
    assert losses.style_layer_loss(f, a2 / 4, gram="mean").item() == pytest.approx(27 / (16 * 4))


def test_content_layer_loss_hand_computed():
    f = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 2, 2)
    p = torch.tensor([0.0, 0.0, 1.0, 4.0]).view(1, 1, 2, 2)
    assert losses.content_layer_loss(f, p).item() == pytest.approx(0.5 * (1 + 4 + 4 + 0))


def test_total_variation_hand_computed():
    img = torch.tensor([[0.0, 1.0], [2.0, 4.0]]).view(1, 1, 2, 2)
    # vertical: (2-0)² + (4-1)² = 13; horizontal: (1-0)² + (4-2)² = 5
    assert losses.total_variation(img).item() == pytest.approx(18.0)
    assert losses.total_variation(torch.full((2, 3, 5, 4), 0.3)).tolist() == [0.0, 0.0]


def test_edge_preserving_tv_hand_values_limits_and_gradient():
    """Charbonnier TV: Σ (√(d² + ε²) − ε) over neighbour differences, against hand values, its
    quadratic and linear limits, a finite-difference gradient (gradcheck) and the table."""
    img = torch.tensor([[0.0, 1.0], [2.0, 4.0]], dtype=torch.float64).view(1, 1, 2, 2)
    diffs = torch.tensor([2.0, 3.0, 1.0, 2.0], dtype=torch.float64)  # as in the TV test above
    eps = 0.5
    expected = ((diffs.square() + eps**2).sqrt() - eps).sum()
    assert losses.edge_preserving_tv(img, eps=eps).item() == pytest.approx(expected.item())
    flat = torch.full((2, 3, 5, 4), 0.3, dtype=torch.float64)
    assert losses.edge_preserving_tv(flat).tolist() == [0.0, 0.0]
    # an edge of height h costs ≈ h (linear, not h² as in squared TV); a ripple ≈ d²/2ε
    edge = torch.zeros(1, 1, 1, 2, dtype=torch.float64)
    edge[..., 1] = 1.0
    assert losses.edge_preserving_tv(edge, eps=1e-6).item() == pytest.approx(1.0, rel=1e-5)
    assert losses.edge_preserving_tv(edge * 1e-4, eps=1.0).item() == pytest.approx(0.5e-8)
    g = torch.Generator().manual_seed(4)
    x = torch.rand(2, 3, 4, 5, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: losses.edge_preserving_tv(t, eps=0.05), (x,))
    assert losses.REGULARISERS["edge_tv"] is losses.edge_preserving_tv
    assert losses.REGULARISERS["tv"] is losses.total_variation


def test_style_gradient_is_the_papers_equation_6():
    """∂E_l/∂F = (G − A)·F / (N²·M²) (Gatys et al., eq. 6, without the ReLU mask)."""
    g = torch.Generator().manual_seed(1)
    f = torch.randn(1, 3, 2, 3, dtype=torch.float64, generator=g, requires_grad=True)
    a = losses.gram_matrix(torch.randn(1, 3, 2, 3, dtype=torch.float64, generator=g))
    losses.style_layer_loss(f, a).sum().backward()
    n, m = 3, 6
    flat = f.detach().reshape(n, m)
    expected = (flat @ flat.T - a[0]) @ flat / (n**2 * m**2)
    torch.testing.assert_close(f.grad.reshape(n, m), expected)


def test_content_gradient_is_f_minus_p():
    f = torch.randn(2, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    p = torch.randn(1, 3, 2, 2, dtype=torch.float64)
    losses.content_layer_loss(f, p).sum().backward()
    torch.testing.assert_close(f.grad, f.detach() - p.expand(2, -1, -1, -1))


def test_gradcheck_all_losses():
    g = torch.Generator().manual_seed(2)

    def rand(*shape, grad=False):
        return torch.randn(*shape, dtype=torch.float64, generator=g, requires_grad=grad)

    f = rand(2, 3, 2, 2, grad=True)
    a = losses.gram_matrix(rand(1, 3, 2, 2))
    p = rand(2, 3, 2, 2)
    assert torch.autograd.gradcheck(lambda x: losses.gram_matrix(x), (f,))
    assert torch.autograd.gradcheck(lambda x: losses.gram_matrix(x, gram="mean"), (f,))
    assert torch.autograd.gradcheck(lambda x: losses.style_layer_loss(x, a), (f,))
    assert torch.autograd.gradcheck(lambda x: losses.style_layer_loss(x, a / 12, gram="mean"), (f,))
    assert torch.autograd.gradcheck(lambda x: losses.content_layer_loss(x, p), (f,))
    assert torch.autograd.gradcheck(losses.total_variation, (rand(2, 3, 3, 4, grad=True),))
    w = torch.tensor([0.3, 2.0], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: losses.style_loss({"a": x}, {"a": a}, {"a": w}), (f,))


def test_batched_losses_with_per_element_weights_equal_single_runs():
    g = torch.Generator().manual_seed(3)
    feats = {"a": torch.randn(3, 4, 3, 3, generator=g), "b": torch.randn(3, 6, 2, 2, generator=g)}
    grams = {
        k: losses.gram_matrix(torch.randn(1, *v.shape[1:], generator=g)) for k, v in feats.items()
    }
    targets = {k: torch.randn(1, *v.shape[1:], generator=g) for k, v in feats.items()}
    wa, wb = torch.tensor([1.0, 0.0, 0.5]), torch.tensor([0.0, 1.0, 0.5])
    style = losses.style_loss(feats, grams, {"a": wa, "b": wb})
    content = losses.content_loss(feats, targets, {"a": wa, "b": wb})
    assert style.shape == content.shape == (3,)
    for i in range(3):
        one = {k: v[i : i + 1] for k, v in feats.items()}
        s = losses.style_loss(one, grams, {"a": float(wa[i]), "b": float(wb[i])})
        c = losses.content_loss(one, targets, {"a": float(wa[i]), "b": float(wb[i])})
        torch.testing.assert_close(style[i : i + 1], s)
        torch.testing.assert_close(content[i : i + 1], c)
    # element 0 only sees layer a, element 1 only layer b
    torch.testing.assert_close(style[0], losses.style_layer_loss(feats["a"][:1], grams["a"])[0])
    torch.testing.assert_close(style[1], losses.style_layer_loss(feats["b"][1:2], grams["b"])[0])


def test_per_element_targets_and_shared_targets_agree():
    f = torch.randn(2, 3, 4, 4)
    p = torch.randn(1, 3, 4, 4)
    a = losses.gram_matrix(torch.randn(1, 3, 4, 4))
    torch.testing.assert_close(
        losses.content_layer_loss(f, p), losses.content_layer_loss(f, p.expand(2, -1, -1, -1))
    )
    torch.testing.assert_close(
        losses.style_layer_loss(f, a), losses.style_layer_loss(f, a.expand(2, -1, -1))
    )


def test_weighted_sum_only_counts_weighted_layers():
    per_layer = {"a": torch.tensor([1.0, 2.0]), "b": torch.tensor([10.0, 20.0])}
    torch.testing.assert_close(
        losses.weighted_sum(per_layer, {"b": 0.5}), torch.tensor([5.0, 10.0])
    )
    torch.testing.assert_close(losses.weighted_sum(per_layer, {}), torch.zeros(2))


@settings(max_examples=25, deadline=None)
@given(
    b=st.integers(1, 2),
    n=st.integers(1, 5),
    h=st.integers(1, 4),
    w=st.integers(1, 4),
    seed=st.integers(0, 2**16),
    scale=st.floats(1e-3, 1e3),
)
def test_gram_symmetric_psd_and_losses_zero_for_identical_inputs(b, n, h, w, seed, scale):
    gen = torch.Generator().manual_seed(seed)
    f = torch.randn(b, n, h, w, dtype=torch.float64, generator=gen) * scale
    g = losses.gram_matrix(f)
    torch.testing.assert_close(g, g.transpose(1, 2))
    eig = torch.linalg.eigvalsh(g)
    assert (eig >= -1e-9 * max(1.0, float(eig.abs().max()))).all()
    assert (losses.style_layer_loss(f, g) == 0).all()
    assert (losses.content_layer_loss(f, f) == 0).all()
    assert (losses.style_layer_loss(f, g + 1.0) > 0).all()


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("gram", ["raw", "mean"])
def test_style_loss_gradients_match_plain_autograd(gram, layout):
    """The hand-written backward equals autograd through the plain formula, for F and for A,
    with NCHW and channels-last activations (whose gradient keeps their layout)."""
    g = torch.Generator().manual_seed(4)
    f = torch.randn(3, 4, 3, 2, dtype=torch.float64, generator=g)
    f = f.contiguous(memory_format=layout).requires_grad_(True)
    a = losses.gram_matrix(torch.randn(1, 4, 3, 2, dtype=torch.float64, generator=g), gram=gram)
    a.requires_grad_(True)
    w = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    (losses.style_layer_loss(f, a, gram=gram) * w).sum().backward()
    f2, a2 = f.detach().clone().requires_grad_(True), a.detach().clone().requires_grad_(True)
    n, m = 4, 6
    plain = torch.einsum("bihw,bjhw->bij", f2, f2) / ((n * m) if gram == "mean" else 1)
    e = (plain - a2).square().sum(dim=(1, 2)) / ((n * n) if gram == "mean" else (4 * n * n * m * m))
    (e * w).sum().backward()
    torch.testing.assert_close(f.grad, f2.grad)
    torch.testing.assert_close(a.grad, a2.grad)
    assert f.grad.is_contiguous(memory_format=layout)
    inputs = (f.detach().requires_grad_(True), a.detach().requires_grad_(True))
    assert torch.autograd.gradcheck(lambda x, t: losses.style_layer_loss(x, t, gram=gram), inputs)
