"""The one text-table helper: rows of values -> aligned plain text.

Every table the series prints (loss tables, run comparisons, blend timings, the report's
pass/fail and drift tables) goes through :func:`format_table`, so they all read alike:
a header, an optional rule, text left-aligned and numbers right-aligned.  The method packages
return data and the notebooks' tables are laid out here: style transfer's
(:func:`transfer_table`, :func:`run_comparison_table`, :func:`layer_losses_table`,
:func:`practice_table`, :func:`recipes_table`, :func:`architecture_table`) and the gradient
domain's (:func:`blend_comparison_table`, :func:`edit_comparison_table`).

>>> print(format_table([{"run": "adam", "loss": 1.5e7}], formats={"loss": ".3g"}))
run      loss
adam  1.5e+07
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # hints only: importing helpers.nst imports torch
    from .nst import LayerLoss, PracticeRow, Recipe, RunComparison, TransferResult

Format = str | Callable[[Any], str]


def _cell(value: Any, fmt: Format | None) -> str:
    if value is None:
        return "-"
    if callable(fmt):
        return fmt(value)
    if fmt is not None:
        return format(value, fmt)
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(value)
    return format(float(value), ".4g")


def format_table(
    rows: Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]],
    columns: Sequence[str] | None = None,
    *,
    formats: Mapping[str, Format] | None = None,
    headers: Mapping[str, str] | None = None,
    rule: bool = False,
    gap: int = 2,
) -> str:
    """Aligned text for ``rows``.

    Args:
        rows: dicts (keys are column names) or sequences (in ``columns`` order).
        columns: which columns, in order; default every key of the dict rows, first seen first.
        formats: per column, a format spec (``".3g"``) or a callable -> str.  ``None`` values
            print as ``-``; floats default to ``.4g``.
        headers: per column, the header text (default the column name).
        rule: a line of dashes under the header.
        gap: spaces between columns.

    A column whose values are all numbers (``None`` aside) is right-aligned; others left.
    """
    formats, headers = dict(formats or {}), dict(headers or {})
    if columns is None:
        if rows and not isinstance(rows[0], Mapping):
            raise ValueError("sequence rows need columns")
        columns = list(dict.fromkeys(k for r in rows for k in r))  # type: ignore[union-attr]
    columns = list(columns)
    dict_rows = [r if isinstance(r, Mapping) else dict(zip(columns, r, strict=True)) for r in rows]
    numeric = {
        c: all(
            isinstance(r.get(c), numbers.Number) and not isinstance(r.get(c), bool)
            for r in dict_rows
            if r.get(c) is not None
        )
        and any(r.get(c) is not None for r in dict_rows)
        for c in columns
    }
    cells = [[headers.get(c, c) for c in columns]]
    cells += [[_cell(r.get(c), formats.get(c)) for c in columns] for r in dict_rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]

    def line(row: list[str]) -> str:
        parts = [
            cell.rjust(w) if numeric[c] else cell.ljust(w)
            for cell, w, c in zip(row, widths, columns, strict=True)
        ]
        return (" " * gap).join(parts).rstrip()

    lines = [line(cells[0])]
    if rule:
        lines.append((" " * gap).join("-" * w for w in widths))
    lines += [line(row) for row in cells[1:]]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- style transfer


def transfer_table(
    result: TransferResult, keys: Sequence[str] = ("total", "content", "style")
) -> str:
    """A :class:`helpers.nst.TransferResult`, one line per element: its labels, alpha/beta and
    the final losses ``keys`` (from :meth:`~helpers.nst.TransferResult.table`)."""
    rows = result.table()
    head = ["row", "col"] if "row" in rows[0] else ["label"]
    formats = {"ratio": ".0e"} | {k: ".4g" for k in keys}
    return format_table(
        rows, [*head, "ratio", *keys], formats=formats, headers={"ratio": "alpha/beta"}
    )


def run_comparison_table(comparison: RunComparison) -> str:
    """:func:`helpers.nst.compare_runs` as text: one line per run, its final losses, time, and
    the evaluations it needed to reach the weakest run's final total loss (``-``: never)."""
    columns = ("run", "total", "content", "style", "evals", "seconds", "s/eval")
    columns += (f"evals to {comparison.level:.3g}",)
    rows = [
        (
            r.run,
            r.total,
            r.content,
            r.style,
            r.evaluations,
            r.seconds,
            r.seconds_per_evaluation,
            r.evaluations_to_level,
        )
        for r in comparison.rows
    ]
    formats = {"total": ".4g", "content": ".4g", "style": ".4g", "seconds": ".1f", "s/eval": ".3f"}
    return format_table(rows, columns, formats=formats)


