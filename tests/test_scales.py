"""Coarse to fine through ``nst.stylize(scales=...)`` (``helpers.nst.scales``): the plan, the
stages each from the last, one scale by default, and the CLI's ``--scales``/``--steps``."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import nst
from helpers.cli import main
from helpers.errors import UserError
from helpers.images import load_image, save_image, target_shape
from helpers.nst import scales


@pytest.fixture
def photo():
    """A 72x96 smooth content image and a 40x40 noise style image."""
    yy, xx = np.mgrid[0:72, 0:96]
    content = np.stack([xx / 95, yy / 71, 0.5 * (xx / 95 + yy / 71)], axis=2).astype(np.float32)
    style = np.random.default_rng(0).random((40, 40, 3)).astype(np.float32)
    return content, style


def test_plan():
    assert scales.plan(None, 5, batch=False) is None
    assert scales.plan("none", 5, batch=False) is None
    assert scales.plan([24, 48], [3, 2], batch=False) == [(24, 3), (48, 2)]
    assert scales.plan([24, 48], 4, batch=False) == [(24, 4), (48, 4)]
    with pytest.raises(UserError, match=r"several step counts \[3, 2\] need as many scales"):
        scales.plan(None, [3, 2], batch=False)
    with pytest.raises(UserError, match="give increasing sizes"):
        scales.plan("auto", 5, batch=False)
    with pytest.raises(UserError, match="one style at a time"):
        scales.plan([24, 48], 4, batch=True)
    with pytest.raises(UserError, match="must increase"):
        scales.plan([48, 24], 4, batch=False)


def test_scales_run_each_stage_from_the_last(photo, fast, monkeypatch):
    content, style = photo
    calls = []
    real = nst.experiments.stylize

    def spy(c, s, **kwargs):
        calls.append(kwargs)
        return real(c, s, **kwargs)

    monkeypatch.setattr(nst.experiments, "stylize", spy)  # what each stage calls
    res = nst.stylize(
        content, style, scales=[24, 48, 96], steps=[6, 4, 5], size=999, ratio=1e-2, **fast
    )
    assert [(k["size"], k["steps"], k["scales"]) for k in calls] == [
        (24, 6, None),
        (48, 4, None),
        (96, 5, None),
    ]
    assert calls[0]["init"] == "content"
    for n, later in zip((24, 48), calls[1:]):  # each stage starts from the last one's image
        assert later["init"].shape == (*target_shape((72, 96), n), 3)
    assert res.image.shape == content.shape  # the last scale, not size=999
    assert [s["evaluations"] for s in res.stages] == [6, 4, 5] and res.evaluations == 5
    assert res.seconds >= sum(s["seconds"] for s in res.stages)
    text = "coarse to fine, 6 evaluations at 24 px + 4 at 48 px + 5 at 96 px"
    assert text in res.summary() and scales.schedule_text(res) == text


def test_one_scale_by_default_and_in_comparisons(photo, fast):
    content, style = photo
    one = nst.stylize(content, style, steps=4, ratio=1e-2, **fast)
    assert one.stages is None and one.evaluations == 4
    assert scales.schedule_text(one) == "one scale, 4 evaluations at 96x72 px"
    out = nst.compare_multiscale(content, style, scales=[48, 96], steps=[3, 2], ratio=1e-2, **fast)
    assert out["single"].stages is None and out["single"].image.shape == content.shape


@pytest.fixture
def cli(tmp_path, photo, random_weights, capsys):
    """``cli(*argv)`` -> (exit code, stdout, stderr, output path) of ``stylize`` on the photo
    with the random VGG-19."""
    content, style = photo
    save_image(tmp_path / "c.png", content)
    save_image(tmp_path / "s.png", style)
    out = tmp_path / "out.png"

    def run(*argv):
        code = main(
            ["stylize", str(tmp_path / "c.png"), str(tmp_path / "s.png"), "-o", str(out)]
            + ["--weights", random_weights, "--no-progress", *argv]
        )
        stdout, stderr = capsys.readouterr()
        return code, stdout, stderr, out

    return run


def test_cli_scales_and_none(cli):
    code, stdout, _, out = cli("--scales", "24,48,96", "--steps", "2,3,4")
    assert code == 0 and "2 evaluations at 24 px + 3 at 48 px + 4 at 96 px" in stdout
    assert load_image(out).shape == (72, 96, 3)
    code, stdout, _, out = cli("--size", "48", "--steps", "4", "--scales", "none")
    assert code == 0 and "coarse to fine" not in stdout and "4 evaluations" in stdout
    assert load_image(out).shape == (36, 48, 3)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--size", "48", "--steps", "2,3"], "there is no --scales; give one value"),
        (["--steps", "2,3", "--scales", "none"], "--scales is none; give one value"),
    ],
)
def test_cli_refuses_step_counts_without_scales(cli, argv, message):
    code, _, stderr, out = cli(*argv)
    assert code == 2 and message in stderr and len(stderr.strip().splitlines()) == 1
    assert not out.exists()
