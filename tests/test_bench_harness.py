"""benchmarks/ stays in step with helpers.nst: its rows are computed from what it measured (not
just printed), on the random-weight VGG-19 and 32x32 synthetic images (no weights, no sample
images), in a few seconds.  Timings are not checked (benchmarks, not tests)."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks import bench_quality, bench_style, common, peer, quality
from benchmarks.common import format_table
from helpers import nst
from helpers.images import quantize, save_image

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture
def pair():
    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    content = np.stack([xx, yy, 0.5 * (xx + yy)], axis=2).astype(np.float32)
    style = np.random.default_rng(0).random((32, 32, 3)).astype(np.float32)
    return content, style


@pytest.fixture
def tiny(monkeypatch, tmp_path, random_weights, pair):
    monkeypatch.setattr(common, "WEIGHTS", random_weights)  # every benchmark reads it there
    monkeypatch.setattr(bench_quality, "RESULTS_DIR", tmp_path)
    monkeypatch.setattr(common, "pair", lambda name, size: pair)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the benchmarks run (common.threads())
    yield tmp_path
    torch.set_num_threads(threads)


def test_peer_computes_the_projects_objective(pair, random_weights):
    content, style = pair
    obj = common.objective(content.shape[:2])
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
        peer.initial_loss(obj, quantize(content), style, weights=random_weights), rel=1e-5
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


def _imported_benchmarks(path: Path) -> set[str]:
    """The ``benchmarks`` modules that ``path`` imports anywhere, function bodies included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 1:
            names = [node.module] if node.module else [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            names = [base] if base != "benchmarks" else [a.name for a in node.names]
        else:
            continue
        for name in names:
            name = name.removeprefix("benchmarks.")
            if (BENCHMARKS / f"{name.split('.')[0]}.py").is_file():
                found.add(name.split(".")[0])
    return found


def test_benchmark_modules_share_helpers_without_importing_each_other():
    """A benchmark imports the shared modules (common, peer, quality, ...), never another
    ``bench_*`` topic, so there is no import circle, not even inside a function."""
    graph = {p.stem: _imported_benchmarks(p) for p in BENCHMARKS.glob("*.py")}
    assert "common" in graph["bench_style"] and "common" in graph["bench_quality"]
    for module, imports in graph.items():
        if module != "__main__":
            assert not {m for m in imports if m.startswith("bench_")}, module

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    assert [m for m in graph if reaches(m, m, {m})] == []


def test_scales_benchmark_rows_figure_and_replot(monkeypatch, tmp_path, random_weights):
    """bench_scales end to end on the random VGG-19 at 64 px: a yardstick from the single
    scale, each schedule's trace on the same clock, the equal-time row, and the JSON that
    redraws the same rows."""
    from benchmarks import bench_scales

    monkeypatch.setattr(common, "WEIGHTS", random_weights)
    monkeypatch.setattr(bench_scales, "RESULTS_DIR", tmp_path)
    monkeypatch.setattr(bench_scales, "MARK", 2)
    schedules = {"32→64": ([32, 64], [4])}
    monkeypatch.setattr(bench_scales, "QUICK", {"size": 64, "single": 6, "schedules": schedules})
    g = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:64] / 63.0
    save_image(tmp_path / "c.png", np.stack([xx, yy, 0.5 * (xx + yy)], axis=2))
    save_image(tmp_path / "s.png", g.random((40, 40, 3)))
    monkeypatch.setattr(common, "PAIRS", {"synthetic": (tmp_path / "c.png", tmp_path / "s.png")})
    monkeypatch.setattr(common, "RESULTS_DIR", tmp_path)
    rows = bench_scales.run(quick=True)
    single, equal, reach = rows
    trace = single.extra
    assert trace["evaluations"][-1] == "6@64" and single.value == trace["seconds"][-1] > 0
    assert trace["seconds"] == sorted(trace["seconds"])  # one clock, scoring taken out
    sched = reach.extra
    assert sched["evaluations"][0] == "4@32" and sched["seconds"] == sorted(sched["seconds"])
    yardstick = trace["delivered"][-1]
    if sched["reached"] is None:  # stopped at the cap, never at or under the yardstick
        assert min(sched["delivered"]) > yardstick and np.isnan(reach.value)
    else:
        assert reach.value == pytest.approx(sched["reached"] / single.value)
    assert equal.value == pytest.approx(
        bench_scales.loss_at(bench_scales.Trace(**sched), 0.25 * single.value)
        / bench_scales.loss_at(bench_scales.Trace(**trace), 0.25 * single.value),
        nan_ok=True,
    )
    assert (tmp_path / "scales-curves.png").stat().st_size > 0
    again, info, _ = bench_scales.replot(common.write_results("scales", rows))
    assert [r.name for r in again] == [r.name for r in rows] and info["cpu_count"] > 0


def test_make_bench_leaves_out_the_half_hour_scales_benchmark():
    from benchmarks.__main__ import _available, default_topics

    assert "scales" in _available() and "scales" not in default_topics()
    assert set(_available()) - set(default_topics()) == {"scales"}
