"""One batch's objective as a function of the image: the network, the targets and
:class:`Evaluator`.

Part of :mod:`helpers.nst`, below the loop (:mod:`helpers.nst.loop`), which calls the
evaluator once per function evaluation.  :func:`build_network` loads the weights once per
process; :func:`style_targets` computes the style Gram matrices once, outside the loop (the
controls' several styles reuse it, :mod:`helpers.nst.controls`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from torch import Tensor

from . import losses, vgg
from .inputs import Prepared, distinct, gather, stack_unique
from .objective import Objective

# --- the network ------------------------------------------------------------------------------


@lru_cache(maxsize=2)
def _state_dict(weights: str) -> dict[str, Tensor]:
    if weights == "torchvision":
        return vgg.load_torchvision_state_dict()
    return vgg.load_caffe_state_dict(None if weights == "caffe" else weights)


def build_network(
    layers: Sequence[str],
    *,
    weights: str | os.PathLike = "caffe",
    pooling: str = "avg",
    device="cpu",
    memory_format: str = "channels_last",
) -> vgg.VGGFeatures:
    """A :class:`helpers.nst.vgg.VGGFeatures` for ``layers``; the weights are loaded once per
    process (``weights``: ``"caffe"``, ``"torchvision"``, ``"random"`` or a weights file;
    ``memory_format``: the activations' layout, see the class)."""
    key = str(weights)
    if key not in vgg.WEIGHT_SETS:
        key = str(Path(weights).expanduser().resolve()) if Path(weights).exists() else key
    state = vgg.random_state_dict() if key == "random" else _state_dict(key)
    return vgg.VGGFeatures(
        layers,
        weights=weights,
        pooling=pooling,
        device=device,
        state_dict=state,
        memory_format=memory_format,
    )


# --- the targets ------------------------------------------------------------------------------


@torch.no_grad()
def content_targets(
    model: vgg.VGGFeatures, prep: Prepared, content_layers: list[str]
) -> dict[str, Tensor]:
    """The content images' features at ``content_layers`` (shared: batch 1; else one each)."""
    if not content_layers:
        return {}
    stack, index = stack_unique(prep.content, model.device)
    feats = model(stack)
    return {name: gather(feats[name], index) for name in content_layers}


@torch.no_grad()
def style_targets(
    model: vgg.VGGFeatures, prep: Prepared, style_layers: list[str], gram: str
) -> dict[str, Tensor]:
    """The style images' Gram matrices at ``style_layers``, one pass per distinct image."""
    from ..images import to_tensor

    if not style_layers:
        return {}
    dev = model.device
    h, w = prep.shape
    unique, index = distinct(prep.style)
    index = index.to(dev)
    grams: dict[str, list[Tensor]] = {name: [] for name in style_layers}
    for img in unique:  # one pass per distinct style image (they may differ in shape)
        feats = model(to_tensor(img, dev))
        for name in style_layers:
            g = losses.gram_matrix(feats[name], gram=gram)
            if gram in ("raw", "berkeley") and img.shape[:2] != (h, w):
                # departs from the paper, whose formula assumes equal sizes: a raw Gram
                # grows with the positions M, so rescale the style's to the output's M
                d = vgg.downsampling(name)
                g = g * ((h // d) * (w // d) / (feats[name].shape[2] * feats[name].shape[3]))
            grams[name].append(g)
    return {name: gather(torch.cat(grams[name]), index) for name in style_layers}


# --- the evaluator ----------------------------------------------------------------------------


@dataclass
class Weights:
    """The per-element factors of one batch, ``(B,)`` tensors: alpha, beta, the per-layer
    content (``wc``) and style (``ws``) weights and the regularisers' weights by name
    (``active``: those with a positive weight somewhere in the batch, in table order)."""

    alpha: Tensor
    beta: Tensor
    wc: dict[str, Tensor]
    ws: dict[str, Tensor]
    regularisers: dict[str, Tensor]
    active: tuple[str, ...]

    @staticmethod
    def of(
        objs: Sequence[Objective], content_layers: list[str], style_layers: list[str], dev
    ) -> Weights:
        def as_tensor(values) -> Tensor:
            return torch.tensor(values, dtype=torch.float32, device=dev)

        wc = {
            name: as_tensor([o.content_layers.get(name, 0.0) if o.alpha > 0 else 0.0 for o in objs])
            for name in content_layers
        }
        ws = {
            name: as_tensor([o.style_layers.get(name, 0.0) if o.beta > 0 else 0.0 for o in objs])
            for name in style_layers
        }
        named = [n for n in losses.REGULARISERS if any(n in o.regularisers for o in objs)]
        regs = {n: as_tensor([o.regularisers.get(n, 0.0) for o in objs]) for n in named}
        active = tuple(n for n, w in regs.items() if bool((w > 0).any()))
        alpha = as_tensor([o.alpha for o in objs])
        beta = as_tensor([o.beta for o in objs])
        return Weights(alpha, beta, wc, ws, regs, active)


class Evaluator:
    """``evaluator(image, backward=, scale=)`` -> (detached losses by key, scale): one forward
    (and backward) pass of the whole batch ``image: (B, 3, H, W)``.

    ``total = alpha·content + beta·style + Σ w_r·R_r(image)`` per element, the regularisers
    added in :data:`helpers.nst.losses.REGULARISERS` order (only those weighted somewhere in
    the batch are computed; the others read 0).  ``scale`` (the first totals) divides each
    element's objective before the gradient is taken.  The keys: ``total``, ``content``,
    ``style``, each regulariser's name, ``content:<layer>`` and ``style:<layer>``.
    """

    def __init__(
        self,
        model: vgg.VGGFeatures,
        objs: Sequence[Objective],
        prep: Prepared,
        *,
        gram: str,
        content_norm: str = "sum",
        style_mix: Callable | None = None,
    ) -> None:
        content_layers = list(
            dict.fromkeys(name for o in objs if o.alpha > 0 for name in o.content_layers)
        )
        style_layers = list(
            dict.fromkeys(name for o in objs if o.beta > 0 for name in o.style_layers)
        )
        self.model, self.batch, self.gram, self.content_norm = model, len(objs), gram, content_norm
        self.weights = Weights.of(objs, content_layers, style_layers, model.device)
        self.content_targets = content_targets(model, prep, content_layers)
        self.style_targets = style_targets(model, prep, style_layers, gram)
        if style_mix is not None and style_layers:  # several style images: helpers.nst.controls
            self.style_targets = style_mix(objs, model, prep, style_layers, gram)

    def __call__(
        self, image: Tensor, *, backward: bool, scale: Tensor | None
    ) -> tuple[dict[str, Tensor], Tensor | None]:
        w = self.weights
        feats = self.model(image)
        c_layers = losses.content_losses(feats, self.content_targets, norm=self.content_norm)
        s_layers = losses.style_losses(feats, self.style_targets, gram=self.gram)
        zero = image.new_zeros(self.batch)
        content_ = losses.weighted_sum(c_layers, w.wc) if w.wc else zero
        style_ = losses.weighted_sum(s_layers, w.ws) if w.ws else zero
        terms = {
            name: losses.REGULARISERS[name](image) if name in w.active else zero
            for name in w.regularisers
        }
        total = w.alpha * content_ + w.beta * style_
        for name in w.active:
            total = total + w.regularisers[name] * terms[name]
        if backward:
            if scale is None:
                positive = total.detach() > 0
                scale = total.detach().where(positive, torch.ones_like(total)).clamp_min(1e-30)
            (total / scale).sum().backward()
        parts = {"total": total, "content": content_, "style": style_, **terms}
        parts.update({f"content:{k}": v for k, v in c_layers.items()})
        parts.update({f"style:{k}": v for k, v in s_layers.items()})
        return {k: v.detach() for k, v in parts.items()}, scale
