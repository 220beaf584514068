"""Style-transfer benchmarks (issue 6, items 1-4 and 8), Tübingen × Starry Night, CPU.

    python -m benchmarks style            # about 4-5 min on a 2-core CPU (Adam reference cached)
    python -m benchmarks --quick style    # harness smoke run, < 60 s, small sizes

1. Loop overhead: seconds per evaluation of :func:`helpers.nst.stylize` (default L-BFGS,
   paper layers: style conv1_1 … conv5_1, content conv4_2; 224×224) ÷ seconds of a bare
   forward+backward pass of the same VGG-19 to relu5_1 on an input of the same size.  The two
   alternate, one evaluation each, in the same process: the loop's ``callback`` (called after
   every evaluation, ``record_every=1``) runs one bare pass, timed on its own; a loop sample is
   the time from the end of one callback to the start of the next (so it includes the L-BFGS
   update and the history recording).  Medians of both.
2. Convergence: evaluations the default optimiser needs to reach the final total loss of the
   Berkeley recipe (Adam, lr :data:`helpers.nst.BERKELEY_LR`, 1200 evaluations, content
   init, the same objective, 128 px).  The Adam run takes ~5 min on this CPU, so its curve is
   cached in ``benchmarks/results/ref-berkeley-adam-<key>.json`` (git-ignored) and reused only
   when its first evaluations reproduce (re-run fresh: ``BENCH_STYLE_FRESH=1``).  The default
   optimiser's run is always fresh.  Curves: ``benchmarks/results/style-convergence.png``.
3. Batched grid: the notebook-03 grid (:func:`helpers.nst.alpha_beta_grid`, 5 layer sets ×
   5 alpha/beta = 25 configurations) as one batch vs one after another (``max_batch=1``, the
   same call), same evaluations, interleaved.
4. Memory: peak resident memory (``ru_maxrss``) of a 512×512 stylisation with the default
   optimiser vs a bare forward+backward at that size, each in a fresh subprocess.
8. GPU: not measured without a device.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from .common import RESULTS_DIR, Result

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


# --- 1. loop overhead -------------------------------------------------------------------------


def _cpu_clock():
    """The clock for side-by-side timings: this thread's CPU time when torch computes in this
    thread alone (one intra-op thread; time spent descheduled by other jobs on a shared
    machine does not count), else the wall clock."""
    import torch

    if torch.get_num_threads() == 1:
        return time.thread_time, "CPU time of the computing thread"
    return time.perf_counter, "wall clock"



def _bare_pass(height: int, width: int):
    """The baseline: the same :class:`helpers.nst.vgg.VGGFeatures` (Caffe weights, avg pooling,
    input normalisation, non-inplace ReLUs) cut at relu5_1, an input that requires grad,
    ``out.sum().backward()``."""
    import torch

    from helpers import nst

    net = nst.build_network(["relu5_1"], weights=WEIGHTS, device="cpu")
    x = torch.rand(1, 3, height, width,
                   generator=torch.Generator().manual_seed(0)).requires_grad_(True)

    def bare() -> None:
        x.grad = None
        net(x)["relu5_1"].sum().backward()

    return bare


def _objective_pass(content, style):
    """The loop's objective without the loop: stylize's network (cut at conv5_1), the default
    objective (alpha/beta, paper layers) from :mod:`helpers.nst.losses`, ``total.backward()`` --
    what any implementation must compute per evaluation.  Starts at the content image."""
    import torch

    from helpers import nst
    from helpers.images import to_tensor
    from helpers.nst import losses

    obj = nst.Objective()
    net = nst.build_network(obj.layers(), weights=WEIGHTS, device="cpu")
    with torch.no_grad():
        ref_c = net(to_tensor(content, "cpu"))
        ref_s = net(to_tensor(style, "cpu"))
        c_targets = {n: ref_c[n] for n in obj.content_layers}
        s_targets = {n: losses.gram_matrix(ref_s[n]) for n in obj.style_layers}
    x = to_tensor(content, "cpu").clone().requires_grad_(True)

    def floor() -> None:
        x.grad = None
        feats = net(x)
        content_loss = losses.content_loss(feats, c_targets, obj.content_layers)
        style_loss = losses.style_loss(feats, s_targets, obj.style_layers)
        (obj.alpha * content_loss + obj.beta * style_loss).sum().backward()

    return floor


_GROUPS = {"convolution fwd+bwd": ("conv",), "Gram products (bmm)": ("bmm",),
           "relu/pool fwd+bwd": ("relu", "threshold", "pool", "clamp_min"),
           "elementwise/copies/fills": ("copy", "add", "mul", "sub", "sum", "div", "pow", "clone",
                                        "fill", "zero", "where", "neg", "square", "empty",
                                        "index_select", "isfinite", "all")}


def _shares(prof) -> dict[str, float]:
    """Self CPU time of a torch.profiler run grouped by kind of operator, as fractions."""
    totals = dict.fromkeys([*_GROUPS, "other"], 0.0)
    for ev in prof.key_averages():
        name = ev.key.lower()
        group = next((g for g, keys in _GROUPS.items() if any(k in name for k in keys)), "other")
        totals[group] += ev.self_cpu_time_total
    all_t = sum(totals.values()) or 1.0
    return {k: v / all_t for k, v in totals.items()}


def loop_overhead(*, size: str, evals: int, skip: int, profile_evals: int = 0) -> list[Result]:
    """Item 1: interleaved loop evaluation / bare pass / objective floor; optionally a
    torch.profiler window over ``profile_evals`` loop evaluations (and as many bare passes)."""
    from torch.profiler import ProfilerActivity, profile

    from helpers import nst

    content, style = _pair(size)
    h, w = content.shape[:2]
    bare = _bare_pass(h, w)
    floor = _objective_pass(content, style)
    for fn in (bare, floor, bare, floor):
        fn()
    clock, clock_name = _cpu_clock()
    samples: dict[str, list[float]] = {"loop": [], "bare": [], "floor": []}
    wall: dict[str, list[float]] = {"loop": [], "bare": [], "floor": []}
    last_out: list[tuple[float, float]] = []

    def interleave(_step) -> None:
        # the loop calls this after every evaluation; the time since the previous call's end is
        # one loop evaluation (forward, losses, backward, L-BFGS update, history record)
        c_in, w_in = clock(), time.perf_counter()
        if last_out:
            samples["loop"].append(c_in - last_out[-1][0])
            wall["loop"].append(w_in - last_out[-1][1])
        for name, fn in (("bare", bare), ("floor", floor)):
            c0, w0 = clock(), time.perf_counter()
            fn()
            samples[name].append(clock() - c0)
            wall[name].append(time.perf_counter() - w0)
        last_out.append((clock(), time.perf_counter()))

    res = nst.stylize(content, style, steps=evals, record_every=1, callback=interleave,
                      progress=False, device="cpu", weights=WEIGHTS)
    med = {k: statistics.median(v[skip:]) for k, v in samples.items()}
    wmed = {k: statistics.median(v[skip:]) for k, v in wall.items()}
    ratio, floor_ratio = med["loop"] / med["bare"], med["floor"] / med["bare"]
    wall_ratio = wmed["loop"] / wmed["bare"]
    n = len(samples["loop"]) - skip
    _say(f"[1] {w}x{h}, {clock_name}: loop {med['loop']:.3f} s/eval, bare fwd+bwd "
         f"{med['bare']:.3f} s -> {ratio:.3f}; "
         f"objective without the loop {med['floor']:.3f} s -> {floor_ratio:.3f} (medians of {n} "
         f"interleaved samples; "
         f"{res.optimizer}); wall clock: {wmed['loop']:.3f} / {wmed['bare']:.3f} s -> "
         f"{wall_ratio:.3f}")
    shares: dict[str, dict[str, float]] = {}
    if profile_evals:
        for what in ("loop", "bare"):
            prof = profile(activities=[ProfilerActivity.CPU])
            window = {"start": 2, "stop": 2 + profile_evals}

            def hook(step, prof=prof, window=window) -> None:
                if step.evaluation == window["start"]:
                    prof.start()
                elif step.evaluation == window["stop"]:
                    prof.stop()

            if what == "loop":
                nst.stylize(content, style, steps=window["stop"], record_every=1, callback=hook,
                            progress=False, device="cpu", weights=WEIGHTS)
            else:
                prof.start()
                for _ in range(profile_evals):
                    bare()
                prof.stop()
            shares[what] = _shares(prof)
        text = ", ".join(f"{k} {v:.1%}" for k, v in shares["loop"].items())
        _say(f"[1] profile of {profile_evals} loop evaluations (self CPU time): {text}")
        _say("[1] bare pass: " + ", ".join(f"{k} {v:.1%}" for k, v in shares["bare"].items()))
    notes = (f"{clock_name}; {res.optimizer}, {w}x{h}, {n} interleaved evaluations after "
             f"{skip + 1} warm-up; loop {med['loop']:.3f} s/eval, "
             f"bare {med['bare']:.3f} s (VGGFeatures cut at relu5_1, input requires grad, "
             f"out.sum().backward()), "
             f"same objective without the loop {med['floor']:.3f} s ({floor_ratio:.3f}x bare)")
    if shares:
        notes += "; loop profile: " + ", ".join(f"{k} {v:.0%}" for k, v in shares["loop"].items()
                                                if v >= 0.005)
    return [
        Result("1. loop overhead: loop s/eval / bare fwd+bwd", ratio, "x", "<= 1.05", ratio <= 1.05,
               notes,
               extra={"clock": clock_name, "samples": samples, "wall_samples": wall, "size": [w, h],
                      "profile_shares": shares}),
        Result("1a. same objective, no loop / bare fwd+bwd", floor_ratio, "x", "", None,
               "Gram + content losses and their gradients on top of the bare pass"),
        Result("1b. loop / same objective without the loop", med["loop"] / med["floor"], "x", "",
               None,
               "what the loop itself adds (L-BFGS update, bookkeeping, history)"),
        Result("1c. bare VGG-19 fwd+bwd to relu5_1", med["bare"], "s", "", None,
               f"{w}x{h} CPU, {threads()} thread(s), {clock_name}"),
        Result("1d. loop / bare, wall clock", wall_ratio, "x", "", None,
               f"medians {wmed['loop']:.3f} / {wmed['bare']:.3f} s; noisy while other jobs share "
               f"the CPU"),
    ]


# --- 2. convergence ---------------------------------------------------------------------------


def _file_sha(name: str) -> str:
    from helpers.assets import asset_path

    return hashlib.sha256(asset_path(name).read_bytes()).hexdigest()[:16]


def reference_key(*, size: int, steps: int) -> tuple[dict, Path]:
    """What the cached Berkeley reference depends on, and its file."""
    import torch

    from helpers import nst

    config = {"content": _file_sha(CONTENT), "style": _file_sha(STYLE), "size": size,
              "steps": steps,
              "lr": nst.BERKELEY_LR, "ratio": nst.DEFAULT_RATIO,
              "content_layers": nst.DEFAULT_CONTENT_LAYERS,
              "style_layers": nst.DEFAULT_STYLE_LAYERS, "torch": torch.__version__}
    key = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    return config, RESULTS_DIR / f"ref-berkeley-adam-{key}.json"


def berkeley_reference(*, size: int, steps: int, check: int = 10, cache: bool = True) -> dict:
    """The Berkeley recipe's loss curve (Adam, lr BERKELEY_LR, ``steps`` evaluations, content
    init, stylize's default objective), cached on disk and re-validated on its first ``check``
    evaluations (a changed objective, network or Adam would change them)."""
    from helpers import nst

    content, style = _pair(size)
    opts = dict(optimizer="adam", lr=nst.BERKELEY_LR, init="content", seed=0, device="cpu",
                progress=False, record_every=1, weights=WEIGHTS)
    if cache:
        config, path = reference_key(size=size, steps=steps)
    else:
        config, path = {"size": size, "steps": steps}, None
    if path is not None and path.exists() and os.environ.get("BENCH_STYLE_FRESH") != "1":
        ref = json.loads(path.read_text())
        probe = nst.stylize(content, style, steps=check, **opts)
        fresh = probe.history.total[:check, 0]
        cached = ref["total"][:check]
        same = all(math.isclose(a, b, rel_tol=1e-5) for a, b in zip(fresh, cached))
        if len(cached) == check and same:
            ref["cached"] = _rel(path)
            return ref
        _say(f"[2] cached Adam reference {path.name} does not reproduce its first {check} "
             f"evaluations: recomputing")
    _say(f"[2] running the Berkeley reference: Adam x {steps} evaluations at {size} px (a few "
         f"minutes on a CPU)")
    res = nst.stylize(content, style, steps=steps, **opts)
    ref = {"config": config, "evaluations": res.history.evaluations.tolist(),
           "total": res.history.total[:, 0].tolist(),
           "final_total": float(res.losses["total"][0]), "seconds": res.seconds,
           "date": time.strftime("%Y-%m-%d %H:%M:%S"),
           "shape": list(content.shape[:2])}
    if path is not None:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.part")
        tmp.write_text(json.dumps(ref) + "\n")
        tmp.replace(path)
    ref["cached"] = None
    return ref


def _plot_curves(path: Path, curves: dict[str, tuple[list, list]], *, level: float, target: int,
                 title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for label, (x, y) in curves.items():
        ax.plot(x, y, label=label, lw=1.4)
    ax.axhline(level, color="k", ls=":", lw=1, label=f"Berkeley final total {level:.4g}")
    ax.axvline(target, color="grey", ls="--", lw=1, label=f"target: {target} evaluations")
    ax.set(xscale="log", yscale="log", xlabel="function evaluations (forward+backward passes)",
           ylabel="total loss",
           title=title)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.25)
    fig.tight_layout()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".part.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)


def _curve_table(curves: dict[str, tuple[list, list]], marks: list[int]) -> str:
    lines = [f"{'evaluations':>12} " + " ".join(f"{k:>14}" for k in curves)]
    for m in marks:
        cells = []
        for x, y in curves.values():
            idx = [i for i, e in enumerate(x) if e <= m]
            cells.append(f"{y[idx[-1]]:14.5g}" if idx and x[-1] >= m else f"{'':>14}")
        lines.append(f"{m:>12} " + " ".join(cells))
    return "\n".join(lines)


def convergence(*, size: int, adam_steps: int, budget: int, target: int, cache: bool,
                png: str) -> list[Result]:
    from helpers import nst

    ref = berkeley_reference(size=size, steps=adam_steps, cache=cache)
    level = min(ref["total"][-1], ref["final_total"])
    content, style = _pair(size)
    default_opt = _default("optimizer")
    res = nst.stylize(content, style, steps=budget, seed=0, device="cpu", progress=False,
                      record_every=1,
                      weights=WEIGHTS)
    need = nst.evaluations_to_reach(res, level)
    ev = res.history.evaluations.tolist()
    curves = {f"Adam lr {nst.BERKELEY_LR:.3g} (Berkeley)": (ref["evaluations"], ref["total"]),
              f"{default_opt} (default)": (ev, res.history.total[:, 0].tolist())}
    h, w = ref["shape"]
    png_path = RESULTS_DIR / png
    _plot_curves(png_path, curves, level=level, target=target,
                 title=f"Tübingen × Starry Night, {w}x{h}, content init: total loss")
    marks = [m for m in (1, 10, 25, 50, 100, 200, 300, 400, 600, 800, 1200)
             if m <= max(adam_steps, budget)]
    src = f"cached {ref['cached']}" if ref.get("cached") else f"fresh, {ref['seconds']:.0f} s"
    _say(f"[2] total loss vs evaluations ({w}x{h}; Adam reference {src}; curve PNG "
         f"{_rel(png_path)}):\n"
         + _curve_table(curves, marks))
    clipped = float(res.losses["total"][0]) / ref["final_total"]
    best = min(ref["total"])  # Adam's loss oscillates: its lowest point is a stricter level
    need_best = nst.evaluations_to_reach(res, best)
    shown = need if need is not None else NAN
    verdict = (f"reaches it after {need} evaluations" if need is not None
               else f"does not reach it within {budget}")
    _say(f"[2] Berkeley final total {level:.5g}; {default_opt} {verdict}; returned images (clipped "
         f"to [0, 1]): "
         f"{default_opt} {res.losses['total'][0]:.5g} after {res.evaluations}, Adam "
         f"{ref['final_total']:.5g} after {adam_steps} "
         f"({clipped:.3f}x)")
    notes = (f"{default_opt} defaults vs Adam lr {nst.BERKELEY_LR:.4g} x {adam_steps} at {w}x{h}, "
             f"content init, "
             f"level {level:.5g} (min of Adam's last-iterate and returned-image totals); budget "
             f"{budget}; "
             f"curves {_rel(png_path)}")
    return [
        Result("2. evaluations to reach Berkeley's final loss", shown, "evals", f"<= {target}",
               need is not None and need <= target, notes,
               extra={"level": level,
                      "reference": {k: ref[k] for k in ("final_total", "seconds", "cached",
                                                        "date")},
                      "default_curve": {"evaluations": ev,
                                        "total": res.history.total[:, 0].tolist()}}),
        Result(f"2a. {default_opt} total after {res.evaluations} evals / Berkeley final",
               float(res.history.total[-1, 0]) / level,
               "x", "", None, f"last iterates: {res.history.total[-1, 0]:.5g} vs {level:.5g}"),
        Result("2b. evaluations to reach Adam's lowest loss (stricter)",
               need_best if need_best is not None else NAN, "evals",
               "", None,
               f"Adam's lowest total over {adam_steps} evaluations: {best:.5g} (at evaluation "
               f"{ref['evaluations'][ref['total'].index(best)]})"),
        Result(f"2c. returned (clipped) images: {default_opt} {res.evaluations} / Adam "
               f"{adam_steps}", clipped, "x", "", None,
               f"total loss of the returned images, clipped to [0, 1]: "
               f"{res.losses['total'][0]:.5g} vs {ref['final_total']:.5g} "
               f"(clipping adds {res.losses['total'][0] / res.history.total[-1, 0] - 1:.0%} to "
               f"{default_opt}'s last iterate, "
               f"{ref['final_total'] / ref['total'][-1] - 1:.0%} to Adam's)"),
    ]


# --- 3. batched grid --------------------------------------------------------------------------


def batched_grid(*, size: int, steps: int, repeats: int, subset: int | None = None) -> list[Result]:
    """Item 3; ``subset``: only the first rows and columns (a smoke run)."""
    import numpy as np

    from helpers import nst

    content, style = _pair(size)
    h, w = content.shape[:2]
    common = dict(steps=steps, progress=False, device="cpu", seed=0, weights=WEIGHTS)

    cut = dict(ratios=nst.ALPHA_BETA_RATIOS[:subset], style_layer_sets=nst.GROWING_SUBSETS[:subset])

    def grid(max_batch: int | None, n: int = steps):
        return nst.alpha_beta_grid(content, style, max_batch=max_batch, **cut,
                                   **{**common, "steps": n})

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
    _say(f"[3] {n} configurations at {w}x{h}, {steps} evaluations each: batched {tb:.1f} s, one "
         f"after another {ts:.1f} s "
         f"-> {ts / tb:.2f}x ({clock_name}, medians of {repeats}; wall clock {wall_ratio:.2f}x); "
         f"max |image diff| {diff:.2g}, max rel. final-loss diff {rel:.2g}")
    notes = (f"{n} configs (alpha_beta_grid), {w}x{h}, {steps} evals each, "
             f"{last['batched'].optimizer}; batched {tb:.1f} s vs "
             f"max_batch=1 {ts:.1f} s (each run computes its own targets), {clock_name}, medians "
             f"of {repeats} interleaved "
             f"(wall clock {wall_ratio:.2f}x); "
             f"images agree to {diff:.1g}")
    return [
        Result(f"3. batched grid ({n} configs) speed-up on CPU: sequential / batched", ts / tb, "x",
               "(none on CPU)", None, notes,
               extra={"clock": clock_name, "times": times, "wall": wall, "size": [w, h],
                      "steps": steps, "image_diff": diff, "loss_rel_diff": rel}),
        Result("3b. batched grid speed-up on GPU", NAN, "x", ">= 5", None,
               "not measured (no GPU in this session)"),
    ]


# --- 4. memory --------------------------------------------------------------------------------


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
        res = nst.stylize(content, style, steps=steps, progress=False, device="cpu",
                          weights=WEIGHTS)
        info = {"optimizer": res.optimizer, "evaluations": res.evaluations,
                "history_size": _default("history_size")}
    return {"kind": kind, "size": size,
            "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "hwm_kib": _vm("VmHWM") if reset else None, "setup_kib": setup,
            "seconds": time.perf_counter() - t0,
            "threads": torch.get_num_threads(), **info}


def _spawn(kind: str, size: int, steps: int) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.bench_style", "--memory-child", kind, str(size),
           str(steps)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"memory child {kind} failed ({proc.returncode}): "
                           f"{proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def memory(*, size: int, steps: int) -> list[Result]:
    """Item 4: peak RSS of the job in fresh processes.  The job's peak is VmHWM after resetting
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
    _say(f"[4] {size}x{size}, {what}: stylize {mib(sty[key])} ({sty['optimizer']}, "
         f"{sty['evaluations']} evals, history "
         f"{sty['history_size']}) vs bare fwd+bwd {mib(bare[key])} -> {raw:.2f}x; whole-process "
         f"ru_maxrss "
         f"{mib(sty['peak_kib'])} vs {mib(bare['peak_kib'])} -> {life:.2f}x; above the RSS after "
         f"imports+weights "
         f"({mib(sty['setup_kib'])} / {mib(bare['setup_kib'])}): "
         f"{mib(sty[key] - sty['setup_kib'])} vs "
         f"{mib(bare[key] - bare['setup_kib'])} -> {sub:.2f}x")
    notes = (f"{size}x{size}, fresh subprocesses, {what}: stylize {mib(sty[key])} "
             f"({sty['optimizer']} history "
             f"{sty['history_size']}, {sty['evaluations']} evals) vs bare fwd+bwd "
             f"{mib(bare[key])}; "
             f"ru_maxrss {life:.2f}x; minus RSS after imports+weights {sub:.2f}x")
    return [
        Result("4. peak RSS 512px: stylize / bare fwd+bwd" if size == 512
               else f"4. peak RSS {size}px: stylize / bare",
               raw, "x", "<= 1.5", raw <= 1.5, notes, extra={"stylize": sty, "bare": bare}),
        Result("4a. same, whole-process ru_maxrss", life, "x", "", None,
               f"{mib(sty['peak_kib'])} vs {mib(bare['peak_kib'])}"),
        Result("4b. same, above the RSS after imports+weights", sub, "x", "", None,
               f"{mib(sty[key] - sty['setup_kib'])} vs {mib(bare[key] - bare['setup_kib'])}"),
    ]


