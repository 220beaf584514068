"""Shared benchmark plumbing: timing medians, result rows, machine description, JSON output,
and what the style-transfer benchmarks share (weights, image pairs, objective, threads).

A benchmark module ``benchmarks/bench_<topic>.py`` exposes ``run(quick: bool) -> list[Result]``.
Times are medians over repeats; ratios are measured side by side in the same process.  The
benchmark modules import this one and not each other; the style-transfer ones read
:data:`WEIGHTS` and call :func:`pair` through this module (``common.WEIGHTS``), so that the
harness test can swap them for the random-weight VGG-19 and synthetic images.
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
NAN = float("nan")

WEIGHTS = "caffe"
"""The VGG-19 weight set of every style-transfer run (the harness test sets ``"random"``)."""

TUBINGEN = "Tübingen × Starry Night"
PAIRS = {
    TUBINGEN: ("nst/content/tubingen.jpg", "nst/style/starry_night.jpg"),
    "Golden Gate × Great Wave": ("nst/content/golden_gate.jpg", "nst/style/great_wave.jpg"),
}
"""Content and style image of each style-transfer pair."""


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


def say(text: str) -> None:
    """One progress line, flushed (a benchmark runs for minutes)."""
    print(text, flush=True)


def pair(name: str, size: int | str):
    """Content of pair ``name`` at ``size`` (longer side, or ``"WxH"``) and the style resized to
    its shape (what the loop does by default), as ``(H, W, 3)`` float32 in [0, 1]."""
    from helpers import images

    content_name, style_name = PAIRS[name]
    content = images.load(content_name, size=size)
    style = images.resize(images.load(style_name), (content.shape[1], content.shape[0]))
    return content, style


def objective(shape):
    """The objective :func:`helpers.nst.stylize` uses by default at an output of ``shape``."""
    from helpers import nst

    ratio_at = getattr(nst, "ratio_at", None)
    if ratio_at is None:
        return nst.Objective()
    return nst.Objective.from_ratio(ratio_at(nst.DEFAULT_RATIO_512, shape[0] * shape[1]))


def bare_pass(height: int, width: int, memory_format: str = "channels_last"):
    """The style benchmarks' baseline, as a function of no arguments: the same
    :class:`helpers.nst.vgg.VGGFeatures` (:data:`WEIGHTS`, avg pooling, input normalisation,
    the project's channels-last layout unless ``memory_format`` says otherwise) cut at relu5_1,
    an input that requires grad, ``out.sum().backward()``."""
    import torch

    from helpers import nst

    net = nst.build_network(["relu5_1"], weights=WEIGHTS, device="cpu", memory_format=memory_format)
    x = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0)).requires_grad_(
        True
    )

    def bare() -> None:
        x.grad = None
        net(x)["relu5_1"].sum().backward()

    return bare


def threads() -> int:
    """Intra-op threads for the style-transfer benchmarks: ``$BENCH_THREADS``, default every
    core.

    On a shared machine set ``BENCH_THREADS=1``: with other jobs running, two OpenMP threads
    wait on each other at every operator (a 32x32 forward+backward took 1.0 s with 2 threads
    and 0.06 s with 1), and with one thread the side-by-side timings use the computing
    thread's CPU time, which other jobs do not inflate.
    """
    if os.environ.get("BENCH_THREADS"):
        return max(1, int(os.environ["BENCH_THREADS"]))
    return max(1, os.cpu_count() or 1)


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


RESULTS_INTRO = [
    "Generated by `make bench` (`python -m benchmarks --markdown benchmarks/RESULTS.md`); "
    "the JSON with every sample is in `benchmarks/results/`.",
    "Figure: delivered loss against evaluations, project vs peer vs Adam "
    "(`benchmarks/results/quality-curves.png`, not committed) comes from "
    "`python -m benchmarks quality`.",
]
"""What RESULTS.md says after its machine line (a topic's ``MARKDOWN_INTRO`` replaces it when
that topic is written alone)."""


def format_markdown(
    sections: dict[str, list[Result]], info: dict, seconds: float, intro: list[str] | None = None
) -> str:
    """``benchmarks/RESULTS.md``: the machine, then per topic its command and a table."""
    lines = [
        "# Benchmark results",
        "",
        f"Measured {info['date']} on {info['processor']}, {info['cpu_count']} CPUs, device "
        f"{info['device']}, Python {info['python']}, torch {info.get('torch')} "
        f"({info.get('torch_threads')} intra-op threads at start)"
        + (f"; {seconds:.0f} s in all." if seconds == seconds else "."),
        *(RESULTS_INTRO if intro is None else intro),
    ]
    for topic, results in sections.items():
        lines += ["", f"## {topic}", "", f"Command: `python -m benchmarks {topic}`", ""]
        lines += ["| benchmark | value | target | status | notes |", "|---|---|---|---|---|"]
        for r in results:
            status = "-" if r.ok is None else ("ok" if r.ok else "**missed**")
            notes = r.notes.replace("|", "/").replace("\n", " ")
            lines.append(f"| {r.name} | {r.value:.4g} {r.unit} | {r.target} | {status} | {notes} |")
    return "\n".join(lines) + "\n"
