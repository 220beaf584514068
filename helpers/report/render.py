"""The HTML report: one nbconvert page per executed notebook and a contents page.

Part of :mod:`helpers.report`.  Each executed notebook is cleaned (:mod:`.clean`: no object
repr, no absolute path, TeX as MathML), then exported with nbconvert's ``lab`` template
extended by ``templates/report_page.html.j2`` (:data:`PAGE_TEMPLATE`): the chapter's title,
one line with profile, device, status and run time, the abstract (the rest of the first
markdown cell), the parameters in a collapsed block, then the chapter with its code folded.
Figures carry the numbered captions :meth:`helpers.notebook.NotebookRun.save_figure`
displays.  The contents page ``index.html`` (:mod:`.index`) shows a card per chapter.  Pages
work offline: images are embedded (chapters) or relative files (index thumbnails), no script
or font comes from a CDN.  Pages are written into a temporary folder that replaces
``outputs/report/`` in one rename.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..errors import UserError
from ..runtime import ROOT, atomic_write_text, outputs_dir
from .clean import clean_notebook, relative_text, split_title
from .files import publish_modes, read_metrics
from .index import REPORT_TITLE, write_index
from .params import configs_dir, notebook_parameters, notebooks_dir
from .run import NotebookResult
from .sweep_page import add_sweep_pages

PAGE_TEMPLATE = Path(__file__).resolve().parent / "templates" / "report_page.html.j2"
"""nbconvert template: the ``lab`` template plus a chapter header and folded code cells."""

HIDDEN_TAGS = ("parameters", "injected-parameters")
"""Cells left out of a page body: the header's parameters block shows what they set."""

__all__ = ["PAGE_TEMPLATE", "REPORT_TITLE", "render_report"]


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


def _markdown(text: str) -> str:
    from nbconvert.filters.markdown import markdown2html_mistune

    return markdown2html_mistune(text) if text.strip() else ""


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
            _page_body(nb)
            nb.metadata["title"] = info["title"]
            resources = {"report": info, "metadata": {"name": result.notebook}}
            body, _ = exporter.from_notebook_node(nb, resources=resources)
            atomic_write_text(staging / f"{result.notebook}.html", body)
        write_index(results, staging, linked={r.notebook for r in pages})
        add_sweep_pages(staging)  # a page per outputs/sweeps/<name>/, linked from the index
        _swap_dir(staging, report_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report_dir / "index.html"


def _page_body(nb) -> None:
    """The cells a page shows below its header (in place): without the title cell (the header
    shows title and abstract) and the parameters cells, outputs cleaned."""
    _, _, title_index = split_title(nb)
    nb.cells = [
        cell
        for i, cell in enumerate(nb.cells)
        if i != title_index and not set(HIDDEN_TAGS) & set(cell.get("metadata", {}).get("tags", []))
    ]
    clean_notebook(nb)


def _page_info(result: NotebookResult, nb, notebooks: Path, configs: Path) -> dict:
    """What the page template's header shows about one notebook (navigation aside).

    ``profile`` is the profile the notebook recorded in its ``metrics.json`` (else the run's);
    ``notes`` are extra lines under the status line (e.g. a chapter run under another profile
    than the rest of the series).
    """
    from .clean import math_to_mathml

    metrics = read_metrics(result.notebook) or {}
    failed = result.failed
    rows = _parameter_rows(result, nb, notebooks / f"{result.notebook}.ipynb")
    seed = next((p["value"] for p in rows if p["name"] == "SEED"), "-")
    title, abstract, _ = split_title(nb)
    return {
        "index": False,
        "title": title or result.title or result.notebook,
        "abstract_html": _markdown(math_to_mathml(abstract)),
        "notebook": result.notebook,
        "status": result.status,
        "profile": metrics.get("profile", result.profile),
        "device": metrics.get("device", result.device),
        "seed": metrics.get("seed", seed),
        "commit": metrics.get("commit", result.commit),
        "run_time": _format_seconds(metrics.get("seconds", result.seconds)),
        "notes": [],
        "parameters": rows,
        "config": str(_relative(configs / result.profile / f"{result.notebook}.yaml")),
        "failed": _relative_fields(dataclasses.asdict(failed)) if failed else None,
        "failed_where": failed.describe().split(": ", 1)[0].split(" -> ")[0] if failed else "",
        "failed_anchor": f"cell-id={failed.cell_id}" if failed and failed.cell_id else "",
    }


def _relative_fields(record: dict) -> dict:
    """A failure record with absolute paths in its text made relative (see :mod:`.clean`)."""
    return {k: relative_text(v) if isinstance(v, str) else v for k, v in record.items()}


def _parameter_rows(result: NotebookResult, nb, notebook: Path | None) -> list[dict]:
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
        rows.append(
            {
                "name": name,
                "value": value,
                "default": info.get("default", ""),
                "type": info.get("type", ""),
                "help": info.get("help", ""),
                "overridden": overridden,
            }
        )
    return rows


def _format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _relative(path: Path) -> Path:
    try:
        return path.resolve().relative_to(ROOT)
    except ValueError:
        return Path(path.parent.parent.name, path.parent.name, path.name)


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
