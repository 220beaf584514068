"""One sweep run, as a Dask task: idempotent, atomic, and safe to kill at any moment.

Part of :mod:`helpers.sweep`.  :func:`execute_run` runs on a Dask worker.  It starts
``python -m helpers.sweep.task REQUEST.json``, a child process that calls the report's own
:func:`helpers.report.run.run_notebook` (papermill, time limit, failing-cell annotation) with
``HELPERS_OUTPUTS`` pointing at a fresh staging folder, so the notebook's figures and
``metrics.json`` land there and nothing under ``outputs/<notebook>/`` is touched.  The child
also gets the worker's thread budget (``OMP_NUM_THREADS`` ...) and inherits its
``CUDA_VISIBLE_DEVICES``.

On success the staging folder becomes ``<sweep>/<run-id>/`` in one rename, with ``run.json``
written last inside it: a folder is complete exactly when it holds a ``run.json`` that says
``passed`` for the same parameters.  On failure the attempt moves to ``<sweep>/.failed/<run-id>/``
and :class:`RunFailed` is raised, so Dask's ``retries`` runs it again.  A worker that dies
mid-run takes its child with it (``PR_SET_PDEATHSIG``; the kernel follows its parent) and leaves
only a staging folder; the scheduler reruns the task, which starts from a new staging folder.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

RECORD = "run.json"
STAGING = ".staging"
FAILED = ".failed"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
THREADS_VARIABLE = "HELPERS_SWEEP_THREADS"
"""Set on a worker (e.g. by a Slurm job script): the threads each run may use there."""


class RunFailed(Exception):  # noqa: N818 -- a run's outcome, not a programming error
    """A run whose notebook failed; ``args[0]`` is its record (with the failing cell)."""

    @property
    def record(self) -> dict:
        return self.args[0]


def load_record(folder: Path) -> dict | None:
    """``folder/run.json``, or ``None`` when missing or unreadable."""
    try:
        return json.loads((Path(folder) / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_complete(folder: Path, stem: str, parameters: dict[str, Any]) -> bool:
    """Whether ``folder`` holds a passed result of ``stem`` for exactly these parameters."""
    record = load_record(folder)
    return bool(
        record
        and record.get("status") == "passed"
        and record.get("notebook") == stem
        and record.get("parameters") == parameters
        and (Path(folder) / f"{stem}.ipynb").is_file()
    )


def _write_json(path: Path, data: dict) -> None:
    from ..runtime import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _child_env(staging: Path, threads: int | None) -> dict[str, str]:
    env = dict(os.environ)
    env["HELPERS_OUTPUTS"] = str(staging)
    if threads is None:  # an external worker: what its job says, else the cores it may use
        threads = int(os.environ.get(THREADS_VARIABLE, 0)) or (
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        )
    for name in THREAD_VARIABLES:
        if threads:
            env[name] = str(threads)
    return env


def _publish(staging: Path, final: Path) -> None:
    """Rename ``staging`` onto ``final``; an incomplete ``final`` is moved aside first.

    Two attempts may finish the same run (a worker presumed dead was only slow): whichever
    rename comes second finds a complete folder and drops its own copy.
    """
    old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
    if final.exists():
        os.rename(final, old)
    try:
        os.rename(staging, final)
    finally:
        shutil.rmtree(old, ignore_errors=True)


def _flatten(staging: Path, stem: str) -> None:
    """The notebook wrote ``<staging>/<stem>/*``: move its files up beside the executed copy."""
    inner = staging / stem
    if inner.is_dir():
        for path in inner.iterdir():
            os.replace(path, staging / path.name)
        inner.rmdir()


def _attempt(root: Path, run_id: str, session: str) -> int:
    """1 + the failed attempts of this run in this sweep invocation."""
    previous = load_record(root / FAILED / run_id) or {}
    return int(previous.get("attempt", 0)) + 1 if previous.get("session") == session else 1


def execute_run(request: dict[str, Any]) -> dict[str, Any]:
    """Run one sweep run (on a worker) and return its record; raise :class:`RunFailed` on a
    failure.

    ``request``: ``id``, ``notebook`` (path), ``stem``, ``profile``, ``parameters``,
    ``varied``, ``root`` (the sweep's folder), ``timeout``, ``threads`` (None: the cores this
    worker may use) and ``session`` (the sweep invocation, to count attempts).
    """
    root, stem = Path(request["root"]), request["stem"]
    final = root / request["id"]
    if is_complete(final, stem, request["parameters"]):  # a rerun after a lost reply
        return load_record(final)
    attempt = _attempt(root, request["id"], request["session"])
    staging = root / STAGING / f"{request['id']}.{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    _write_json(staging / "request.json", request)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "helpers.sweep.task", str(staging / "request.json")],
        env=_child_env(staging, request.get("threads")),
        cwd=str(Path(request["notebook"]).parent),
        capture_output=True,
        text=True,
    )
    result = _read_result(staging, proc)
    record = {
        "run_id": request["id"],
        "sweep": root.name,
        "notebook": stem,
        "profile": request["profile"],
        "parameters": request["parameters"],
        "varied": request["varied"],
        "status": result.get("status", "failed"),
        "seconds": round(time.perf_counter() - t0, 2),
        "device": result.get("device", "-"),
        "failed": result.get("failed"),
        "attempt": attempt,
        "session": request["session"],
        "host": socket.gethostname(),
        "finished": _dt.datetime.now().isoformat(timespec="seconds"),
    }
    (staging / "request.json").unlink(missing_ok=True)
    (staging / "result.json").unlink(missing_ok=True)
    if record["status"] == "passed":
        _flatten(staging, stem)
        _write_json(staging / RECORD, record)
        if is_complete(final, stem, request["parameters"]):
            shutil.rmtree(staging, ignore_errors=True)
            return load_record(final)
        _publish(staging, final)
        shutil.rmtree(root / FAILED / request["id"], ignore_errors=True)
        return record
    _write_json(staging / RECORD, record)
    failed_dir = root / FAILED / request["id"]
    failed_dir.parent.mkdir(parents=True, exist_ok=True)
    _publish(staging, failed_dir)
    raise RunFailed(record)


def _read_result(staging: Path, proc: subprocess.CompletedProcess) -> dict:
    """The child's ``result.json``; a child that died before writing it is a failure too."""
    try:
        return json.loads((staging / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        lines = [line for line in (proc.stderr or "").splitlines() if line.strip()]
        said = f": {lines[-1].strip()[:200]}" if lines else ""
        return {
            "status": "failed",
            "failed": {
                "index": None,
                "source": "",
                "error": f"the run's process exited with code {proc.returncode}{said}",
            },
        }


# ----------------------------------------------------------------------------- the child


def _die_with_parent() -> None:
    """Linux: get SIGKILL when the worker that started us dies (no orphaned runs)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent was already gone
            os._exit(1)


def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.sweep.task REQUEST.json``: run the notebook, write result.json."""
    _die_with_parent()
    from ..report.run import run_notebook

    request_path = Path((argv or sys.argv[1:])[0])
    request = json.loads(request_path.read_text(encoding="utf-8"))
    staging = request_path.parent
    result = run_notebook(
        Path(request["notebook"]),
        profile=request["profile"],
        parameters=request["parameters"],
        out_dir=staging,
        timeout=float(request["timeout"]),
    )
    _write_json(staging / "result.json", result.to_json())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
