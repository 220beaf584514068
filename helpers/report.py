"""The report pipeline: run the notebook series with papermill, render it with nbconvert, check it.

``python -m helpers report`` is the command; this module holds the logic and returns data
(lists of :class:`NotebookResult` / :class:`Drift` records); the CLI does the printing.

* **Profiles** are papermill parameter files ``configs/<profile>/<notebook-stem>.yaml``
  (``smoke``: seconds, for tests; ``quick``: the CPU default; ``full``: paper scale, for a GPU;
  ``auto`` = ``full`` when CUDA is present, else ``quick``).  Each file holds only names from
  that notebook's ``parameters`` cell; papermill writes them into an ``injected-parameters``
  cell.
* **Running** executes ``notebooks/[0-9][0-9]-*.ipynb`` in order into ``outputs/notebooks/``,
  each notebook under a time limit, into a temporary file that is renamed only when papermill
  is done (a failed notebook is kept, with its error, for the report; a killed run leaves no
  file under a final name).  A failing notebook is named with its failing cell and the rest
  still run.  Before a notebook runs, its old ``outputs/<notebook>/`` is removed so a stale
  ``metrics.json`` can never pass a check.
* **Rendering** exports each executed notebook with nbconvert (the ``lab`` template extended
  by :data:`PAGE_TEMPLATE`: a header with parameters, device and run time, code folded in
  ``<details>``) and a contents page ``index.html`` (itself a notebook of markdown cells,
  exported the same way) into a temporary folder that replaces ``outputs/report/`` in one
  rename.
* **Regression**: each notebook's ``outputs/<notebook>/metrics.json`` (see
  :meth:`helpers.runtime.NotebookRun.save_metrics`) is compared with a reference file
  ``<REFERENCE_DIR>/<notebook>.json`` under :data:`TOLERANCES`.

Environment: ``HELPERS_NOTEBOOKS`` / ``HELPERS_CONFIGS`` move the notebook and profile folders
(tests use a tiny fake series); ``HELPERS_OUTPUTS`` moves ``outputs/`` (see
:func:`helpers.runtime.outputs_dir`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import UserError
from .runtime import ROOT, atomic_path, atomic_write_text, outputs_dir

PROFILES = ("smoke", "quick", "full")
"""The parameter profiles: one folder each under ``configs/``."""

NOTEBOOK_GLOB = "[0-9][0-9]-*.ipynb"

TIMEOUTS = {"smoke": 300, "quick": 1800, "full": 3600}
"""Time limit per notebook (seconds, kernel start included), by profile: generous, to stop a
hung notebook, not to enforce the series budgets (smoke <= 5 min, quick <= 20 min in all)."""

TOLERANCES: dict[str, Any] = {
    # metrics.json "metrics" numbers (losses, errors, residuals): |new - ref| <= atol + rtol * |ref|
    "rtol": 1e-2,
    "atol": 1e-6,
    # result images (metrics.json "images"): same shape, and PSNR >= image_psnr_db between
    # 16x16 box-averaged thumbnails (values in [0, 1]) of the new and the reference image.
    # Identical pixels (same sha256) are reported as such; fine texture is covered by the losses.
    "image_psnr_db": 30.0,
    "thumbnail": 16,
    # ints, strings, booleans and lists of them must be equal; numbers whose key mentions a
    # duration (TIMING_KEY) are shown but never compared; profile and seed must match.
}
"""The regression tolerances, in one place.  A reference file may override them per key:
``"tolerances": {"final_loss": {"rtol": 0.05}}`` or ``{"some_key": null}`` (do not compare)."""

TIMING_KEY = re.compile(r"(seconds|_time$|^time|_ms$|per_second|speed)")

REPORT_TITLE = "Style transfer and Poisson image editing: the notebook series"


# ----------------------------------------------------------------------------- locations


def notebooks_dir() -> Path:
    """``notebooks/`` (``$HELPERS_NOTEBOOKS`` overrides)."""
    return Path(os.environ.get("HELPERS_NOTEBOOKS", ROOT / "notebooks"))


def configs_dir() -> Path:
    """``configs/`` holding ``<profile>/<stem>.yaml`` (``$HELPERS_CONFIGS`` overrides)."""
    return Path(os.environ.get("HELPERS_CONFIGS", ROOT / "configs"))


def resolve_profile(profile: str = "auto") -> str:
    """``auto`` -> ``full`` when CUDA is available, else ``quick``; others are checked."""
    if profile == "auto":
        import torch

        return "full" if torch.cuda.is_available() else "quick"
    if profile not in PROFILES:
        raise UserError(f"unknown profile {profile!r}: use one of auto, {', '.join(PROFILES)}")
    return profile


def discover(folder: Path | None = None, only: Sequence[str] | None = None) -> list[Path]:
    """The series' notebooks ``NN-name.ipynb`` in order, optionally only some (``"03"`` or a stem)."""
    folder = Path(folder) if folder is not None else notebooks_dir()
    found = sorted(folder.glob(NOTEBOOK_GLOB))
    if not found:
        raise UserError(f"no notebooks matching {NOTEBOOK_GLOB} in {folder}; check --notebooks")
    if not only:
        return found
    chosen = []
    for key in only:
        key = key.strip().removesuffix(".ipynb")
        match = [p for p in found if p.stem == key or p.stem.split("-", 1)[0] == key]
        if not match:
            names = ", ".join(p.stem for p in found)
            raise UserError(f"--only {key}: no such notebook in {folder}; choose from {names}")
        chosen += [p for p in match if p not in chosen]
    return sorted(chosen)


