"""Progress bars for long optimisations (presentation layer).

:mod:`helpers.nst` never prints: its loop reports a :class:`helpers.nst.Progress` after every
function evaluation to the ``progress`` callback it is given.  :func:`bar` makes that callback
a tqdm bar on stderr, one per run (a batch split by ``max_batch`` shows one bar per part),
cleared when the run ends; the CLI attaches one, and the notebooks attach one with
``progress=progress.bar(PROGRESS)``.  Importing this module imports neither torch nor
:mod:`helpers.nst`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .nst import Progress


class ProgressBar:
    """A ``progress`` callback drawing a tqdm bar per run: evaluations done out of the budget,
    with the batch's mean total loss at the latest record as ``loss …``."""

    def __init__(self, desc: str | None = None) -> None:
        self.desc = desc
        self._bar = None

    def __call__(self, progress: Progress) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(
                total=progress.steps,
                desc=self.desc or f"{progress.optimizer} ×{progress.batch}",
                unit="eval",
                leave=False,
                mininterval=0.5,
                file=sys.stderr,
                dynamic_ncols=True,
            )
        if progress.loss is not None:
            self._bar.set_postfix_str(f"loss {progress.loss:.4g}", refresh=False)
        self._bar.update(progress.evaluation - self._bar.n)
        if progress.done:
            self._bar.close()
            self._bar = None


def bar(enabled: bool = True, *, desc: str | None = None) -> ProgressBar | None:
    """A tqdm bar as the ``progress`` callback of :func:`helpers.nst.optimize` (and of
    everything that passes its options on: ``stylize``, the grids, the controls); ``None``
    when not ``enabled`` (no reports).  ``desc`` labels the bar (default: the optimiser and the
    batch size)."""
    return ProgressBar(desc) if enabled else None
