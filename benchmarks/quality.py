"""The loss of the image the user gets, and how it falls with the evaluations spent.

Benchmark helpers over :mod:`helpers.nst` (only the benchmarks and their tests use them).  The
*delivered* image is the optimised image clamped to [0, 1] and quantised to 8 bits, the image a
PNG holds (:func:`helpers.images.quantize`, the one 8-bit rounding rule).
:func:`delivered_losses` scores any images that way under the project's objective;
:func:`delivered_curve` runs :func:`helpers.nst.optimize` and scores its iterates at chosen
evaluations, so that optimisers are compared on what they deliver rather than on their
unclamped iterates (:mod:`benchmarks.bench_quality` plots these curves).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from helpers.images import quantize
from helpers.nst import Objective, Step, TransferResult, optimize


def delivered_losses(
    images: Sequence,
    content,
    style,
    *,
    objective: Objective | None = None,
    key: str = "total",
    max_batch: int = 4,
    **options,
) -> np.ndarray:
    """``key`` loss of each image after :func:`helpers.images.quantize`, under ``objective``
    (default :class:`Objective`'s) with the content and style images ``content``, ``style``.

    ``options`` go to :func:`helpers.nst.optimize` (weights, device, gram, …: use those of the
    run that produced the images); one evaluation at the images scores them.
    """
    objective = objective or Objective()
    delivered = [quantize(im) for im in images]
    options = {"progress": False, **options, "steps": 1, "record_every": 1}
    options.pop("optimizer", None)
    res = optimize(
        [objective] * len(delivered),
        content=content,
        style=style,
        init=delivered,
        max_batch=max_batch,
        **options,
    )
    return res.history.series(key)[0].astype(np.float64)


@dataclass
class Curve:
    """Delivered loss at chosen evaluations of one run (element 0 of the batch)."""

    evaluations: list[int]
    delivered: np.ndarray  # (K,) loss of the delivered image after each of ``evaluations``
    iterate: np.ndarray  # (K,) the optimiser's own loss at its iterate (not clamped)
    result: TransferResult

    def evaluations_to_reach(self, level: float) -> int | None:
        """First sampled evaluation whose delivered loss is <= ``level`` (None if none)."""
        hits = np.nonzero(self.delivered <= level)[0]
        return int(self.evaluations[hits[0]]) if len(hits) else None

    def at(self, evaluation: int) -> float:
        """Delivered loss at the last sampled evaluation <= ``evaluation``."""
        idx = [i for i, e in enumerate(self.evaluations) if e <= evaluation]
        return float(self.delivered[idx[-1]]) if idx else float("nan")


def delivered_curve(
    content,
    style,
    *,
    steps: int,
    at: Sequence[int] | None = None,
    objective: Objective | None = None,
    until: float | None = None,
    **options,
) -> Curve:
    """Run :func:`helpers.nst.optimize` for ``steps`` evaluations and score the iterate after
    each evaluation in ``at`` (default: 1, 5, every 10, and ``steps``) as delivered.

    ``until``: stop at the first of those evaluations whose delivered loss is <= ``until``
    (each is then scored during the run, one forward pass per sampled evaluation; the
    curve ends there).  ``options`` go to :func:`helpers.nst.optimize` and to the scoring pass.
    """
    objective = objective or Objective()
    marks = sorted(
        {int(a) for a in (at or [1, 5, *range(10, steps + 1, 10)]) if 1 <= a <= steps} | {steps}
    )
    wanted = set(marks)
    snaps: dict[int, np.ndarray] = {}
    own: dict[int, float] = {}
    user_cb = options.pop("callback", None)
    scoring = {k: v for k, v in options.items() if k not in ("init", "seed", "history_size", "lr")}
    scored: dict[int, float] = {}

    def grab(step: Step) -> bool:
        stop = user_cb(step) is True if user_cb is not None else False
        if step.evaluation in wanted:
            snap = step.image[0].detach().cpu().permute(1, 2, 0).numpy().copy()
            snaps[step.evaluation] = snap
            own[step.evaluation] = float(step.total[0])
            if until is not None:
                loss = delivered_losses([snap], content, style, objective=objective, **scoring)
                scored[step.evaluation] = float(loss[0])
                stop = stop or scored[step.evaluation] <= until
        return stop

    res = optimize(
        objective,
        content=content,
        style=style,
        steps=steps,
        record_every=1,
        callback=grab,
        **{"progress": False, **options},
    )
    marks = [m for m in marks if m in snaps]  # a run that stopped early has fewer
    todo = [m for m in marks if m not in scored]
    if todo:
        fresh = delivered_losses(
            [snaps[m] for m in todo], content, style, objective=objective, **scoring
        )
        scored.update(zip(todo, fresh.tolist()))
    losses = np.array([scored[m] for m in marks], dtype=np.float64)
    return Curve(marks, losses, np.array([own[m] for m in marks]), res)
