"""Shared benchmark plumbing: timing medians, result rows, machine description, JSON output.

A benchmark module ``benchmarks/bench_<topic>.py`` exposes ``run(quick: bool) -> list[Result]``.
Times are medians over repeats; ratios are measured side by side in the same process.
"""

from __future__ import annotations

import datetime as _dt
import gc
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Result:
    """One number with its target. ``ok`` is None where there is no target (informational)."""

    name: str
    value: float
    unit: str = ""
    target: str = ""
    ok: bool | None = None
    notes: str = ""
    extra: dict = field(default_factory=dict)


def median_time(fn: Callable[[], object], *, repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved_samples(
    fns: dict[str, Callable[[], object]], *, repeats: int = 5, warmup: int = 1
) -> dict[str, list[float]]:
    """Every time of several functions run alternately (A B A B ...), ``repeats`` each."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        # one collection per round, none inside a timing (a full collection of this process's
        # heap takes ~0.1-0.2 s once torch is imported: per call it dominated the benchmark)
        gc.collect()
        for name, fn in fns.items():
            gc.disable()
            try:
                t0 = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - t0)
            finally:
                gc.enable()
    return samples


@dataclass
class PairRatios:
    """``a``/``b`` from interleaved samples: the median of the per-pair ratios (each pair ran
    back to back, so load drift hits both), their sorted list and quartiles, and the median
    time of each side."""

    ratio: float
    ratios: list[float]
    q1: float
    q3: float
    a_s: float
    b_s: float


def pair_ratios(samples: dict[str, list[float]], a: str, b: str) -> PairRatios:
    """:class:`PairRatios` of ``samples[a]`` over ``samples[b]`` (from
    :func:`interleaved_samples`)."""
    ratios = sorted(x / y for x, y in zip(samples[a], samples[b]))
    q1, _, q3 = statistics.quantiles(ratios, n=4, method="inclusive")  # as np.percentile
    return PairRatios(
        statistics.median(ratios),
        ratios,
        q1,
        q3,
        statistics.median(samples[a]),
        statistics.median(samples[b]),
    )


def machine() -> dict:
    """Where the numbers were measured."""
    info = {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    except ImportError:  # pragma: no cover
        info["device"] = "cpu"
    return info


def write_results(topic: str, results: list[Result]) -> Path:
    """Write ``benchmarks/results/<topic>-<timestamp>.json`` and return its path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"{topic}-{stamp}.json"
    payload = {"machine": machine(), "results": [asdict(r) for r in results]}
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    tmp.replace(path)
    return path


def format_table(results: list[Result]) -> str:
    """A plain-text table: name | value unit | target | status."""
    rows = [("benchmark", "value", "target", "status")]
    for r in results:
        status = "-" if r.ok is None else ("ok" if r.ok else "MISSED")
        rows.append((r.name, f"{r.value:.4g} {r.unit}".strip(), r.target, status))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_markdown(sections: dict[str, list[Result]], info: dict, seconds: float) -> str:
    """``benchmarks/RESULTS.md``: the machine, then per topic its command and a table."""
    lines = [
        "# Benchmark results",
        "",
        f"Measured {info['date']} on {info['processor']}, {info['cpu_count']} CPUs, device "
        f"{info['device']}, Python {info['python']}, torch {info.get('torch')} "
        f"({info.get('torch_threads')} intra-op threads at start); {seconds:.0f} s in all.",
        "Generated by `make bench` (`python -m benchmarks --markdown benchmarks/RESULTS.md`); "
        "the JSON with every sample is in `benchmarks/results/`.",
        "Figure: delivered loss against evaluations, project vs peer vs Adam "
        "(`benchmarks/results/quality-curves.png`, not committed) comes from "
        "`python -m benchmarks quality`.",
    ]
    for topic, results in sections.items():
        lines += ["", f"## {topic}", "", f"Command: `python -m benchmarks {topic}`", ""]
        lines += ["| benchmark | value | target | status | notes |", "|---|---|---|---|---|"]
        for r in results:
            status = "-" if r.ok is None else ("ok" if r.ok else "**missed**")
            notes = r.notes.replace("|", "/").replace("\n", " ")
            lines.append(f"| {r.name} | {r.value:.4g} {r.unit} | {r.target} | {status} | {notes} |")
    return "\n".join(lines) + "\n"
