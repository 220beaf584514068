"""helpers.tables: the one text-table helper aligns, formats and refuses ragged rows."""

from __future__ import annotations

import pytest

from helpers.tables import format_table


def test_columns_align_text_left_and_numbers_right():
    rows = [
        {"name": "adam", "loss": 1.5e7, "evals": 300},
        {"name": "lbfgs", "loss": 2.0, "evals": 7},
    ]
    lines = format_table(rows, formats={"loss": ".3g"}).splitlines()
    assert lines == [
        "name      loss  evals",
        "adam   1.5e+07    300",
        "lbfgs        2      7",
    ]


def test_sequence_rows_rule_headers_and_missing_values():
    text = format_table([("a", None), ("bb", 3)], ["key", "n"], headers={"n": "count"}, rule=True)
    assert text.splitlines() == ["key  count", "---  -----", "a        -", "bb       3"]


def test_callable_formats_and_default_float_format():
    text = format_table([{"x": 0.123456789, "y": 2}], formats={"y": lambda v: f"{v} items"})
    assert text.splitlines()[1] == "0.1235  2 items"


def test_ragged_sequence_rows_are_refused():
    with pytest.raises(ValueError):
        format_table([("a", 1, 2)], ["key", "n"])
    with pytest.raises(ValueError):
        format_table([("a", 1)])


def test_edit_comparison_table_rows():
    from types import SimpleNamespace

    from helpers.tables import edit_comparison_table

    ours = SimpleNamespace(unknowns=12345, max_residual=2.5e-7, seconds=0.0421)
    with_cv = SimpleNamespace(opencv=object(), opencv_seconds=0.0031, difference=1.25)
    without_cv = SimpleNamespace(opencv=None)
    text = edit_comparison_table(
        {"color": ours, "flatten": ours, "seamless tiling": ours},
        {"color": with_cv, "flatten": without_cv},
    )
    header, rule, *rows = text.splitlines()
    assert header.split("  ")[0] == "edit" and set(rule) <= {"-", " "}
    assert rows[0].split() == ["color", "12,345", "2.5e-07", "42", "3", "1.2", "levels"]
    assert rows[1].split()[-2:] == ["not", "installed"] and rows[2].split()[-2:] == ["-", "-"]
