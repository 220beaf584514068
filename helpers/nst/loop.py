"""The one optimisation loop of :mod:`helpers.nst`: :func:`optimize`.

Everything in the package that optimises an image (stylize, reconstructions, grids; see
:mod:`helpers.nst.experiments`) calls :func:`optimize`.  It checks the options
(:class:`RunOptions`), prepares the images (:mod:`helpers.nst.inputs`), refuses runs that
cannot fit (:mod:`helpers.nst.memory`), builds the network once
(:func:`helpers.nst.evaluator.build_network`, weights cached per process) and optimises the
batch in chunks of ``max_batch``: targets once, then ``steps`` function evaluations
(:class:`helpers.nst.evaluator.Evaluator`), each one forward+backward pass for the whole batch,
stepped by Adam or :class:`BatchedLBFGS`.  Progress leaves through the options' callbacks; the
loop never prints.

Each element's objective is divided by its value at the initial image before the gradient is
taken: no minimiser changes, but the Caffe weights' large loss scale stays away from Adam's
epsilon and float32 limits, and every element's step is independent of the others'.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import torch
from torch import Tensor

from ..errors import UserError
from . import vgg
from .evaluator import Evaluator, build_network
from .inputs import ImageLike, Prepared, distinct, per_element, prepare_images, stack_unique
from .lbfgs import BatchedLBFGS
from .memory import check_memory
from .objective import ADAM_LR, BERKELEY_LR, INITS, Objective
from .options import RunOptions
from .results import Interrupted, Progress, Record, Step, TransferResult

__all__ = ["RunOptions", "build_network", "optimize"]


def optimize(
    objectives: Objective | Sequence[Objective],
    *,
    content: ImageLike | Sequence[ImageLike | None] | None = None,
    style: ImageLike | Sequence[ImageLike | None] | None = None,
    options: RunOptions | None = None,
    **settings,
) -> TransferResult:
    """Optimise a batch of images, one per objective, with one forward+backward pass per evaluation.

    Args:
        objectives: one :class:`Objective` or a sequence (the batch).
        content: content image (shared) or one per element (``None`` where alpha is 0).
        style: style image (shared) or one per element.
        options: how to run (:class:`RunOptions`: size, init, optimizer, steps, device,
            weights, callbacks, ...); default ``RunOptions()``.
        settings: any :class:`RunOptions` field by name, over ``options`` (``steps=100``).

    Returns:
        :class:`TransferResult`.  Raises :class:`UserError` for bad input, a non-finite loss
        (naming the evaluation and the likely cause) and :class:`Interrupted` on Ctrl-C.
    """
    from ..runtime import device_name, get_device

    start = time.perf_counter()
    objs = [objectives] if isinstance(objectives, Objective) else list(objectives)
    opts = replace(options or RunOptions(), **settings).checked(objs)
    dev = get_device(opts.device) if isinstance(opts.device, str) else torch.device(opts.device)
    n = len(objs)
    seeds = per_element(opts.seed, n, "seed")
    layers = list(dict.fromkeys(name for o in objs for name in o.layers()))
    deepest = max(layers, key=lambda name: vgg.LAYER_INDEX[name])
    chunk = opts.max_batch or n

    def check_shape(shape: tuple[int, int]) -> None:
        check_memory(shape, min(chunk, n), [deepest], opts.optimizer, opts.history_size, dev)

    prep = _prepared_inputs(objs, content, style, opts, deepest=deepest, check_shape=check_shape)
    model = build_network(layers, weights=opts.weights, pooling=opts.pooling, device=dev)
    results = []
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        part = Prepared(
            prep.content[lo:hi], prep.style[lo:hi], prep.init[lo:hi], prep.shape, prep.style_shape
        )
        results.append(_run(objs[lo:hi], part, model, opts, seeds[lo:hi], device_name(dev)))
    result = TransferResult.concat(results) if len(results) > 1 else results[0]
    result.seconds = time.perf_counter() - start
    return result


def _prepared_inputs(
    objs: list[Objective],
    content,
    style,
    opts: RunOptions,
    *,
    deepest: str,
    check_shape: Callable[[tuple[int, int]], None],
) -> Prepared:
    """The batch's images, checked against the init and the deepest layer's minimum size."""
    init = opts.init
    init_name = init if isinstance(init, str) and init in INITS else None
    need_content = any(o.alpha > 0 for o in objs) or init_name == "content"
    need_style = any(o.beta > 0 for o in objs) or init_name == "style"
    prep = prepare_images(
        len(objs),
        content,
        style,
        init,
        size=opts.size,
        style_size=opts.style_size,
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
    opts: RunOptions,
    seeds: list,
    device_label: str,
) -> TransferResult:
    """Optimise one batch: targets once, then ``steps`` evaluations (see :func:`optimize`)."""
    start = time.perf_counter()
    evaluate = Evaluator(
        model, objs, prep, gram=opts.gram, content_norm=opts.content_norm, style_mix=opts.style_mix
    )
    x0 = _initial_image(opts.init, prep, seeds, float(opts.noise), model.device)
    loop = _Loop(x0.detach().clone().contiguous().requires_grad_(True), evaluate, opts)
    try:
        loop.run()
    except KeyboardInterrupt:
        raise Interrupted(_result(objs, loop, start, device_label, finished=False)) from None
    finally:
        loop.report(done=True)
    return _result(objs, loop, start, device_label, finished=True)


def _result(
    objs: list[Objective], loop: _Loop, start: float, device_label: str, *, finished: bool
) -> TransferResult | None:
    """The one way from a loop to its :class:`TransferResult`.

    Finished: the latest image clamped to [0, 1], with the final losses of the delivered image
    (quantised to 8 bits as a PNG holds it, :func:`helpers.images.quantize`: the returned float
    image saves to exactly that); a non-finite image is a :class:`UserError`.  Interrupted:
    the latest finite iterate with the last record's losses, or ``None`` when there is none.
    """
    from ..images import quantize

    if not loop.records:  # interrupted before the first record
        return None
    image = loop.latest_image()
    if finished:
        image.clamp_(0.0, 1.0)  # an interrupted one is clipped as it becomes arrays
    final = None
    if not bool(torch.isfinite(image).all()):
        if not finished:
            return None
        opts = loop.opts
        cause = (
            f"the learning rate lr={opts.lr:g} is probably too high"
            if opts.optimizer == "adam"
            else "try fewer layers or another init"
        )
        raise UserError(
            f"{opts.optimizer}: the image became non-finite after {loop.evaluations} "
            "evaluations; " + cause
        )
    if finished:
        with torch.no_grad():
            delivered = torch.from_numpy(quantize(image.cpu().numpy())).to(image.device)
            final, _ = loop.evaluate(delivered, backward=False, scale=None)
    return TransferResult.from_records(
        objs,
        image,
        loop.records,
        loop.evaluations,
        start=start,
        loop_seconds=loop.seconds,
        device=device_label,
        optimizer=loop.opts.optimizer,
        final=final,
    )


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


class _Loop:
    """The evaluations of one batch: the iterate ``x``, its optimiser, the losses of the
    latest accepted iterates (``current``) and the records; every evaluation is reported to
    the options' ``progress``, every record to their ``callback``."""

    def __init__(self, x: Tensor, evaluate: Evaluator, opts: RunOptions):
        self.x, self.b, self.evaluate, self.opts = x, evaluate.batch, evaluate, opts
        flat = x.detach().view(self.b, -1)
        bounds = (0.0, 1.0) if opts.bounded else None
        self.lbfgs = (
            BatchedLBFGS(flat, history_size=opts.history_size, bounds=bounds)
            if opts.optimizer == "lbfgs"
            else None
        )
        self.adam = torch.optim.Adam([x], lr=opts.lr) if opts.optimizer == "adam" else None
        self.records: list[Record] = []
        self.current: dict[str, Tensor] | None = None
        self.scale: Tensor | None = None
        self.loop_start = time.perf_counter()
        self.seconds = 0.0
        self.evaluations = 0

    def run(self) -> None:
        """Up to ``steps`` evaluations; ``seconds`` is the time they took, however they end."""
        steps, every = self.opts.steps, self.opts.record_every
        try:
            for k in range(1, steps + 1):
                self.x.grad = None
                parts, self.scale = self.evaluate(self.x, backward=True, scale=self.scale)
                self.evaluations = k
                if self.lbfgs is not None:
                    self._lbfgs_step(k, parts)
                else:
                    self._adam_step(k, parts)
                stop = (k == 1 or k % every == 0 or k == steps) and self.record(k)
                self.report()
                if stop:
                    break  # the callback asked to stop here
                if self.lbfgs is not None and self.lbfgs.done:
                    if self.records[-1][0] != k:
                        self.record(k)
                    break
        finally:
            self.seconds = time.perf_counter() - self.loop_start

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
                f"element(s) {bad}; the learning rate lr={self.opts.lr:g} is probably too high "
                f"(the Berkeley recipe's is {BERKELEY_LR:.3g}, the project's default "
                f"{ADAM_LR:.3g}): lower it and run again"
            )
        self.current = parts
        self.adam.step()

    def record(self, k: int) -> bool:
        """Store evaluation ``k``'s losses; True when the callback asks to stop."""
        assert self.current is not None
        seconds = time.perf_counter() - self.loop_start
        row = {key: v.cpu().numpy().copy() for key, v in self.current.items()}
        self.records.append((k, seconds, row))
        if self.opts.callback is not None:
            image = self.lbfgs.x.view_as(self.x) if self.lbfgs else self.x.detach()
            return self.opts.callback(Step(k, seconds, row["total"], image)) is True
        return False

    def report(self, *, done: bool = False) -> None:
        """Tell ``progress`` how far the run is (``done``: it has ended)."""
        opts = self.opts
        if opts.progress is None:
            return
        loss = float(self.records[-1][2]["total"].mean()) if self.records else None
        opts.progress(Progress(self.evaluations, opts.steps, self.b, opts.optimizer, loss, done))

    def latest_image(self) -> Tensor:
        return (self.lbfgs.x.view_as(self.x) if self.lbfgs is not None else self.x.detach()).clone()
