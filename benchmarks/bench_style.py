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
   forward+backward at that size, each in a fresh subprocess (target <= 1.5).
9. GPU: not measured without a device.

Timings use every core and the wall clock by default; ``BENCH_THREADS=1`` (for a shared
machine) uses one intra-op thread and the computing thread's CPU time (:func:`threads`).
"""

from __future__ import annotations

import inspect
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from .common import Result

ROOT = Path(__file__).resolve().parent.parent
CONTENT = "nst/content/tubingen.jpg"
STYLE = "nst/style/starry_night.jpg"
NAN = float("nan")
WEIGHTS = "caffe"
"""The VGG-19 weight set of every run (the harness test sets ``"random"``)."""


def _say(text: str) -> None:
    print(text, flush=True)


def _pair(size: int | str):
    """Content and style as ``(H, W, 3)`` float32 in [0, 1]; the style resized to the content's
    shape (what the loop does by default)."""
    from helpers import images

    content = images.load(CONTENT, size=size)
    style = images.resize(images.load(STYLE), (content.shape[1], content.shape[0]))
    return content, style


def _rel(path: Path) -> str:
    """``path`` relative to the repository when inside it."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def _default(name: str):
    from helpers import nst

    return inspect.signature(nst.optimize).parameters[name].default


# --- 2. cost per evaluation -------------------------------------------------------------------


def _cpu_clock():
    """The clock for side-by-side timings: this thread's CPU time when torch computes in this
    thread alone (one intra-op thread; time spent descheduled by other jobs on a shared
    machine does not count), else the wall clock."""
    import torch

    if torch.get_num_threads() == 1:
        return time.thread_time, "CPU time of the computing thread"
    return time.perf_counter, "wall clock"


