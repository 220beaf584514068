"""How one optimisation runs: :class:`RunOptions`, checked before any work.

Part of :mod:`helpers.nst`, below the loop: :func:`helpers.nst.optimize` takes one
``RunOptions`` (or any of its fields as a keyword, ``steps=100``) besides the objectives and
the images.  The experiments (:func:`helpers.nst.stylize` and the grids) pass their
``**options`` on as those keywords.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..errors import UserError
from . import losses
from .inputs import ImageLike
from .objective import ADAM_LR, INITS, OPTIMIZERS, Objective
from .results import Progress, Step

ProgressCallback = Callable[[Progress], object]
"""Receives a :class:`helpers.nst.Progress` after every evaluation (a bar: see
:mod:`helpers.progress`)."""
StepCallback = Callable[[Step], "bool | None"]
"""Receives a :class:`helpers.nst.Step` at every recorded evaluation; ``True`` stops the run."""


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """The settings of :func:`helpers.nst.optimize` (every one has a default).

    Attributes:
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
        callback: called with a :class:`Step` at every recorded evaluation; returning ``True``
            ends the run there (a normal result with the evaluations spent so far).
        progress: called with a :class:`Progress` after every evaluation and when a run ends;
            ``None`` (or ``False``): no reports.  The package never prints: a bar is the
            caller's (:func:`helpers.progress.bar`).
        style_mix: several (masked, blended) style images per output instead of ``style``'s
            one: ``style_mix(objectives, model, prepared, style_layers, gram)`` returns the
            style targets (:class:`helpers.nst.losses.StyleMix`); see :mod:`helpers.nst.controls`.
    """

    size: int | str | tuple[int, int] | None = None
    style_size: int | str | tuple[int, int] | None = None
    init: str | ImageLike | Sequence[ImageLike] = "content"
    noise: float = 0.05
    optimizer: str = "lbfgs"
    steps: int = 300
    lr: float = ADAM_LR
    history_size: int = 20
    bounded: bool = True
    gram: str = "raw"
    content_norm: str = "sum"
    seed: int | Sequence[int] = 0
    device: str | torch.device = "auto"
    pooling: str = "avg"
    weights: str | os.PathLike = "caffe"
    record_every: int | None = None
    max_batch: int | None = None
    callback: StepCallback | None = None
    progress: ProgressCallback | None = None
    style_mix: Callable | None = None

    def checked(self, objectives: Sequence[Objective]) -> RunOptions:
        """These options for ``objectives``, refused with a :class:`UserError` where bad (before
        any work): ``steps`` as an int, ``record_every`` resolved, ``progress=False`` as None."""
        if not objectives:
            raise UserError("no objectives to optimise")
        if not all(isinstance(o, Objective) for o in objectives):
            raise UserError("objectives must be helpers.nst.Objective instances")
        steps = _checked_optimizer(self.optimizer, self.steps, self.lr, self.history_size)
        if self.gram not in losses.GRAM_NORMS:
            raise UserError(
                f"gram must be one of {', '.join(losses.GRAM_NORMS)}, got {self.gram!r}"
            )
        if self.pooling not in ("avg", "max"):
            raise UserError(f"pooling must be 'avg' or 'max', got {self.pooling!r}")
        init = self.init
        if isinstance(init, str) and init not in INITS and not Path(init).exists():
            raise UserError(f"init {init!r}: use content, noise, style or an image path")
        _check_noise(self.noise)
        if self.content_norm not in losses.CONTENT_NORMS:
            raise UserError(
                f"content_norm must be one of {', '.join(losses.CONTENT_NORMS)}, "
                f"got {self.content_norm!r}"
            )
        record_every = self.record_every or max(1, steps // 100)
        if record_every < 1:
            raise UserError(f"record_every must be >= 1, got {record_every}")
        if self.progress is True:
            raise UserError(
                "progress=True: helpers.nst shows no bar itself; pass a callback, e.g. "
                "helpers.progress.bar()"
            )
        progress = self.progress or None
        return replace(self, steps=steps, record_every=record_every, progress=progress)


def _checked_optimizer(optimizer, steps, lr, history_size) -> int:
    """Refuse a bad optimiser, budget, learning rate or history; the budget as an int."""
    if optimizer not in OPTIMIZERS:
        raise UserError(f"optimizer {optimizer!r}: use one of {', '.join(OPTIMIZERS)}")
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps <= 0:
        raise UserError(
            f"steps must be a positive whole number of function evaluations, got {steps!r}"
        )
    if optimizer == "adam" and not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
        raise UserError(f"lr must be a positive number, got {lr!r}")
    if isinstance(history_size, bool) or not isinstance(history_size, int) or history_size < 1:
        raise UserError(f"history_size must be a positive integer, got {history_size!r}")
    return int(steps)


def _check_noise(noise) -> None:
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
