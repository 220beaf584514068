"""Style-transfer benchmarks (issue 15, items 2, 4, 5 and 9), CPU.

    python -m benchmarks style            # about 3 min on a 2-core CPU
    python -m benchmarks --quick style    # harness smoke run, < 60 s, small sizes

Evaluations to quality (item 3) are in :mod:`benchmarks.bench_quality`.

2. Cost per evaluation at 256² and 512² (Tübingen × Starry Night, the default objective at that
   size): the project's loop (:func:`helpers.nst.optimize`, default L-BFGS; intervals between
   its per-evaluation callbacks, so the L-BFGS update and the history record count), the peer
   (:mod:`benchmarks.peer`, the PyTorch tutorial's way; intervals between its closure calls,
   so torch's L-BFGS counts) and a bare forward+backward of the same VGG-19 to relu5_1, in
   alternating rounds in one process.  Medians; project/peer (target <= 0.85) and project/bare,
   with a torch.profiler breakdown of the project's evaluations by operator kind.
4. Batched grid: the notebook-03 grid (:func:`helpers.nst.alpha_beta_grid`, 5 layer sets ×
   5 alpha/beta = 25 configurations) as one batch vs one after another (``max_batch=1``, the
   same call), same evaluations, interleaved.
5. Memory: peak resident memory of a 512×512 stylisation with the default optimiser vs a bare
   forward+backward at that size, each in a fresh subprocess (target <= 1.5;
   :mod:`benchmarks.style_memory`).
9. GPU: not measured without a device.

Timings use every core and the wall clock by default; ``BENCH_THREADS=1`` (for a shared
machine) uses one intra-op thread and the computing thread's CPU time
(:func:`benchmarks.common.threads`).
"""

from __future__ import annotations

import statistics
import time

from . import common, peer
from .common import NAN, TUBINGEN, Result, say
from .style_memory import memory

# --- 2. cost per evaluation -------------------------------------------------------------------


def _cpu_clock():
    """The clock for side-by-side timings: this thread's CPU time when torch computes in this
    thread alone (one intra-op thread; time spent descheduled by other jobs on a shared
    machine does not count), else the wall clock."""
    import torch

    if torch.get_num_threads() == 1:
        return time.thread_time, "CPU time of the computing thread"
    return time.perf_counter, "wall clock"


_GROUPS = {
    "convolution fwd+bwd": ("conv",),
    "Gram products (bmm/mm)": ("bmm", "aten::mm"),
    "relu/pool fwd+bwd": ("relu", "threshold", "pool", "clamp_min"),
    "elementwise/copies/fills": (
        "copy",
        "add",
        "mul",
        "sub",
        "sum",
        "div",
        "pow",
        "clone",
        "fill",
        "zero",
        "where",
        "neg",
        "square",
        "empty",
        "index_select",
        "isfinite",
        "all",
        "clamp",
        "round",
    ),
}


def _shares(prof) -> dict[str, float]:
    """Self CPU time of a torch.profiler run grouped by kind of operator, as fractions."""
    totals = dict.fromkeys([*_GROUPS, "other"], 0.0)
    for ev in prof.key_averages():
        name = ev.key.lower()
        group = next((g for g, keys in _GROUPS.items() if any(k in name for k in keys)), "other")
        totals[group] += ev.self_cpu_time_total
    all_t = sum(totals.values()) or 1.0
    return {k: v / all_t for k, v in totals.items()}


