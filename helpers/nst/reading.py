"""Reading finished runs: the rows the notebooks' tables print, as data.

Part of :mod:`helpers.nst`, over :mod:`helpers.nst.results` only: :func:`compare_runs` (final
losses, time and a fair 'time to quality' per run), :func:`layer_losses` (each layer's loss,
first and last recorded) and :func:`practice_rows` (one line per run of
:func:`helpers.nst.paper_vs_practice`), and :func:`evaluations_to_reach` beneath them.  They
return dataclasses; :mod:`helpers.tables` lays them out as text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .results import TransferResult


def evaluations_to_reach(
    result: TransferResult, level: float, *, element: int = 0, key: str = "total"
) -> int | None:
    """First recorded evaluation at which ``key`` of ``element`` is <= ``level`` (None if never)."""
    series = result.history.series(key)[:, element]
    hits = np.nonzero(series <= level)[0]
    return int(result.history.evaluations[hits[0]]) if len(hits) else None


@dataclass(frozen=True)
class RunRow:
    """One run of :func:`compare_runs`: its final losses of the compared element, evaluations,
    loop seconds, and the evaluations it needed to reach the comparison's ``level``."""

    run: str
    total: float
    content: float
    style: float
    evaluations: int
    seconds: float
    seconds_per_evaluation: float
    evaluations_to_level: int | None
    """``None``: the run never got down to the level."""


@dataclass(frozen=True)
class RunComparison:
    """What :func:`compare_runs` returns: ``level``, the final total loss of the weakest run,
    and one :class:`RunRow` per run."""

    level: float
    rows: tuple[RunRow, ...]


def compare_runs(runs: Mapping[str, TransferResult], *, element: int = 0) -> RunComparison:
    """Compare runs (``{name: result}``) on ``element``: final losses, time, and the
    evaluations each run needed to reach the final total loss of the weakest run (a fair
    'time to quality')."""
    level = max(float(r.history.total[-1, element]) for r in runs.values())
    rows = tuple(
        RunRow(
            run=name,
            total=float(r.losses["total"][element]),
            content=float(r.losses["content"][element]),
            style=float(r.losses["style"][element]),
            evaluations=r.evaluations,
            seconds=r.loop_seconds,
            seconds_per_evaluation=r.seconds_per_evaluation,
            evaluations_to_level=evaluations_to_reach(r, level, element=element),
        )
        for name, r in runs.items()
    )
    return RunComparison(level=level, rows=rows)


@dataclass(frozen=True)
class LayerLoss:
    """One layer's unweighted loss, first and last recorded, and its weight in the objective."""

    layer: str
    """``"content:<layer>"`` or ``"style:<layer>"``."""
    weight: float
    first: float
    last: float


def layer_losses(result: TransferResult, *, element: int = 0) -> list[LayerLoss]:
    """Per-layer (unweighted) losses of one element, first and last recorded, one per layer,
    with each layer's weight in that element's objective."""
    obj = result.objectives[element]
    rows = []
    for key, series in result.history.layers.items():
        kind, name = key.split(":", 1)
        w = (obj.style_layers if kind == "style" else obj.content_layers).get(name, 0.0)
        rows.append(
            LayerLoss(
                layer=key,
                weight=float(w),
                first=float(series[0, element]),
                last=float(series[-1, element]),
            )
        )
    return rows


@dataclass(frozen=True)
class PracticeRow:
    """One run of :func:`helpers.nst.paper_vs_practice`: its row (``choice``) and label
    (``setting``), final total loss, evaluations and loop seconds."""

    choice: str
    setting: str
    final_loss: float
    evaluations: int
    seconds: float


def practice_rows(panel: Mapping[str, Mapping[str, TransferResult]]) -> list[PracticeRow]:
    """One :class:`PracticeRow` per run of :func:`helpers.nst.paper_vs_practice`'s panel."""
    return [
        PracticeRow(
            choice=row,
            setting=label,
            final_loss=float(r.final("total")[0]),
            evaluations=r.evaluations,
            seconds=r.loop_seconds,
        )
        for row, runs in panel.items()
        for label, r in runs.items()
    ]
