"""The HTML report: one nbconvert page per executed notebook and a contents page.

Part of :mod:`helpers.report`.  Each executed notebook is exported with nbconvert's ``lab``
template extended by ``templates/report_page.html.j2`` (:data:`PAGE_TEMPLATE`: a header with
parameters, device and run time, code folded in ``<details>``); the contents page
``index.html`` is itself a notebook of markdown cells, exported the same way.  Pages are
written into a temporary folder that replaces ``outputs/report/`` in one rename.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..runtime import ROOT, atomic_write_text, outputs_dir
from .files import publish_modes, read_metrics
from .params import configs_dir, notebook_parameters, notebooks_dir
from .run import NotebookResult

REPORT_TITLE = "Style transfer and Poisson image editing: the notebook series"

PAGE_TEMPLATE = Path(__file__).resolve().parent / "templates" / "report_page.html.j2"
"""nbconvert template: the ``lab`` template plus a header per notebook and folded code cells."""


# ----------------------------------------------------------------------------- nbconvert


def _exporter():
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        extra_template_paths=[str(PAGE_TEMPLATE.parent)],
        template_file=PAGE_TEMPLATE.name,
    )
    exporter.register_preprocessor(_streams_preprocessor(), enabled=True)
    return exporter


def _streams_preprocessor():
    """A progress bar arrives as one stream output per redraw ("\\r... 41%|###"): merge them
    and keep each bar's last state, as a live notebook shows it (nothing, for a bar that
    clears itself), instead of one line per step."""
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    class _Streams(CoalesceStreamsPreprocessor):
        def preprocess_cell(self, cell, resources, cell_index):
            cell, resources = super().preprocess_cell(cell, resources, cell_index)
            if cell.get("outputs"):
                cell.outputs = [
                    o for o in cell.outputs if o.output_type != "stream" or o.text.strip()
                ]
            return cell, resources

    return _Streams()


def _git_commit() -> str:
    import subprocess

    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT, capture_output=True, text=True, timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "-"
    return out.stdout.strip() or "-"


# ----------------------------------------------------------------------------- pages


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
            info = _page_info(result, nb, notebooks, configs)
            info["prev"] = _nav(pages[i - 1]) if i > 0 else None
            info["next"] = _nav(pages[i + 1]) if i + 1 < len(pages) else None
            nb.metadata["title"] = info["title"]
            resources = {"report": info, "metadata": {"name": result.notebook}}
            body, _ = exporter.from_notebook_node(nb, resources=resources)
            atomic_write_text(staging / f"{result.notebook}.html", body)
        index_nb = _index_notebook(results, linked={r.notebook for r in pages})
        info = {"index": True, "prev": None, "next": _nav(pages[0]) if pages else None}
        body, _ = exporter.from_notebook_node(
            index_nb, resources={"report": info, "metadata": {"name": "index"}}
        )
        atomic_write_text(staging / "index.html", body)
        _swap_dir(staging, report_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report_dir / "index.html"


def _page_info(result: NotebookResult, nb: dict, notebooks: Path, configs: Path) -> dict:
    """What the page template's header shows about one notebook (navigation aside)."""
    metrics = read_metrics(result.notebook) or {}
    failed = result.failed
    rows = _parameter_rows(result, nb, notebooks / f"{result.notebook}.ipynb")
    seed = next((p["value"] for p in rows if p["name"] == "SEED"), "-")
    return {
        "index": False,
        "title": result.title or result.notebook,
        "notebook": result.notebook,
        "status": result.status,
        "profile": result.profile,
        "device": metrics.get("device", result.device),
        "seed": metrics.get("seed", seed),
        "run_time": f"{_format_seconds(metrics.get('seconds'))} in the notebook, "
        f"{_format_seconds(result.seconds)} with kernel start",
        "parameters": rows,
        "config": str(_relative(configs / result.profile / f"{result.notebook}.yaml")),
        "failed": dataclasses.asdict(failed) if failed else None,
        "failed_where": failed.describe().split(": ", 1)[0].split(" -> ")[0] if failed else "",
        "failed_anchor": f"cell-id={failed.cell_id}" if failed and failed.cell_id else "",
    }


