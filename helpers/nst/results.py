"""What a style-transfer run returns: :class:`TransferResult`, its :class:`History`, and the
:class:`Step` passed to callbacks and the :class:`Interrupted` raised on Ctrl-C.

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

from ..tables import format_table
from .objective import Objective


@dataclass
class History:
    """Losses recorded every few evaluations, per batch element.

    ``evaluations``: ``(T,)`` evaluation numbers; ``seconds``: ``(T, B)`` since each element's
    run began; ``total``, ``content``, ``style``, ``tv``: ``(T, B)`` (content and style without
    alpha/beta, total with them); ``layers``: ``{"content:conv4_2" | "style:conv1_1": (T, B)}``
    unweighted per-layer losses.  For L-BFGS the values are those of the accepted iterate.
    """

    evaluations: np.ndarray
    seconds: np.ndarray
    total: np.ndarray
    content: np.ndarray
    style: np.ndarray
    tv: np.ndarray
    layers: dict[str, np.ndarray]

    def series(self, key: str) -> np.ndarray:
        """``(T, B)`` values of ``total``/``content``/``style``/``tv`` or a ``layers`` key."""
        if key in ("total", "content", "style", "tv"):
            return getattr(self, key)
        if key in self.layers:
            return self.layers[key]
        raise KeyError(
            f"no series {key!r}; have total, content, style, tv, {', '.join(self.layers)}"
        )

    @staticmethod
    def concat(histories: Sequence[History]) -> History:
        """Join histories of separate runs along the batch axis (aligned on evaluation numbers)."""
        if len(histories) == 1:
            return histories[0]
        evals = np.unique(np.concatenate([h.evaluations for h in histories]))

        def aligned(h: History, arr: np.ndarray) -> np.ndarray:
            idx = np.searchsorted(h.evaluations, evals, side="right") - 1
            return arr[np.clip(idx, 0, len(h.evaluations) - 1)]

        def cat(get) -> np.ndarray:
            return np.concatenate([aligned(h, get(h)) for h in histories], axis=1)

        keys = list(dict.fromkeys(k for h in histories for k in h.layers))
        layers = {}
        for key in keys:
            layers[key] = np.concatenate(
                [
                    aligned(h, h.layers[key])
                    if key in h.layers
                    else np.full((len(evals), h.total.shape[1]), np.nan)
                    for h in histories
                ],
                axis=1,
            )
        return History(
            evals,
            cat(lambda h: h.seconds),
            cat(lambda h: h.total),
            cat(lambda h: h.content),
            cat(lambda h: h.style),
            cat(lambda h: h.tv),
            layers,
        )


@dataclass
class TransferResult:
    """What :func:`helpers.nst.optimize` returns.

    ``images``: one ``(H, W, 3)`` float32 array in [0, 1] per batch element (clipped, finite).
    ``losses``: final losses of those images, ``{"total"|"content"|"style"|"tv"
    |"content:<layer>"|"style:<layer>": (B,) array}``.  ``seconds``: wall time of the whole call;
    ``loop_seconds``: of the evaluations only.  ``evaluations``: forward+backward passes run.
    ``rows``/``cols``: labels when the batch is a grid (row-major).
    """

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

    @staticmethod
    def from_records(
        objectives: Sequence[Objective],
        image: Tensor,
        records: list,
        evaluations: int,
        *,
        start: float,
        loop_start: float,
        device: str,
        optimizer: str,
        final: dict[str, Tensor] | None,
        loop_seconds: float | None = None,
    ) -> TransferResult:
        """The result of a loop: ``image`` ``(B, 3, H, W)``, ``records`` ``[(evaluation, seconds,
        {key: (B,) losses})]``; ``final``: the losses of ``image`` (``None``: the last
        record's, for an interrupted run); ``start``/``loop_start``: ``perf_counter`` times."""
        from ..images import to_numpy

        b = len(objectives)
        keys = list(records[-1][2])
        history = History(
            evaluations=np.array([r[0] for r in records]),
            seconds=np.repeat(np.array([r[1] for r in records])[:, None], b, axis=1),
            total=np.stack([r[2]["total"] for r in records]),
            content=np.stack([r[2]["content"] for r in records]),
            style=np.stack([r[2]["style"] for r in records]),
            tv=np.stack([r[2]["tv"] for r in records]),
            layers={k: np.stack([r[2][k] for r in records]) for k in keys if ":" in k},
        )
        if final is None:
            final_np = dict(records[-1][2])
        else:
            final_np = {k: v.cpu().numpy() for k, v in final.items()}
        images = [to_numpy(image[i]) for i in range(b)]
        now = time.perf_counter()
        return TransferResult(
            images=images,
            history=history,
            losses=final_np,
            seconds=now - start,
            loop_seconds=loop_seconds if loop_seconds is not None else now - loop_start,
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
        """One row per element: labels, alpha, beta, ratio and every final loss."""
        out = []
        rc = list(itertools.product(self.rows, self.cols)) if self.rows and self.cols else None
        for i, obj in enumerate(self.objectives):
            row: dict = {}
            if rc:
                row["row"], row["col"] = rc[i]
            else:
                row["label"] = obj.label or f"#{i}"
            row.update(alpha=obj.alpha, beta=obj.beta, ratio=obj.ratio, tv_weight=obj.tv_weight)
            row.update({key: float(v[i]) for key, v in self.losses.items()})
            row["evaluations"] = self.evaluations
            out.append(row)
        return out

    def table_text(self, keys: Sequence[str] = ("total", "content", "style")) -> str:
        """:meth:`table` as aligned text (labels, alpha/beta and the given final losses)."""
        rows = self.table()
        head = ["row", "col"] if "row" in rows[0] else ["label"]
        formats = {"ratio": ".0e"} | {k: ".4g" for k in keys}
        return format_table(
            rows, [*head, "ratio", *keys], formats=formats, headers={"ratio": "alpha/beta"}
        )

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
        h = self.history
        history = History(
            h.evaluations,
            h.seconds[:, idx],
            h.total[:, idx],
            h.content[:, idx],
            h.style[:, idx],
            h.tv[:, idx],
            {k: v[:, idx] for k, v in h.layers.items()},
        )
        return TransferResult(
            images=[self.images[i] for i in idx],
            history=history,
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


@dataclass
class Step:
    """Passed to ``callback`` at every recorded evaluation."""

    evaluation: int
    seconds: float
    total: np.ndarray
    image: Tensor
    """``(B, 3, H, W)`` current iterate (not clipped; do not modify)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`helpers.nst.optimize`; ``partial`` holds the latest finite result
    (or None)."""

    def __init__(self, partial: TransferResult | None) -> None:
        super().__init__("interrupted")
        self.partial = partial
