"""The report's sweep pages: one ``sweep-<name>.html`` per ``outputs/sweeps/<name>/results.csv``.

Part of :mod:`helpers.report`.  It reads only the files a sweep leaves (``results.csv``,
``contact-sheet.png``, ``sweep.json``; see :mod:`helpers.sweep.results`), so the report needs
neither Dask nor the sweep package.  :func:`add_sweep_pages` writes the pages into the report's
staging folder and adds a "Sweeps" list of links to its ``index.html``; with no sweep it does
nothing.
"""

from __future__ import annotations

import csv
import html
import json
import shutil
from pathlib import Path

from ..runtime import atomic_write_text, outputs_dir

TEMPLATE = "sweep_page.html.j2"
HIDDEN_COLUMNS = ("parameters", "folder", "attempt")
"""results.csv columns the page leaves out (the full parameters stay in the CSV)."""


def find_sweeps(base: Path | None = None) -> list[Path]:
    """The sweep folders holding a ``results.csv``, by name."""
    base = Path(base) if base is not None else outputs_dir() / "sweeps"
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if (p / "results.csv").is_file())


def _short(text: str) -> str:
    """A float with four significant digits (the CSV keeps them all); other text as it is."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return text
    return text if value.is_integer() and "." not in text else f"{value:.4g}"


def _page_context(folder: Path, prefix: str) -> dict:
    with open(folder / "results.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    try:
        meta = json.loads((folder / "sweep.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = {}
    columns = [c for c in (rows[0] if rows else {}) if c not in HIDDEN_COLUMNS]
    rows = [{k: _short(v) for k, v in row.items()} for row in rows]
    status = [r.get("status") for r in rows]
    return {
        "name": folder.name,
        "notebook": meta.get("notebook", "?"),
        "profile": meta.get("profile", "?"),
        "axes": " x ".join(meta.get("axes", [])) or "its grid",
        "total": len(rows),
        "passed": status.count("passed"),
        "failed": status.count("failed"),
        "pending": status.count("pending"),
        "columns": columns,
        "rows": rows,
        "csv": f"{prefix}.csv",
        "sheet": f"{prefix}.png" if (folder / "contact-sheet.png").is_file() else None,
    }


def write_sweep_page(folder: Path, dest: Path) -> dict:
    """Write ``dest/sweep-<name>.html`` (with the contact sheet and CSV beside it); returns
    ``{"href", "label", "line"}`` for the contents page."""
    import jinja2

    prefix = f"sweep-{folder.name}"
    context = _page_context(folder, prefix)
    shutil.copyfile(folder / "results.csv", dest / context["csv"])
    if context["sheet"]:
        shutil.copyfile(folder / "contact-sheet.png", dest / context["sheet"])
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    atomic_write_text(dest / f"{prefix}.html", env.get_template(TEMPLATE).render(**context))
    line = (
        f"{context['total']} runs of {context['notebook']} ({context['profile']}): "
        f"{context['passed']} passed, {context['failed']} failed"
    )
    return {"href": f"{prefix}.html", "label": f"Sweep {folder.name}", "line": line}


def add_sweep_pages(dest: Path, base: Path | None = None) -> list[dict]:
    """Write a page per sweep into the report folder ``dest`` and link them from its
    ``index.html`` (a "Sweeps" section before ``</body>``); returns the links."""
    links = [write_sweep_page(folder, dest) for folder in find_sweeps(base)]
    index = dest / "index.html"
    if links and index.is_file():
        items = "".join(
            f'<li><a href="{html.escape(link["href"])}">{html.escape(link["label"])}</a>: '
            f"{html.escape(link['line'])}</li>"
            for link in links
        )
        section = f'<section class="sweeps"><h2>Sweeps</h2><ul>{items}</ul></section>\n'
        text = index.read_text(encoding="utf-8")
        at = text.rfind("</body>")
        text = text[:at] + section + text[at:] if at >= 0 else text + section
        atomic_write_text(index, text)
    return links
