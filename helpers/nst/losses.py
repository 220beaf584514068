"""Style-transfer losses (Gatys, Ecker & Bethge): pure functions over dicts of features.

Part of :mod:`helpers.nst`; imports nothing but torch.  The optimisation loop
(:mod:`helpers.nst.loop`) sums these terms; the image regularisers it can add are named in one
table, :data:`REGULARISERS`.

Every function works on a batch: ``features`` is ``{layer: (B, N, H, W)}`` (what
:class:`helpers.nst.vgg.VGGFeatures` returns) and every loss comes back per batch element, shape
``(B,)``. Targets may have batch size ``B`` (one target per element) or ``1`` (shared, broadcast).
Per-layer weights are ``{layer: w}`` with ``w`` a float or a ``(B,)`` tensor (one weight per
element), so a batch can hold different configurations.

Definitions (the paper's, and the defaults):

* Gram matrix of a layer with ``N`` filters and ``M = H·W`` positions: ``G = F·Fᵀ`` (raw sums).
* Style loss of a layer: ``E_l = Σ_ij (G_ij − A_ij)² / (4·N²·M²)``; style loss ``Σ_l w_l·E_l``.
* Content loss of a layer: ``½·Σ (F − P)²``; content loss ``Σ_l w_l·C_l``.

Named alternatives (never the default): ``gram="berkeley"`` is the Berkeley writeup's
``mean_ij (G − A)² / (4·N²·M²)`` = ``E_l / N²`` on the raw Gram, with its MSE content loss
``content_norm="mean"``; ``gram="mean"`` uses the Gram matrix divided by ``N·M``
(the PyTorch tutorial's ``G / (a·b·c·d)`` per image) and the layer loss ``mean_ij (G − A)²``.
Since ``Σ(G−A)²/(4N²M²) = ¼·Σ((G−A)/M)²/N²``, that equals the paper's ``E_l·4/N²``: it weights
layers with many filters ``N`` less.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

GRAM_NORMS = ("raw", "mean", "berkeley")
CONTENT_NORMS = ("sum", "mean")
"""``"sum"`` (paper): ``½·Σ (F − P)²``; ``"mean"`` (Berkeley's MSE): ``Σ (F − P)² / (N·M)``."""

Weight = float | Tensor
"""A per-layer weight: one float for the whole batch or a ``(B,)`` tensor (one per element)."""


def _check_gram(gram: str) -> None:
    if gram not in GRAM_NORMS:
        raise ValueError(f"gram must be one of {GRAM_NORMS}, got {gram!r}")


def channel_rows(features: Tensor) -> Tensor:
    """``(B, N, H, W)`` activations as ``(B, N, H·W)``, one row per filter, without a copy.

    Channels-last activations (:class:`helpers.nst.vgg.VGGFeatures`' default layout) are
    ``(B, H·W, N)`` in memory: the rows come back as a transposed view of that, which
    ``torch.bmm`` reads directly (``reshape`` would copy them to NCHW on every evaluation).
    """
    b, n, h, w = features.shape
    if not features.is_contiguous() and features.is_contiguous(memory_format=torch.channels_last):
        return features.permute(0, 2, 3, 1).reshape(b, h * w, n).transpose(1, 2)
    return features.reshape(b, n, h * w)


def gram_matrix(features: Tensor, *, gram: str = "raw") -> Tensor:
    """Gram matrices of a batch of feature maps.

    Args:
        features: ``(B, N, H, W)`` activations of one layer.
        gram: ``"raw"`` (paper, default) and ``"berkeley"``: ``G = F·Fᵀ``; ``"mean"``:
            ``F·Fᵀ / (N·M)``.

    Returns:
        ``(B, N, N)``, symmetric positive semi-definite.
    """
    _check_gram(gram)
    b, n, h, w = features.shape
    flat = channel_rows(features)
    g = torch.bmm(flat, flat.transpose(1, 2))
    if gram == "mean":
        g = g / (n * h * w)
    return g


class _GramLoss(torch.autograd.Function):
    """``k·Σ (s·F·Fᵀ − A)²`` per batch element with the analytic gradient.

    The backward pass uses ``∂/∂F = 2·k·s·((G − A) + (G − A)ᵀ)·F`` (the paper's eq. 6 for the
    raw Gram): one ``N×N×M`` product instead of autograd's two for ``F·Fᵀ``, which trims the
    loss's share of an optimisation step.
    """

    @staticmethod
    def forward(ctx, flat: Tensor, target: Tensor, s: float, k: float) -> Tensor:
        g = torch.bmm(flat, flat.transpose(1, 2))
        if s != 1.0:
            g.mul_(s)
        diff = g.sub_(target)
        out = diff.square().sum(dim=(1, 2)).mul_(k)
        ctx.save_for_backward(flat, diff)
        ctx.s, ctx.k, ctx.target_shape = s, k, target.shape
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        flat, diff = ctx.saved_tensors
        w = grad_out.view(-1, 1, 1)
        grad_flat = grad_target = None
        if ctx.needs_input_grad[0]:
            sym = diff + diff.transpose(1, 2)  # = 2·(G − A) for a symmetric target
            sym.mul_(w * (2.0 * ctx.k * ctx.s))
            if flat.stride(1) == 1 and flat.shape[1] > 1:  # channels-last rows: keep the layout
                grad_flat = torch.bmm(flat.transpose(1, 2), sym).transpose(1, 2)  # sym = symᵀ
            else:
                grad_flat = torch.bmm(sym, flat)
        if ctx.needs_input_grad[1]:
            grad_target = (diff * (w * (-2.0 * ctx.k))).sum_to_size(ctx.target_shape)
        return grad_flat, grad_target, None, None


def style_layer_loss(features: Tensor, target_gram: Tensor, *, gram: str = "raw") -> Tensor:
    """One layer's style loss per batch element, ``(B,)``.

    Args:
        features: ``(B, N, H, W)`` activations of the generated image(s).
        target_gram: ``(B or 1, N, N)`` symmetric Gram matrix of the style image, computed with
            the same ``gram`` normalisation.
        gram: ``"raw"`` (paper): ``Σ (G − A)² / (4·N²·M²)``; ``"mean"``: ``mean (G − A)²``;
            ``"berkeley"``: ``mean (G − A)² / (4·N²·M²)``.
    """
    if isinstance(target_gram, StyleMix):  # several (masked) style images, see StyleMix
        return target_gram.loss(features, gram=gram)
    _check_gram(gram)
    b, n, h, w = features.shape
    m = h * w
    flat = channel_rows(features)
    if gram == "mean":
        return _GramLoss.apply(flat, target_gram, 1.0 / (n * m), 1.0 / (n * n))
    if gram == "berkeley":
        return _GramLoss.apply(flat, target_gram, 1.0, 1.0 / (4.0 * n**4 * m * m))
    return _GramLoss.apply(flat, target_gram, 1.0, 1.0 / (4.0 * n * n * m * m))


def style_losses(
    features: Mapping[str, Tensor], target_grams: Mapping[str, Tensor], *, gram: str = "raw"
) -> dict[str, Tensor]:
    """Unweighted per-layer style losses ``{layer: (B,)}`` for every layer in ``target_grams``."""
    return {
        name: style_layer_loss(features[name], target, gram=gram)
        for name, target in target_grams.items()
    }


def content_layer_loss(features: Tensor, target: Tensor, *, norm: str = "sum") -> Tensor:
    """One layer's content loss ``½·Σ (F − P)²`` per batch element, ``(B,)``.

    Args:
        features: ``(B, N, H, W)`` activations of the generated image(s).
        target: ``(B or 1, N, H, W)`` activations of the content image.
        norm: ``"sum"`` (paper): ``½·Σ (F − P)²``; ``"mean"`` (Berkeley's MSE):
            ``Σ (F − P)² / (N·M)``, which does not grow with the image size.
    """
    if norm not in CONTENT_NORMS:
        raise ValueError(f"norm must be one of {CONTENT_NORMS}, got {norm!r}")
    sq = (features - target).square()
    if norm == "mean":
        return sq.mean(dim=(1, 2, 3))
    return 0.5 * sq.sum(dim=(1, 2, 3))


def content_losses(
    features: Mapping[str, Tensor], targets: Mapping[str, Tensor], *, norm: str = "sum"
) -> dict[str, Tensor]:
    """Unweighted per-layer content losses ``{layer: (B,)}`` for every layer in ``targets``."""
    return {
        name: content_layer_loss(features[name], target, norm=norm)
        for name, target in targets.items()
    }


def weighted_sum(per_layer: Mapping[str, Tensor], weights: Mapping[str, Weight]) -> Tensor:
    """``Σ_l w_l · loss_l`` over the layers in ``weights``; each ``w_l`` a float or ``(B,)`` tensor.

    Layers missing from ``weights`` do not count; a layer in ``weights`` must be in ``per_layer``.
    """
    total: Tensor | None = None
    for name, w in weights.items():
        term = per_layer[name] * w
        total = term if total is None else total + term
    if total is None:
        any_loss = next(iter(per_layer.values()), None)
        if any_loss is None:
            raise ValueError("no layers to sum: pass at least one layer weight")
        return torch.zeros_like(any_loss)
    return total


def style_loss(
    features: Mapping[str, Tensor],
    target_grams: Mapping[str, Tensor],
    weights: Mapping[str, Weight],
    *,
    gram: str = "raw",
) -> Tensor:
    """Weighted style loss ``Σ_l w_l·E_l`` per batch element, ``(B,)``.

    Args:
        features: ``{layer: (B, N, H, W)}`` activations of the generated image(s).
        target_grams: ``{layer: (B or 1, N, N)}`` Gram matrices of the style image(s)
            (from :func:`gram_matrix` with the same ``gram``).
        weights: ``{layer: w}``, ``w`` a float or a ``(B,)`` tensor; used as given (the
            optimisation loop normalises them to sum to 1, as the paper does).
    """
    grams = {name: target_grams[name] for name in weights}
    return weighted_sum(style_losses(features, grams, gram=gram), weights)


def content_loss(
    features: Mapping[str, Tensor], targets: Mapping[str, Tensor], weights: Mapping[str, Weight]
) -> Tensor:
    """Weighted content loss ``Σ_l w_l·½·Σ (F_l − P_l)²`` per batch element, ``(B,)``.

    Args:
        features: ``{layer: (B, N, H, W)}`` activations of the generated image(s).
        targets: ``{layer: (B or 1, N, H, W)}`` activations of the content image(s).
        weights: ``{layer: w}``, ``w`` a float or a ``(B,)`` tensor, used as given.
    """
    per_layer = content_losses(features, {name: targets[name] for name in weights})
    return weighted_sum(per_layer, weights)


def total_variation(image: Tensor) -> Tensor:
    """Squared total variation per batch element, ``(B,)``.

    ``Σ (x[i+1, j] − x[i, j])² + Σ (x[i, j+1] − x[i, j])²`` over channels and positions of an
    ``image: (B, C, H, W)`` (float, [0, 1] units).  The squared (β = 2) form of Mahendran &
    Vedaldi's regulariser: smooth, so L-BFGS and gradient checks behave.
    """
    dy = image[:, :, 1:, :] - image[:, :, :-1, :]
    dx = image[:, :, :, 1:] - image[:, :, :, :-1]
    return dy.square().sum(dim=(1, 2, 3)) + dx.square().sum(dim=(1, 2, 3))


EDGE_TV_EPS = 0.01
"""Charbonnier's ``ε`` of :func:`edge_preserving_tv` in [0, 1] pixel units (2.55/255)."""


def edge_preserving_tv(image: Tensor, *, eps: float = EDGE_TV_EPS) -> Tensor:
    """Edge-preserving (Charbonnier) total variation per batch element, ``(B,)``.

    ``Σ (√(d² + ε²) − ε)`` over the vertical and horizontal neighbour differences ``d`` of an
    ``image: (B, C, H, W)`` (float, [0, 1] units).  Quadratic (``≈ d²/2ε``) below ``ε`` and
    linear (``≈ |d|``) above: it smooths speckle like :func:`total_variation`, but an edge
    costs in proportion to its height, not its square, so edges survive.  The β = 1 TV of
    Mahendran & Vedaldi, made differentiable at 0 by Charbonnier et al.'s (1997) penalty.
    """
    dy = image[:, :, 1:, :] - image[:, :, :-1, :]
    dx = image[:, :, :, 1:] - image[:, :, :, :-1]
    e2 = eps * eps
    vertical = (dy.square() + e2).sqrt() - eps
    horizontal = (dx.square() + e2).sqrt() - eps
    return vertical.sum(dim=(1, 2, 3)) + horizontal.sum(dim=(1, 2, 3))


Regulariser = Callable[[Tensor], Tensor]
"""An image regulariser: ``image: (B, C, H, W)`` in [0, 1] -> ``(B,)`` (unweighted)."""

REGULARISERS: dict[str, Regulariser] = {
    "tv": total_variation,
    "edge_tv": edge_preserving_tv,
}
"""The one table of image regularisers, by name.  An :class:`helpers.nst.Objective` weighs
them by name (``regularisers={"tv": 1e-3}``, or ``tv_weight=1e-3`` in
:func:`helpers.nst.stylize` and grid specs), the loop adds ``weight · term`` to the total in
this order and records each unweighted term under its name.  A new regulariser is a function
above, one entry here, its test, and its ``--<name>-weight`` flag in
:mod:`helpers.cli.stylize`."""


# --- guided (masked) and blended style targets: Gatys et al. 2017, "Controlling Perceptual
# Factors in Neural Style Transfer", sections 4 (spatial control) and 6 (mixing styles) ---------


def layer_mask(mask: Tensor, shape: tuple[int, int]) -> Tensor:
    """A guidance mask at a layer's resolution: ``(1 or B, 1, H, W)`` in [0, 1] -> ``(…, 1, h, w)``.

    Area averaging (each layer position gets the mean of the pixels it pools), the paper's
    simple downsampling of the guidance channels.
    """
    if tuple(mask.shape[-2:]) == tuple(shape):
        return mask
    return torch.nn.functional.adaptive_avg_pool2d(mask, shape)


def _gram_scales(gram: str, n: int, m: int) -> tuple[float, float]:
    """``(s, k)`` of :class:`_GramLoss` for one layer, as :func:`style_layer_loss` uses them."""
    if gram == "mean":
        return 1.0 / (n * m), 1.0 / (n * n)
    if gram == "berkeley":
        return 1.0, 1.0 / (4.0 * n**4 * m * m)
    _check_gram(gram)
    return 1.0, 1.0 / (4.0 * n * n * m * m)


def _masked(features: Tensor, mask: Tensor) -> tuple[Tensor, float]:
    """``F∘m`` flattened to ``(B, N, M)`` and the Gram's area factor ``M / Σ m²``."""
    b, n, h, w = features.shape
    m = layer_mask(mask.to(features.dtype), (h, w))
    area = float(m.square().sum()) / m.shape[0]
    if area <= 0:
        raise ValueError("the guidance mask is empty at this layer's resolution")
    return channel_rows(features * m), (h * w) / area


def guided_gram_matrix(features: Tensor, mask: Tensor, *, gram: str = "raw") -> Tensor:
    """The guided Gram matrix of one region: features times the mask, normalised by its area.

    ``G_r = (F∘m)(F∘m)ᵀ · M / a`` with ``m`` the mask at the layer's resolution
    (:func:`layer_mask`) and ``a = Σ m²`` (the region's pixel count for a 0/1 mask): the Gram
    of a region is rescaled to ``M`` positions, so it compares with a whole style image's
    Gram (and a mask of ones gives :func:`gram_matrix`).

    Args:
        features: ``(B, N, H, W)``; mask: ``(1 or B, 1, H', W')`` in [0, 1], any resolution.
    """
    b, n, h, w = features.shape
    flat, factor = _masked(features, mask)
    g = torch.bmm(flat, flat.transpose(1, 2)) * factor
    return g / (n * h * w) if gram == "mean" else g


def guided_style_layer_loss(
    features: Tensor, target_gram: Tensor, mask: Tensor | None, *, gram: str = "raw"
) -> Tensor:
    """One layer's style loss inside a region, ``(B,)``: :func:`style_layer_loss` with the
    Gram replaced by :func:`guided_gram_matrix` (``mask=None``: the plain loss)."""
    if mask is None:
        return style_layer_loss(features, target_gram, gram=gram)
    b, n, h, w = features.shape
    flat, factor = _masked(features, mask)
    s, k = _gram_scales(gram, n, h * w)
    return _GramLoss.apply(flat, target_gram, s * factor, k)


@dataclass(eq=False)
class StyleMix:
    """One layer's target for several style images: ``Σ_s w_s · E_l(s)`` per batch element.

    ``E_l(s)`` is the layer's style loss against style ``s``'s Gram matrix, inside its mask
    when it has one (:func:`guided_style_layer_loss`).  :func:`style_layer_loss` accepts a
    ``StyleMix`` wherever it accepts a Gram matrix, so the optimisation loop needs nothing
    else; :mod:`helpers.nst.controls` builds them.

    Attributes:
        grams: one ``(1, N, N)`` Gram matrix per style (as :func:`gram_matrix` makes them).
        weights: ``(S, B or 1)`` blend weights ``w_s`` per batch element.
        masks: one ``(1, 1, H, W)`` guidance mask per style, or ``None`` (the whole image).
    """

    grams: tuple[Tensor, ...]
    weights: Tensor
    masks: tuple[Tensor | None, ...]

    def loss(self, features: Tensor, *, gram: str = "raw") -> Tensor:
        total: Tensor | None = None
        for s, (target, mask) in enumerate(zip(self.grams, self.masks, strict=True)):
            w = self.weights[s]
            if not bool((w != 0).any()):
                continue  # a style nobody uses costs nothing (and 1:0 is the single style)
            term = guided_style_layer_loss(features, target, mask, gram=gram) * w
            total = term if total is None else total + term
        if total is None:
            raise ValueError("every style weight is zero")
        return total