def _bare_pass(height: int, width: int, memory_format: str = "channels_last"):
    """The baseline: the same :class:`helpers.nst.vgg.VGGFeatures` (Caffe weights, avg pooling,
    input normalisation, the project's channels-last layout unless ``memory_format`` says
    otherwise) cut at relu5_1, an input that requires grad, ``out.sum().backward()``."""
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
        weights=WEIGHTS,
    )
    shares["project"] = _shares(prof)
    prof = profile(activities=[ProfilerActivity.CPU])
    prof.start()
    for _ in range(evals):
        bare()
    prof.stop()
    shares["bare"] = _shares(prof)
    return shares


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
    from helpers import nst

    from . import peer
    from .bench_quality import objective

    content, style = _pair(f"{size}x{size}")
    obj = objective(content.shape[:2])
    bare = _bare_pass(size, size)
    bare()
    bare_nchw = _bare_pass(size, size, "contiguous") if layouts else None
    if bare_nchw is not None:
        bare_nchw()
    clock, clock_name = _cpu_clock()
    samples: dict[str, list[float]] = {"project": [], "peer": [], "bare": []}
    if layouts:
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
            weights=WEIGHTS,
        )
        samples["project"] += [b - a for a, b in zip(stamps, stamps[1:])][skip:]
        out = peer.run(obj, content, style, evaluations=evals, weights=WEIGHTS, clock=clock)
        samples["peer"] += out["intervals"][skip:]
        for _ in range(evals - skip):
            t0 = clock()
            bare()
            samples["bare"].append(clock() - t0)
            if bare_nchw is not None:
                t0 = clock()
                bare_nchw()
                samples["bare NCHW"].append(clock() - t0)
    med = {k: statistics.median(v) for k, v in samples.items()}
    ratio, to_bare = med["project"] / med["peer"], med["project"] / med["bare"]
    shares = _profile(content, style, obj, bare, profile_evals) if profile_evals else {}
    prof_text = ", ".join(
        f"{k} {v:.0%}" for k, v in shares.get("project", {}).items() if v >= 0.005
    )
    _say(
        f"[2] {size}x{size}, {clock_name}: project {med['project']:.3f} s/eval, peer "
        f"{med['peer']:.3f}, bare fwd+bwd {med['bare']:.3f} -> project/peer {ratio:.3f}, "
        f"project/bare {to_bare:.3f} (medians of {len(samples['project'])} / "
        f"{len(samples['peer'])} / {len(samples['bare'])}, {rounds} alternating rounds)"
    )
    if shares:
        _say(f"[2] profile of {profile_evals} project evaluations (self CPU time): {prof_text}")
        _say(
            "[2] bare pass: "
            + ", ".join(f"{k} {v:.0%}" for k, v in shares["bare"].items() if v >= 0.005)
        )
    notes = (
        f"{clock_name}; project {med['project']:.3f} s, peer {med['peer']:.3f} s, bare "
        f"{med['bare']:.3f} s per evaluation; {rounds} alternating rounds of {evals}"
    )
    rows = [
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
    if layouts:
        gain = med["bare NCHW"] / med["bare"]
        _say(
            f"[2] {size}x{size} bare fwd+bwd: NCHW {med['bare NCHW']:.3f} s, channels-last "
            f"{med['bare']:.3f} s -> {gain:.3f}x"
        )
        rows.append(
            Result(
                f"2b. {size}^2 bare fwd+bwd: NCHW / channels-last (the project's layout)",
                gain,
                "x",
                "(reported)",
                None,
                f"{clock_name}; NCHW {med['bare NCHW']:.3f} s, channels-last {med['bare']:.3f} s "
                "per evaluation; the peer computes in NCHW, as the tutorial's torchvision VGG does",
            )
        )
    return rows


# --- 4. batched grid --------------------------------------------------------------------------


def batched_grid(*, size: int, steps: int, repeats: int, subset: int | None = None) -> list[Result]:
    """Item 4; ``subset``: only the first rows and columns (a smoke run)."""
    import numpy as np

    from helpers import nst

    content, style = _pair(size)
    h, w = content.shape[:2]
    common = dict(steps=steps, progress=False, device="cpu", seed=0, weights=WEIGHTS)

    cut = dict(ratios=nst.ALPHA_BETA_RATIOS[:subset], style_layer_sets=nst.GROWING_SUBSETS[:subset])

    def grid(max_batch: int | None, n: int = steps):
        return nst.alpha_beta_grid(
            content, style, max_batch=max_batch, **cut, **{**common, "steps": n}
        )

    grid(None, 1)  # warm-up: a batch of all, and one configuration alone
    nst.stylize(content, style, **{**common, "steps": 1})
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
    tb, ts = statistics.median(times["batched"]), statistics.median(times["sequential"])
    wall_ratio = statistics.median(wall["sequential"]) / statistics.median(wall["batched"])
    n = len(last["batched"])
    batched, sequential = last["batched"], last["sequential"]
    diff = float(np.max(np.abs(np.stack(batched.images) - np.stack(sequential.images))))
    rel = float(np.max(np.abs(batched.losses["total"] / sequential.losses["total"] - 1)))
    _say(
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


# --- 5. memory --------------------------------------------------------------------------------


def _vm(field: str) -> int | None:
    """``VmHWM``/``VmRSS`` of this process in KiB (Linux), None elsewhere."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _memory_child(kind: str, size: int, steps: int) -> dict:
    """Run in a fresh process: one ``kind`` job at ``size``×``size``; report memory in KiB."""
    import resource

    import torch

    from helpers import nst

    torch.set_num_threads(threads())

    # same setup in both: imports + the weights in memory
    nst.build_network(["conv1_1"], weights=WEIGHTS, device="cpu")
    setup = _vm("VmRSS")
    try:  # reset VmHWM to the current RSS (Linux), so that it measures the job's peak
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        reset = True
    except OSError:
        reset = False
    t0 = time.perf_counter()
    if kind == "bare":
        bare = _bare_pass(size, size)
        for _ in range(2):
            bare()
        info = {}
    else:
        content, style = _pair(f"{size}x{size}")
        res = nst.stylize(
            content, style, steps=steps, progress=False, device="cpu", weights=WEIGHTS
        )
        info = {
            "optimizer": res.optimizer,
            "evaluations": res.evaluations,
            "history_size": _default("history_size"),
        }
    return {
        "kind": kind,
        "size": size,
        "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "hwm_kib": _vm("VmHWM") if reset else None,
        "setup_kib": setup,
        "seconds": time.perf_counter() - t0,
        "threads": torch.get_num_threads(),
        **info,
    }


def _spawn(kind: str, size: int, steps: int) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.bench_style",
        "--memory-child",
        kind,
        str(size),
        str(steps),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(
            f"memory child {kind} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def memory(*, size: int, steps: int) -> list[Result]:
    """Item 5: peak RSS of the job in fresh processes.  The job's peak is VmHWM after resetting
    it once imports and weights are in memory (``/proc/self/clear_refs``); raw, nothing
    subtracted.  Also reported: ``ru_maxrss`` over the whole process life, and both peaks minus
    the RSS after imports+weights."""
    bare = _spawn("bare", size, steps)
    sty = _spawn("stylize", size, steps)
    key = "hwm_kib" if bare["hwm_kib"] and sty["hwm_kib"] else "peak_kib"
    raw = sty[key] / bare[key]
    life = sty["peak_kib"] / bare["peak_kib"]
    sub = (sty[key] - sty["setup_kib"]) / max(bare[key] - bare["setup_kib"], 1)

    def mib(kib: float) -> str:
        return f"{kib / 1024:.0f} MiB"

    what = "peak RSS during the job (VmHWM reset after setup)" if key == "hwm_kib" else "ru_maxrss"
    _say(
        f"[5] {size}x{size}, {what}: stylize {mib(sty[key])} ({sty['optimizer']}, "
        f"{sty['evaluations']} evals, history "
        f"{sty['history_size']}) vs bare fwd+bwd {mib(bare[key])} -> {raw:.2f}x; whole-process "
        f"ru_maxrss "
        f"{mib(sty['peak_kib'])} vs {mib(bare['peak_kib'])} -> {life:.2f}x; above the RSS after "
        f"imports+weights "
        f"({mib(sty['setup_kib'])} / {mib(bare['setup_kib'])}): "
        f"{mib(sty[key] - sty['setup_kib'])} vs "
        f"{mib(bare[key] - bare['setup_kib'])} -> {sub:.2f}x"
    )
    notes = (
        f"{size}x{size}, fresh subprocesses, {what}: stylize {mib(sty[key])} "
        f"({sty['optimizer']} history "
        f"{sty['history_size']}, {sty['evaluations']} evals) vs bare fwd+bwd "
        f"{mib(bare[key])}; "
        f"ru_maxrss {life:.2f}x; minus RSS after imports+weights {sub:.2f}x"
    )
    return [
        Result(
            "5. peak RSS 512px: stylize / bare fwd+bwd"
            if size == 512
            else f"5. peak RSS {size}px: stylize / bare",
            raw,
            "x",
            "<= 1.5",
            raw <= 1.5,
            notes,
            extra={"stylize": sty, "bare": bare},
        ),
        Result(
            "5a. same, whole-process ru_maxrss",
            life,
            "x",
            "",
            None,
            f"{mib(sty['peak_kib'])} vs {mib(bare['peak_kib'])}",
        ),
        Result(
            "5b. same, above the RSS after imports+weights",
            sub,
            "x",
            "",
            None,
            f"{mib(sty[key] - sty['setup_kib'])} vs {mib(bare[key] - bare['setup_kib'])}",
        ),
    ]


# --- all --------------------------------------------------------------------------------------


def threads() -> int:
    """Intra-op threads for these benchmarks: ``$BENCH_THREADS``, default every core.

    On a shared machine set ``BENCH_THREADS=1``: with other jobs running, two OpenMP threads
    wait on each other at every operator (a 32x32 forward+backward took 1.0 s with 2 threads
    and 0.06 s with 1), and with one thread the side-by-side timings use the computing
    thread's CPU time, which other jobs do not inflate.
    """
    if os.environ.get("BENCH_THREADS"):
        return max(1, int(os.environ["BENCH_THREADS"]))
    return max(1, os.cpu_count() or 1)


def run(quick: bool = False) -> list[Result]:
    """Items 1-4 and 8; ``quick``: small sizes and few evaluations (a smoke run, < 60 s)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads())
    _say(f"style benchmarks with {torch.get_num_threads()} intra-op thread(s) (BENCH_THREADS)")
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
        _say(f"    ({item.func.__name__}: {time.perf_counter() - t0:.0f} s wall)")
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


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--memory-child":
        print(json.dumps(_memory_child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
        raise SystemExit(0)
    print(
        "usage: python -m benchmarks style  (or: -m benchmarks.bench_style --memory-child "
        "bare|stylize SIZE STEPS)",
        file=sys.stderr,
    )
    raise SystemExit(2)
