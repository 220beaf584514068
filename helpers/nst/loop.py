"""The one optimisation loop of :mod:`helpers.nst`: :func:`optimize` and the network it runs.

Everything in the package that optimises an image (stylize, reconstructions, grids; see
:mod:`helpers.nst.experiments`) calls :func:`optimize`.  It checks the options, prepares the
images (:mod:`helpers.nst.inputs`), refuses runs that cannot fit (:mod:`helpers.nst.memory`),
builds the network once (:func:`build_network`, weights cached per process) and optimises
the batch in chunks of ``max_batch``: targets once, then ``steps`` function evaluations, each
one forward+backward pass for the whole batch, stepped by Adam or :class:`BatchedLBFGS`.

Each element's objective is divided by its value at the initial image before the gradient is
taken: no minimiser changes, but the Caffe weights' large loss scale stays away from Adam's
epsilon and float32 limits, and every element's step is independent of the others'.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import UserError
from . import losses, vgg
from .inputs import (
    ImageLike,
    Prepared,
    distinct,
    gather,
    per_element,
    prepare_images,
    stack_unique,
)
from .lbfgs import BatchedLBFGS
from .memory import check_memory
from .objective import ADAM_LR, BERKELEY_LR, INITS, OPTIMIZERS, Objective
from .results import Interrupted, Step, TransferResult

# --- the network ------------------------------------------------------------------------------


@lru_cache(maxsize=2)
def _state_dict(weights: str) -> dict[str, Tensor]:
    if weights == "torchvision":
        return vgg.load_torchvision_state_dict()
    return vgg.load_caffe_state_dict(
        None if weights == "caffe" else weights, log=lambda *a: print(*a, file=sys.stderr)
    )


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


# --- optimize ---------------------------------------------------------------------------------


# long only by its signature and docstring: the body is ~35 lines
def optimize(
    objectives: Objective | Sequence[Objective],
    *,
    content: ImageLike | Sequence[ImageLike | None] | None = None,
    style: ImageLike | Sequence[ImageLike | None] | None = None,
    size: int | str | tuple[int, int] | None = None,
    style_size: int | str | tuple[int, int] | None = None,
    init: str | ImageLike | Sequence[ImageLike] = "content",
    noise: float = 0.05,
    optimizer: str = "lbfgs",
    steps: int = 300,
    lr: float = ADAM_LR,
    history_size: int = 20,
    bounded: bool = True,
    gram: str = "raw",
    content_norm: str = "sum",
    seed: int | Sequence[int] = 0,
    device: str | torch.device = "auto",
    pooling: str = "avg",
    weights: str | os.PathLike = "caffe",
    record_every: int | None = None,
    max_batch: int | None = None,
    progress: bool = True,
    callback: Callable[[Step], bool | None] | None = None,
    desc: str | None = None,
    style_mix: Callable | None = None,
) -> TransferResult:
    """Optimise a batch of images, one per objective, with one forward+backward pass per evaluation.

    Args:
        objectives: one :class:`Objective` or a sequence (the batch).
        content: content image (shared) or one per element (``None`` where alpha is 0).
        style: style image (shared) or one per element.
        size: output size: ``N`` = longer side (aspect kept) or ``"WxH"``/``(W, H)``; default
            the content image's size (texture synthesis: the style image's).
        style_size: style image size; default: resized to the output size (CMU's choice).  Any
            size works: its Gram matrices are rescaled by ``M_out / M_style`` so that the
            paper's per-position normalisation compares like with like.
        init: ``"content"`` | ``"noise"`` (see ``noise``, seeded by ``seed``) | ``"style"`` | an
            image (or one per element).
        noise: half-width of the uniform noise around mid-grey for ``init="noise"``: pixels
            start in ``[0.5 − noise, 0.5 + noise]``.  ``0.5`` gives full-range white noise
            U[0, 1]; the default 0.05 follows Gatys' and jcjohnson's code, which start from
            low-amplitude noise: full-range noise leaves high-frequency patterns that the deep
            layers barely see, so they survive a short optimisation (notebook 02 shows both).
        optimizer: ``"lbfgs"`` (default) | ``"adam"``.
        steps: budget of function evaluations (forward+backward passes), > 0.
        lr: Adam's learning rate in [0, 1] pixel units (default :data:`ADAM_LR`, the project's
            choice; Berkeley's is :data:`BERKELEY_LR` = 0.2).
        history_size: L-BFGS memory (curvature pairs per element).
        bounded: L-BFGS keeps every pixel in [0, 1] (projected steps, see
            :class:`BatchedLBFGS`), so the image it optimises is the image it returns.
            ``False``: unconstrained L-BFGS as in the paper's code, clamped once at the end (a
            named departure the other way: the clamp then undoes part of the optimisation).
        gram: ``"raw"`` (paper) | ``"mean"`` | ``"berkeley"``, see :mod:`helpers.nst.losses`.
        content_norm: ``"sum"`` (paper, ``½·Σ``) | ``"mean"`` (Berkeley's MSE).
        seed: noise seed, shared (every element starts from the same noise) or one per element.
        device, pooling, weights: see :class:`helpers.nst.vgg.VGGFeatures`.
        record_every: history interval in evaluations (default ``max(1, steps // 100)``).
        max_batch: split larger batches into runs of at most this many elements.
        progress: show a tqdm bar (``False`` for none).
        callback: called with a :class:`Step` at every recorded evaluation; returning ``True``
            ends the run there (a normal result with the evaluations spent so far).
        style_mix: several (masked, blended) style images per output instead of ``style``'s
            one: ``style_mix(objectives, model, prepared, style_layers, gram)`` returns the
            style targets (:class:`helpers.nst.losses.StyleMix`); see :mod:`helpers.nst.controls`.

    Returns:
        :class:`TransferResult`.  Raises :class:`UserError` for bad input, a non-finite loss
        (naming the evaluation and the likely cause) and :class:`Interrupted` on Ctrl-C.
    """
    from ..runtime import device_name, get_device

    start = time.perf_counter()
    objs = [objectives] if isinstance(objectives, Objective) else list(objectives)
    steps = _checked_options(
        objs,
        optimizer=optimizer,
        steps=steps,
        lr=lr,
        history_size=history_size,
        gram=gram,
        pooling=pooling,
        init=init,
        noise=noise,
    )
    if content_norm not in losses.CONTENT_NORMS:
        raise UserError(
            f"content_norm must be one of {', '.join(losses.CONTENT_NORMS)}, got {content_norm!r}"
        )
    record_every = record_every or max(1, steps // 100)
    if record_every < 1:
        raise UserError(f"record_every must be >= 1, got {record_every}")
    dev = get_device(device) if isinstance(device, str) else torch.device(device)
    n = len(objs)
    seeds = per_element(seed, n, "seed")
    layers = list(dict.fromkeys(name for o in objs for name in o.layers()))
    deepest = max(layers, key=lambda name: vgg.LAYER_INDEX[name])
    chunk = max_batch or n

    def check_shape(shape: tuple[int, int]) -> None:
        check_memory(shape, min(chunk, n), [deepest], optimizer, history_size, dev)

    prep = _prepared_inputs(
        objs,
        content,
        style,
        init,
        size=size,
        style_size=style_size,
        deepest=deepest,
        check_shape=check_shape,
    )
    model = build_network(layers, weights=weights, pooling=pooling, device=dev)

    results = []
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        part = Prepared(
            prep.content[lo:hi], prep.style[lo:hi], prep.init[lo:hi], prep.shape, prep.style_shape
        )
        results.append(
            _run(
                objs[lo:hi],
                part,
                model,
                init=init,
                noise=float(noise),
                optimizer=optimizer,
                steps=steps,
                lr=lr,
                history_size=history_size,
                bounded=bounded,
                gram=gram,
                content_norm=content_norm,
                seeds=seeds[lo:hi],
                record_every=record_every,
                progress=progress,
                callback=callback,
                desc=desc,
                device_label=device_name(dev),
                style_mix=style_mix,
            )
        )
    result = TransferResult.concat(results) if len(results) > 1 else results[0]
    result.seconds = time.perf_counter() - start
    return result


def _checked_options(
    objs: list, *, optimizer, steps, lr, history_size, gram, pooling, init, noise
) -> int:
    """Refuse bad settings of :func:`optimize` (before any work); the step budget as an int."""
    if not objs:
        raise UserError("no objectives to optimise")
    if not all(isinstance(o, Objective) for o in objs):
        raise UserError("objectives must be helpers.nst.Objective instances")
    if optimizer not in OPTIMIZERS:
        raise UserError(f"optimizer {optimizer!r}: use one of {', '.join(OPTIMIZERS)}")
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps <= 0:
        raise UserError(
            f"steps must be a positive whole number of function evaluations, got {steps!r}"
        )
    steps = int(steps)
    if optimizer == "adam" and not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
        raise UserError(f"lr must be a positive number, got {lr!r}")
    if isinstance(history_size, bool) or not isinstance(history_size, int) or history_size < 1:
        raise UserError(f"history_size must be a positive integer, got {history_size!r}")
    if gram not in losses.GRAM_NORMS:
        raise UserError(f"gram must be one of {', '.join(losses.GRAM_NORMS)}, got {gram!r}")
    if pooling not in ("avg", "max"):
        raise UserError(f"pooling must be 'avg' or 'max', got {pooling!r}")
    if isinstance(init, str) and init not in INITS and not Path(init).exists():
        raise UserError(f"init {init!r}: use content, noise, style or an image path")
    if (
        isinstance(noise, bool)
        or not isinstance(noise, int | float)
        or not math.isfinite(noise)
        or noise < 0
    ):
        raise UserError(
            "noise must be a number >= 0 (half-width around mid-grey; 0.5 = U[0, 1]), "
            f"got {noise!r}"
        )
    return steps


def _prepared_inputs(
    objs: list[Objective],
    content,
    style,
    init,
    *,
    size,
    style_size,
    deepest: str,
    check_shape: Callable[[tuple[int, int]], None],
) -> Prepared:
    """The batch's images, checked against the init and the deepest layer's minimum size."""
    init_name = init if isinstance(init, str) and init in INITS else None
    need_content = any(o.alpha > 0 for o in objs) or init_name == "content"
    need_style = any(o.beta > 0 for o in objs) or init_name == "style"
    prep = prepare_images(
        len(objs),
        content,
        style,
        init,
        size=size,
        style_size=style_size,
        need_content=need_content,
        need_style=need_style,
        check_shape=check_shape,
    )
    if init_name == "content" and any(c is None for c in prep.content):
        raise UserError("init='content' needs a content image for every element; use init='noise'")
    if init_name == "style" and any(s is None for s in prep.style):
        raise UserError("init='style' needs a style image for every element; use init='noise'")
    smallest = vgg.min_size([deepest])
    shapes = [("output", prep.shape)]
    shapes += [("style image", prep.style_shape)] if prep.style_shape else []
    for what, (h, w) in shapes:
        if min(h, w) < smallest:
            longer = math.ceil(smallest * max(h, w) / min(h, w))
            option = "style-size" if what == "style image" else "size"
            raise UserError(
                f"{what} size {w}x{h} is too small for layer {deepest} (the network halves the "
                f"size {int(math.log2(smallest))} times before it): each side needs at least "
                f"{smallest} px; use --{option} {longer} or larger"
            )
    return prep


# --- one batch --------------------------------------------------------------------------------


def _run(
    objs: list[Objective],
    prep: Prepared,
    model: vgg.VGGFeatures,
    *,
    init,
    noise,
    optimizer,
    steps,
    lr,
    history_size,
    gram,
    seeds,
    record_every,
    progress,
    callback,
    desc,
    device_label,
    content_norm="sum",
    bounded=True,
    style_mix=None,
) -> TransferResult:
    """Optimise one batch: targets once, then ``steps`` evaluations (see :func:`optimize`)."""
    start = time.perf_counter()
    dev = model.device
    b = len(objs)
    content_layers = list(
        dict.fromkeys(name for o in objs if o.alpha > 0 for name in o.content_layers)
    )
    style_layers = list(dict.fromkeys(name for o in objs if o.beta > 0 for name in o.style_layers))
    terms = _terms(objs, content_layers, style_layers, dev)
    content_targets, style_targets = _targets(model, prep, content_layers, style_layers, gram)
    if style_mix is not None and style_layers:  # several style images: helpers.nst.controls
        style_targets = style_mix(objs, model, prep, style_layers, gram)
    x0 = _initial_image(init, prep, seeds, noise, dev)
    x = x0.detach().clone().contiguous().requires_grad_(True)
    evaluate = _evaluator(model, terms, content_targets, style_targets, gram, b, content_norm)
    loop = _Loop(
        x,
        b,
        evaluate,
        optimizer=optimizer,
        lr=lr,
        history_size=history_size,
        bounded=bounded,
        callback=callback,
        steps=steps,
        progress=progress,
        desc=desc,
    )
    try:
        loop.run(steps, record_every)
    except KeyboardInterrupt:
        loop.bar.close()
        raise Interrupted(_partial(objs, loop, start, device_label, optimizer)) from None
    loop.bar.close()
    loop_seconds = time.perf_counter() - loop.loop_start
    image = loop.latest_image().clamp_(0.0, 1.0)
    if not bool(torch.isfinite(image).all()):
        cause = (
            f"the learning rate lr={lr:g} is probably too high"
            if optimizer == "adam"
            else "try fewer layers or another init"
        )
        raise UserError(
            f"{optimizer}: the image became non-finite after {loop.evaluations} evaluations; "
            + cause
        )
    with torch.no_grad():
        # the final losses are those of the delivered image: clamped to [0, 1] and quantised
        # to 8 bits, as a PNG holds it (the returned float image saves to exactly that)
        delivered = image.mul(255.0).add_(0.5).floor_().div_(255.0)  # as images.to_uint8
        final, _ = evaluate(delivered, backward=False, scale=None)
    return TransferResult.from_records(
        objs,
        image,
        loop.records,
        loop.evaluations,
        start=start,
        loop_start=loop.loop_start,
        device=device_label,
        optimizer=optimizer,
        final=final,
        loop_seconds=loop_seconds,
    )


@dataclass
class _Terms:
    """The per-element factors of one batch, ``(B,)`` tensors: alpha, beta, tv_weight and the
    per-layer content (``wc``) and style (``ws``) weights."""

    alpha: Tensor
    beta: Tensor
    tv_w: Tensor
    use_tv: bool
    wc: dict[str, Tensor]
    ws: dict[str, Tensor]


def _terms(
    objs: list[Objective], content_layers: list[str], style_layers: list[str], dev
) -> _Terms:
    def as_tensor(values) -> Tensor:
        return torch.tensor(values, dtype=torch.float32, device=dev)

    alpha = as_tensor([o.alpha for o in objs])
    beta = as_tensor([o.beta for o in objs])
    tv_w = as_tensor([o.tv_weight for o in objs])
    use_tv = bool((tv_w > 0).any())
    wc = {
        name: as_tensor([o.content_layers.get(name, 0.0) if o.alpha > 0 else 0.0 for o in objs])
        for name in content_layers
    }
    ws = {
        name: as_tensor([o.style_layers.get(name, 0.0) if o.beta > 0 else 0.0 for o in objs])
        for name in style_layers
    }
    return _Terms(alpha, beta, tv_w, use_tv, wc, ws)


@torch.no_grad()
def _targets(
    model: vgg.VGGFeatures,
    prep: Prepared,
    content_layers: list[str],
    style_layers: list[str],
    gram: str,
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """The content features and style Gram matrices to match, once, outside the loop."""
    dev = model.device
    content_targets: dict[str, Tensor] = {}
    style_targets: dict[str, Tensor] = {}
    if content_layers:
        stack, index = stack_unique(prep.content, dev)
        feats = model(stack)
        content_targets = {name: gather(feats[name], index) for name in content_layers}
    if style_layers:
        style_targets = _style_targets(model, prep, style_layers, gram)
    return content_targets, style_targets


def _style_targets(
    model: vgg.VGGFeatures, prep: Prepared, style_layers: list[str], gram: str
) -> dict[str, Tensor]:
    from ..images import to_tensor

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


def _initial_image(init, prep: Prepared, seeds: list, noise: float, dev) -> Tensor:
    """``(B, 3, H, W)``: the content or style images, seeded noise, or the given images."""
    from ..images import resize, to_tensor

    h, w = prep.shape
    if isinstance(init, str) and init in ("content", "style"):
        unique, index = distinct(prep.content if init == "content" else prep.style)
        index = index.to(dev)
        stack = torch.cat(
            [
                to_tensor(img if img.shape[:2] == (h, w) else resize(img, (w, h)), dev)
                for img in unique
            ]
        )
        return stack.index_select(0, index)
    if isinstance(init, str) and init == "noise":
        noises = {}
        for s in seeds:
            if s not in noises:
                u = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(int(s)))
                noises[s] = 0.5 + noise * (2.0 * u - 1.0)
        return torch.cat([noises[s] for s in seeds]).to(dev)
    stack, index = stack_unique(prep.init, dev)
    return stack.index_select(0, index)


def _evaluator(
    model: vgg.VGGFeatures,
    terms: _Terms,
    content_targets: dict[str, Tensor],
    style_targets: dict[str, Tensor],
    gram: str,
    b: int,
    content_norm: str = "sum",
):
    """``evaluate(image, backward=, scale=)`` -> (detached losses by key, scale): one forward
    (and backward) pass of the whole batch; ``scale`` (the first totals) divides each
    element's objective before the gradient is taken."""

    def evaluate(image: Tensor, *, backward: bool, scale: Tensor | None):
        feats = model(image)
        c_layers = losses.content_losses(feats, content_targets, norm=content_norm)
        s_layers = losses.style_losses(feats, style_targets, gram=gram)
        zero = image.new_zeros(b)
        content_ = losses.weighted_sum(c_layers, terms.wc) if terms.wc else zero
        style_ = losses.weighted_sum(s_layers, terms.ws) if terms.ws else zero
        tv = losses.total_variation(image) if terms.use_tv else zero
        total = terms.alpha * content_ + terms.beta * style_
        if terms.use_tv:
            total = total + terms.tv_w * tv
        if backward:
            if scale is None:
                positive = total.detach() > 0
                scale = total.detach().where(positive, torch.ones_like(total)).clamp_min(1e-30)
            (total / scale).sum().backward()
        parts = {"total": total, "content": content_, "style": style_, "tv": tv}
        parts.update({f"content:{k}": v for k, v in c_layers.items()})
        parts.update({f"style:{k}": v for k, v in s_layers.items()})
        return {k: v.detach() for k, v in parts.items()}, scale

    return evaluate


class _Loop:
    """The evaluations of one batch: the iterate ``x``, its optimiser, the losses of the
    latest accepted iterates (``current``), the records and the progress bar."""

    def __init__(
        self,
        x: Tensor,
        b: int,
        evaluate,
        *,
        optimizer: str,
        lr: float,
        history_size: int,
        callback,
        steps: int,
        progress: bool,
        desc: str | None,
        bounded: bool = True,
    ):
        from tqdm import tqdm

        self.x, self.b, self.evaluate, self.lr, self.callback = x, b, evaluate, lr, callback
        flat = x.detach().view(b, -1)
        self.lbfgs = (
            BatchedLBFGS(flat, history_size=history_size, bounds=(0.0, 1.0) if bounded else None)
            if optimizer == "lbfgs"
            else None
        )
        self.adam = torch.optim.Adam([x], lr=lr) if optimizer == "adam" else None
        self.records: list[tuple[int, float, dict[str, np.ndarray]]] = []
        self.current: dict[str, Tensor] | None = None
        self.scale: Tensor | None = None
        self.loop_start = time.perf_counter()
        self.evaluations = 0
        self.bar = tqdm(
            total=steps,
            disable=not progress,
            desc=desc or f"{optimizer} ×{b}",
            unit="eval",
            leave=False,
            mininterval=0.5,
            file=sys.stderr,
            dynamic_ncols=True,
        )

    def run(self, steps: int, record_every: int) -> None:
        for k in range(1, steps + 1):
            self.x.grad = None
            parts, self.scale = self.evaluate(self.x, backward=True, scale=self.scale)
            self.evaluations = k
            if self.lbfgs is not None:
                self._lbfgs_step(k, parts)
            else:
                self._adam_step(k, parts)
            self.bar.update(1)
            if (k == 1 or k % record_every == 0 or k == steps) and self.record(k):
                break  # the callback asked to stop here
            if self.lbfgs is not None and self.lbfgs.done:
                if self.records[-1][0] != k:
                    self.record(k)
                break

    def _lbfgs_step(self, k: int, parts: dict[str, Tensor]) -> None:
        try:
            accept = self.lbfgs.tell(parts["total"] / self.scale, self.x.grad.view(self.b, -1))
        except FloatingPointError as exc:
            raise UserError(
                f"evaluation {k}: {exc}; the initial image or the weights file is probably "
                "broken (re-fetch the weights with `python -m helpers weights`)"
            ) from None
        if self.current is None or bool(accept.all()):
            self.current = parts
        else:
            self.current = {
                key: torch.where(accept, v, self.current[key]) for key, v in parts.items()
            }

    def _adam_step(self, k: int, parts: dict[str, Tensor]) -> None:
        finite = torch.isfinite(parts["total"]) & torch.isfinite(self.x.grad).flatten(1).all(dim=1)
        if not bool(finite.all()):
            bad = [i for i, ok in enumerate(finite.tolist()) if not ok]
            if k == 1:  # no step taken yet: the learning rate cannot be the cause
                raise UserError(
                    "adam: the loss or its gradient is not finite at the initial image "
                    f"(evaluation 1) for batch element(s) {bad}; the initial image or the "
                    "weights file is probably broken (re-fetch the weights with "
                    "`python -m helpers weights`)"
                )
            raise UserError(
                f"adam: the loss became non-finite (NaN/inf) at evaluation {k} for batch "
                f"element(s) {bad}; the learning rate lr={self.lr:g} is probably too high (the "
                f"Berkeley recipe's is {BERKELEY_LR:.3g}, the project's default {ADAM_LR:.3g}): "
                "lower it and run again"
            )
        self.current = parts
        self.adam.step()

    def record(self, k: int) -> bool:
        """Store evaluation ``k``'s losses; True when the callback asks to stop."""
        assert self.current is not None
        seconds = time.perf_counter() - self.loop_start
        row = {key: v.cpu().numpy().copy() for key, v in self.current.items()}
        self.records.append((k, seconds, row))
        self.bar.set_postfix_str(f"loss {row['total'].mean():.4g}", refresh=False)
        if self.callback is not None:
            image = self.lbfgs.x.view_as(self.x) if self.lbfgs else self.x.detach()
            return self.callback(Step(k, seconds, row["total"], image)) is True
        return False

    def latest_image(self) -> Tensor:
        return (self.lbfgs.x.view_as(self.x) if self.lbfgs is not None else self.x.detach()).clone()


def _partial(
    objs: list[Objective], loop: _Loop, start: float, device_label: str, optimizer: str
) -> TransferResult | None:
    """The latest finite result of an interrupted batch (None before the first record)."""
    if loop.current is None or not loop.records:
        return None
    image = loop.latest_image()
    if not bool(torch.isfinite(image).all()):
        return None
    return TransferResult.from_records(
        objs,
        image,
        loop.records,
        loop.evaluations,
        start=start,
        loop_start=loop.loop_start,
        device=device_label,
        optimizer=optimizer,
        final=None,
    )
