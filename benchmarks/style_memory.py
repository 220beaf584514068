"""Style-transfer benchmark item 5, memory (run by :mod:`benchmarks.bench_style`).

Peak resident memory of a 512×512 stylisation with the default optimiser vs a bare
forward+backward at that size (:func:`benchmarks.common.bare_pass`), each in a fresh
subprocess (target <= 1.5):

    python -m benchmarks.style_memory --memory-child bare|stylize SIZE STEPS

is that subprocess; it prints one JSON line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from . import common
from .common import TUBINGEN, Result, say

ROOT = Path(__file__).resolve().parent.parent


def _default(name: str):
    """The default of one of :func:`helpers.nst.optimize`'s settings (:class:`RunOptions`)."""
    from helpers import nst

    return getattr(nst.RunOptions(), name)


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

    torch.set_num_threads(common.threads())

    # same setup in both: imports + the weights in memory
    nst.build_network(["conv1_1"], weights=common.WEIGHTS, device="cpu")
    setup = _vm("VmRSS")
    try:  # reset VmHWM to the current RSS (Linux), so that it measures the job's peak
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        reset = True
    except OSError:
        reset = False
    t0 = time.perf_counter()
    if kind == "bare":
        bare = common.bare_pass(size, size)
        for _ in range(2):
            bare()
        info = {}
    else:
        content, style = common.pair(TUBINGEN, f"{size}x{size}")
        res = nst.stylize(
            content, style, steps=steps, progress=False, device="cpu", weights=common.WEIGHTS
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
        "benchmarks.style_memory",
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


def _mib(kib: float) -> str:
    return f"{kib / 1024:.0f} MiB"


def _say_memory(size: int, what: str, key: str, sty: dict, bare: dict, ratios: tuple) -> None:
    raw, life, sub = ratios
    say(
        f"[5] {size}x{size}, {what}: stylize {_mib(sty[key])} ({sty['optimizer']}, "
        f"{sty['evaluations']} evals, history "
        f"{sty['history_size']}) vs bare fwd+bwd {_mib(bare[key])} -> {raw:.2f}x; whole-process "
        f"ru_maxrss "
        f"{_mib(sty['peak_kib'])} vs {_mib(bare['peak_kib'])} -> {life:.2f}x; above the RSS after "
        f"imports+weights "
        f"({_mib(sty['setup_kib'])} / {_mib(bare['setup_kib'])}): "
        f"{_mib(sty[key] - sty['setup_kib'])} vs "
        f"{_mib(bare[key] - bare['setup_kib'])} -> {sub:.2f}x"
    )


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
    what = "peak RSS during the job (VmHWM reset after setup)" if key == "hwm_kib" else "ru_maxrss"
    _say_memory(size, what, key, sty, bare, (raw, life, sub))
    notes = (
        f"{size}x{size}, fresh subprocesses, {what}: stylize {_mib(sty[key])} "
        f"({sty['optimizer']} history "
        f"{sty['history_size']}, {sty['evaluations']} evals) vs bare fwd+bwd "
        f"{_mib(bare[key])}; "
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
            f"{_mib(sty['peak_kib'])} vs {_mib(bare['peak_kib'])}",
        ),
        Result(
            "5b. same, above the RSS after imports+weights",
            sub,
            "x",
            "",
            None,
            f"{_mib(sty[key] - sty['setup_kib'])} vs {_mib(bare[key] - bare['setup_kib'])}",
        ),
    ]


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--memory-child":
        print(json.dumps(_memory_child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
        raise SystemExit(0)
    print(
        "usage: python -m benchmarks.style_memory --memory-child bare|stylize SIZE STEPS",
        file=sys.stderr,
    )
    raise SystemExit(2)