def _profile(content, style, obj, bare, evals: int) -> dict[str, dict[str, float]]:
    """Operator shares over ``evals`` project evaluations and as many bare passes."""
    from torch.profiler import ProfilerActivity, profile

    from helpers import nst

    shares = {}
    prof = profile(activities=[ProfilerActivity.CPU])
    window = {"start": 2, "stop": 2 + evals}

    def hook(step) -> None:
        if step.evaluation == window["start"]:
            prof.start()
        elif step.evaluation == window["stop"]:
            prof.stop()

    nst.optimize(
        obj,
        content=content,
        style=style,
        steps=window["stop"],
        record_every=1,
        callback=hook,
        progress=False,
        device="cpu",
        weights=common.WEIGHTS,
    )
    shares["project"] = _shares(prof)
    prof = profile(activities=[ProfilerActivity.CPU])
    prof.start()
    for _ in range(evals):
        bare()
    prof.stop()
    shares["bare"] = _shares(prof)
    return shares


def _cost_samples(
    obj, content, style, bare, bare_nchw, *, evals: int, rounds: int, skip: int, clock
) -> dict[str, list[float]]:
    """Per-evaluation intervals of the project's loop, the peer and the bare pass (and the NCHW
    bare pass when ``bare_nchw`` is given), runs alternating ``rounds`` times."""
    from helpers import nst

    samples: dict[str, list[float]] = {"project": [], "peer": [], "bare": []}
    if bare_nchw is not None:
        samples["bare NCHW"] = []
    for _ in range(rounds):
        stamps: list[float] = []
        nst.optimize(
            obj,
            content=content,
            style=style,
            steps=evals + 1,
            record_every=1,
            callback=lambda step, s=stamps: s.append(clock()),
            progress=False,
            device="cpu",
            weights=common.WEIGHTS,
        )
        samples["project"] += [b - a for a, b in zip(stamps, stamps[1:])][skip:]
        out = peer.run(obj, content, style, evaluations=evals, weights=common.WEIGHTS, clock=clock)
        samples["peer"] += out["intervals"][skip:]
        for _ in range(evals - skip):
            t0 = clock()
            bare()
            samples["bare"].append(clock() - t0)
            if bare_nchw is not None:
                t0 = clock()
                bare_nchw()
                samples["bare NCHW"].append(clock() - t0)
    return samples


def cost_per_evaluation(
    *,
    size: int,
    evals: int,
    rounds: int,
    skip: int = 2,
    profile_evals: int = 0,
    layouts: bool = False,
) -> list[Result]:
    """Item 2: seconds per evaluation of the project's loop, the peer (:mod:`benchmarks.peer`)
    and a bare forward+backward, same process, runs alternating ``rounds`` times; each run's
    first ``skip`` intervals are warm-up.  Medians of the per-evaluation intervals.
    ``layouts``: also time the bare pass with NCHW activations (the channels-last gain)."""
    content, style = common.pair(TUBINGEN, f"{size}x{size}")
    obj = common.objective(content.shape[:2])
    bare = common.bare_pass(size, size)
    bare()
    bare_nchw = common.bare_pass(size, size, "contiguous") if layouts else None
    if bare_nchw is not None:
        bare_nchw()
    clock, clock_name = _cpu_clock()
    samples = _cost_samples(
        obj, content, style, bare, bare_nchw, evals=evals, rounds=rounds, skip=skip, clock=clock
    )
    med = {k: statistics.median(v) for k, v in samples.items()}
    shares = _profile(content, style, obj, bare, profile_evals) if profile_evals else {}
    rows = _cost_rows(
        size, samples, med, shares, clock_name, rounds=rounds, evals=evals, profiled=profile_evals
    )
    if layouts:
        rows.append(_layout_row(size, med, clock_name))
    return rows


