"""The report's estimate before a run (issue 19): its arithmetic, its counts, and the refusal
of a run estimated at over an hour on a CPU without a terminal and without ``--yes``.

No test here compares an estimate with a wall-clock time (that was measured once and stated in
the issue's closing note).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
import torch
from badinput import assert_clean_error, run_cli

from helpers import report
from helpers.report import estimate

ROOT = Path(__file__).resolve().parent.parent


def test_notebook_seconds_is_the_documented_sum():
    speed = estimate.Speed("cpu", step=0.1, image=0.01, pixel=1e-6, figure=2.0, solve=1e-6)
    plan = estimate.Plan(
        "x",
        works=[estimate.Work(4, 1000, 10), estimate.Work(1, 500, 2)],
        figures=3,
        solve_pixels=1000,
    )
    by_hand = (
        estimate.KERNEL_SECONDS
        + 3 * 2.0
        + 10 * (0.1 + 4 * (0.01 + 1000 * 1e-6))
        + 2 * (0.1 + 1 * (0.01 + 500 * 1e-6))
        + 1000 * 1e-6
    )
    assert speed.notebook_seconds(plan) == pytest.approx(by_hand)
    # a notebook without a known workload still costs its kernel and figures
    assert speed.notebook_seconds(estimate.Plan("y", figures=1)) == pytest.approx(
        estimate.KERNEL_SECONDS + 2.0
    )


def test_every_notebook_is_modelled_and_the_profiles_grow():
    """WORKLOADS must follow the notebooks: each one's counts read under every profile, and
    the work grows from smoke to quick to full (pixels x images x evaluations, or pixels
    solved)."""
    for notebook in report.discover(ROOT / "notebooks"):
        work = []
        for profile in report.PROFILES:
            params = report.profile_parameters(notebook, profile, ROOT / "configs")
            plan = estimate.plan_notebook(notebook, params)
            assert plan.modelled, f"{notebook.stem}: add it to estimate.WORKLOADS"
            pixels = sum(w.images * w.pixels * w.evaluations for w in plan.works)
            work.append(pixels + plan.solve_pixels)
        assert work[0] <= work[1] <= work[2], (notebook.stem, work)
        assert work[2] > 0, notebook.stem


def test_an_unknown_notebook_is_estimated_from_kernel_and_figures(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("SEED = 0")
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell("run.save_figure(fig, 'a', caption='A.')")]
    path = tmp_path / "09-new.ipynb"
    nbformat.write(nb, str(path))
    plan = estimate.plan_notebook(path, {})
    assert not plan.modelled and plan.works == [] and plan.figures == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for a CPU-only machine")
def test_full_profile_without_a_terminal_or_yes_is_refused_with_the_estimate(tmp_path, monkeypatch):
    monkeypatch.setenv("HELPERS_OUTPUTS", str(tmp_path / "outputs"))
    monkeypatch.setattr(sys, "stdin", io.StringIO())  # no terminal

    def no_run(*_a, **_k):
        raise AssertionError("a refused run must not start")

    monkeypatch.setattr(report, "run_series", no_run)
    result = run_cli("report", "--profile", "full")
    line = assert_clean_error(
        result, output=None, inputs_before={}, contains=("estimated at", "--yes", "--profile quick")
    )
    hours = float(line.split("estimated at ")[1].split(" h ")[0])
    assert hours > 1
    # the per-notebook estimates went to stdout first, and the quick profile is named there too
    assert "estimate 04-style-transfer:" in result.stdout and "--profile quick" in result.stdout
