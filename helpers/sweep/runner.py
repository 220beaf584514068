"""Fan a sweep's runs out on Dask: skip what is done, retry what fails, keep what finished.

Part of :mod:`helpers.sweep`.  :func:`run_sweep` plans the runs (a run whose folder already
holds a complete result for the same parameters is skipped, so a second invocation does
nothing), submits the others to a Dask cluster as :func:`helpers.sweep.task.execute_run` tasks
with ``retries``, follows them with a progress bar, and writes ``results.csv`` and the contact
sheet from the run folders.  The cluster is, in order of preference: a ``client`` given by the
caller, ``scheduler`` (the address of a running cluster), a ``slurm``
:class:`~helpers.sweep.slurm.SlurmOptions`, or a :func:`local_cluster` sized to this machine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..runtime import atomic_write_text, outputs_dir
from .extra import require_dask
from .results import CONTACT_SHEET, RESULTS, contact_sheet, result_rows, results_csv_text
from .slurm import SlurmOptions
from .spec import Run, Sweep
from .task import STAGING, RunFailed, execute_run, is_complete


@dataclasses.dataclass
class SweepOutcome:
    """What one invocation did: runs skipped (already complete), ran, failed; where it wrote."""

    sweep: str
    total: int
    skipped: int
    passed: int
    failed: int
    seconds: float
    folder: Path
    results: Path
    contact_sheet: Path | None
    dashboard: str | None = None
    failures: list[dict] = dataclasses.field(default_factory=list)
    rewrote: bool = False  # nothing ran, but results.csv or the contact sheet was missing

    @property
    def nothing_to_do(self) -> bool:
        return self.skipped == self.total

    def summary(self) -> str:
        """The one line printed at the end."""
        if self.nothing_to_do:
            did = "rewrote results.csv and the contact sheet" if self.rewrote else "nothing to do"
            return (
                f"sweep {self.sweep}: {did}, all {self.total} runs are already complete "
                f"in {self.folder} (delete a run's folder to run it again)"
            )
        return (
            f"sweep {self.sweep}: {self.passed} passed, {self.failed} failed, {self.skipped} "
            f"skipped (already complete) of {self.total} runs in {self.seconds:.1f} s; "
            f"results: {self.results}"
        )


def sweep_root(sweep: Sweep) -> Path:
    """``outputs/sweeps/<name>/``."""
    return outputs_dir("sweeps") / sweep.name


def plan(sweep: Sweep, root: Path) -> tuple[list[Run], list[Run]]:
    """``(to run, already complete)``."""
    done = [r for r in sweep.runs if is_complete(root / r.id, sweep.stem, r.parameters)]
    todo = [r for r in sweep.runs if r not in done]
    return todo, done


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def gpu_count() -> int:
    try:
        import torch

        return torch.cuda.device_count()
    except Exception:  # pragma: no cover - no usable torch/CUDA: CPU workers
        return 0


def local_layout(workers: int | None, runs: int) -> tuple[int, int, list[str | None]]:
    """``(workers, threads per run, CUDA_VISIBLE_DEVICES per worker)`` for this machine.

    With GPUs: one worker per GPU (``workers`` at most that many), each pinned to its device.
    Without: ``workers`` CPU workers (default one per core, at most one per run) sharing the
    cores: each run gets ``cores // workers`` threads, so they never oversubscribe the CPU.
    """
    cores, gpus = available_cores(), gpu_count()
    if workers is not None and workers < 1:
        raise UserError(f"--workers {workers}: give at least 1")
    if gpus:
        n = min(workers or gpus, gpus)
        return n, max(1, cores // n), [str(i) for i in range(n)]
    n = workers or max(1, min(cores, runs))
    return n, max(1, cores // n), [None] * n


def local_cluster(devices: list[str | None], dashboard: str = ":8787"):
    """A local Dask cluster: one single-threaded worker process per entry of ``devices``
    (a GPU index pins that worker with ``CUDA_VISIBLE_DEVICES``)."""
    from distributed import Nanny, Scheduler, SpecCluster

    workers = {}
    for i, device in enumerate(devices):
        env = {"CUDA_VISIBLE_DEVICES": device} if device is not None else {}
        options = {"nthreads": 1, "env": env, "memory_limit": 0, "silence_logs": logging.CRITICAL}
        workers[f"sweep-{i}"] = {"cls": Nanny, "options": options}
    scheduler = {
        "cls": Scheduler,
        "options": {"dashboard_address": dashboard, "host": "127.0.0.1"},
    }
    return SpecCluster(workers=workers, scheduler=scheduler, silence_logs=logging.CRITICAL)


@contextlib.contextmanager
def _connect(
    *, client=None, scheduler: str | None, slurm: SlurmOptions | None, devices: list
) -> Iterator[Any]:
    """A Dask client on the chosen cluster, closed afterwards (a given client stays open)."""
    if client is not None:
        yield client
        return
    from distributed import Client

    if scheduler:
        try:
            c = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise UserError(f"--scheduler {scheduler}: cannot connect ({exc})") from exc
        with c:
            yield c
        return
    if slurm is not None:
        from .slurm import make_cluster

        cluster = make_cluster(slurm)
        cluster.scale(jobs=slurm.jobs)
    else:
        cluster = local_cluster(devices)
    with cluster, Client(cluster) as c:
        yield c


def run_requests(sweep: Sweep, runs: list[Run], root: Path, threads: int | None) -> list[dict]:
    """The :func:`~helpers.sweep.task.execute_run` requests of ``runs`` (one sweep invocation:
    one ``session``, which counts each run's attempts)."""
    session = uuid.uuid4().hex
    return [
        {
            "id": run.id,
            "notebook": str(sweep.notebook),
            "stem": sweep.stem,
            "profile": sweep.profile,
            "parameters": run.parameters,
            "varied": run.varied,
            "root": str(root),
            "timeout": sweep.time_limit,
            "threads": threads,
            "session": session,
        }
        for run in runs
    ]


def _failure_record(request: dict, exc: BaseException) -> dict:
    """The record of a run that raised something else than :class:`RunFailed` (a worker that
    died too often, a task that could not be deserialised)."""
    if isinstance(exc, RunFailed):
        return exc.record
    return {
        "run_id": request["id"],
        "status": "failed",
        "failed": {"index": None, "source": "", "error": f"{type(exc).__name__}: {exc}"},
    }


def _clear_staging(root: Path) -> None:
    shutil.rmtree(root / STAGING, ignore_errors=True)


def run_sweep(
    sweep: Sweep,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    slurm: SlurmOptions | None = None,
    client=None,
    retries: int | None = None,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> SweepOutcome:
    """Run the sweep's missing runs on Dask; write ``results.csv`` and the contact sheet.

    ``retries`` (default: the sweep file's, else 1) is how often a failed run is tried again
    before it is reported with its failing cell; a run on a worker that dies is rescheduled by
    Dask and does not count as a failure.  Returns what happened (the CLI prints it).
    Without the Dask stack (the ``sweep`` extra): a :class:`UserError` saying how to install it.
    """
    if client is None:
        require_dask()
    root = sweep_root(sweep)
    todo, done = plan(sweep, root)
    retries = sweep.retries if retries is None else retries
    t0 = time.perf_counter()
    outcome = SweepOutcome(
        sweep=sweep.name,
        total=len(sweep.runs),
        skipped=len(done),
        passed=0,
        failed=0,
        seconds=0.0,
        folder=root,
        results=root / RESULTS,
        contact_sheet=root / CONTACT_SHEET,
    )
    if not todo and outcome.results.is_file() and outcome.contact_sheet.is_file():
        return outcome  # nothing to do, and nothing rewritten
    if todo:
        external = client is not None or scheduler or slurm is not None
        n, threads, devices = local_layout(workers, len(todo)) if not external else (0, None, [])
        _clear_staging(root)
        with _connect(client=client, scheduler=scheduler, slurm=slurm, devices=devices) as c:
            outcome.dashboard = c.dashboard_link
            where = f"{n} local workers x {threads} threads" if n else c.scheduler.address
            echo(
                f"sweep {sweep.name}: {len(todo)} runs to do ({len(done)} already complete) "
                f"on {where}; dashboard: {outcome.dashboard}"
            )
            _follow(c, run_requests(sweep, todo, root, threads), retries, outcome, progress)
        _clear_staging(root)
    outcome.seconds = time.perf_counter() - t0
    outcome.rewrote = not todo
    write_results(sweep, root)
    return outcome


def _follow(client, requests: list[dict], retries: int, outcome: SweepOutcome, progress: bool):
    """Submit the runs and count them as they finish (a tqdm bar: done and failed)."""
    from distributed import as_completed
    from tqdm.auto import tqdm

    futures = {
        client.submit(
            execute_run,
            req,
            key=f"run-{req['id']}-{req['session'][:6]}",
            retries=retries,
            pure=False,
        ): req
        for req in requests
    }
    bar = tqdm(total=len(requests), unit="run", desc=f"sweep {outcome.sweep}", disable=not progress)
    try:
        for future in as_completed(futures):
            if future.status == "finished":
                outcome.passed += 1
            else:
                outcome.failed += 1
                exc = future.exception() if future.status == "error" else None
                exc = exc or RuntimeError(f"the task was {future.status}")
                outcome.failures.append(_failure_record(futures[future], exc))
            bar.set_postfix(passed=outcome.passed, failed=outcome.failed, refresh=False)
            bar.update()
    finally:
        bar.close()
        for future in futures:
            future.release()


def write_results(sweep: Sweep, root: Path) -> tuple[Path, Path]:
    """``results.csv``, ``contact-sheet.png`` and ``sweep.json`` (what the report's sweep page
    says about the sweep) from the run folders, atomically."""
    root.mkdir(parents=True, exist_ok=True)
    rows = result_rows(sweep, root)
    about = {
        "name": sweep.name,
        "notebook": sweep.stem,
        "profile": sweep.profile,
        "axes": list(sweep.axes),
        "source": str(sweep.source),
    }
    atomic_write_text(root / "sweep.json", json.dumps(about, indent=2) + "\n")
    csv_path = atomic_write_text(root / RESULTS, results_csv_text(rows, sweep.axes))
    return csv_path, contact_sheet(sweep, root, rows)