def _cost_rows(
    size: int,
    samples: dict,
    med: dict,
    shares: dict,
    clock_name: str,
    *,
    rounds: int,
    evals: int,
    profiled: int,
) -> list[Result]:
    """Item 2's two rows (project/peer, project/bare), printed as they are made."""
    ratio, to_bare = med["project"] / med["peer"], med["project"] / med["bare"]
    prof_text = ", ".join(
        f"{k} {v:.0%}" for k, v in shares.get("project", {}).items() if v >= 0.005
    )
    say(
        f"[2] {size}x{size}, {clock_name}: project {med['project']:.3f} s/eval, peer "
        f"{med['peer']:.3f}, bare fwd+bwd {med['bare']:.3f} -> project/peer {ratio:.3f}, "
        f"project/bare {to_bare:.3f} (medians of {len(samples['project'])} / "
        f"{len(samples['peer'])} / {len(samples['bare'])}, {rounds} alternating rounds)"
    )
    if shares:
        say(f"[2] profile of {profiled} project evaluations (self CPU time): {prof_text}")
        say(
            "[2] bare pass: "
            + ", ".join(f"{k} {v:.0%}" for k, v in shares["bare"].items() if v >= 0.005)
        )
    notes = (
        f"{clock_name}; project {med['project']:.3f} s, peer {med['peer']:.3f} s, bare "
        f"{med['bare']:.3f} s per evaluation; {rounds} alternating rounds of {evals}"
    )
    return [
        Result(
            f"2. {size}^2 cost per evaluation: project / peer",
            ratio,
            "x",
            "<= 0.85",
            ratio <= 0.85,
            notes,
            extra={"samples": samples, "clock": clock_name},
        ),
        Result(
            f"2a. {size}^2 project / bare VGG-19 fwd+bwd",
            to_bare,
            "x",
            "(reported)",
            None,
            notes + (f"; project profile: {prof_text}" if prof_text else ""),
            extra={"profile_shares": shares},
        ),
    ]


def _layout_row(size: int, med: dict, clock_name: str) -> Result:
    """Item 2b: the bare pass in NCHW over channels-last (the project's layout)."""
    gain = med["bare NCHW"] / med["bare"]
    say(
        f"[2] {size}x{size} bare fwd+bwd: NCHW {med['bare NCHW']:.3f} s, channels-last "
        f"{med['bare']:.3f} s -> {gain:.3f}x"
    )
    return Result(
        f"2b. {size}^2 bare fwd+bwd: NCHW / channels-last (the project's layout)",
        gain,
        "x",
        "(reported)",
        None,
        f"{clock_name}; NCHW {med['bare NCHW']:.3f} s, channels-last {med['bare']:.3f} s "
        "per evaluation; the peer computes in NCHW, as the tutorial's torchvision VGG does",
    )


# --- 4. batched grid --------------------------------------------------------------------------


def batched_grid(*, size: int, steps: int, repeats: int, subset: int | None = None) -> list[Result]:
    """Item 4; ``subset``: only the first rows and columns (a smoke run)."""
    from helpers import nst

    content, style = common.pair(TUBINGEN, size)
    base = dict(steps=steps, progress=False, device="cpu", seed=0, weights=common.WEIGHTS)

    cut = dict(ratios=nst.ALPHA_BETA_RATIOS[:subset], style_layer_sets=nst.GROWING_SUBSETS[:subset])

    def grid(max_batch: int | None, n: int = steps):
        return nst.alpha_beta_grid(
            content, style, max_batch=max_batch, **cut, **{**base, "steps": n}
        )

    grid(None, 1)  # warm-up: a batch of all, and one configuration alone
    nst.stylize(content, style, **{**base, "steps": 1})
    clock, clock_name = _cpu_clock()
    times: dict[str, list[float]] = {"batched": [], "sequential": []}
    wall: dict[str, list[float]] = {"batched": [], "sequential": []}
    last = {}
    for _ in range(repeats):
        for name, mb in (("batched", None), ("sequential", 1)):
            c0, w0 = clock(), time.perf_counter()
            last[name] = grid(mb)
            times[name].append(clock() - c0)
            wall[name].append(time.perf_counter() - w0)
    h, w = content.shape[:2]
    return _grid_rows((w, h), steps, repeats, times, wall, last, clock_name)


