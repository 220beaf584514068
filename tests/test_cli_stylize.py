"""``python -m helpers stylize``: success line, one-line errors with exit 2, no output on
failure, Ctrl-C.

Runs use ``--weights random`` (the ``random_weights`` fixture): the CLI's plumbing does not
depend on the trained weights.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import file_hashes, interruptible

from helpers import nst
from helpers.assets import asset_path
from helpers.cli import main
from helpers.images import load_image, save_image

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def inputs(tmp_path):
    """Two small images on disk."""
    g = np.random.default_rng(0)
    content = tmp_path / "content.png"
    style = tmp_path / "style.jpg"
    save_image(content, g.random((24, 32, 3)))
    save_image(style, g.random((40, 40, 3)))
    return content, style


@pytest.fixture
def stylize(capsys, random_weights):
    """``stylize(argv)`` -> (exit code, stdout, stderr) of ``python -m helpers stylize
    --weights random ARGV`` (a ``--weights`` in ARGV wins)."""

    def run(argv):
        code = main(["stylize", "--weights", random_weights, *map(str, argv)])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_success_writes_the_image_and_one_summary_line(inputs, tmp_path, stylize):
    content, style = inputs
    out = tmp_path / "out.png"
    code, stdout, _ = stylize(
        [content, style, "-o", out, "--size", "32", "--steps", "3", "--no-progress"]
    )
    assert code == 0
    image = load_image(out)
    assert image.shape == (24, 32, 3)
    lines = stdout.strip().splitlines()
    assert len(lines) == 1 and "3 evaluations (lbfgs)" in lines[0]
    assert "on cpu" in lines[0] and "total" in lines[0]


@pytest.fixture
def seen(monkeypatch) -> dict:
    """The keywords the CLI passes to ``nst.stylize`` (which still runs), filled per call."""
    kwargs_seen: dict = {}
    real = nst.stylize

    def spy(c, s, **kwargs):
        kwargs_seen.update(kwargs)
        return real(c, s, **kwargs)

    monkeypatch.setattr(nst, "stylize", spy)
    return kwargs_seen


def test_options_reach_the_loop(inputs, tmp_path, stylize, seen):
    content, style = inputs
    out = tmp_path / "o.png"
    code, _, _ = stylize(
        [
            content,
            style,
            "-o",
            out,
            "--size",
            "32x16",
            "--steps",
            "2",
            "--optimizer",
            "adam",
            "--lr",
            "0.01",
            "--init",
            "noise",
            "--ratio",
            "1e-3",
            "--content-layers",
            "conv3_1",
            "--style-layers",
            "conv1_1:1,conv2_1:3",
            "--tv-weight",
            "2",
            "--pooling",
            "max",
            "--seed",
            "5",
            "--no-progress",
        ]
    )
    assert code == 0 and load_image(out).shape == (16, 32, 3)
    assert seen["optimizer"] == "adam" and seen["lr"] == 0.01 and seen["init"] == "noise"
    assert seen["ratio"] == 1e-3 and seen["content_layers"] == {"conv3_1": 1.0}
    assert seen["style_layers"] == {"conv1_1": 0.25, "conv2_1": 0.75}
    assert seen["tv_weight"] == 2.0 and seen["pooling"] == "max" and seen["seed"] == 5
    assert seen["progress"] is False and seen["weights"] == "random"


def test_regulariser_flags_reach_the_loop_and_the_bar_goes_to_stderr(
    inputs, tmp_path, stylize, seen
):
    content, style = inputs
    out = tmp_path / "o.png"
    argv = [content, style, "-o", out, "--size", "32", "--steps", "2", "--edge-tv-weight", "0.5"]
    code, stdout, stderr = stylize(argv)
    assert code == 0 and seen["edge_tv_weight"] == 0.5 and seen["tv_weight"] == 0.0
    assert len(stdout.strip().splitlines()) == 1  # the summary line only
    assert "stylize" in stderr and "eval" in stderr  # the bar the CLI attached


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--steps", "0"], "--steps must be a positive"),
        (["--steps", "-5"], "--steps must be a positive"),
        (["--size", "0"], "must be positive"),
        (["--size", "abc"], "use N .longer side. or WxH"),
        (["--size", "8"], "at least 16 px"),
        (["--style-layers", "conv1_1,conv9_9"], "unknown style layer name.*valid names"),
        (["--style-layers", "conv1_1:-1,conv2_1"], "must be finite and >= 0"),
        (["--content-layers", "conv4_2:0"], "all content layer weights are zero"),
        (["--ratio", "1e-3", "--alpha", "1"], "either --ratio or --alpha/--beta"),
        (["--alpha", "0", "--beta", "0"], "alpha and beta are both 0"),
        (["--alpha", "-1", "--beta", "1"], "alpha must be finite and >= 0"),
        (["--edge-tv-weight", "-1"], "edge_tv_weight must be finite and >= 0"),
        (["--device", "cuda"], "no CUDA GPU"),
        (["--weights", "missing.pth"], "file not found"),
        (
            ["--optimizer", "adam", "--lr", "1e30", "--steps", "30"],
            "non-finite .*at evaluation.*learning rate",
        ),
    ],
)
def test_bad_settings_exit_2_with_one_line_and_no_output(inputs, tmp_path, stylize, extra, message):
    if extra[:2] == ["--device", "cuda"] and torch.cuda.is_available():
        pytest.skip("a GPU is present")
    content, style = inputs
    before = file_hashes(content, style)
    out = tmp_path / "out.png"
    code, stdout, stderr = stylize(
        [content, style, "-o", out, "--size", "32", "--steps", "2", "--no-progress", *extra]
    )
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert re.search(message, lines[0]), lines[0]
    assert not out.exists() and list(tmp_path.glob("*.part")) == []
    assert list(tmp_path.glob(".out.png*")) == []
    assert file_hashes(content, style) == before


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "file not found"),
        ("directory", "is a directory"),
        ("empty", "file is empty"),
        ("text", "not a readable image"),
        ("outdir", "output folder .* does not exist"),
        ("outsuffix", "unknown image suffix"),
        ("overwrite", "is an input image"),
    ],
)
def test_bad_files_exit_2(inputs, tmp_path, stylize, case, message):
    content, style = inputs
    out = tmp_path / "out.png"
    if case == "missing":
        content = tmp_path / "nope.png"
    elif case == "directory":
        content = tmp_path
    elif case == "empty":
        content = tmp_path / "empty.png"
        content.write_bytes(b"")
    elif case == "text":
        content = tmp_path / "text.png"
        content.write_text("not an image")
    elif case == "outdir":
        out = tmp_path / "missing" / "out.png"
    elif case == "outsuffix":
        out = tmp_path / "out.xyz"
    elif case == "overwrite":
        out = content
    before = file_hashes(content, style)
    code, _, stderr = stylize(
        [content, style, "-o", out, "--size", "32", "--steps", "1", "--no-progress"]
    )
    assert code == 2 and stderr.count("\n") == 1 and stderr.startswith("error: ")
    assert re.search(message, stderr), stderr
    assert file_hashes(content, style) == before
    if case != "overwrite":
        assert not out.exists()


@pytest.mark.parametrize("save", [False, True])
def test_ctrl_c_stops_cleanly_and_saves_only_if_asked(inputs, tmp_path, stylize, monkeypatch, save):
    content, style = inputs
    calls = {"n": 0}
    real_tell = nst.BatchedLBFGS.tell

    def tell(self, f, g):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real_tell(self, f, g)

    monkeypatch.setattr(nst.BatchedLBFGS, "tell", tell)
    out = tmp_path / "out.png"
    argv = [content, style, "-o", out, "--size", "32", "--steps", "50", "--no-progress"]
    argv += ["--save-on-interrupt"] if save else []
    code, _, stderr = stylize(argv)
    assert code == 130 and "interrupted after" in stderr
    assert not out.exists()
    saved = tmp_path / "out.interrupted.png"
    assert saved.exists() == save
    if save:
        assert load_image(saved).shape == (24, 32, 3) and "saved to" in stderr
    else:
        assert "nothing written" in stderr
        assert list(tmp_path.glob("*.png")) == [content]


@pytest.mark.weights
def test_real_sigint_in_a_subprocess(tmp_path):
    """A real SIGINT to a running `python -m helpers stylize` exits 130, saving only when asked."""
    out = tmp_path / "out.png"
    cmd = [
        sys.executable,
        "-m",
        "helpers",
        "stylize",
        str(asset_path("nst/content/tubingen.jpg")),
        str(asset_path("nst/style/starry_night.jpg")),
        "-o",
        str(out),
        "--size",
        "32",
        "--steps",
        "100000",
        "--save-on-interrupt",
    ]
    proc = interruptible(cmd, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        # wait until the progress bar shows evaluations, then interrupt
        deadline = time.monotonic() + 240  # generous: a loaded CI machine starts torch slowly
        seen = ""
        while time.monotonic() < deadline and "eval" not in seen:
            seen += proc.stderr.read(1)
        time.sleep(2.0)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=240)
    finally:  # never leave a 100000-step run behind to slow every later test
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "interrupted after" in err and "Traceback" not in err
    assert not out.exists() and (tmp_path / "out.interrupted.png").exists()
