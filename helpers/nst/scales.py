"""Coarse to fine through :func:`helpers.nst.stylize`: ``scales=[...]`` and the stage loop.

Part of :mod:`helpers.nst`, above the loop.  ``stylize(content, style, scales=[128, 256, 512],
steps=[150, 100, 250])`` runs one stage per size (the longer side), each starting from the
previous stage's image upsampled (the first from ``init``).  Every stage is one run of the same
loop (:func:`helpers.nst.optimize`) under the same objective, the size-free alpha/beta carried
to the stage's size.  The result is the last stage's :class:`TransferResult` with the whole
schedule's seconds and each stage in ``stages``.

The default is one scale, as in Gatys et al. (2016).  Coarse to fine (their 2017 follow-up's
proposal for large images) was measured as a default for outputs over 256 px and did not earn
it: ``python -m benchmarks scales`` (``benchmarks/SCALES.md``) asks a schedule to reach, at
512 px, the delivered loss of 500 single-scale evaluations in at most a quarter of their time,
and none of four did (:data:`MEASURED`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from ..errors import UserError
from .inputs import ImageLike
from .results import TransferResult, stages_text

MEASURED = (
    "at 512 px from the photo (gatys recipe, 2-core CPU, 2026-12-05), 500 single-scale "
    "evaluations took 554 s (Tübingen × The Starry Night) and 537 s (Golden Gate × The Great "
    "Wave). None of four schedules (128→256→512, 256→512, 128→512 and a longer 128→256→512) "
    "reached their delivered loss within 40% of that time, against a target of 25%: the closest "
    "ended 3.4% and 7.5% above it. At a quarter of the single-scale time the best schedule's "
    "loss was 0.99–1.03 times the single scale's, a tie. From the photo, one scale at 512 px "
    "falls from 3.3e8 to 3.6e7 in its first 10 evaluations, while a coarse result upsampled to "
    "512 px scores 1.9e8–6.5e8 there and its last stage spends about 40 s recovering; the rest "
    "is the slow tail that only 512 px evaluations can shorten."
)
"""What ``python -m benchmarks scales`` measured (Tübingen × The Starry Night)."""


def plan(scales, steps, *, batch: bool) -> list[tuple[int, int]] | None:
    """The stages of :func:`helpers.nst.stylize` for its ``scales``: None or ``"none"`` (one
    scale), or a list of increasing sizes with ``steps`` one count per size or one for all."""
    from .controls import check_scales

    if scales is None or (isinstance(scales, str) and scales.strip().lower() == "none"):
        if not isinstance(steps, int | np.integer):
            raise UserError(
                f"several step counts {list(steps)} need as many scales; give one value"
            )
        return None
    if isinstance(scales, str):
        raise UserError(f"scales {scales!r}: give increasing sizes, e.g. [256, 512], or None")
    if batch:
        raise UserError("coarse to fine runs one style at a time; give one style image")
    sizes, budgets = check_scales(scales, steps)
    return list(zip(sizes, budgets))


def is_batch(style) -> bool:
    """Several styles (a mapping or a list): one batch element per style."""
    return isinstance(style, Mapping | list | tuple)


def run_stages(
    stages: Sequence[tuple[object, int]],
    content: ImageLike,
    style,
    *,
    init: str | ImageLike = "content",
    run=None,
    **options,
) -> list[TransferResult]:
    """Each ``(size, evaluations)`` of ``stages`` as one single-scale ``run`` (default
    :func:`helpers.nst.stylize`), each from the previous stage's image (the first from
    ``init``; the loop resizes it to the stage's size)."""
    if run is None:
        from .experiments import stylize as run
    out: list[TransferResult] = []
    for size, budget in stages:
        start = init if not out else out[-1].image
        out.append(run(content, style, size=size, steps=budget, init=start, scales=None, **options))
    return out


def stylize_scaled(stages, content, style, **options) -> TransferResult:
    """Run ``stages`` (from :func:`plan`): the last stage's result with the schedule's wall
    time in ``seconds`` and ``{"size", "evaluations", "seconds"}`` per stage in ``stages``."""
    start = time.perf_counter()
    runs = run_stages(stages, content, style, **options)
    info = [
        {"size": str(size), "evaluations": r.evaluations, "seconds": r.seconds}
        for (size, _), r in zip(stages, runs)
    ]
    return replace(runs[-1], seconds=time.perf_counter() - start, stages=info)


def schedule_text(result: TransferResult) -> str:
    """How ``result`` ran: ``"coarse to fine, 150 evaluations at 128 px + 100 at 256 px + 250
    at 512 px"`` or ``"one scale, 300 evaluations at 512x384 px"``."""
    if not result.stages:
        h, w = result.images[0].shape[:2]
        return f"one scale, {result.evaluations} evaluations at {w}x{h} px"
    return "coarse to fine, " + stages_text([(s["evaluations"], s["size"]) for s in result.stages])
