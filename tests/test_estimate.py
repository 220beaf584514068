"""The report's estimate before a run (issue 25): the last run's seconds from results.json, the
profile's constant times one short timing where there is none, and the refusal of a run
estimated at over an hour on a CPU without a terminal and without ``--yes``.

No test here compares an estimate with a wall-clock time (the report prints both side by side).
"""

from __future__ import annotations

import io
import math
import sys
from pathlib import Path

import pytest
import torch
from badinput import assert_clean_error, run_cli

from helpers import report
from helpers.report import estimate

ROOT = Path(__file__).resolve().parent.parent


def _plan(*stems: str) -> list[tuple[Path, dict]]:
    return [(Path("notebooks") / f"{stem}.ipynb", {}) for stem in stems]


def _results(path: Path, *runs: tuple[str, str, float, str]) -> Path:
    """A results.json as the runner writes it: (notebook, status, seconds, profile) each."""
    path.parent.mkdir(parents=True, exist_ok=True)
    results = [
        report.NotebookResult(nb, status, seconds, profile, device="cpu (2 threads)")
        for nb, status, seconds, profile in runs
    ]
    return report.save_results(results, path)


def _no_timing(*_a, **_k):
    raise AssertionError("nothing should be timed")


def test_the_last_passed_run_under_the_profile_is_the_estimate(tmp_path, monkeypatch):
    path = _results(
        tmp_path / "results.json",
        ("01-a", "passed", 12.5, "quick"),
        ("02-b", "passed", 3.0, "smoke"),  # another profile: not this one's time
        ("03-c", "failed", 99.0, "quick"),  # a failed run says nothing about a whole one
    )
    monkeypatch.setattr(estimate, "calibrate", _no_timing)  # the timing is given here
    series = estimate.estimate_series(
        _plan("01-a", "02-b", "03-c", "04-new"),
        "quick",
        device="cpu",
        results=path,
        calibration=0.01,
    )
    fallback = estimate.KERNEL_SECONDS + estimate.PROFILE_UNITS["quick"] * 0.01
    assert series.seconds == {
        "01-a": 12.5,
        "02-b": pytest.approx(fallback),
        "03-c": pytest.approx(fallback),
        "04-new": pytest.approx(fallback),  # a notebook with no entry at all
    }
    sources = {e.notebook: (e.source, e.device) for e in series.notebooks}
    assert sources["01-a"] == (estimate.LAST_RUN, "cpu (2 threads)")
    assert {s for s, _ in list(sources.values())[1:]} == {estimate.CALIBRATED}
    assert series.total == pytest.approx(12.5 + 3 * fallback)
    assert "last quick run" in series.notebooks[0].describe("quick")
    assert "no quick run recorded" in series.notebooks[3].describe("quick")


def test_without_results_json_each_notebook_is_the_profiles_constant_times_one_timing(
    tmp_path, monkeypatch
):
    timings = []
    monkeypatch.setattr(estimate, "calibrate", lambda device: timings.append(device) or 0.02)
    totals = {}
    for profile in report.PROFILES:
        series = estimate.estimate_series(
            _plan("01-a", "02-b"), profile, device="cpu", results=tmp_path / "missing.json"
        )
        one = estimate.KERNEL_SECONDS + estimate.PROFILE_UNITS[profile] * 0.02
        assert series.seconds == {"01-a": pytest.approx(one), "02-b": pytest.approx(one)}
        assert series.calibration == 0.02 and series.device.startswith("cpu")
        totals[profile] = series.total
    assert len(timings) == len(report.PROFILES)  # one timing per estimate, not per notebook
    assert totals["smoke"] < totals["quick"] < totals["full"]


def test_a_series_that_ran_before_is_estimated_without_timing_anything(tmp_path, monkeypatch):
    path = _results(
        tmp_path / "results.json", ("01-a", "passed", 4.0, "smoke"), ("02-b", "passed", 6, "smoke")
    )
    monkeypatch.setattr(estimate, "calibrate", _no_timing)
    series = estimate.estimate_series(_plan("01-a", "02-b"), "smoke", device="cpu", results=path)
    assert series.seconds == {"01-a": 4.0, "02-b": 6.0} and series.calibration is None


def test_an_unreadable_results_json_is_no_last_run(tmp_path):
    bad = tmp_path / "results.json"
    bad.write_text("{ not json")
    assert estimate.last_runs("quick", bad) == {}
    bad.write_text('{"results": [{"notebook": "01-a"}]}')  # a record missing its fields
    assert estimate.last_runs("quick", bad) == {}
    assert estimate.last_runs("quick", tmp_path / "missing.json") == {}


def test_calibrate_times_one_evaluation_on_the_cpu():
    seconds = estimate.calibrate("cpu", repeats=1)
    assert math.isfinite(seconds) and 0 < seconds < 60


def test_the_cli_prints_the_last_runs_seconds(tmp_path, monkeypatch):
    outputs = tmp_path / "outputs"
    monkeypatch.setenv("HELPERS_OUTPUTS", str(outputs))
    notebooks = report.discover(ROOT / "notebooks")
    _results(
        outputs / "notebooks" / "results.json",
        *((nb.stem, "passed", 10, "full") for nb in notebooks),
    )
    monkeypatch.setattr(estimate, "calibrate", _no_timing)
    ran = []
    monkeypatch.setattr(report, "run_series", lambda *a, **k: ran.append(k["estimates"]) or [])
    result = run_cli("report", "--profile", "full", "--no-render")
    assert result.code == 0, result.stderr
    assert "estimate 04-style-transfer: 10 s (its last full run, on cpu (2 threads))" in (
        result.stdout
    )
    assert ran == [{nb.stem: 10.0 for nb in notebooks}]  # kept beside the measured times


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


def test_each_profiles_last_seconds_outlive_a_run_of_another(tmp_path, monkeypatch):
    """A smoke run after a quick one: results.json shows the smoke series, and still holds the
    quick run's seconds, so the next quick estimate reads them instead of guessing."""
    from helpers.report import run as run_module

    notebook = ROOT / "notebooks" / "05-gradient-toy-problem.ipynb"
    measured = {"quick": 6.5, "smoke": 3.25}

    def run_notebook(nb, *, profile, **_kwargs):  # no kernel: the seconds are the point
        return report.NotebookResult(nb.stem, "passed", measured[profile], profile, device="cpu")

    monkeypatch.setattr(run_module, "run_notebook", run_notebook)
    out = tmp_path / "notebooks"
    report.run_series([notebook], profile="quick", out_dir=out)
    report.run_series([notebook], profile="smoke", out_dir=out)
    path = out / "results.json"
    assert [r.profile for r in report.load_results(path)] == ["smoke"]  # the series shown
    assert estimate.last_runs("quick", path)[notebook.stem].seconds == 6.5
    assert estimate.last_runs("smoke", path)[notebook.stem].seconds == 3.25
    monkeypatch.setattr(estimate, "calibrate", _no_timing)
    series = estimate.estimate_series([(notebook, {})], "quick", device="cpu", results=path)
    assert series.seconds == {notebook.stem: 6.5} and series.calibration is None
