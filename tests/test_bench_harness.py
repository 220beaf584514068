"""benchmarks/bench_style.py stays in step with helpers.nst: its rows are computed from what it
measured (not just printed), on the random-weight VGG-19 (``bench_style.WEIGHTS`` set to the
``random_weights`` fixture) and 32x32 synthetic images (no weights, no sample images), in a few
seconds.  Timings are not checked (benchmarks, not tests)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from benchmarks import bench_style
from benchmarks.common import format_table


@pytest.fixture
def tiny(monkeypatch, tmp_path, random_weights):
    monkeypatch.setattr(bench_style, "WEIGHTS", random_weights)
    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    content = np.stack([xx, yy, 0.5 * (xx + yy)], axis=2).astype(np.float32)
    style = np.random.default_rng(0).random((32, 32, 3)).astype(np.float32)
    monkeypatch.setattr(bench_style, "_pair", lambda size: (content, style))
    monkeypatch.setattr(bench_style, "RESULTS_DIR", tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the benchmarks run (bench_style.threads())
    yield tmp_path
    torch.set_num_threads(threads)


def test_loop_overhead_rows_are_the_medians_of_the_interleaved_samples(tiny):
    rows = bench_style.loop_overhead(size="32x32", evals=5, skip=1)
    samples = rows[0].extra["samples"]
    # one sample of each per loop evaluation after the first (the callback runs after each)
    assert len(samples["loop"]) == 4 and len(samples["bare"]) == len(samples["floor"]) == 5
    med = {k: float(np.median(v[1:])) for k, v in samples.items()}
    assert rows[0].value == pytest.approx(med["loop"] / med["bare"])
    assert rows[0].ok == (rows[0].value <= 1.05)
    assert rows[1].value == pytest.approx(med["floor"] / med["bare"])
    assert rows[3].value == pytest.approx(med["bare"])


def test_convergence_counts_the_first_evaluation_at_or_below_the_reference(tiny):
    rows = bench_style.convergence(size=32, adam_steps=12, budget=10, target=6, cache=False,
                                   png="curves.png")
    main = rows[0]
    curve = main.extra["default_curve"]
    level = main.extra["level"]
    hits = [e for e, t in zip(curve["evaluations"], curve["total"]) if t <= level]
    # every evaluation recorded
    assert curve["evaluations"] == list(range(1, len(curve["total"]) + 1))
    if hits:
        assert main.value == hits[0] and main.ok == (hits[0] <= 6)
    else:
        assert math.isnan(main.value) and main.ok is False
    assert level <= main.extra["reference"]["final_total"]
    assert (tiny / "curves.png").stat().st_size > 0


def test_batched_grid_and_table(tiny):
    rows = bench_style.batched_grid(size=32, steps=2, repeats=1, subset=2)
    times = rows[0].extra["times"]
    assert rows[0].value == pytest.approx(times["sequential"][0] / times["batched"][0])
    assert "(4 configs)" in rows[0].name
    assert rows[0].extra["image_diff"] < 1e-3  # the same optimisation, batched or not
    table = format_table(rows)
    assert rows[0].name in table and "nan" in table  # the unmeasured GPU row is shown, not dropped
