"""Files and folders the project writes get the modes a direct write would give (``0o666 &
~umask``, ``0o777 & ~umask``), and an output that cannot be written is refused before any work.

Covers issue 19: CLI outputs, figures, metrics.json, report pages, cached files (the one atomic
writer), staging folders; ``-o`` into an unwritable place: exit 2, one line, nothing computed.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from badinput import assert_clean_error, run_cli
from PIL import Image

matplotlib.use("Agg")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o022, 0o077], ids=["umask022", "umask077"])
def umask(request):
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


@pytest.fixture
def blend_files(tmp_path):
    rng = np.random.default_rng(0)
    source, target = (rng.integers(0, 256, (24, 30, 3), dtype=np.uint8) for _ in range(2))
    mask = np.zeros((24, 30), np.uint8)
    mask[6:18, 8:22] = 255
    paths = [tmp_path / "source.png", tmp_path / "target.png", tmp_path / "mask.png"]
    for path, array in zip(paths, (source, target, mask), strict=True):
        Image.fromarray(array).save(path)
    return paths


def test_cli_output_follows_the_umask(umask, blend_files, tmp_path):
    out = tmp_path / "blended.png"
    result = run_cli("blend", *blend_files, "-o", out)
    assert result.code == 0, result.stderr
    assert _mode(out) == 0o666 & ~umask  # 0644 under 022, 0600 under 077


def test_figure_metrics_and_staging_folder_follow_the_umask(umask, tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from helpers.notebook import NotebookRun
    from helpers.report import staging

    monkeypatch.setenv("HELPERS_OUTPUTS", str(tmp_path / "outputs"))
    stage = staging.Stage("01-modes", tmp_path / "outputs" / "notebooks")
    with stage.environment():
        run = NotebookRun("01-modes", device="cpu", profile="smoke")
        fig, ax = plt.subplots(figsize=(1, 1))
        ax.plot([0, 1])
        run.save_figure(fig, "line", caption="A line.")
        plt.close(fig)
        run.save_image("image", np.zeros((4, 4, 3)))
        run.save_metrics(value=1.0)
    stage.copy.write_text("{}")
    stage.commit()
    folder = tmp_path / "outputs" / "01-modes"
    assert _mode(folder) == 0o777 & ~umask
    for name in ("line.png", "image.png", "metrics.json"):
        assert _mode(folder / name) == 0o666 & ~umask, name
    assert _mode(tmp_path / "outputs" / "notebooks" / "01-modes.ipynb") == 0o666 & ~umask


def test_report_page_follows_the_umask(umask, tmp_path, monkeypatch):
    import nbformat

    from helpers import report

    monkeypatch.setenv("HELPERS_OUTPUTS", str(tmp_path / "outputs"))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Modes\nA page."), nbformat.v4.new_code_cell("1")]
    executed = tmp_path / "outputs" / "notebooks" / "01-modes.ipynb"
    executed.parent.mkdir(parents=True)
    nbformat.write(nb, str(executed))
    result = report.NotebookResult("01-modes", "passed", 1.0, "smoke", executed=str(executed))
    index = report.render_report([result], notebooks=tmp_path)
    assert _mode(index.parent) == 0o777 & ~umask
    for page in (index, index.parent / "01-modes.html"):
        assert _mode(page) == 0o666 & ~umask, page.name


def test_atomic_writer_follows_the_umask(umask, tmp_path):
    """The writer behind cached weights, fetched assets and every other file."""
    from helpers.runtime import atomic_write_bytes

    path = atomic_write_bytes(tmp_path / "weights.pth", b"\0" * 16)
    assert _mode(path) == 0o666 & ~umask and path.read_bytes() == b"\0" * 16
    assert [p.name for p in tmp_path.iterdir()] == ["weights.pth"]  # no temporary file left


# ----------------------------------------------------------------------------- unwritable -o

UNWRITABLE = [
    pytest.param(Path("/sys/helpers-out.png"), "Permission denied", id="sys"),
    pytest.param(Path("/proc/helpers-out.png"), "No such file", id="proc"),
]


def _unwritable(path: Path) -> None:
    if not path.parent.is_dir():
        pytest.skip(f"{path.parent} is not here")


@pytest.mark.parametrize(("out", "reason"), UNWRITABLE)
def test_blend_into_an_unwritable_place_computes_nothing(out, reason, blend_files, monkeypatch):
    from helpers import gdf

    _unwritable(out)

    def no_work(*_a, **_k):
        raise AssertionError("the output must be checked before any computation")

    monkeypatch.setattr(gdf, "blend", no_work)
    t0 = time.perf_counter()
    result = run_cli("blend", *blend_files, "-o", out)
    print(f"blend -o {out}: refused in {time.perf_counter() - t0:.3f} s")
    line = assert_clean_error(result, output=None, inputs_before={}, contains=str(out))
    assert reason.lower() in line.lower()


@pytest.mark.parametrize(("out", "reason"), UNWRITABLE)
def test_stylize_into_an_unwritable_place_computes_nothing(out, reason, blend_files, monkeypatch):
    from helpers import nst

    _unwritable(out)

    def no_work(*_a, **_k):
        raise AssertionError("the output must be checked before any computation")

    monkeypatch.setattr(nst, "stylize", no_work)
    t0 = time.perf_counter()
    result = run_cli("stylize", blend_files[0], blend_files[1], "-o", out, "--weights", "random")
    print(f"stylize -o {out}: refused in {time.perf_counter() - t0:.3f} s")
    line = assert_clean_error(result, output=None, inputs_before={}, contains=str(out))
    assert reason.lower() in line.lower()


def test_report_into_an_unwritable_outputs_folder_runs_nothing(tmp_path, monkeypatch):
    from helpers import report

    if not Path("/proc").is_dir():
        pytest.skip("/proc is not here")
    monkeypatch.setenv("HELPERS_OUTPUTS", "/proc/helpers-outputs")

    def no_run(*_a, **_k):
        raise AssertionError("the outputs folder must be checked before any notebook runs")

    monkeypatch.setattr(report, "run_series", no_run)
    result = run_cli("report", "--profile", "smoke")
    assert_clean_error(
        result, output=None, inputs_before={}, contains=("/proc/helpers-outputs", "cannot write")
    )
