"""What a style-transfer run returns: :class:`TransferResult`, its :class:`History`, the
:class:`Step` and :class:`Progress` passed to callbacks and the :class:`Interrupted` raised on
Ctrl-C.

Part of :mod:`helpers.nst`, filled in by the loop (:mod:`helpers.nst.loop`); results of
separate runs join (:meth:`TransferResult.concat`, :meth:`TransferResult.hstack`) and grids
split (:meth:`TransferResult.select`) without re-running anything.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import Tensor

from .objective import Objective, weight_key

CORE_KEYS = ("total", "content", "style")
"""The series every run records; regulariser terms and per-layer losses come after them."""


@dataclass
class History:
    """Losses recorded every few evaluations, per batch element.

    ``evaluations``: ``(T,)`` evaluation numbers; ``seconds``: ``(T, B)`` since each element's
    run began; ``total``, ``content``, ``style``: ``(T, B)`` (content and style without
    alpha/beta, total with them); ``terms``: ``{regulariser name: (T, B)}`` unweighted image
    regularisers (``"tv"``, see :data:`helpers.nst.losses.REGULARISERS`); ``layers``:
    ``{"content:conv4_2" | "style:conv1_1": (T, B)}`` unweighted per-layer losses.  For L-BFGS
    the values are those of the accepted iterate.
    """

    evaluations: np.ndarray
    seconds: np.ndarray
    total: np.ndarray
    content: np.ndarray
    style: np.ndarray
    terms: dict[str, np.ndarray]
    layers: dict[str, np.ndarray]

    def series(self, key: str) -> np.ndarray:
        """``(T, B)`` values of ``total``/``content``/``style``, a ``terms`` or a ``layers`` key."""
        if key in CORE_KEYS:
            return getattr(self, key)
        for group in (self.terms, self.layers):
            if key in group:
                return group[key]
        have = [*CORE_KEYS, *self.terms, *self.layers]
        raise KeyError(f"no series {key!r}; have {', '.join(have)}")

    @staticmethod
    def from_records(records: Sequence[Record], batch: int) -> History:
        """The history of one run from its records ``(evaluation, seconds, {key: (B,)})``."""
        keys = list(records[-1][2])

        def stack(key: str) -> np.ndarray:
            return np.stack([r[2][key] for r in records])

        return History(
            evaluations=np.array([r[0] for r in records]),
            seconds=np.repeat(np.array([r[1] for r in records])[:, None], batch, axis=1),
            total=stack("total"),
            content=stack("content"),
            style=stack("style"),
            terms={k: stack(k) for k in keys if k not in CORE_KEYS and ":" not in k},
            layers={k: stack(k) for k in keys if ":" in k},
        )

    def take(self, idx: Sequence[int]) -> History:
        """The history of the elements ``idx`` (in that order)."""
        return History(
            self.evaluations,
            self.seconds[:, idx],
            self.total[:, idx],
            self.content[:, idx],
            self.style[:, idx],
            {k: v[:, idx] for k, v in self.terms.items()},
            {k: v[:, idx] for k, v in self.layers.items()},
        )

    @staticmethod
    def concat(histories: Sequence[History]) -> History:
        """Join histories of separate runs along the batch axis (aligned on evaluation numbers;
        a term or layer one run lacks is NaN there)."""
        if len(histories) == 1:
            return histories[0]
        evals = np.unique(np.concatenate([h.evaluations for h in histories]))

        def aligned(h: History, arr: np.ndarray) -> np.ndarray:
            idx = np.searchsorted(h.evaluations, evals, side="right") - 1
            return arr[np.clip(idx, 0, len(h.evaluations) - 1)]

        def cat(get) -> np.ndarray:
            return np.concatenate([aligned(h, get(h)) for h in histories], axis=1)

        def joined(group: str) -> dict[str, np.ndarray]:
            keys = list(dict.fromkeys(k for h in histories for k in getattr(h, group)))
            missing = {id(h): np.full((len(evals), h.total.shape[1]), np.nan) for h in histories}
            return {
                key: np.concatenate(
                    [
                        aligned(h, getattr(h, group)[key])
                        if key in getattr(h, group)
                        else missing[id(h)]
                        for h in histories
                    ],
                    axis=1,
                )
                for key in keys
            }

        return History(
            evals,
            cat(lambda h: h.seconds),
            cat(lambda h: h.total),
            cat(lambda h: h.content),
            cat(lambda h: h.style),
            joined("terms"),
            joined("layers"),
        )


def stages_text(stages: Sequence[tuple[int, object]]) -> str:
    """``"150 evaluations at 128 px + 100 at 256 px"`` for ``[(evaluations, size), ...]``."""
    (n, size), *rest = stages
    return f"{n} evaluations at {size} px" + "".join(f" + {m} at {s} px" for m, s in rest)


Record = tuple[int, float, dict[str, np.ndarray]]
"""One recorded evaluation: its number, the seconds since the loop began, ``{key: (B,) loss}``."""


@dataclass
class TransferResult:
    """What :func:`helpers.nst.optimize` returns.

    ``images``: one ``(H, W, 3)`` float32 array in [0, 1] per batch element (clipped, finite).
    ``losses``: final losses of those images, ``{"total"|"content"|"style"|<regulariser>
    |"content:<layer>"|"style:<layer>": (B,) array}`` (regularisers unweighted, by name).
    ``seconds``: wall time of the whole call; ``loop_seconds``: of the evaluations only.
    ``evaluations``: forward+backward passes run.  ``rows``/``cols``: labels when the batch is
    a grid (row-major); :meth:`at` picks an element by its labels."""

    images: list[np.ndarray]
    history: History
    losses: dict[str, np.ndarray]
    seconds: float
    loop_seconds: float
    evaluations: int
    device: str
    optimizer: str
    objectives: list[Objective]
    rows: list[str] | None = None
    cols: list[str] | None = None
    stages: list[dict] | None = None
    """Coarse to fine (:mod:`helpers.nst.scales`): ``{"size", "evaluations", "seconds"}`` per
    stage, the last being this result's (``history``, ``evaluations`` and ``loop_seconds`` are
    the last stage's; ``seconds`` is the whole schedule's)."""

    @staticmethod
    def from_records(
        objectives: Sequence[Objective],
        image: Tensor,
        records: Sequence[Record],
        evaluations: int,
        *,
        start: float,
        loop_seconds: float,
        device: str,
        optimizer: str,
        final: dict[str, Tensor] | None,
    ) -> TransferResult:
        """The result of one loop: ``image`` ``(B, 3, H, W)``, ``records`` ``[(evaluation,
        seconds, {key: (B,) losses})]``; ``final``: the losses of ``image`` (``None``: the last
        record's, for an interrupted run); ``start``: ``perf_counter`` time the run began."""
        from ..images import to_numpy

        if final is None:
            final_np = dict(records[-1][2])
        else:
            final_np = {k: v.cpu().numpy() for k, v in final.items()}
        return TransferResult(
            images=[to_numpy(image[i]) for i in range(len(objectives))],
            history=History.from_records(records, len(objectives)),
            losses=final_np,
            seconds=time.perf_counter() - start,
            loop_seconds=loop_seconds,
            evaluations=evaluations,
            device=device,
            optimizer=optimizer,
            objectives=list(objectives),
        )

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image(self) -> np.ndarray:
        """The image of a batch of one."""
        if len(self.images) != 1:
            raise ValueError(f"batch of {len(self.images)}: use .images[i] or .grid()")
        return self.images[0]

    @property
    def seconds_per_evaluation(self) -> float:
        return self.loop_seconds / max(self.evaluations, 1)

    def final(self, key: str = "total") -> np.ndarray:
        """``(B,)`` final loss ``key``."""
        return self.losses[key]

    def grid(self) -> list[list[np.ndarray]]:
        """Images as rows × cols (row-major) for :func:`helpers.figures.image_grid`."""
        n_cols = len(self.cols) if self.cols else len(self.images)
        return [self.images[i : i + n_cols] for i in range(0, len(self.images), n_cols)]

    def labels(self) -> list[str]:
        if self.rows and self.cols:
            return [f"{r} | {c}" for r, c in itertools.product(self.rows, self.cols)]
        return [o.label or f"#{i}" for i, o in enumerate(self.objectives)]

    def table(self) -> list[dict]:
        """One row per element: labels, alpha, beta, ratio, the regulariser weights
        (``tv_weight``, ...) and every final loss."""
        out = []
        rc = list(itertools.product(self.rows, self.cols)) if self.rows and self.cols else None
        for i, obj in enumerate(self.objectives):
            row: dict = {}
            if rc:
                row["row"], row["col"] = rc[i]
            else:
                row["label"] = obj.label or f"#{i}"
            row.update(alpha=obj.alpha, beta=obj.beta, ratio=obj.ratio)
            row.update({weight_key(name): w for name, w in obj.regularisers.items()})
            row.update({key: float(v[i]) for key, v in self.losses.items()})
            row["evaluations"] = self.evaluations
            out.append(row)
        return out

    def save_csv(self, path: str | os.PathLike) -> Path:
        """Write :meth:`table` as CSV (atomically)."""
        import csv
        import io

        from ..runtime import atomic_write_text

        rows = self.table()
        keys = list(dict.fromkeys(k for r in rows for k in r))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return atomic_write_text(path, buf.getvalue())

    def summary(self) -> str:
        """One line: final losses (element 0 / range), evaluations, seconds, device."""
        tot, con, sty = self.losses["total"], self.losses["content"], self.losses["style"]
        if len(self) == 1:
            losses_text = f"total {tot[0]:.4g} (content {con[0]:.4g}, style {sty[0]:.4g})"
        else:
            losses_text = f"{len(self)} images, total {tot.min():.4g}…{tot.max():.4g}"
        if self.stages:
            steps = stages_text([(s["evaluations"], s["size"]) for s in self.stages])
            return (
                f"{losses_text}; coarse to fine, {steps} ({self.optimizer}) in "
                f"{self.seconds:.1f} s on {self.device}"
            )
        return (
            f"{losses_text}; {self.evaluations} evaluations ({self.optimizer}) in "
            f"{self.seconds:.1f} s ({self.seconds_per_evaluation:.3f} s/eval) on {self.device}"
        )

    def take(
        self,
        indices: Sequence[int],
        *,
        rows: list[str] | None = None,
        cols: list[str] | None = None,
    ) -> TransferResult:
        """A result holding only the elements ``indices`` (in that order)."""
        idx = [int(i) % len(self) for i in indices]
        return TransferResult(
            images=[self.images[i] for i in idx],
            history=self.history.take(idx),
            losses={k: v[idx] for k, v in self.losses.items()},
            seconds=self.seconds,
            loop_seconds=self.loop_seconds,
            evaluations=self.evaluations,
            device=self.device,
            optimizer=self.optimizer,
            objectives=[self.objectives[i] for i in idx],
            rows=rows,
            cols=cols,
        )

    def select(
        self, *, rows: Sequence[str] | None = None, cols: Sequence[str] | None = None
    ) -> TransferResult:
        """The sub-grid of the named rows and columns (all of them where ``None``)."""
        if not (self.rows and self.cols):
            raise ValueError("select() needs a grid result (rows and cols)")
        rows = list(self.rows if rows is None else rows)
        cols = list(self.cols if cols is None else cols)
        missing = [r for r in rows if r not in self.rows]
        missing += [c for c in cols if c not in self.cols]
        if missing:
            raise KeyError(f"no row/column {missing}; rows {self.rows}, cols {self.cols}")
        n = len(self.cols)
        idx = [self.rows.index(r) * n + self.cols.index(c) for r in rows for c in cols]
        return self.take(idx, rows=rows, cols=cols)

    def index(self, row: str | None = None, col: str | None = None) -> int:
        """Position in :attr:`images` of the element labelled ``row`` × ``col``.

        A grid: ``row`` and ``col`` name one of its rows and columns (leave out an axis that
        has a single label).  Any other batch: ``row`` is the element's objective label.
        Raises ``KeyError`` naming the labels there are.
        """
        if not (self.rows and self.cols):
            labels = [o.label for o in self.objectives]
            if col is not None or row not in labels:
                raise KeyError(f"no element labelled {row!r}; labels {labels}")
            return labels.index(row)
        return _position(self.rows, row, "row") * len(self.cols) + _position(
            self.cols, col, "column"
        )

    def at(self, row: str | None = None, col: str | None = None) -> TransferResult:
        """The element labelled ``row`` × ``col`` (see :meth:`index`) as a batch of one: its
        ``.image``, ``.final(...)`` and history."""
        return self.take([self.index(row, col)])

    def cell(self, row: int, col: int) -> TransferResult:
        """Grid cell (``row``, ``col``) by position (negative counts from the end) as a batch
        of one."""
        n_rows, n_cols = len(self.rows or [0]), len(self.cols or self.images)
        return self.take([(row % n_rows) * n_cols + col % n_cols])

    @staticmethod
    def hstack(
        results: Sequence[TransferResult], *, cols: list[str] | None = None
    ) -> TransferResult:
        """Grids with the same rows side by side (columns of the first, then the second, ...)."""
        rows = results[0].rows
        if any(r.rows != rows for r in results):
            raise ValueError("hstack needs results with the same rows")
        joined = TransferResult.concat(results)
        offsets = np.cumsum([0] + [len(r) for r in results])
        widths = [len(r.cols) for r in results]
        idx = [
            offsets[k] + i * widths[k] + j
            for i in range(len(rows))
            for k in range(len(results))
            for j in range(widths[k])
        ]
        out = joined.take(idx, rows=list(rows), cols=cols or [c for r in results for c in r.cols])
        return out

    @staticmethod
    def concat(
        results: Sequence[TransferResult],
        *,
        rows: list[str] | None = None,
        cols: list[str] | None = None,
    ) -> TransferResult:
        """Join results of separate runs along the batch axis."""
        first = results[0]
        keys = list(dict.fromkeys(k for r in results for k in r.losses))
        losses_ = {
            k: np.concatenate([r.losses.get(k, np.full(len(r), np.nan)) for r in results])
            for k in keys
        }
        return TransferResult(
            images=[im for r in results for im in r.images],
            history=History.concat([r.history for r in results]),
            losses=losses_,
            seconds=sum(r.seconds for r in results),
            loop_seconds=sum(r.loop_seconds for r in results),
            evaluations=max(r.evaluations for r in results),
            device=first.device,
            optimizer=first.optimizer,
            objectives=[o for r in results for o in r.objectives],
            rows=rows,
            cols=cols,
        )


def _position(labels: list[str], name: str | None, what: str) -> int:
    if name is None:
        if len(labels) != 1:
            raise KeyError(f"name the {what}: one of {labels}")
        return 0
    if name not in labels:
        raise KeyError(f"no {what} {name!r}; the {what}s are {labels}")
    return labels.index(name)


@dataclass
class Step:
    """Passed to ``callback`` at every recorded evaluation."""

    evaluation: int
    seconds: float
    total: np.ndarray
    image: Tensor
    """``(B, 3, H, W)`` current iterate (not clipped; do not modify)."""


@dataclass(frozen=True)
class Progress:
    """Passed to ``progress`` after every evaluation of a run, and once more when it ends.

    A batch split by ``max_batch`` reports each of its runs from evaluation 1 again.
    """

    evaluation: int
    """Evaluations done in this run (forward+backward passes)."""
    steps: int
    """This run's budget of evaluations."""
    batch: int
    """Elements optimised together in this run."""
    optimizer: str
    loss: float | None
    """Mean total loss over the batch at the latest record (``None`` before the first)."""
    done: bool = False
    """The run has ended: its budget spent, stopped early, interrupted or failed."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`helpers.nst.optimize`; ``partial`` holds the latest finite result
    (or None)."""

    def __init__(self, partial: TransferResult | None) -> None:
        super().__init__("interrupted")
        self.partial = partial
