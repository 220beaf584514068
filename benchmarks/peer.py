"""A peer implementation of Gatys et al.'s style transfer, written as the PyTorch tutorial does it.

A yardstick for the benchmarks, not a library path.  It follows the "Neural Transfer Using
PyTorch" tutorial: loss modules inserted after the chosen layers of an ``nn.Sequential`` copy of
the network, the network cut after the last loss module, ``torch.optim.LBFGS`` with
``line_search_fn="strong_wolfe"`` driving a closure, and the image clamped to [0, 1] only at the
end.  Everything else is the project's, so that only the implementation differs: the same
VGG-19 modules and weights (:func:`helpers.nst.build_network`, input normalisation included),
the same layers, per-layer weights, alpha and beta (an :class:`helpers.nst.Objective`), the same
loss definitions (the paper's: ``½·Σ (F − P)²`` and ``Σ (G − A)² / (4·N²·M²)``), the same images.
Its activations are NCHW (``memory_format="contiguous"``), the layout the tutorial's
``torchvision.models.vgg19().features`` computes in, and its ReLUs are not in place (the
tutorial replaces them); the project's are channels-last with in-place ReLUs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import torch
from torch import nn


class ContentLoss(nn.Module):
    """Passes its input through and stores ``weight · ½·Σ (F − P)²`` in ``self.loss``."""

    def __init__(self, target: torch.Tensor, weight: float) -> None:
        super().__init__()
        self.target = target.detach()
        self.weight = weight
        self.loss = torch.zeros(())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.loss = self.weight * 0.5 * (x - self.target).pow(2).sum()
        return x


def gram(x: torch.Tensor) -> torch.Tensor:
    """``F·Fᵀ`` of a ``(1, N, H, W)`` activation (the paper's raw Gram matrix)."""
    _, n, h, w = x.shape
    f = x.view(n, h * w)
    return f @ f.t()


class StyleLoss(nn.Module):
    """Passes its input through and stores ``weight · Σ (G − A)² / (4·N²·M²)`` in ``self.loss``."""

    def __init__(self, target_feature: torch.Tensor, weight: float) -> None:
        super().__init__()
        self.target = gram(target_feature).detach()
        self.weight = weight
        self.loss = torch.zeros(())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, n, h, w = x.shape
        norm = 4.0 * n * n * (h * w) ** 2
        self.loss = self.weight * (gram(x) - self.target).pow(2).sum() / norm
        return x


def build_model(objective, content: torch.Tensor, style: torch.Tensor, *, weights="caffe"):
    """``(model, content_losses, style_losses)``: the tutorial's ``get_style_model_and_losses``
    on the project's network (its modules and weights, cut after the deepest loss layer)."""
    from helpers import nst
    from helpers.nst import vgg

    net = nst.build_network(
        objective.layers(), weights=weights, device="cpu", memory_format="contiguous"
    )
    model = nn.Sequential(net.norm)
    content_losses, style_losses = [], []
    last = max(vgg.LAYER_INDEX[name] for name in objective.layers())
    for index, layer in enumerate(net.features):
        if index > last:
            break
        name = vgg.LAYER_NAMES[index]
        if isinstance(layer, nn.ReLU):  # the tutorial's: in-place ReLUs clash with its losses
            layer = nn.ReLU(inplace=False)
        model.add_module(name, layer)
        if name in objective.content_layers:
            target = model(content).detach()
            module = ContentLoss(target, objective.alpha * objective.content_layers[name])
            model.add_module(f"content_loss_{name}", module)
            content_losses.append(module)
        if name in objective.style_layers:
            target = model(style).detach()
            module = StyleLoss(target, objective.beta * objective.style_layers[name])
            model.add_module(f"style_loss_{name}", module)
            style_losses.append(module)
    model.requires_grad_(False)
    return model.eval(), content_losses, style_losses


def as_tensor(image) -> torch.Tensor:
    """``(H, W, 3)`` float array in [0, 1] -> ``(1, 3, H, W)`` float32 tensor."""
    return torch.as_tensor(image, dtype=torch.float32).permute(2, 0, 1).unsqueeze(0).contiguous()


def run(
    objective,
    content,
    style,
    *,
    evaluations: int,
    weights="caffe",
    history_size: int = 100,
    on_eval: Callable[[int, torch.Tensor, float], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> dict:
    """The tutorial's ``run_style_transfer`` from the content image, budgeted in evaluations.

    ``torch.optim.LBFGS([img], line_search_fn="strong_wolfe")`` (lr 1, ``history_size`` 100, its
    defaults) takes one ``step(closure)`` with ``max_eval=evaluations``; it stops after the
    iteration in which the count reaches the budget, so it may use a few more (reported).
    ``on_eval(k, image, loss)`` sees every evaluation's image (the point being evaluated, not
    clamped) and loss.  Returns the image clamped to [0, 1] at the end, the evaluations used and
    the seconds per evaluation (intervals between closure calls by ``clock``, which include
    L-BFGS's own work).
    """
    c, s = as_tensor(content), as_tensor(style)
    model, content_losses, style_losses = build_model(objective, c, s, weights=weights)
    img = c.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS(
        [img],
        lr=1,
        max_iter=evaluations,
        max_eval=evaluations,
        tolerance_grad=0.0,
        tolerance_change=0.0,
        history_size=history_size,
        line_search_fn="strong_wolfe",
    )
    stamps: list[float] = []
    count = [0]

    def closure() -> torch.Tensor:
        stamps.append(clock())
        optimizer.zero_grad()
        model(img)
        loss = sum(m.loss for m in content_losses) + sum(m.loss for m in style_losses)
        loss.backward()
        count[0] += 1
        if on_eval is not None:
            on_eval(count[0], img.detach(), float(loss.detach()))
        return loss

    optimizer.step(closure)
    stamps.append(clock())
    with torch.no_grad():
        img.clamp_(0, 1)
    intervals = [b - a for a, b in zip(stamps, stamps[1:])]
    return {
        "image": img.detach()[0].permute(1, 2, 0).numpy(),
        "evaluations": count[0],
        "intervals": intervals,
    }


def initial_loss(objective, content, style, *, weights="caffe") -> float:
    """The peer's total loss at the content image (to check it computes the project's objective)."""
    c, s = as_tensor(content), as_tensor(style)
    model, content_losses, style_losses = build_model(objective, c, s, weights=weights)
    with torch.no_grad():
        model(c)
        return float(sum(m.loss for m in content_losses) + sum(m.loss for m in style_losses))


def checkpoints(budget: int, every: int = 10) -> Sequence[int]:
    """Evaluations at which curves are sampled: 1, 5, then every ``every`` up to ``budget``."""
    return sorted({1, 5, *range(every, budget + 1, every), budget})
