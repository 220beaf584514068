"""Faults (issue 7): interrupted or failing writers never leave a partial file, a run whose loss
turns non-finite stops naming the evaluation and the likely cause, Ctrl-C during a blend stops
cleanly.

Already covered elsewhere (not repeated): a huge Adam learning rate
(tests/test_transfer.py::test_huge_learning_rate_is_caught_with_evaluation_and_cause and
tests/test_cli_stylize.py::test_bad_settings_exit_2_with_one_line_and_no_output[extra13-...]),
Ctrl-C during stylize with and without --save-on-interrupt (tests/test_cli_stylize.py, in-process
and as a real SIGINT), and a `report` run killed by SIGTERM/SIGINT mid-notebook
(tests/test_report.py::test_killed_run_leaves_no_partial_file_and_the_next_run_completes).
Those kill the run while a notebook executes; the tests here interrupt the writers themselves,
at the worst moment: temporary file written, rename not yet done.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import matplotlib
import nbformat
import numpy as np
import pytest
from badinput import assert_clean_error, hashes, leftovers, record, run_cli
from PIL import Image

from helpers import gdf, images, report
from helpers.notebook import NotebookRun
from helpers.nst import vgg

matplotlib.use("Agg")


def _old_and_new(tmp_path: Path, monkeypatch) -> dict[str, tuple]:
    """writer name -> (final path, write the old version, write the new version)."""
    monkeypatch.setenv("HELPERS_OUTPUTS", str(tmp_path / "outputs"))
    import matplotlib.pyplot as plt

    def figure(value):
        fig, ax = plt.subplots(figsize=(1, 1))
        ax.plot([0, 1], [0, value])
        return fig

    run = NotebookRun("07-faults", seed=0, device="cpu", profile="smoke")
    out = run.out
    return {
        "images.save_image": (
            tmp_path / "img.png",
            lambda: images.save_image(tmp_path / "img.png", np.ones((4, 5, 3))),
            lambda: images.save_image(tmp_path / "img.png", np.zeros((4, 5, 3))),
        ),
        "NotebookRun.save_image": (
            out / "result.png",
            lambda: run.save_image("result", np.ones((4, 5, 3))),
            lambda: run.save_image("result", np.zeros((4, 5, 3))),
        ),
        "NotebookRun.save_metrics": (
            out / "metrics.json",
            lambda: run.save_metrics(loss=1.0),
            lambda: run.save_metrics(loss=2.0),
        ),
        "NotebookRun.save_figure": (
            out / "curve.png",
            lambda: run.save_figure(figure(1), "curve", caption="A curve."),
            lambda: run.save_figure(figure(2), "curve", caption="A curve."),
        ),
    }


WRITERS = [
    "images.save_image",
    "NotebookRun.save_image",
    "NotebookRun.save_metrics",
    "NotebookRun.save_figure",
]


def _interrupt_before_rename(
    monkeypatch, *, truncate: bool = True, exc: BaseException | None = None
) -> list:
    """Make the next ``os.replace`` (the atomic rename) fail as if the process were interrupted
    right then, with the temporary file cut to half its size."""
    calls = []

    def replace(src, dst, *a, **k):
        calls.append((Path(src), Path(dst)))
        if truncate and Path(src).is_file():
            data = Path(src).read_bytes()
            Path(src).write_bytes(data[: len(data) // 2])
        raise exc if exc is not None else KeyboardInterrupt

    monkeypatch.setattr(os, "replace", replace)
    return calls


@pytest.mark.parametrize("writer", WRITERS)
def test_interrupted_writer_keeps_the_old_file_and_no_temporary(writer, tmp_path, monkeypatch):
    """Images, metrics and figures: an interrupt between writing and renaming leaves the previous
    complete file byte-identical and no temporary beside it."""
    final, write_old, write_new = _old_and_new(tmp_path, monkeypatch)[writer]
    write_old()
    before = final.read_bytes()
    calls = _interrupt_before_rename(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        write_new()
    assert calls and calls[0][1] == final, (
        "the writer does not go through a temporary file and a rename"
    )
    assert final.read_bytes() == before
    assert leftovers(final) == [final.name], leftovers(final)
    record(f"fault/interrupted-{writer}", "works: previous file kept, no temporary left")


def test_interrupted_report_rendering_keeps_the_old_pages(tmp_path, monkeypatch):
    """Report pages are rendered into a staging folder: an interrupt while writing them leaves the
    previous report complete and no staging folder."""
    monkeypatch.setenv("HELPERS_OUTPUTS", str(tmp_path / "outputs"))
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    cell = nbformat.v4.new_code_cell('PROFILE = "smoke"')
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Faults\nA page."), cell]
    executed = tmp_path / "outputs" / "notebooks" / "01-page.ipynb"
    executed.parent.mkdir(parents=True)
    nbformat.write(nb, str(nbs / "01-page.ipynb"))
    nbformat.write(nb, str(executed))
    results = [report.NotebookResult("01-page", "passed", 1.0, "smoke", executed=str(executed))]
    index = report.render_report(results, notebooks=nbs, configs=tmp_path / "configs")
    folder = index.parent
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert set(before) == {"01-page.html", "index.html"}
    _interrupt_before_rename(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        report.render_report(results, notebooks=nbs, configs=tmp_path / "configs")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert sorted(p.name for p in folder.parent.iterdir()) == [
        "notebooks",
        "report",
    ]  # no .report.new-* staging folder
    record(
        "fault/interrupted-report-rendering", "works: previous pages kept, no staging folder left"
    )


def test_disk_full_is_one_clear_line_and_no_partial_file(tmp_path, monkeypatch):
    """A full disk while the result is written: `error: cannot write OUT (No space left on device)
    ...`, exit 2, nothing under the final name, no temporary."""
    rng = np.random.default_rng(0)
    src, tgt = tmp_path / "s.png", tmp_path / "t.png"
    Image.fromarray((rng.random((10, 12, 3)) * 255).astype(np.uint8)).save(src)
    Image.fromarray((rng.random((10, 12, 3)) * 255).astype(np.uint8)).save(tgt)
    mask = np.zeros((10, 12), np.uint8)
    mask[3:7, 3:9] = 255
    Image.fromarray(mask, "L").save(mpath := tmp_path / "m.png")
    before = hashes([src, tgt, mpath])
    out = tmp_path / "out" / "blend.png"
    out.parent.mkdir()
    _interrupt_before_rename(monkeypatch, exc=OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    result = run_cli("blend", src, tgt, mpath, "-o", out)
    record("fault/disk-full-while-writing", result)
    assert_clean_error(
        result,
        output=out,
        inputs_before=before,
        contains=("cannot write", "blend.png", "no space left", "free some space"),
    )
    assert list(out.parent.iterdir()) == []


def test_ctrl_c_during_blend_stops_cleanly(tmp_path, monkeypatch):
    """Ctrl-C while the solver runs: 'interrupted', exit 130, no output, inputs unchanged."""
    rng = np.random.default_rng(1)
    paths = []
    for name in ("s", "t"):
        Image.fromarray((rng.random((10, 12, 3)) * 255).astype(np.uint8)).save(
            p := tmp_path / f"{name}.png"
        )
        paths.append(p)
    mask = np.zeros((10, 12), np.uint8)
    mask[2:8, 2:10] = 255
    Image.fromarray(mask, "L").save(mpath := tmp_path / "m.png")
    before = hashes([*paths, mpath])

    def solve(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(gdf.blending, "solve", solve)
    out = tmp_path / "out.png"
    result = run_cli("blend", *paths, mpath, "-o", out)
    record("fault/ctrl-c-during-blend", result)
    assert (
        result.code == 130
        and result.stderr.strip() == "interrupted"
        and "Traceback" not in result.stderr
    )
    assert leftovers(out) == [] and hashes(before) == before


@pytest.fixture
def nan_weights(monkeypatch):
    """``--weights random`` whose first conv weights contain a NaN (a damaged file that slipped
    through): the public random set with one value spoiled."""
    real = vgg.random_state_dict

    def spoiled():
        state = {k: v.clone() for k, v in real().items()}  # the real set is cached: copy
        state["features.0.weight"][0, 0, 0, 0] = float("nan")
        return state

    monkeypatch.setattr(vgg, "random_state_dict", spoiled)


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_non_finite_loss_at_the_start_blames_the_weights_not_the_learning_rate(
    optimizer, nan_weights, tmp_path
):
    """NaN from the first evaluation on: stop at evaluation 1, name the weights and how to
    re-fetch them, write nothing."""
    rng = np.random.default_rng(2)
    content, style = tmp_path / "c.png", tmp_path / "s.png"
    Image.fromarray((rng.random((12, 12, 3)) * 255).astype(np.uint8)).save(content)
    Image.fromarray((rng.random((12, 12, 3)) * 255).astype(np.uint8)).save(style)
    before = hashes([content, style])
    out = tmp_path / "out.png"
    result = run_cli(
        "stylize",
        content,
        style,
        "-o",
        out,
        "--size",
        "12",
        "--steps",
        "5",
        "--optimizer",
        optimizer,
        "--content-layers",
        "conv1_2",
        "--style-layers",
        "conv1_1",
        "--no-progress",
        "--save-on-interrupt",
        "--weights",
        "random",
    )
    record(f"fault/nan-weights-{optimizer}", result)
    line = assert_clean_error(
        result,
        output=out,
        inputs_before=before,
        contains=("evaluation 1", "weights", "python -m helpers weights"),
    )
    assert "learning rate" not in line
