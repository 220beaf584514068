"""Where a notebook failed: :class:`FailedCell`, read from papermill's executed copy.

Part of :mod:`helpers.report` (used by :mod:`.run`): the first cell with an error output, or,
for a failure papermill did not write (time limit, dead kernel), an error output added to the
cell that was running.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path


@dataclasses.dataclass
class FailedCell:
    """Where a notebook failed.  ``index`` counts cells of the committed notebook from 0."""

    index: int | None
    source: str  # first line of the cell's source
    error: str  # one line, e.g. "ValueError: size must be positive"
    execution_count: int | None = None
    cell_id: str | None = None

    def describe(self) -> str:
        where = "before the first cell" if self.index is None else f"cell {self.index}"
        if self.execution_count is not None:
            where += f" (In [{self.execution_count}])"
        src = f": {self.source}" if self.source else ""
        return f"{where}{src} -> {self.error}"


def _first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return line.strip()[:120]
    return ""


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _error_line(ename: str, evalue: str, traceback: Sequence[str] = ()) -> str:
    """``"Name: first line of message"``; for a bare ``assert`` the failing source line."""
    message = _first_line(_ANSI.sub("", evalue or ""))
    if message:
        return f"{ename}: {message}"
    arrows = [
        line
        for tb in traceback
        for line in _ANSI.sub("", tb).splitlines()
        if line.lstrip().startswith("---->")
    ]
    if arrows:
        return f"{ename} at {arrows[-1].strip().removeprefix('---->').strip()}"
    return ename


def _source_index(nb: dict, executed_index: int) -> int:
    """Index in the committed notebook: cells papermill added (parameters, error banners) do
    not count."""
    added = {"injected-parameters", "papermill-error-cell-tag"}
    cells = nb["cells"][:executed_index]
    return executed_index - sum(
        1 for c in cells if added & set(c.get("metadata", {}).get("tags", []))
    )


def failure_from_notebook(nb: dict) -> FailedCell | None:
    """The first cell with an error output (papermill marks and keeps it)."""
    for index, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return FailedCell(
                    index=_source_index(nb, index),
                    source=_first_line(cell["source"]),
                    error=_error_line(
                        out.get("ename", "Error"), out.get("evalue", ""), out.get("traceback", [])
                    ),
                    execution_count=cell.get("execution_count"),
                    cell_id=cell.get("id"),
                )
    return None


def annotate_failure(
    tmp: Path, executed_index: int | None, exc: Exception, timeout: float, kernel_said: str = ""
) -> FailedCell:
    """Record a failure papermill did not write into the notebook (timeout, dead kernel)."""
    import nbformat

    name = type(exc).__name__
    if isinstance(exc, TimeoutError):
        message = (
            f"{name}: the notebook ran past its time limit of {timeout:g} s "
            "(raise it with --timeout)"
        )
    else:
        message = _error_line(name, str(exc))
        if kernel_said:
            message += f" (kernel: {kernel_said})"
    try:
        nb = nbformat.read(str(tmp), as_version=4)
    except Exception:
        return FailedCell(index=None, source="", error=message)
    if executed_index is None or executed_index >= len(nb.cells):
        return FailedCell(index=None, source="", error=message)
    cell = nb.cells[executed_index]
    cell.setdefault("outputs", []).append(
        nbformat.v4.new_output(
            "error", ename=name, evalue=message.split(": ", 1)[-1], traceback=[message]
        )
    )
    nbformat.write(nb, str(tmp))
    return FailedCell(
        index=_source_index(nb, executed_index),
        source=_first_line(cell.source),
        error=message,
        execution_count=cell.get("execution_count"),
        cell_id=cell.get("id"),
    )