def layer_losses_table(rows: Sequence[LayerLoss]) -> str:
    """:func:`helpers.nst.layer_losses` as text: one line per layer, its weight and its loss
    first and last recorded."""
    return format_table(
        [(r.layer, r.weight, r.first, r.last) for r in rows],
        ["layer", "weight", "first", "last"],
        formats={"weight": ".2f", "first": ".4g", "last": ".4g"},
    )


def practice_table(rows: Sequence[PracticeRow]) -> str:
    """:func:`helpers.nst.practice_rows` as text: one line per run of the paper-against-practice
    panel, its final loss and seconds."""
    return format_table(
        [(r.choice, r.setting, r.final_loss, r.evaluations, r.seconds) for r in rows],
        ["choice", "setting", "final loss", "evals", "seconds"],
        formats={"final loss": ".4g", "seconds": ".1f"},
    )


def recipes_table(recipes: Iterable[Recipe]) -> str:
    """Recipes (:data:`helpers.nst.RECIPES` ``.values()``) side by side, one line per setting
    (:meth:`helpers.nst.Recipe.settings`)."""
    recipes = list(recipes)
    keys = list(recipes[0].settings())
    rows = [{"setting": key, **{r.name: r.settings()[key] for r in recipes}} for key in keys]
    return format_table(rows, ["setting", *[r.name for r in recipes]])


def architecture_table(rows: Iterable[Mapping[str, Any]]) -> str:
    """The truncated network of :func:`helpers.nst.vgg.describe` (its rows) as a table of
    names, modules and output shapes (``*`` = hooked)."""
    lines = [
        {
            "layer": ("*" if row["hooked"] else " ") + row["name"],
            "output": str(row["output"]),
            "module": row["module"],
        }
        for row in rows
    ]
    return format_table(lines, headers={"output": "output (B, C, H, W)"}, gap=1)


# ----------------------------------------------------------------------------- gradient domain

BLEND_COLUMNS = (
    "example",
    "size",
    "unknowns",
    "Poisson res / it / ms",
    "mixed res / it / ms",
    "OpenCV normal / mixed ms",
    "|exact - OpenCV| normal / mixed",
)
"""The columns of :func:`blend_comparison_table`."""


def _blend_row(c: Any) -> tuple[str, ...]:
    """One example's cells of :func:`blend_comparison_table` (text, in ``BLEND_COLUMNS`` order)."""
    h, w = c.shape
    cv = c.seconds["OpenCV normal"], c.seconds["OpenCV mixed"]
    if math.isnan(cv[0]):  # OpenCV was not run
        cv_text = diff_text = "not installed"
    else:
        cv_text = f"{cv[0] * 1e3:.0f} / {cv[1] * 1e3:.0f}"
        normal, mixed = c.opencv_difference("Poisson"), c.opencv_difference("mixed")
        diff_text = f"{normal:.1f} / {mixed:.1f} levels"

    def solved(column: str) -> str:
        residual, ms = c.residuals[column], c.seconds[column] * 1e3
        return f"{residual:.1e} / {c.iterations[column]} / {ms:.0f}"

    return (
        c.name,
        f"{w}x{h}",
        f"{c.unknowns:,}",
        solved("Poisson"),
        solved("mixed"),
        cv_text,
        diff_text,
    )


def blend_comparison_table(comparisons: Sequence[Any]) -> str:
    """Notebook 06's table of :class:`helpers.gdf.Comparison` results: size, unknowns,
    residuals, iterations and times per example, and the difference from OpenCV."""
    return format_table([_blend_row(c) for c in comparisons], BLEND_COLUMNS, rule=True)


EDIT_COLUMNS = ("edit", "unknowns", "residual", "ours ms", "OpenCV ms", "|ours - OpenCV|")
"""The columns of :func:`edit_comparison_table`."""


def edit_comparison_table(results: Mapping[str, Any], comparisons: Mapping[str, Any]) -> str:
    """Notebook 08's closing table, one row per edit: unknowns, residual and time of ours
    (``results``: name -> a solved result such as :class:`helpers.gdf.EditResult`), and
    OpenCV's time and mean difference inside the region in 8-bit levels where
    ``comparisons`` (name -> :class:`helpers.gdf.EditComparison`) has that edit."""
    rows = []
    for name, res in results.items():
        c = comparisons.get(name)
        if c is None or c.opencv is None:
            cv_ms = diff = "-" if c is None else "not installed"
        else:
            cv_ms, diff = f"{c.opencv_seconds * 1e3:.0f}", f"{c.difference:.1f} levels"
        rows.append(
            (
                name,
                f"{res.unknowns:,}",
                f"{res.max_residual:.1e}",
                f"{res.seconds * 1e3:.0f}",
                cv_ms,
                diff,
            )
        )
    return format_table(rows, EDIT_COLUMNS, rule=True)
