"""benchmarks/ stays in step with helpers.nst: its rows are computed from what it measured (not
just printed), on the random-weight VGG-19 and 32x32 synthetic images (no weights, no sample
images), in a few seconds.  Timings are not checked (benchmarks, not tests)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from benchmarks import bench_quality, bench_style, peer
from benchmarks.common import format_table
from helpers import nst
from helpers.nst import quality


@pytest.fixture
def pair():
    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    content = np.stack([xx, yy, 0.5 * (xx + yy)], axis=2).astype(np.float32)
    style = np.random.default_rng(0).random((32, 32, 3)).astype(np.float32)
    return content, style


@pytest.fixture
def tiny(monkeypatch, tmp_path, random_weights, pair):
    for module in (bench_style, bench_quality):
        monkeypatch.setattr(module, "WEIGHTS", random_weights)
    monkeypatch.setattr(bench_quality, "RESULTS_DIR", tmp_path)
    monkeypatch.setattr(bench_style, "_pair", lambda size: pair)
    monkeypatch.setattr(bench_quality, "pair", lambda name, size: pair)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the benchmarks run (bench_style.threads())
    yield tmp_path
    torch.set_num_threads(threads)


def test_peer_computes_the_projects_objective(pair, random_weights):
    content, style = pair
    obj = bench_quality.objective(content.shape[:2])
    ours = nst.optimize(
        obj,
        content=content,
        style=style,
        steps=1,
        record_every=1,
        progress=False,
        device="cpu",
        weights=random_weights,
    )
    theirs = peer.initial_loss(obj, content, style, weights=random_weights)
    # written independently (loss modules, autograd Gram): the same number at the content image
    assert theirs == pytest.approx(float(ours.history.total[0, 0]), rel=1e-5)
    scored = quality.delivered_losses(
        [content], content, style, objective=obj, device="cpu", weights=random_weights
    )
    assert scored[0] == pytest.approx(
        peer.initial_loss(obj, quality.quantize(content), style, weights=random_weights), rel=1e-5
    )


def test_cost_rows_are_the_medians_of_the_samples(tiny):
    rows = bench_style.cost_per_evaluation(size=32, evals=4, rounds=1, skip=1)
    samples = rows[0].extra["samples"]
    assert len(samples["project"]) == 3 and len(samples["bare"]) == 3
    assert len(samples["peer"]) >= 3
    med = {k: float(np.median(v)) for k, v in samples.items()}
    assert rows[0].value == pytest.approx(med["project"] / med["peer"])
    assert rows[0].ok == (rows[0].value <= 0.85)
    assert rows[1].value == pytest.approx(med["project"] / med["bare"])


def test_quality_case_counts_the_first_sample_at_or_below_the_peers_level(tiny):
    curves: dict = {}
    rows = bench_quality.case(
        "Tübingen × Starry Night",
        32,
        budget=12,
        target=6,
        peer_evals=10,
        cache=False,
        curves=curves,
    )
    main = rows[0]
    project = main.extra["project"]
    level = main.extra["level"]
    hits = [e for e, t in zip(project["evaluations"], project["delivered"]) if t <= level]
    if hits:
        assert main.value == hits[0] and main.ok == (hits[0] <= 6)
    else:
        assert math.isnan(main.value) and main.ok is False
    # the bound-aware optimiser never leaves [0, 1]: its own loss is the delivered one up to the
    # 8-bit rounding
    np.testing.assert_allclose(project["iterate"], project["delivered"], rtol=0.05)
    bench_quality.plot({k: v for k, v in curves.items() if k != "_runs"}, tiny / "c.png")
    assert (tiny / "c.png").stat().st_size > 0


def test_batched_grid_and_table(tiny):
    rows = bench_style.batched_grid(size=32, steps=2, repeats=1, subset=2)
    times = rows[0].extra["times"]
    assert rows[0].value == pytest.approx(times["sequential"][0] / times["batched"][0])
    assert "(4 configs)" in rows[0].name
    assert rows[0].extra["image_diff"] < 1e-3  # the same optimisation, batched or not
    table = format_table(rows)
    assert rows[0].name in table and "nan" in table  # the unmeasured GPU row is shown, not dropped
