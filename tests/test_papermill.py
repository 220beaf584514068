"""Papermill as people use it: the plain ``papermill`` CLI, without the project's runner.

``papermill --help-notebook`` reads each notebook's parameters cell with its own parser, which
needs the comment format of :data:`helpers.report.params.PARAMETER_LINE`; the checks here
compare what papermill lists with what the report's parser reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from helpers import report

papermill = pytest.importorskip("papermill")

PAPERMILL = Path(sys.executable).with_name("papermill")
NOTEBOOKS = report.discover()


def _kernel() -> str:
    """``python3`` when it is this environment's kernel (so ``-k python3`` runs the venv)."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    in_env = Path(spec.resource_dir).resolve().is_relative_to(Path(sys.prefix).resolve())
    if not in_env or spec.argv[0] not in ("python", "python3", sys.executable):
        pytest.skip(f"kernel python3 is not this environment's ({spec.resource_dir})")
    return "python3"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_help_notebook_lists_every_parameter_with_type_and_help(notebook):
    listed = papermill.inspect_notebook(str(notebook))  # what --help-notebook prints
    ours = report.notebook_parameters(notebook)
    assert list(listed) == list(ours), "papermill skips a line: a second '=' on it?"
    for name, param in listed.items():
        assert param["help"], f"{name}: no help comment"
        assert param["inferred_type_name"] not in ("None", ""), (
            f"{name}: write '{name} = ...  # type: TYPE  help' (see params.PARAMETER_LINE)"
        )
        assert param["inferred_type_name"] == ours[name]["type"]
        assert param["help"] == ours[name]["help"]


def test_help_notebook_cli_prints_the_parameters():
    notebook = next(nb for nb in NOTEBOOKS if nb.stem.startswith("05"))
    out = subprocess.run(
        [str(PAPERMILL), "--help-notebook", str(notebook)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    for name, info in report.notebook_parameters(notebook).items():
        assert f"{name}:" in out.stdout and info["help"][:30] in out.stdout


def test_plain_papermill_runs_a_notebook_at_smoke_scale(tmp_path):
    notebook = next(nb for nb in NOTEBOOKS if nb.stem.startswith("05"))
    executed = tmp_path / "out.ipynb"
    env = {**os.environ, "HELPERS_OUTPUTS": str(tmp_path / "outputs")}
    config = report.configs_dir() / "smoke" / f"{notebook.stem}.yaml"
    out = subprocess.run(
        [
            str(PAPERMILL),
            str(notebook),
            str(executed),
            "-k",
            _kernel(),
            "-f",
            str(config),
            "-p",
            "SEED",
            "3",
            "--no-progress-bar",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    nb = nbformat.read(executed, as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    metrics = json.loads((tmp_path / "outputs" / notebook.stem / "metrics.json").read_text())
    assert metrics["profile"] == "smoke" and metrics["seed"] == 3