def parse_only(text: str | None) -> list[str] | None:
    """``"01,03"`` -> ``["01", "03"]``."""
    if not text:
        return None
    return [part for part in (p.strip() for p in text.split(",")) if part]


# ----------------------------------------------------------------------------- profiles


def notebook_parameters(notebook: Path) -> dict[str, dict]:
    """The notebook's ``parameters`` cell: ``{name: {"default": source text, "help": comment}}``.

    Read with :mod:`ast` (every top-level ``NAME = literal`` assignment), not papermill's
    line regex, which skips lines whose comment holds an ``=``.
    """
    import ast
    import io
    import tokenize

    import nbformat

    try:
        nb = nbformat.read(str(notebook), as_version=4)
    except Exception as exc:  # unreadable JSON etc.
        raise UserError(f"{notebook}: cannot read the notebook ({exc}); is it valid .ipynb JSON?") from exc
    cell = next((c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        raise UserError(f"{notebook}: no cell tagged 'parameters'; tag the first code cell 'parameters'")
    source = cell.source
    try:
        tree = ast.parse(source)
        comments = {
            tok.start[0]: tok.string.lstrip("#").strip()
            for tok in tokenize.generate_tokens(io.StringIO(source).readline)
            if tok.type == tokenize.COMMENT
        }
    except (SyntaxError, tokenize.TokenError) as exc:
        raise UserError(f"{notebook}: the parameters cell is not valid Python ({exc})") from exc
    params: dict[str, dict] = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        for target in targets:
            if isinstance(target, ast.Name) and node.value is not None:
                params[target.id] = {
                    "name": target.id,
                    "default": ast.get_source_segment(source, node.value) or "",
                    "help": comments.get(node.end_lineno, ""),
                }
    if not params:
        raise UserError(f"{notebook}: the parameters cell assigns no names; write NAME = value lines")
    return params


def profile_parameters(notebook: Path, profile: str, configs: Path | None = None) -> dict[str, Any]:
    """Load ``configs/<profile>/<stem>.yaml`` and check its keys against the parameters cell."""
    import yaml

    configs = Path(configs) if configs is not None else configs_dir()
    path = configs / profile / f"{notebook.stem}.yaml"
    if not path.is_file():
        raise UserError(
            f"no parameter file {path} for notebook {notebook.name} (profile {profile}); "
            "create it with values for names in the notebook's parameters cell"
        )
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({str(exc).splitlines()[0]}); fix the file") from exc
    if not isinstance(values, dict):
        raise UserError(f"{path}: expected 'NAME: value' lines, got {type(values).__name__}")
    known = notebook_parameters(notebook)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise UserError(
            f"{path}: {', '.join(unknown)} not in the parameters cell of {notebook.name}; "
            f"valid names: {', '.join(known)}"
        )
    return values


# ----------------------------------------------------------------------------- running


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
    arrows = [line for tb in traceback for line in _ANSI.sub("", tb).splitlines() if line.lstrip().startswith("---->")]
    if arrows:
        return f"{ename} at {arrows[-1].strip().removeprefix('---->').strip()}"
    return ename


def _source_index(nb: dict, executed_index: int) -> int:
    """Index in the committed notebook: cells papermill added (parameters, error banners) do not count."""
    added = {"injected-parameters", "papermill-error-cell-tag"}
    cells = nb["cells"][:executed_index]
    return executed_index - sum(1 for c in cells if added & set(c.get("metadata", {}).get("tags", [])))


def _failure_from_notebook(nb: dict) -> FailedCell | None:
    """The first cell with an error output (papermill marks and keeps it)."""
    for index, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return FailedCell(
                    index=_source_index(nb, index),
                    source=_first_line(cell["source"]),
                    error=_error_line(out.get("ename", "Error"), out.get("evalue", ""), out.get("traceback", [])),
                    execution_count=cell.get("execution_count"),
                    cell_id=cell.get("id"),
                )
    return None


class _CellClock:
    """nbclient hooks: remember the running cell and give each cell what is left of the time limit."""

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


def _read_metrics(stem: str) -> dict | None:
    path = outputs_dir() / stem / "metrics.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None


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
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    stem = notebook.stem
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"{stem}.ipynb"
    _clear_outputs(stem)
    clock = _CellClock(timeout)
    failed: FailedCell | None = None
    t0 = time.perf_counter()
    with atomic_path(final, suffix=".part.ipynb") as tmp, tempfile.TemporaryFile() as kernel_log, _quiet_papermill():
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
    seconds = time.perf_counter() - t0
    _publish_modes(final)
    metrics = _read_metrics(stem) or {}
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


def _kernel_manager_class(stderr):
    """A kernel manager whose kernel writes its stderr (start-up warnings, crash messages) to ``stderr``.

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
    lines = [line.strip() for line in log.read().decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def _expected_device(device: str) -> str:
    """The device a notebook that saved no metrics would have used (for the pass/fail table)."""
    from .runtime import device_name, get_device

    try:
        return device_name(get_device(device))
    except UserError:
        return str(device)


def _annotate_failure(
    tmp: Path, executed_index: int | None, exc: Exception, timeout: float, kernel_said: str = ""
) -> FailedCell:
    """Record a failure papermill did not write into the notebook (timeout, dead kernel)."""
    import nbformat

    name = type(exc).__name__
    if isinstance(exc, TimeoutError):
        message = f"{name}: the notebook ran past its time limit of {timeout:g} s (raise it with --timeout)"
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
        nbformat.v4.new_output("error", ename=name, evalue=message.split(": ", 1)[-1], traceback=[message])
    )
    nbformat.write(nb, str(tmp))
    return FailedCell(
        index=_source_index(nb, executed_index),
        source=_first_line(cell.source),
        error=message,
        execution_count=cell.get("execution_count"),
        cell_id=cell.get("id"),
    )


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
            notebook, profile=profile, parameters=params, out_dir=out_dir, timeout=limit, progress_bar=progress_bar
        )
        results.append(result)
        if on_done:
            on_done(i, len(plan), result)
    series = list(results)
    if keep_others and (out_dir / "results.json").is_file():
        ran = {r.notebook for r in results}
        with contextlib.suppress(UserError, ValueError, KeyError, TypeError):
            series += [
                r for r in load_results(out_dir / "results.json")
                if r.notebook not in ran and r.profile == profile and r.executed and Path(r.executed).is_file()
            ]
    series.sort(key=lambda r: r.notebook)
    _publish_modes(save_results(series, out_dir / "results.json"))
    return results


def save_results(results: Sequence[NotebookResult], path: Path) -> Path:
    record = {
        "finished": _dt.datetime.now().isoformat(timespec="seconds"),
        "results": [r.to_json() for r in results],
    }
    return atomic_write_text(path, json.dumps(record, indent=2) + "\n")


def load_results(path: Path | None = None) -> list[NotebookResult]:
    path = Path(path) if path is not None else outputs_dir() / "notebooks" / "results.json"
    if not path.is_file():
        raise UserError(f"no results in {path}: run `python -m helpers report` first")
    return [NotebookResult.from_json(r) for r in json.loads(path.read_text(encoding="utf-8"))["results"]]


def prepare_notebooks(
    notebooks: Sequence[Path], *, profile: str, dest: Path, configs: Path | None = None
) -> list[Path]:
    """Write papermill-parameterised, unexecuted copies into ``dest`` (for ``pytest --nbval-lax``).

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
            papermill.execute_notebook(str(notebook), str(tmp), parameters=params, prepare_only=True, log_output=False, progress_bar=False)
        _clear_outputs(notebook.stem)
        written.append(target)
    return written


# ----------------------------------------------------------------------------- rendering

PAGE_TEMPLATE = r"""
{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{% block extra_css %}
<style type="text/css">
  body { max-width: 1100px; margin: 0 auto; }
  .report-header { font-family: var(--jp-ui-font-family, sans-serif); padding: 16px 20px 8px; border-bottom: 1px solid #ddd; margin-bottom: 12px; }
  .report-header nav { font-size: 14px; margin-bottom: 8px; }
  .report-header nav a { margin-right: 14px; }
  .report-header h1 { font-size: 24px; margin: 6px 0 10px; }
  .report-header table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
  .report-header td, .report-header th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
  .report-header th { background: #f4f4f4; }
  .report-header code { font-size: 12px; }
  .report-status-passed { color: #17692a; font-weight: bold; }
  .report-status-failed { color: #b00020; font-weight: bold; }
  .report-failure { border-left: 4px solid #b00020; background: #fdecee; padding: 6px 10px; margin: 8px 0; font-size: 13px; }
  .report-toggle { font-size: 13px; margin: 6px 0; cursor: pointer; }
  details.report-code > summary { cursor: pointer; color: #666; font-size: 12px; padding: 2px 0 2px 8px; font-family: var(--jp-ui-font-family, sans-serif); }
  details.report-code[open] > summary { color: #333; }
  .jp-Cell-inputWrapper { display: block; }
</style>
{% endblock extra_css %}
{%- block body_header -%}
{{ super() }}
{%- set r = resources.report -%}
<header class="report-header">
  <nav>{% if not r.index %}<a href="index.html">&#8617; Contents</a>{% endif %}
  {%- if r.prev %}<a href="{{ r.prev.href }}">&#8592; {{ r.prev.label | e }}</a>{% endif %}
  {%- if r.next %}<a href="{{ r.next.href }}">{{ r.next.label | e }} &#8594;</a>{% endif %}</nav>
  {%- if not r.index %}
  <table>
    <tr><th>notebook</th><td><code>{{ r.notebook | e }}.ipynb</code></td>
        <th>status</th><td class="report-status-{{ r.status }}">{{ r.status }}</td></tr>
    <tr><th>profile</th><td>{{ r.profile | e }}</td><th>device</th><td>{{ r.device | e }}</td></tr>
    <tr><th>run time</th><td>{{ r.run_time | e }}</td><th>seed</th><td>{{ r.seed | e }}</td></tr>
  </table>
  {%- if r.failed %}
  <div class="report-failure"><b>Failed</b> at {% if r.failed_anchor %}<a href="#{{ r.failed_anchor }}">{{ r.failed_where | e }}</a>{% else %}{{ r.failed_where | e }}{% endif %}:
    <code>{{ r.failed.source | e }}</code><br><code>{{ r.failed.error | e }}</code></div>
  {%- endif %}
  <details open><summary>Parameters ({{ r.profile | e }} profile)</summary>
  <table>
    <tr><th>name</th><th>value used</th><th>notebook default</th><th>meaning</th></tr>
    {%- for p in r.parameters %}
    <tr><td><code>{{ p.name | e }}</code></td><td><code>{{ p.value | e }}</code>{% if p.overridden %} *{% endif %}</td>
        <td><code>{{ p.default | e }}</code></td><td>{{ p.help | e }}</td></tr>
    {%- endfor %}
  </table>
  <small>* set by <code>{{ r.config | e }}</code> (papermill's injected-parameters cell below)</small>
  </details>
  <button class="report-toggle" type="button" onclick="reportToggleCode(this)">Show all code</button>
  {%- endif %}
</header>
{%- endblock body_header -%}
{% block input_group -%}
{%- set tags = cell.metadata.get('tags', []) -%}
{%- set failed = cell.outputs | selectattr('output_type', 'equalto', 'error') | list -%}
<details class="report-code"{% if 'injected-parameters' in tags or failed %} open{% endif %}>
<summary>code{% if 'injected-parameters' in tags %}: parameters injected by papermill{% elif 'parameters' in tags %}: default parameters{% endif %}</summary>
{{ super() }}
</details>
{%- endblock input_group %}
{% block footer_js %}
<script>
function reportToggleCode(button) {
  var open = button.textContent.indexOf('Show') === 0;
  document.querySelectorAll('details.report-code').forEach(function (d) { d.open = open; });
  button.textContent = open ? 'Hide all code' : 'Show all code';
}
</script>
{% endblock footer_js %}
"""
"""nbconvert template: the ``lab`` template plus a header per notebook and folded code cells."""


def _exporter():
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({"report_page.html.j2": PAGE_TEMPLATE})],
        template_file="report_page.html.j2",
    )
    class _Streams(CoalesceStreamsPreprocessor):
        """A progress bar arrives as one stream output per redraw ("\\r... 41%|###"): merge them
        and keep each bar's last state, as a live notebook shows it (nothing, for a bar that
        clears itself), instead of one line per step."""

        def preprocess_cell(self, cell, resources, cell_index):
            cell, resources = super().preprocess_cell(cell, resources, cell_index)
            if cell.get("outputs"):
                cell.outputs = [o for o in cell.outputs if o.output_type != "stream" or o.text.strip()]
            return cell, resources

    exporter.register_preprocessor(_Streams(), enabled=True)
    return exporter


