"""Sweep benchmark (issue 18): the smoke sweep on 2 Dask workers against the same runs one after
another.

Both execute ``sweeps/smoke.yaml``'s runs in a temporary outputs folder (nothing of
``outputs/`` is read or skipped), each run through the same task
(:func:`helpers.sweep.task.execute_run`: a child process running papermill):

* **parallel**: ``run_sweep(workers=2)``, a local cluster of two single-threaded workers, each
  run with ``cores // 2`` threads; the wall time includes starting and closing the cluster;
* **serial**: the same runs in a loop in this process, no Dask, each run with every core.

The ratio serial / parallel is the sweep's speed-up on this machine.

    python -m benchmarks sweep

Without the Dask stack (``pip install -e '.[sweep]'``) it reports one unmeasured row.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import NAN, Result

SWEEP = Path(__file__).resolve().parent.parent / "sweeps" / "smoke.yaml"
WORKERS = 2


@contextlib.contextmanager
def _outputs(folder: Path):
    previous = os.environ.get("HELPERS_OUTPUTS")
    os.environ["HELPERS_OUTPUTS"] = str(folder)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("HELPERS_OUTPUTS", None)
        else:
            os.environ["HELPERS_OUTPUTS"] = previous


def _parallel(spec, folder: Path) -> tuple[float, int]:
    from helpers.sweep import run_sweep

    with _outputs(folder):
        t0 = time.perf_counter()
        outcome = run_sweep(spec, workers=WORKERS, progress=False, echo=lambda _: None)
        return time.perf_counter() - t0, outcome.passed


def _serial(spec, folder: Path) -> tuple[float, int]:
    from helpers.sweep.runner import available_cores, run_requests
    from helpers.sweep.task import RunFailed, execute_run

    root = folder / "sweeps" / spec.name
    passed = 0
    t0 = time.perf_counter()
    for request in run_requests(spec, list(spec.runs), root, available_cores()):
        with contextlib.suppress(RunFailed):
            execute_run(request)
            passed += 1
    return time.perf_counter() - t0, passed


def run(quick: bool = False) -> list[Result]:
    from helpers.errors import UserError
    from helpers.sweep import load_sweep, require_dask

    try:
        require_dask()
    except UserError as exc:  # the sweep extra is optional: say so instead of failing
        return [Result("sweep speed-up (serial / parallel wall time)", NAN, "x", notes=str(exc))]
    spec = load_sweep(SWEEP)
    n = len(spec.runs)
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        serial, serial_ok = _serial(spec, Path(tmp) / "serial")
        parallel, parallel_ok = _parallel(spec, Path(tmp) / "parallel")
    note = (
        f"{n} runs of {spec.stem} ({spec.profile}); passed: serial {serial_ok}/{n}, "
        f"parallel {parallel_ok}/{n}"
    )
    ratio = serial / parallel
    return [
        Result("smoke sweep, one after another", serial, "s", notes=note),
        Result(f"smoke sweep, {WORKERS} Dask workers", parallel, "s", notes=note),
        Result(
            "sweep speed-up (serial / parallel wall time)",
            ratio,
            "x",
            target="> 1",
            ok=ratio > 1 and serial_ok == parallel_ok == n,
            notes=note,
        ),
    ]
