"""The papermill runner: execute the series' notebooks, record what happened to each.

Part of :mod:`helpers.report`.  :func:`run_series` executes ``notebooks/[0-9][0-9]-*.ipynb``
in order, each notebook under a time limit.  **A new run replaces the old one only when it
succeeds**: the notebook writes into a staging folder (``outputs/.<notebook>.staging-*``, see
:data:`helpers.runtime.STAGING_ENV`) and papermill into a temporary ``.ipynb``; on success the
folder replaces ``outputs/<notebook>/`` and the copy ``outputs/notebooks/<notebook>.ipynb``.
On failure or interrupt the previous ones stay as they were and the attempt is kept beside them
as ``outputs/<notebook>.failed/`` and ``outputs/notebooks/<notebook>.failed.ipynb`` (replaced
or removed by the notebook's next run).  ``results.json`` is updated after every notebook, so
after an interrupt it still describes what the folders hold.  A failing notebook is named with
its failing cell (:class:`FailedCell`) and the rest still run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import json
import math
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..runtime import atomic_path, atomic_write_text, git_commit, outputs_dir
from ..tables import format_table
from . import staging
from .failures import FailedCell, annotate_failure, failure_from_notebook
from .params import TIMEOUTS, profile_parameters, resolve_profile

# ----------------------------------------------------------------------------- records


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
    estimate: float | None = None  # seconds estimated before the run (helpers.report.estimate)
    seed: int | None = None
    commit: str = "-"

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


# ----------------------------------------------------------------------------- papermill plumbing


class _CellClock:
    """nbclient hooks: remember the running cell and give each cell what is left of the time
    limit."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.deadline = time.monotonic() + limit
        self.index: int | None = None

    def on_notebook_start(self, **_):
        # the clock starts once the kernel is ready: a slow kernel start-up costs no cell time
        self.deadline = time.monotonic() + self.limit

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
    """Remove ``outputs/<stem>/`` so nothing from an earlier run is mistaken for this run's
    (the nbval path, :func:`prepare_notebooks`, which runs outside the staging)."""
    folder = outputs_dir() / stem
    if folder.is_dir():
        shutil.rmtree(folder)


def _remove_partials(folder: Path) -> None:
    """What a run killed with SIGKILL left (the others remove their own): see
    :func:`.staging.recover`; also the report's own staging folders."""
    staging.recover(folder)
    for path in folder.parent.glob(".report.*"):
        shutil.rmtree(path, ignore_errors=True)


def _read_json(path: Path) -> dict:
    with contextlib.suppress(OSError, ValueError):
        return json.loads(path.read_text(encoding="utf-8"))
    return {}


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
    commit: str | None = None,
) -> NotebookResult:
    """Execute one notebook with papermill; its outputs replace the previous ones only if it
    passes (see :mod:`.staging`).

    Passed: ``out_dir/<stem>.ipynb`` and ``outputs/<stem>/`` are the new ones.  Failed or timed
    out: the previous ones stay; the attempt (with the error in place) is kept as
    ``out_dir/<stem>.failed.ipynb`` and ``outputs/<stem>.failed/``, and the ``"failed"`` result
    names the cell.  KeyboardInterrupt (Ctrl-C, or SIGTERM via the CLI) keeps the attempt the
    same way and propagates.  The executed copy records the profile, seed, device and commit in
    its metadata (``helpers``).
    """
    stem = notebook.stem
    commit = commit or git_commit()
    clock = _CellClock(timeout)
    stage = staging.Stage(stem, out_dir)
    t0 = time.perf_counter()
    try:
        with stage.environment():
            nb, failed = _execute(
                notebook,
                stage.copy,
                parameters,
                clock,
                timeout,
                progress_bar=progress_bar,
                kernel_name=kernel_name,
            )
        seconds = time.perf_counter() - t0
        metrics = _read_json(stage.folder / "metrics.json")
        device = str(metrics.get("device") or _expected_device(parameters.get("DEVICE", "auto")))
        seed = metrics.get("seed", parameters.get("SEED"))
        _record_provenance(stage.copy, nb, profile, seed, device, commit, failed)
    except BaseException:
        stage.keep_failed()
        raise
    executed = stage.keep_failed() if failed else stage.commit()
    return NotebookResult(
        notebook=stem,
        status="failed" if failed else "passed",
        seconds=round(seconds, 2),
        profile=profile,
        device=device,
        title=notebook_title(nb),
        executed=str(executed) if executed else None,
        parameters=dict(parameters),
        failed=failed,
        seed=seed,
        commit=commit,
    )


