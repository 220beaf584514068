"""The one text-table helper: rows of values -> aligned plain text.

Every table the series prints (loss tables, run comparisons, blend timings, the report's
pass/fail and drift tables) goes through :func:`format_table`, so they all read alike:
a header, an optional rule, text left-aligned and numbers right-aligned.

>>> print(format_table([{"run": "adam", "loss": 1.5e7}], formats={"loss": ".3g"}))
run      loss
adam  1.5e+07
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

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
