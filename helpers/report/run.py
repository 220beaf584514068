"""The papermill runner: execute the series' notebooks, record what happened to each.

Part of :mod:`helpers.report`.  :func:`run_series` executes ``notebooks/[0-9][0-9]-*.ipynb``
in order into ``outputs/notebooks/``, each notebook under a time limit, into a temporary file
that is renamed only when papermill is done (a failed notebook is kept, with its error, for
the report; a killed run leaves no file under a final name).  A failing notebook is named with
its failing cell (:class:`FailedCell`) and the rest still run.  Before a notebook runs, its old
``outputs/<notebook>/`` is removed so a stale ``metrics.json`` can never pass a check.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import json
import math
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..runtime import atomic_path, atomic_write_text, outputs_dir
from ..tables import format_table
from .files import publish_modes, read_metrics
from .params import TIMEOUTS, profile_parameters, resolve_profile

# ----------------------------------------------------------------------------- records


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


@dataclasses.dataclass
class NotebookResult:
    """One notebook's run: ``status`` is ``"passed"`` or ``"failed"``; ``seconds`` is wall time."""

    notebook: str  # stem, e.g. "01-vgg-setup"
    status: str
    seconds: float
    profile: str
    device: str = "-"
    title: str = ""
    executed: str | None = None  # path of the executed notebook
    parameters: dict[str, Any] = dataclasses.field(default_factory=dict)
    failed: FailedCell | None = None

    @property
    def ok(self) -> bool:
        return self.status == "passed"

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> NotebookResult:
        data = dict(data)
        if data.get("failed"):
            data["failed"] = FailedCell(**data["failed"])
        return cls(**data)


def notebook_title(notebook: Path | dict) -> str:
    """The first markdown heading of the notebook (without the ``#``), else its stem."""
    import nbformat

    nb = notebook if isinstance(notebook, dict) else nbformat.read(str(notebook), as_version=4)
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return Path(str(notebook)).stem if not isinstance(notebook, dict) else ""


# ----------------------------------------------------------------------------- failures


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


def _failure_from_notebook(nb: dict) -> FailedCell | None:
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


def _annotate_failure(
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


# ----------------------------------------------------------------------------- papermill plumbing


class _CellClock:
    """nbclient hooks: remember the running cell and give each cell what is left of the time
    limit."""

    def __init__(self, limit: float) -> None:
        self.deadline = time.monotonic() + limit
        self.index: int | None = None

    def on_cell_start(self, cell=None, cell_index=None, **_):
        self.index = cell_index

    def timeout(self, cell) -> int:
        # nbclient treats 0 or less as "no limit", so a cell starting after the deadline gets 1 s
        return max(1, math.ceil(self.deadline - time.monotonic()))


@contextlib.contextmanager
def _quiet_papermill():
    """Hide papermill's warnings about parameter lines it cannot parse: the names were checked
    by :func:`profile_parameters` (with ast) before anything ran.  Errors still show."""
    import logging

    logger = logging.getLogger("papermill")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _kernel_manager_class(stderr):
    """A kernel manager whose kernel writes its stderr (start-up warnings, crash messages) to
    ``stderr``.

    Kernel chatter stays off the terminal; the last line is quoted if the kernel dies.
    """
    from jupyter_client.manager import AsyncKernelManager

    class _KernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw):
            kw.setdefault("stderr", stderr)
            return await super().start_kernel(**kw)

    return _KernelManager