def _record_provenance(
    path: Path, nb, profile: str, seed, device: str, commit: str, failed: FailedCell | None
) -> None:
    """Write profile, seed, device and commit into the executed notebook's metadata."""
    import nbformat

    nb.metadata["helpers"] = {
        "profile": profile,
        "seed": seed,
        "device": device,
        "commit": commit,
        "status": "failed" if failed else "passed",
    }
    nbformat.write(nb, str(path))


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
                on_notebook_start=clock.on_notebook_start,
                on_cell_start=clock.on_cell_start,
                kernel_manager_class=_kernel_manager_class(kernel_log),
            )
        except PapermillExecutionError:
            pass  # the executed copy holds the error output; read it below
        except Exception as exc:  # timeout, dead kernel, kernel that would not start
            failed = annotate_failure(tmp, clock.index, exc, timeout, _last_line(kernel_log))
        nb = nbformat.read(str(tmp), as_version=4) if tmp.stat().st_size else None
        if nb is None:  # papermill never got to write (e.g. no kernel)
            nb = nbformat.read(str(notebook), as_version=4)
            nbformat.write(nb, str(tmp))
        if failed is None:
            failed = failure_from_notebook(nb)
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
    estimates: dict[str, float] | None = None,
) -> list[NotebookResult]:
    """Run ``notebooks`` in order under ``profile``; every one runs even if an earlier one fails.

    All parameter files are checked before anything runs (a bad one is a :class:`UserError`).
    ``out_dir/results.json`` (default ``outputs/notebooks/``; the series the report shows) is
    updated after every notebook: this run's results so far plus the previous results of the
    notebooks still to run (or, with ``keep_others``, of every other notebook), whatever their
    profile, as long as their executed copies are there, so that after an interrupt it still
    describes the folders (the index flags mixed profiles).  Returns this run's results.
    ``estimates``: seconds per notebook stem, estimated beforehand, kept beside the measured
    time.
    """
    profile = resolve_profile(profile)
    out_dir = Path(out_dir) if out_dir is not None else outputs_dir("notebooks")
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_partials(out_dir)
    plan = [(nb, profile_parameters(nb, profile, configs)) for nb in notebooks]
    limit = float(timeout if timeout is not None else TIMEOUTS[profile])
    path = out_dir / "results.json"
    previous = _previous_results(path)
    last = last_seconds(path)
    commit = git_commit()
    results: list[NotebookResult] = []
    for i, (notebook, params) in enumerate(plan, 1):
        if on_start:
            on_start(i, len(plan), notebook)
        result = run_notebook(
            notebook,
            profile=profile,
            parameters=params,
            out_dir=out_dir,
            timeout=limit,
            progress_bar=progress_bar,
            commit=commit,
        )
        result.estimate = (estimates or {}).get(notebook.stem)
        results.append(result)
        if result.ok:
            last.setdefault(profile, {})[result.notebook] = {
                "seconds": result.seconds,
                "device": result.device,
            }
        save_results(_merge(previous, results), path, last_seconds=last)
        if on_done:
            on_done(i, len(plan), result)
    if not keep_others:
        save_results(sorted(results, key=lambda r: r.notebook), path, last_seconds=last)
    return results


def last_seconds(path: Path) -> dict[str, dict[str, dict]]:
    """``results.json``'s record of each notebook's last passed run under each profile:
    ``{profile: {notebook: {"seconds": s, "device": d}}}`` (the report's estimate reads it).
    It outlives the series shown: a smoke run keeps the quick runs' seconds.  Empty when
    ``path`` is missing or cannot be read."""
    with contextlib.suppress(OSError, ValueError, AttributeError, TypeError):
        record = json.loads(path.read_text(encoding="utf-8")).get("last_seconds", {})
        return {
            str(profile): {str(nb): dict(run) for nb, run in runs.items()}
            for profile, runs in record.items()
        }
    return {}


def _previous_results(path: Path) -> list[NotebookResult]:
    """The results in ``path`` whose executed copies are still there (none when ``path`` is
    missing or cannot be read)."""
    with contextlib.suppress(UserError, ValueError, KeyError, TypeError):
        return [r for r in load_results(path) if r.executed and Path(r.executed).is_file()]
    return []


def _merge(
    previous: Sequence[NotebookResult], results: Sequence[NotebookResult]
) -> list[NotebookResult]:
    """``results`` plus the ``previous`` results of the other notebooks, in notebook order."""
    ran = {r.notebook for r in results}
    return sorted(
        [*results, *(r for r in previous if r.notebook not in ran)], key=lambda r: r.notebook
    )


def save_results(
    results: Sequence[NotebookResult], path: Path, *, last_seconds: dict | None = None
) -> Path:
    """Write the series' results as JSON (atomically); returns ``path``.  ``last_seconds``:
    each notebook's last passed run per profile (:func:`last_seconds`), kept beside them."""
    record = {
        "finished": _dt.datetime.now().isoformat(timespec="seconds"),
        "results": [r.to_json() for r in results],
    }
    if last_seconds:
        record["last_seconds"] = last_seconds
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
                str(notebook),
                str(tmp),
                parameters=params,
                prepare_only=True,
                log_output=False,
                progress_bar=False,
            )
        _clear_outputs(notebook.stem)
        written.append(target)
    return written


# ----------------------------------------------------------------------------- text table


def results_table(results: Sequence[NotebookResult]) -> str:
    """The pass/fail table: notebook, status, measured and estimated seconds, device (+ the
    failing cell), and a summary line."""
    estimated = any(r.estimate is not None for r in results)
    rows = [
        {
            "notebook": r.notebook,
            "status": r.status if r.ok else "FAILED",
            "seconds": r.seconds,
            "estimate": r.estimate,
            "device": r.device,
        }
        for r in results
    ]
    columns = ["notebook", "status", "seconds", *(["estimate"] if estimated else []), "device"]
    formats = {"seconds": ".1f", "estimate": ".1f"}
    header, *lines = format_table(rows, columns, formats=formats).splitlines()
    width = max([len("notebook"), *(len(r.notebook) for r in results)])
    out = [header]
    for r, line in zip(results, lines, strict=True):
        out.append(line)
        if r.failed:
            out.append(f"{'':<{width}}    {r.failed.describe()}")
    total = sum(r.seconds for r in results)
    summary = f"{sum(r.ok for r in results)}/{len(results)} passed in {total:.1f} s"
    if estimated:
        guess = sum(r.estimate or 0.0 for r in results)
        summary += f" (estimated {guess:.1f} s)"
    out.append(summary)
    return "\n".join(out)