def _parameter_rows(result: NotebookResult, nb: dict, notebook: Path | None) -> list[dict]:
    """name, value used, default and help for every name in the parameters cell."""
    defaults: dict[str, dict] = {}
    if notebook is not None and notebook.is_file():
        with contextlib.suppress(UserError):
            defaults = notebook_parameters(notebook)
    if not defaults:  # fall back to what papermill recorded in the executed notebook
        papermill = nb.get("metadata", {}).get("papermill", {})
        recorded = papermill.get("default_parameters", {}) or {}
        defaults = {k: {"default": repr(v), "help": ""} for k, v in recorded.items()}
    rows = []
    for name, info in defaults.items():
        overridden = name in result.parameters
        value = repr(result.parameters[name]) if overridden else info.get("default", "")
        rows.append({
            "name": name,
            "value": value,
            "default": info.get("default", ""),
            "help": info.get("help", ""),
            "overridden": overridden,
        })
    return rows


def _format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _relative(path: Path) -> Path:
    try:
        return path.resolve().relative_to(ROOT)
    except ValueError:
        return path


def _nav(result: NotebookResult) -> dict:
    return {"href": f"{result.notebook}.html", "label": result.notebook}


def _swap_dir(new: Path, final: Path) -> None:
    """Replace ``final`` by ``new``: two renames; in between ``final`` is absent, never partial."""
    publish_modes(new)
    old = final.parent / f".report.old-{os.getpid()}"
    if final.exists():
        os.rename(final, old)
    os.rename(new, final)
    shutil.rmtree(old, ignore_errors=True)


# ----------------------------------------------------------------------------- contents page


def _md_cell_text(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _index_notebook(results: Sequence[NotebookResult], *, linked: set[str]) -> Any:
    """The contents page as a notebook of markdown cells (rendered by the same exporter)."""
    import nbformat

    v4 = nbformat.v4
    nb = v4.new_notebook()
    nb.cells = [
        v4.new_markdown_cell("\n".join(_index_head(results))),
        v4.new_markdown_cell("\n".join(_index_contents(results, linked))),
        v4.new_markdown_cell("\n".join(_index_table(results, linked))),
    ]
    nb.metadata["title"] = REPORT_TITLE
    return nb


def _index_head(results: Sequence[NotebookResult]) -> list[str]:
    """The title and a paragraph: profile, devices, how many passed, when and from which
    commit."""
    profiles = sorted({r.profile for r in results})
    devices = sorted({r.device for r in results if r.device != "-"}) or ["-"]
    total = sum(r.seconds for r in results)
    passed = sum(r.ok for r in results)
    return [
        f"# {REPORT_TITLE}",
        "",
        f"Profile **{', '.join(profiles)}** on **{', '.join(devices)}**; "
        f"{passed} of {len(results)} notebooks passed in {_format_seconds(total)}; "
        f"rendered {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')} from commit "
        f"`{_git_commit()}`.",
        "",
        "Every page starts with the parameters it ran with (papermill's injected-parameters "
        "cell is shown open); the code of the other cells is folded: click *code* to unfold "
        "one, or *Show all code* at the top of a page.",
    ]


def _index_contents(results: Sequence[NotebookResult], linked: set[str]) -> list[str]:
    contents = ["## Contents", ""]
    for r in results:
        label = r.title or r.notebook
        link = f"[{label}]({r.notebook}.html)" if r.notebook in linked else label
        mark = "" if r.ok else " (**failed**)"
        contents.append(f"1. {link}: `{r.notebook}.ipynb`, {r.seconds:.0f} s{mark}")
    return contents


def _index_table(results: Sequence[NotebookResult], linked: set[str]) -> list[str]:
    """The pass/fail table in markdown, linking each failing cell on its page."""
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
        table.append(
            f"| {r.notebook} | {status} | {r.seconds:.1f} | {_md_cell_text(r.device)} "
            f"| {where} |"
        )
    return table