def _last_line(log) -> str:
    log.seek(0)
    text = log.read().decode("utf-8", "replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def _expected_device(device: str) -> str:
    """The device a notebook that saved no metrics would have used (for the pass/fail table)."""
    from ..runtime import device_name, get_device

    try:
        return device_name(get_device(device))
    except UserError:
        return str(device)


def _clear_outputs(stem: str) -> None:
    """Remove ``outputs/<stem>/`` so nothing from an earlier run is mistaken for this run's."""
    folder = outputs_dir() / stem
    if folder.is_dir():
        shutil.rmtree(folder)


def _remove_partials(folder: Path) -> None:
    """Temporary files left by a run killed with SIGKILL (the others remove their own)."""
    if folder.is_dir():
        for path in folder.glob(".*.part*"):
            if path.is_file():
                path.unlink(missing_ok=True)
    base = folder.parent
    for path in base.glob(".report.*"):
        shutil.rmtree(path, ignore_errors=True)


# ----------------------------------------------------------------------------- running


def run_notebook(
    notebook: Path,
    *,
    profile: str,
    parameters: dict[str, Any],
    out_dir: Path,
    timeout: float,
    progress_bar: bool = False,
    kernel_name: str | None = None,
) -> NotebookResult:
    """Execute one notebook with papermill into ``out_dir/<stem>.ipynb`` (atomically).

    A failing or timed-out notebook still yields its executed copy (with the error in place) and
    a ``"failed"`` result naming the cell.  KeyboardInterrupt (Ctrl-C, or SIGTERM via the CLI)
    propagates; the temporary file is removed and no file appears under the final name.
    """
    stem = notebook.stem
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"{stem}.ipynb"
    _clear_outputs(stem)
    clock = _CellClock(timeout)
    t0 = time.perf_counter()
    with atomic_path(final, suffix=".part.ipynb") as tmp:
        nb, failed = _execute(
            notebook, tmp, parameters, clock, timeout, progress_bar=progress_bar,
            kernel_name=kernel_name,
        )
    seconds = time.perf_counter() - t0
    publish_modes(final)
    metrics = read_metrics(stem) or {}
    return NotebookResult(
        notebook=stem,
        status="failed" if failed else "passed",
        seconds=round(seconds, 2),
        profile=profile,
        device=str(metrics.get("device") or _expected_device(parameters.get("DEVICE", "auto"))),
        title=notebook_title(nb),
        executed=str(final),
        parameters=dict(parameters),
        failed=failed,
    )


def _execute(
    notebook: Path,
    tmp: Path,
    parameters: dict[str, Any],
    clock: _CellClock,
    timeout: float,
    *,
    progress_bar: bool,
    kernel_name: str | None,
) -> tuple[Any, FailedCell | None]:
    """Run papermill from ``notebook`` into ``tmp``; the executed notebook and its failure."""
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    failed: FailedCell | None = None
    with tempfile.TemporaryFile() as kernel_log, _quiet_papermill():
        try:
            papermill.execute_notebook(
                str(notebook),
                str(tmp),
                parameters=parameters,
                progress_bar=progress_bar,
                log_output=False,
                cwd=str(notebook.parent),
                kernel_name=kernel_name,
                timeout_func=clock.timeout,
                on_cell_start=clock.on_cell_start,
                kernel_manager_class=_kernel_manager_class(kernel_log),
            )
        except PapermillExecutionError:
            pass  # the executed copy holds the error output; read it below
        except Exception as exc:  # timeout, dead kernel, kernel that would not start
            failed = _annotate_failure(tmp, clock.index, exc, timeout, _last_line(kernel_log))
        nb = nbformat.read(str(tmp), as_version=4) if tmp.stat().st_size else None
        if nb is None:  # papermill never got to write (e.g. no kernel)
            nb = nbformat.read(str(notebook), as_version=4)
            nbformat.write(nb, str(tmp))
        if failed is None:
            failed = _failure_from_notebook(nb)
    return nb, failed


def run_series(
    notebooks: Sequence[Path],
    *,
    profile: str,
    configs: Path | None = None,
    out_dir: Path | None = None,
    timeout: float | None = None,
    progress_bar: bool = False,
    on_start: Callable[[int, int, Path], None] | None = None,
    on_done: Callable[[int, int, NotebookResult], None] | None = None,
    keep_others: bool = False,
) -> list[NotebookResult]:
    """Run ``notebooks`` in order under ``profile``; every one runs even if an earlier one fails.

    All parameter files are checked before anything runs (a bad one is a :class:`UserError`).
    Writes ``out_dir/results.json`` (default ``outputs/notebooks/``; the series the report
    shows) and returns this run's results.  ``keep_others`` (re-running some notebooks): the
    series also keeps the previous run's results of the other notebooks, if made under the
    same profile and their executed copies are still there.
    """
    profile = resolve_profile(profile)
    out_dir = Path(out_dir) if out_dir is not None else outputs_dir("notebooks")
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_partials(out_dir)
    plan = [(nb, profile_parameters(nb, profile, configs)) for nb in notebooks]
    limit = float(timeout if timeout is not None else TIMEOUTS[profile])
    results = []
    for i, (notebook, params) in enumerate(plan, 1):
        if on_start:
            on_start(i, len(plan), notebook)
        result = run_notebook(
            notebook, profile=profile, parameters=params, out_dir=out_dir, timeout=limit,
            progress_bar=progress_bar,
        )
        results.append(result)
        if on_done:
            on_done(i, len(plan), result)
    series = list(results)
    if keep_others and (out_dir / "results.json").is_file():
        series += _previous_others(out_dir / "results.json", results, profile)
    series.sort(key=lambda r: r.notebook)
    publish_modes(save_results(series, out_dir / "results.json"))
    return results


def _previous_others(
    path: Path, results: Sequence[NotebookResult], profile: str
) -> list[NotebookResult]:
    """The previous run's results of notebooks not in ``results``, made under ``profile``, whose
    executed copies are still there (none when ``path`` cannot be read)."""
    ran = {r.notebook for r in results}
    with contextlib.suppress(UserError, ValueError, KeyError, TypeError):
        return [
            r for r in load_results(path)
            if r.notebook not in ran
            and r.profile == profile
            and r.executed
            and Path(r.executed).is_file()
        ]
    return []


def save_results(results: Sequence[NotebookResult], path: Path) -> Path:
    """Write the series' results as JSON (atomically); returns ``path``."""
    record = {
        "finished": _dt.datetime.now().isoformat(timespec="seconds"),
        "results": [r.to_json() for r in results],
    }
    return atomic_write_text(path, json.dumps(record, indent=2) + "\n")


def load_results(path: Path | None = None) -> list[NotebookResult]:
    """The results saved by the last run (default ``outputs/notebooks/results.json``)."""
    path = Path(path) if path is not None else outputs_dir() / "notebooks" / "results.json"
    if not path.is_file():
        raise UserError(f"no results in {path}: run `python -m helpers report` first")
    records = json.loads(path.read_text(encoding="utf-8"))["results"]
    return [NotebookResult.from_json(r) for r in records]


def prepare_notebooks(
    notebooks: Sequence[Path], *, profile: str, dest: Path, configs: Path | None = None
) -> list[Path]:
    """Write papermill-parameterised, unexecuted copies into ``dest`` (for ``pytest
    --nbval-lax``).

    Each notebook's ``outputs/<stem>/`` is cleared, so the metrics a regression check reads
    afterwards can only come from the run that executes these copies.
    """
    import papermill

    profile = resolve_profile(profile)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    plan = [(nb, profile_parameters(nb, profile, configs)) for nb in notebooks]
    for stale in dest.glob("*.ipynb"):
        stale.unlink()
    written = []
    for notebook, params in plan:
        target = dest / notebook.name
        with atomic_path(target, suffix=".part.ipynb") as tmp, _quiet_papermill():
            papermill.execute_notebook(
                str(notebook), str(tmp), parameters=params, prepare_only=True,
                log_output=False, progress_bar=False,
            )
        _clear_outputs(notebook.stem)
        written.append(target)
    return written


# ----------------------------------------------------------------------------- text table


def results_table(results: Sequence[NotebookResult]) -> str:
    """The pass/fail table: notebook, status, seconds, device (+ the failing cell), and a
    summary line."""
    rows = [
        {
            "notebook": r.notebook,
            "status": r.status if r.ok else "FAILED",
            "seconds": r.seconds,
            "device": r.device,
        }
        for r in results
    ]
    columns = ["notebook", "status", "seconds", "device"]
    header, *lines = format_table(rows, columns, formats={"seconds": ".1f"}).splitlines()
    width = max([len("notebook"), *(len(r.notebook) for r in results)])
    out = [header]
    for r, line in zip(results, lines, strict=True):
        out.append(line)
        if r.failed:
            out.append(f"{'':<{width}}    {r.failed.describe()}")
    total = sum(r.seconds for r in results)
    out.append(f"{sum(r.ok for r in results)}/{len(results)} passed in {total:.1f} s")
    return "\n".join(out)