def _git_commit() -> str:
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "-"
    return out.stdout.strip() or "-"


def _parameter_rows(result: NotebookResult, nb: dict, notebook: Path | None) -> list[dict]:
    """name, value used, default and help for every name in the parameters cell."""
    defaults: dict[str, dict] = {}
    if notebook is not None and notebook.is_file():
        with contextlib.suppress(UserError):
            defaults = notebook_parameters(notebook)
    if not defaults:  # fall back to what papermill recorded in the executed notebook
        recorded = nb.get("metadata", {}).get("papermill", {}).get("default_parameters", {}) or {}
        defaults = {k: {"default": repr(v), "help": ""} for k, v in recorded.items()}
    rows = []
    for name, info in defaults.items():
        overridden = name in result.parameters
        value = repr(result.parameters[name]) if overridden else info.get("default", "")
        rows.append({"name": name, "value": value, "default": info.get("default", ""), "help": info.get("help", ""), "overridden": overridden})
    return rows


def _format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def render_report(
    results: Sequence[NotebookResult],
    *,
    report_dir: Path | None = None,
    notebooks: Path | None = None,
    configs: Path | None = None,
) -> Path:
    """Render one HTML page per executed notebook and ``index.html``; returns the index path.

    Pages are rendered into a temporary folder that replaces ``report_dir`` (default
    ``outputs/report/``) with a rename, so a reader never sees a mix of old and half-new pages.
    """
    import nbformat

    report_dir = Path(report_dir) if report_dir is not None else outputs_dir() / "report"
    report_dir.parent.mkdir(parents=True, exist_ok=True)
    notebooks = Path(notebooks) if notebooks is not None else notebooks_dir()
    configs = Path(configs) if configs is not None else configs_dir()
    exporter = _exporter()
    staging = Path(tempfile.mkdtemp(dir=report_dir.parent, prefix=".report.new-"))
    try:
        pages = [r for r in results if r.executed and Path(r.executed).is_file()]
        for i, result in enumerate(pages):
            nb = nbformat.read(result.executed, as_version=4)
            metrics = _read_metrics(result.notebook) or {}
            failed = result.failed
            rows = _parameter_rows(result, nb, notebooks / f"{result.notebook}.ipynb")
            info = {
                "index": False,
                "title": result.title or result.notebook,
                "notebook": result.notebook,
                "status": result.status,
                "profile": result.profile,
                "device": metrics.get("device", result.device),
                "seed": metrics.get("seed", next((p["value"] for p in rows if p["name"] == "SEED"), "-")),
                "run_time": f"{_format_seconds(metrics.get('seconds'))} in the notebook, "
                f"{_format_seconds(result.seconds)} with kernel start",
                "parameters": rows,
                "config": str(_relative(configs / result.profile / f"{result.notebook}.yaml")),
                "failed": dataclasses.asdict(failed) if failed else None,
                "failed_where": failed.describe().split(": ", 1)[0].split(" -> ")[0] if failed else "",
                "failed_anchor": f"cell-id={failed.cell_id}" if failed and failed.cell_id else "",
                "prev": _nav(pages[i - 1]) if i > 0 else None,
                "next": _nav(pages[i + 1]) if i + 1 < len(pages) else None,
            }
            nb.metadata["title"] = info["title"]
            body, _ = exporter.from_notebook_node(nb, resources={"report": info, "metadata": {"name": result.notebook}})
            atomic_write_text(staging / f"{result.notebook}.html", body)
        index_nb = _index_notebook(results, linked={r.notebook for r in pages})
        body, _ = exporter.from_notebook_node(
            index_nb, resources={"report": {"index": True, "prev": None, "next": _nav(pages[0]) if pages else None}, "metadata": {"name": "index"}}
        )
        atomic_write_text(staging / "index.html", body)
        _swap_dir(staging, report_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report_dir / "index.html"


def _relative(path: Path) -> Path:
    try:
        return path.resolve().relative_to(ROOT)
    except ValueError:
        return path


def _nav(result: NotebookResult) -> dict:
    return {"href": f"{result.notebook}.html", "label": result.notebook}


def _publish_modes(*paths: Path) -> None:
    """Temporary files are created private (0600/0700); give finished ones the usual umask modes."""
    umask = os.umask(0)
    os.umask(umask)
    for path in paths:
        if path.is_dir():
            path.chmod(0o777 & ~umask)
            for child in path.iterdir():
                if child.is_file():
                    child.chmod(0o666 & ~umask)
        elif path.is_file():
            path.chmod(0o666 & ~umask)


def _swap_dir(new: Path, final: Path) -> None:
    """Replace ``final`` by ``new``: two renames; in between ``final`` is absent, never partial."""
    _publish_modes(new)
    old = final.parent / f".report.old-{os.getpid()}"
    if final.exists():
        os.rename(final, old)
    os.rename(new, final)
    shutil.rmtree(old, ignore_errors=True)


def _md_cell_text(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _index_notebook(results: Sequence[NotebookResult], *, linked: set[str]) -> Any:
    """The contents page as a notebook of markdown cells (rendered by the same exporter)."""
    import nbformat

    v4 = nbformat.v4
    profiles = sorted({r.profile for r in results})
    devices = sorted({r.device for r in results if r.device != "-"}) or ["-"]
    total = sum(r.seconds for r in results)
    passed = sum(r.ok for r in results)
    head = [
        f"# {REPORT_TITLE}",
        "",
        f"Profile **{', '.join(profiles)}** on **{', '.join(devices)}**; "
        f"{passed} of {len(results)} notebooks passed in {_format_seconds(total)}; "
        f"rendered {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')} from commit `{_git_commit()}`.",
        "",
        "Every page starts with the parameters it ran with (papermill's injected-parameters cell is "
        "shown open); the code of the other cells is folded: click *code* to unfold one, or "
        "*Show all code* at the top of a page.",
    ]
    contents = ["## Contents", ""]
    for r in results:
        label = r.title or r.notebook
        link = f"[{label}]({r.notebook}.html)" if r.notebook in linked else label
        mark = "" if r.ok else " (**failed**)"
        contents.append(f"1. {link}: `{r.notebook}.ipynb`, {r.seconds:.0f} s{mark}")
    table = [
        "## Pass/fail",
        "",
        "| notebook | status | seconds | device | failing cell |",
        "|---|---|---:|---|---|",
    ]
    for r in results:
        where = _md_cell_text(r.failed.describe()) if r.failed else ""
        if r.failed and r.failed.cell_id and r.notebook in linked:
            where = f"[{where}]({r.notebook}.html#cell-id={r.failed.cell_id})"
        status = "passed" if r.ok else "**FAILED**"
        table.append(f"| {r.notebook} | {status} | {r.seconds:.1f} | {_md_cell_text(r.device)} | {where} |")
    nb = v4.new_notebook()
    nb.cells = [v4.new_markdown_cell("\n".join(head)), v4.new_markdown_cell("\n".join(contents)), v4.new_markdown_cell("\n".join(table))]
    nb.metadata["title"] = REPORT_TITLE
    return nb


# ----------------------------------------------------------------------------- regression


@dataclasses.dataclass
class Drift:
    """One compared value.  ``ok`` False means the check fails; ``note`` says why."""

    notebook: str
    item: str
    reference: str
    value: str
    tolerance: str
    ok: bool
    note: str = ""


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two float images in [0, 1] (inf when equal)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def thumbnail(image: np.ndarray, size: int | None = None) -> np.ndarray:
    """Box-average an ``(H, W)`` or ``(H, W, C)`` float image in [0, 1] to ``(size, size, C)``."""
    from PIL import Image

    size = int(size or TOLERANCES["thumbnail"])
    arr = np.asarray(image, np.float32)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    channels = [
        np.asarray(Image.fromarray(arr[:, :, c], mode="F").resize((size, size), Image.Resampling.BOX))
        for c in range(arr.shape[2])
    ]
    return np.stack(channels, axis=-1)


def image_summary(path: Path) -> dict:
    """What a reference keeps of a result image: shape, sha256 of the pixels, a 16x16 thumbnail (0-255)."""
    from PIL import Image

    with Image.open(path) as img:
        pixels = np.asarray(img)
    scale = 65535.0 if pixels.dtype == np.uint16 else 255.0
    thumb = thumbnail(pixels.astype(np.float32) / scale)
    return {
        "shape": list(pixels.shape),
        "sha256": hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest(),
        "thumbnail": np.rint(thumb * 255).astype(int).reshape(-1).tolist(),
        "thumbnail_shape": list(thumb.shape),
    }


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts/lists -> ``{"a.b[0]": leaf}``."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _fmt(v: Any) -> str:
    if _is_number(v):
        return f"{v:.6g}"
    return "-" if v is None else str(v)


def compare_metrics(stem: str, metrics: dict, reference: dict) -> list[Drift]:
    """Compare one notebook's metrics.json record with its reference record."""
    rows: list[Drift] = []
    overrides = reference.get("tolerances", {}) or {}
    for key in ("profile", "seed"):
        if metrics.get(key) != reference.get(key):
            rows.append(Drift(stem, key, _fmt(reference.get(key)), _fmt(metrics.get(key)), "equal", False, "run and reference differ; compare like with like"))
    new, ref = flatten(metrics.get("metrics", {})), flatten(reference.get("metrics", {}))
    for key, ref_value in ref.items():
        tol = dict(rtol=TOLERANCES["rtol"], atol=TOLERANCES["atol"])
        if (key in overrides and overrides[key] is None) or TIMING_KEY.search(key.rsplit(".", 1)[-1]):
            rows.append(Drift(stem, key, _fmt(ref_value), _fmt(new.get(key)), "not compared", True, "timing" if key not in overrides else "ignored by the reference"))
            continue
        tol.update(overrides.get(key) or {})
        if key not in new:
            rows.append(Drift(stem, key, _fmt(ref_value), "missing", "present", False, "metric no longer saved"))
            continue
        value = new[key]
        if _is_number(ref_value) and _is_number(value) and not (isinstance(ref_value, int) and isinstance(value, int)):
            diff = abs(value - ref_value)
            bound = tol["atol"] + tol["rtol"] * abs(ref_value)
            ok = math.isfinite(value) and diff <= bound
            rel = diff / abs(ref_value) if ref_value else math.inf if diff else 0.0
            note = "" if ok else (f"{'+' if value > ref_value else '-'}{rel:.2%}" if math.isfinite(rel) else f"off by {diff:.3g}")
            rows.append(Drift(stem, key, _fmt(ref_value), _fmt(value), f"rtol {tol['rtol']:g}, atol {tol['atol']:g}", ok, note))
        else:
            ok = value == ref_value
            rows.append(Drift(stem, key, _fmt(ref_value), _fmt(value), "equal", ok, "" if ok else "changed"))
    for key in sorted(set(new) - set(ref)):
        rows.append(Drift(stem, key, "-", _fmt(new[key]), "-", True, "new: not in the reference (record again to track it)"))
    return rows


def compare_images(stem: str, folder: Path, names: Iterable[str], reference: dict) -> list[Drift]:
    """Compare the result images listed in metrics.json with the reference's summaries."""
    rows: list[Drift] = []
    names = list(names)
    threshold = float(TOLERANCES["image_psnr_db"])
    ref_images = reference.get("images", {}) or {}
    for name, ref in ref_images.items():
        item, tol = f"image {name}", f"PSNR >= {threshold:g} dB"
        path = folder / f"{name}.png"
        if name not in names or not path.is_file():
            rows.append(Drift(stem, item, "present", "missing", tol, False, f"{path.name} not written"))
            continue
        now = image_summary(path)
        if now["shape"] != ref["shape"]:
            rows.append(Drift(stem, item, "x".join(map(str, ref["shape"])), "x".join(map(str, now["shape"])), "same shape", False, "shape changed"))
            continue
        if now["sha256"] == ref["sha256"]:
            rows.append(Drift(stem, item, ref["sha256"][:12], now["sha256"][:12], tol, True, "identical pixels"))
            continue
        shape = tuple(ref["thumbnail_shape"])
        a = np.asarray(ref["thumbnail"], np.float64).reshape(shape) / 255
        b = np.asarray(now["thumbnail"], np.float64).reshape(shape) / 255
        value = psnr(a, b)
        ok = value >= threshold
        rows.append(Drift(stem, item, ref["sha256"][:12], f"PSNR {value:.1f} dB", tol, ok, "pixels differ, within tolerance" if ok else "image drifted"))
    for name in names:
        if name not in ref_images:
            rows.append(Drift(stem, f"image {name}", "-", "present", "-", True, "new: not in the reference"))
    return rows


def check_reference(reference_dir: Path, notebooks: Sequence[str] | None = None) -> list[Drift]:
    """Compare ``outputs/<nb>/metrics.json`` (and result images) with ``reference_dir/<nb>.json``.

    ``notebooks``: the stems to check (default: every reference file).  A notebook without a
    reference, or a reference without this run's metrics, is a failing row.
    """
    reference_dir = Path(reference_dir)
    if not reference_dir.is_dir():
        raise UserError(f"reference folder {reference_dir} does not exist; record one with --record {reference_dir}")
    refs = {p.stem: p for p in sorted(reference_dir.glob("*.json"))}
    stems = list(notebooks) if notebooks is not None else list(refs)
    if not stems:
        raise UserError(f"{reference_dir} holds no reference files (*.json); record one with --record {reference_dir}")
    rows: list[Drift] = []
    for stem in stems:
        if stem not in refs:
            rows.append(Drift(stem, "reference", "missing", "-", "-", False, f"no {reference_dir / (stem + '.json')}; record it with --record"))
            continue
        reference = json.loads(refs[stem].read_text(encoding="utf-8"))
        metrics = _read_metrics(stem)
        if metrics is None:
            rows.append(Drift(stem, "metrics.json", "present", "missing", "-", False, "the notebook did not save metrics (did it run and pass?)"))
            continue
        rows += compare_metrics(stem, metrics, reference)
        rows += compare_images(stem, outputs_dir() / stem, metrics.get("images", []), reference)
    return rows


def record_reference(reference_dir: Path, notebooks: Sequence[str], *, profile: str | None = None) -> list[Path]:
    """Write ``reference_dir/<nb>.json`` from this run's metrics.json and result images.

    ``profile``: refuse metrics saved under another profile.  Per-key ``tolerances`` already
    in a reference file are kept.
    """
    reference_dir = Path(reference_dir)
    checked = []
    for stem in notebooks:
        metrics = _read_metrics(stem)
        if metrics is None:
            raise UserError(f"cannot record {stem}: outputs/{stem}/metrics.json is missing; run the notebook first")
        if profile is not None and metrics.get("profile") != profile:
            raise UserError(
                f"cannot record {stem}: its metrics.json is from the {metrics.get('profile')} profile, "
                f"not {profile}; run it with --profile {profile} first"
            )
        checked.append((stem, metrics))
    reference_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, metrics in checked:
        folder = outputs_dir() / stem
        target = reference_dir / f"{stem}.json"
        old = json.loads(target.read_text(encoding="utf-8")) if target.is_file() else {}
        record = {
            "notebook": stem,
            "profile": metrics.get("profile"),
            "seed": metrics.get("seed"),
            "recorded_on": {k: metrics.get(k) for k in ("device", "torch", "python")},
            "metrics": metrics.get("metrics", {}),
            "images": {name: image_summary(folder / f"{name}.png") for name in metrics.get("images", [])},
        }
        if old.get("tolerances"):
            record["tolerances"] = old["tolerances"]
        _publish_modes(atomic_write_text(target, _dump_json(record)))
        written.append(target)
    return written


def _dump_json(record: dict) -> str:
    """Indented JSON with lists of numbers kept on one line (thumbnails stay readable in diffs)."""
    text = json.dumps(record, indent=1, sort_keys=True)
    # only arrays json.dumps broke over lines ("[" + newline): never text inside a string
    return re.sub(r"\[\n\s*([-+0-9.eE,\s]+?)\s*\]", lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text) + "\n"


# ----------------------------------------------------------------------------- tables


def results_table(results: Sequence[NotebookResult]) -> str:
    """The pass/fail table: notebook, status, seconds, device (+ the failing cell)."""
    width = max([len("notebook"), *(len(r.notebook) for r in results)])
    lines = [f"{'notebook':<{width}}  {'status':<6}  {'seconds':>8}  device"]
    for r in results:
        lines.append(f"{r.notebook:<{width}}  {r.status if r.ok else 'FAILED':<6}  {r.seconds:8.1f}  {r.device}")
        if r.failed:
            lines.append(f"{'':<{width}}    {r.failed.describe()}")
    total = sum(r.seconds for r in results)
    lines.append(f"{sum(r.ok for r in results)}/{len(results)} passed in {total:.1f} s")
    return "\n".join(lines)


def drift_table(rows: Sequence[Drift], *, verbose: bool = False) -> str:
    """The drifted rows (all rows with ``verbose``) as an aligned text table, plus a summary."""
    shown = [r for r in rows if verbose or not r.ok or r.note.startswith("new")]
    header = ("notebook", "item", "reference", "this run", "tolerance", "result")
    table = [header] + [(r.notebook, r.item, r.reference, r.value, r.tolerance, ("ok" if r.ok else "DRIFT") + (f" {r.note}" if r.note else "")) for r in shown]
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:5], widths)) + "  " + row[5] for row in table] if shown else []
    bad = sum(not r.ok for r in rows)
    identical = sum(r.note == "identical pixels" for r in rows)
    images = sum(r.item.startswith("image ") and r.reference != "-" for r in rows)
    nbs = len({r.notebook for r in rows})
    lines.append(
        f"regression check: {len(rows)} values in {nbs} notebooks, {bad} drifted; "
        f"{identical}/{images} result images bitwise identical to the reference"
    )
    return "\n".join(lines)