# --- all --------------------------------------------------------------------------------------


def threads() -> int:
    """Intra-op threads for these benchmarks: ``$BENCH_THREADS``, default 1.

    On this shared 2-core machine (load 5-7 from other jobs) two OpenMP threads wait on each
    other at every operator: a 32x32 forward+backward took 1.0 s with 2 threads and 0.06 s
    with 1, which would make every ratio a count of operators rather than of work.  Set
    ``BENCH_THREADS=2`` on an idle machine.
    """
    return max(1, int(os.environ.get("BENCH_THREADS", "1")))


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
        items = [partial(loop_overhead, size="32x32", evals=5, skip=1),
                 partial(convergence, size=32, adam_steps=30, budget=15, target=8, cache=False,
                         png="style-convergence-quick.png"),
                 partial(batched_grid, size=32, steps=2, repeats=1, subset=2),
                 partial(memory, size=64, steps=2)]
    else:
        items = [partial(loop_overhead, size="224x224", evals=12, skip=2, profile_evals=3),
                 partial(convergence, size=128, adam_steps=transfer_steps(), budget=300, target=300,
                         cache=True,
                         png="style-convergence.png"),
                 partial(batched_grid, size=64, steps=6, repeats=2),
                 partial(memory, size=512, steps=3)]
    results: list[Result] = []
    for item in items:
        t0 = time.perf_counter()
        results += item()
        _say(f"    ({item.func.__name__}: {time.perf_counter() - t0:.0f} s wall)")
    results.append(Result("8. GPU: full report profile, all notebooks", NAN, "s", "<= 120", None,
                          "not measured (no GPU in this session)"))
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
    print("usage: python -m benchmarks style  (or: -m benchmarks.bench_style --memory-child "
          "bare|stylize SIZE STEPS)",
          file=sys.stderr)
    raise SystemExit(2)
