"""What a reader of the rendered writeup must never see, removed before nbconvert renders a page.

Part of :mod:`helpers.report` (used by :mod:`.render`).  :func:`clean_notebook` works on an
executed notebook in memory:

* outputs that are only an object's repr (``PosixPath('/…')``, ``<Figure size 640x480 with
  1 Axes>``, ``<… object at 0x…>``, a widget's ``VBox(…)``) are dropped, and the plain-text
  fallback of a rich output (the ``<Figure …>`` beside its PNG) is removed;
* absolute paths in text outputs and tracebacks become relative (``outputs/…``, ``./…``,
  ``~/…``, else ``…/name``);
* TeX between ``$…$`` / ``$$…$$`` in markdown becomes MathML (:mod:`latex2mathml`, when
  installed), which browsers render without MathJax from a CDN.

:func:`split_title` takes the first markdown cell apart into the chapter's title and abstract.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from ..runtime import ROOT, outputs_dir

REPR = re.compile(
    r"\b\w*Path\(['\"]"  # PosixPath('/x'), WindowsPath(...)
    r"|<[^<>\n]*\bat 0x[0-9a-fA-F]+>"  # <foo.Bar object at 0x7f...>
    r"|<Figure size [\d.]+x[\d.]+ with \d+ Axes>"
    r"|<(?:matplotlib|IPython|ipywidgets|PIL|torch)\.[\w.]+[^<>\n]*>"
    r"|^(?:VBox|HBox|Box|Output|Button|Image|\w+Slider)\(",
    re.MULTILINE,
)
"""Text that is an object's repr rather than something written for a reader."""

ABSOLUTE_PATH = re.compile(r"(?<![\w:/.~-])/(?:[\w.@+-]+/)+[\w.@+-]*")
"""A POSIX absolute path with at least two parts (``/a/b``), not part of a URL or a relative
path."""

_WIDGET = "application/vnd.jupyter.widget-view+json"


def _replacements() -> list[tuple[str, str]]:
    """Known absolute prefixes and what they read as on a page, longest first."""
    pairs = {
        str(outputs_dir()): "outputs",
        str(ROOT): ".",
        str(Path(sys.prefix)): "venv",
        str(Path(sys.base_prefix)): "python",
        str(Path.home()): "~",
    }
    return sorted(pairs.items(), key=lambda kv: -len(kv[0]))


def relative_text(text: str, replacements: list[tuple[str, str]] | None = None) -> str:
    """``text`` with absolute paths made relative (known prefixes) or cut to ``…/name``."""
    for prefix, short in replacements or _replacements():
        if prefix not in ("", "/"):
            text = text.replace(prefix + "/", short + "/").replace(prefix, short)
    return ABSOLUTE_PATH.sub(lambda m: "…/" + m.group(0).rstrip("/").rsplit("/", 1)[-1], text)


def _plain(output: dict) -> str:
    text = output.get("data", {}).get("text/plain", "")
    return "".join(text) if isinstance(text, list) else str(text)


def _clean_output(output: dict, replacements) -> dict | None:
    """The output as a page shows it, or None when it is only a repr."""
    kind = output.get("output_type")
    if kind == "stream":
        output["text"] = relative_text(str(output.get("text", "")), replacements)
        return output
    if kind == "error":
        output["evalue"] = relative_text(str(output.get("evalue", "")), replacements)
        output["traceback"] = [relative_text(t, replacements) for t in output.get("traceback", [])]
        return output
    data = output.get("data", {})
    if _WIDGET in data:  # a live widget: nothing to show without a kernel
        return None
    if "text/plain" in data:
        if set(data) == {"text/plain"}:
            if REPR.search(_plain(output)):
                return None
            data["text/plain"] = relative_text(_plain(output), replacements)
        elif REPR.search(_plain(output)):
            del data["text/plain"]  # the PNG beside it is what a reader sees
    return output


def clean_notebook(nb) -> None:
    """Drop repr-only outputs, relativise paths, turn markdown TeX into MathML (in place)."""
    replacements = _replacements()
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = math_to_mathml(cell.source)
        elif cell.cell_type == "code":
            kept = [_clean_output(o, replacements) for o in cell.get("outputs", [])]
            cell.outputs = [o for o in kept if o is not None]


# ----------------------------------------------------------------------------- title, math

_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.DOTALL)
_DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.DOTALL)
_INLINE_MATH = re.compile(r"(?<![\\$\w])\$(?=\S)([^$\n]+?)(?<=\S)\$(?![\w$])")


def math_to_mathml(markdown: str) -> str:
    """``$…$`` and ``$$…$$`` outside code replaced by MathML; unchanged without latex2mathml."""
    try:
        from latex2mathml.converter import convert
    except ImportError:  # pragma: no cover - optional: the TeX source stays readable
        return markdown

    def mathml(tex: str, display: str) -> str:
        try:
            return convert(tex.strip(), display=display).replace("\n", "")
        except Exception:  # noqa: BLE001 - a formula it cannot parse stays as TeX in code
            return f"<code>{tex}</code>"

    parts = _CODE.split(markdown)
    for i in range(0, len(parts), 2):  # even parts are outside code
        text = _DISPLAY_MATH.sub(lambda m: mathml(m.group(1), "block"), parts[i])
        parts[i] = _INLINE_MATH.sub(lambda m: mathml(m.group(1), "inline"), text)
    return "".join(parts)


def split_title(nb) -> tuple[str, str, int | None]:
    """``(title, abstract markdown, index of the cell)`` from the first markdown cell.

    The title is its first ``#`` heading; the abstract is the rest of that cell.  Without a
    markdown cell: ``("", "", None)``.
    """
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        heading = next((i for i, line in enumerate(lines) if line.startswith("#")), None)
        if heading is None:
            return "", cell.source.strip(), index
        title = lines[heading].lstrip("#").strip()
        rest = lines[:heading] + lines[heading + 1 :]
        return title, "\n".join(rest).strip(), index
    return "", "", None
