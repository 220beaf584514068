"""Project set-up: the conda file, the Makefile's targets, the CLI's help, the ignore rules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_environment_yml_is_a_conda_environment():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert set(env) <= {"name", "channels", "dependencies", "variables", "prefix"}
    assert env["name"] and isinstance(env["channels"], list)
    deps = env["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    assert any(item.startswith("-e .") for item in pip)


def test_make_help_lists_the_main_targets():
    out = subprocess.run(
        ["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    for target in ("test", "report", "data", "weights", "bench", "lint"):
        assert f"make {target}" in out


def test_cli_help_lists_commands():
    out = subprocess.run(
        [sys.executable, "-m", "helpers", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "assets" in out and "weights" in out


def test_no_images_or_weights_are_tracked():
    """Nothing heavy is committed: no sample images, no weights.  The regression reference's
    crops (tests/reference/, small PNGs) are the one exception."""
    top = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=ROOT, capture_output=True, text=True
    )
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != ROOT:
        pytest.skip("not a git checkout of this project (e.g. an sdist): no tracked files to check")
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "pyproject.toml" in files and "helpers/__init__.py" in files  # a real listing
    heavy = [
        f
        for f in files
        if f.lower().endswith((".jpg", ".jpeg", ".png", ".pth", ".h5", ".npz", ".pt"))
        and not (f.startswith("tests/reference/") and (ROOT / f).stat().st_size < 100_000)
    ]
    assert heavy == []


def test_ignore_rules_keep_data_and_outputs_out():
    """Checked from .gitignore's text, so it holds (and can fail) without git too."""
    rules = {line.strip() for line in (ROOT / ".gitignore").read_text().splitlines()}
    assert {"/data/*", "!/data/assets.toml", "/outputs/*", ".venv/"} <= rules
    assert not any(rule.startswith("/tests") or rule in ("*.png", "*.json") for rule in rules)