def _grid_rows(
    size: tuple[int, int], steps: int, repeats: int, times, wall, last, clock_name: str
) -> list[Result]:
    """Item 4's rows from the timings of the batched and the sequential grids and their last
    results, printed as they are made."""
    import numpy as np

    w, h = size
    tb, ts = statistics.median(times["batched"]), statistics.median(times["sequential"])
    wall_ratio = statistics.median(wall["sequential"]) / statistics.median(wall["batched"])
    n = len(last["batched"])
    batched, sequential = last["batched"], last["sequential"]
    diff = float(np.max(np.abs(np.stack(batched.images) - np.stack(sequential.images))))
    rel = float(np.max(np.abs(batched.losses["total"] / sequential.losses["total"] - 1)))
    say(
        f"[4] {n} configurations at {w}x{h}, {steps} evaluations each: batched {tb:.1f} s, one "
        f"after another {ts:.1f} s "
        f"-> {ts / tb:.2f}x ({clock_name}, medians of {repeats}; wall clock {wall_ratio:.2f}x); "
        f"max |image diff| {diff:.2g}, max rel. final-loss diff {rel:.2g}"
    )
    notes = (
        f"{n} configs (alpha_beta_grid), {w}x{h}, {steps} evals each, "
        f"{last['batched'].optimizer}; batched {tb:.1f} s vs "
        f"max_batch=1 {ts:.1f} s (each run computes its own targets), {clock_name}, medians "
        f"of {repeats} interleaved "
        f"(wall clock {wall_ratio:.2f}x); "
        f"images agree to {diff:.1g}"
    )
    return [
        Result(
            f"4. batched grid ({n} configs) speed-up on CPU: sequential / batched",
            ts / tb,
            "x",
            "(none on CPU)",
            None,
            notes,
            extra={
                "clock": clock_name,
                "times": times,
                "wall": wall,
                "size": [w, h],
                "steps": steps,
                "image_diff": diff,
                "loss_rel_diff": rel,
            },
        ),
        Result(
            "4b. batched grid speed-up on GPU",
            NAN,
            "x",
            ">= 5",
            None,
            "not measured (no GPU in this session)",
        ),
    ]


# --- all --------------------------------------------------------------------------------------


def run(quick: bool = False) -> list[Result]:
    """Items 1-4 and 8; ``quick``: small sizes and few evaluations (a smoke run, < 60 s)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(common.threads())
    say(f"style benchmarks with {torch.get_num_threads()} intra-op thread(s) (BENCH_THREADS)")
    try:
        return _run_all(quick)
    finally:
        torch.set_num_threads(previous)


def _run_all(quick: bool) -> list[Result]:
    from functools import partial

    if quick:
        items = [
            partial(cost_per_evaluation, size=32, evals=4, rounds=1, skip=1),
            partial(batched_grid, size=32, steps=2, repeats=1, subset=2),
            partial(memory, size=64, steps=2),
        ]
    else:
        items = [
            partial(
                cost_per_evaluation, size=256, evals=8, rounds=3, profile_evals=3, layouts=True
            ),
            partial(cost_per_evaluation, size=512, evals=4, rounds=2),
            partial(batched_grid, size=64, steps=6, repeats=2),
            partial(memory, size=512, steps=3),
        ]
    results: list[Result] = []
    for item in items:
        t0 = time.perf_counter()
        results += item()
        say(f"    ({item.func.__name__}: {time.perf_counter() - t0:.0f} s wall)")
    results.append(
        Result(
            "9. GPU: full report profile, all notebooks",
            NAN,
            "s",
            "<= 120",
            None,
            "not measured (no GPU in this session)",
        )
    )
    if quick:  # the targets are defined at the full sizes: a smoke run judges nothing
        for r in results:
            if r.ok is not None:
                r.ok = None
                r.target = "(full run only)"
                r.notes = "quick smoke run, small sizes; " + r.notes
    return results


def transfer_steps() -> int:
    from helpers import nst

    return nst.BERKELEY_STEPS
