"""A report run replaces a notebook's outputs only when that notebook succeeds (issue 19).

A tiny fake series (01-first, 02-second, each saving an image and metrics through NotebookRun)
runs once under the quick profile; then a smoke run is stopped in its second notebook, or a run
fails in a notebook, and the test looks at what is left: the new result where a notebook passed,
the previous one, byte for byte, where it did not, the attempt kept beside it, and a report that
still renders and says that the chapters now come from two profiles.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import interruptible

from helpers import report

v4 = nbformat.v4

FIRST = """\
import numpy as np
from helpers.notebook import NotebookRun
run = NotebookRun("01-first", seed=SEED, device="cpu", profile=PROFILE)
run.save_image("result", np.full((4, 6, 3), 0.25 if PROFILE == "quick" else 0.75))
if FAIL:
    raise ValueError("deliberate failure")
run.save_metrics(value=1.0)"""

SECOND = """\
import os, time
import numpy as np
from helpers.notebook import NotebookRun
from helpers.runtime import outputs_dir
(outputs_dir("02-second") / "kernel.pid").write_text(str(os.getpid()))
time.sleep(SLEEP)
run = NotebookRun("02-second", seed=SEED, device="cpu", profile=PROFILE)
run.save_image("result", np.full((4, 6, 3), 0.5))
run.save_metrics(value=2.0)"""


def _notebook(title: str, parameters: str, code: str) -> nbformat.NotebookNode:
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    params = v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [v4.new_markdown_cell(f"# {title}\nA fake chapter."), params, v4.new_code_cell(code)]
    return nb


@pytest.fixture
def series(tmp_path, monkeypatch):
    """The fake series, run once under the quick profile into ``tmp_path/outputs``."""
    nbs, configs, out = tmp_path / "notebooks", tmp_path / "configs", tmp_path / "outputs"
    nbs.mkdir()
    common = 'PROFILE = "quick"  # str: profile\nSEED = 0  # int: seed\n'
    first = _notebook("First", common + "FAIL = False  # bool: fail on purpose", FIRST)
    second = _notebook("Second", common + "SLEEP = 0.0  # float: seconds", SECOND)
    nbformat.write(first, str(nbs / "01-first.ipynb"))
    nbformat.write(second, str(nbs / "02-second.ipynb"))
    for profile, fail, sleep in (("quick", False, 0), ("smoke", False, 120), ("full", True, 0)):
        (configs / profile).mkdir(parents=True)
        (configs / profile / "01-first.yaml").write_text(f"PROFILE: {profile}\nFAIL: {fail}\n")
        (configs / profile / "02-second.yaml").write_text(f"PROFILE: {profile}\nSLEEP: {sleep}\n")
    monkeypatch.setenv("HELPERS_OUTPUTS", str(out))
    results = report.run_series(report.discover(nbs), profile="quick", configs=configs)
    assert [r.status for r in results] == ["passed", "passed"]
    return {"notebooks": nbs, "configs": configs, "out": out}


def _snapshot(*paths: Path) -> dict[Path, bytes]:
    files = []
    for path in paths:
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {p: p.read_bytes() for p in files}


def _wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _metrics(out: Path, stem: str) -> dict:
    return json.loads((out / stem / "metrics.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_run_stopped_in_its_second_notebook_keeps_both_results_whole(series, sig):
    out = series["out"]
    previous = _snapshot(out / "02-second", out / "notebooks" / "02-second.ipynb")
    cmd = [
        sys.executable,
        "-m",
        "helpers",
        "report",
        "--notebooks",
        str(series["notebooks"]),
        "--configs",
        str(series["configs"]),
    ]
    proc = interruptible([*cmd, "--profile", "smoke", "--no-render"], env=os.environ.copy())
    try:
        started = _wait_for(lambda: any(out.glob(".02-second.staging-*/kernel.pid")), 240)
        assert started, "the second notebook never started"
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=180)
    finally:
        proc.kill()
    assert proc.returncode == 130, (stdout, stderr)

    # the first notebook's new (smoke) result is in place, complete
    assert _metrics(out, "01-first")["profile"] == "smoke"
    assert (out / "01-first" / "result.png").is_file()
    executed = nbformat.read(str(out / "notebooks" / "01-first.ipynb"), as_version=4)
    assert executed.metadata["helpers"]["profile"] == "smoke"
    assert {"seed", "device", "commit"} <= set(executed.metadata["helpers"])
    # the second notebook's previous (quick) result is untouched; the attempt is kept beside it
    assert _snapshot(out / "02-second", out / "notebooks" / "02-second.ipynb") == previous
    assert (out / "02-second.failed" / "kernel.pid").is_file()
    assert not [p for p in out.rglob(".*")], "staging folders or temporary files were left"
    saved = {r.notebook: r.profile for r in report.load_results(out / "notebooks" / "results.json")}
    assert saved == {"01-first": "smoke", "02-second": "quick"}

    # the report still renders, and says the chapters come from two profiles
    rendered = subprocess.run(
        [*cmd, "--render-only"], env=os.environ.copy(), capture_output=True, text=True, timeout=120
    )
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    index = (out / "report" / "index.html").read_text()
    assert "Mixed profiles" in index and "the smoke profile, the others under quick" in index
    assert (out / "report" / "02-second.html").is_file()


@pytest.mark.slow
def test_a_failing_notebook_keeps_its_previous_folder(series):
    out, nbs = series["out"], series["notebooks"]
    previous = _snapshot(out / "01-first", out / "notebooks" / "01-first.ipynb")
    [failed] = report.run_series(
        report.discover(nbs, ["01"]), profile="full", configs=series["configs"], keep_others=True
    )
    assert failed.status == "failed" and "deliberate failure" in failed.failed.error
    assert _snapshot(out / "01-first", out / "notebooks" / "01-first.ipynb") == previous
    # the attempt is kept for inspection: its image (saved before the failure) and its notebook
    assert (out / "01-first.failed" / "result.png").is_file()
    assert failed.executed == str(out / "notebooks" / "01-first.failed.ipynb")
    assert "deliberate failure" in Path(failed.executed).read_text()

    # a later successful run replaces the folder and removes the failed attempt
    [passed] = report.run_series(
        report.discover(nbs, ["01"]), profile="smoke", configs=series["configs"], keep_others=True
    )
    assert passed.ok and _metrics(out, "01-first")["profile"] == "smoke"
    assert not (out / "01-first.failed").exists()
    assert not (out / "notebooks" / "01-first.failed.ipynb").exists()
