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


# --- style transfer: helpers.nst returns rows, helpers.tables lays them out --------------------


def test_run_comparison_table_lines():
    from helpers.nst import RunComparison, RunRow
    from helpers.tables import run_comparison_table

    compared = RunComparison(
        level=1234.5,
        rows=(
            RunRow("lbfgs", 1000.25, 3.5e-3, 998.0, 50, 12.345, 0.2469, 20),
            RunRow("adam", 1234.5, 2.0, 1200.0, 300, 45.0, 0.15, None),
        ),
    )
    assert run_comparison_table(compared).splitlines() == [
        "run    total  content  style  evals  seconds  s/eval  evals to 1.23e+03",
        "lbfgs   1000   0.0035    998     50     12.3   0.247                 20",
        "adam    1234        2   1200    300     45.0   0.150                  -",
    ]


def test_layer_losses_and_practice_tables_lines():
    from helpers.nst import LayerLoss, PracticeRow
    from helpers.tables import layer_losses_table, practice_table

    layers = [
        LayerLoss("content:relu4_2", 1.0, 1.5e-9, 2.0),
        LayerLoss("style:relu1_1", 0.2, 986.0, 307.5),
    ]
    assert layer_losses_table(layers).splitlines() == [
        "layer            weight    first   last",
        "content:relu4_2    1.00  1.5e-09      2",
        "style:relu1_1      0.20      986  307.5",
    ]
    rows = [PracticeRow("pooling", "avg pooling (paper)", 1.23456e5, 40, 3.25)]
    assert practice_table(rows).splitlines() == [
        "choice   setting              final loss  evals  seconds",
        "pooling  avg pooling (paper)   1.235e+05     40      3.2",
    ]


def test_recipes_and_architecture_tables():
    from helpers.nst import RECIPES
    from helpers.tables import architecture_table, recipes_table

    lines = recipes_table([RECIPES["gatys"], RECIPES["cmu"]]).splitlines()
    assert lines[0].split() == ["setting", "gatys", "cmu"]
    assert lines[1].split() == ["weights", "caffe", "caffe"] and len(lines) == 14
    rows = [
        {"name": "input_norm", "module": "InputNorm()", "output": (1, 3, 8, 8), "hooked": False},
        {"name": "relu1_1", "module": "ReLU()", "output": (1, 64, 8, 8), "hooked": True},
    ]
    assert architecture_table(rows).splitlines() == [
        "layer       output (B, C, H, W) module",
        " input_norm (1, 3, 8, 8)        InputNorm()",
        "*relu1_1    (1, 64, 8, 8)       ReLU()",
    ]
