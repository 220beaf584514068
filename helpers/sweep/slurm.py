"""Sweeps on a Slurm cluster: the ``dask_jobqueue.SLURMCluster`` that ``--slurm`` builds.

Part of :mod:`helpers.sweep`.  Each Slurm job is one Dask worker running one notebook at a time
with the job's cores (the run's child process gets them as its thread count) and, with
``gpus``, the job's GPUs (Slurm sets ``CUDA_VISIBLE_DEVICES``).  :func:`job_script` shows the
batch script that would be submitted, without a cluster.
"""

from __future__ import annotations

import dataclasses
import re
import sys

from ..errors import UserError
from .extra import require_dask
from .task import THREADS_VARIABLE


@dataclasses.dataclass(frozen=True)
class SlurmOptions:
    """What a Slurm job asks for; ``jobs`` is how many workers (jobs) the sweep scales to."""

    queue: str | None = None
    account: str | None = None
    walltime: str = "01:00:00"
    memory: str = "16GB"
    cores: int = 4
    gpus: int = 0  # 0 or 1: a run uses one device
    jobs: int = 1
    python: str = sys.executable
    extra: tuple[str, ...] = ()  # more #SBATCH directives, e.g. "--constraint=a100"

    def check(self) -> SlurmOptions:
        if not re.fullmatch(r"(\d+-)?\d{1,2}(:\d{2}){0,2}", self.walltime):
            raise UserError(f"--walltime {self.walltime}: use Slurm's HH:MM:SS (or D-HH:MM:SS)")
        if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", self.memory, flags=re.IGNORECASE):
            raise UserError(f"--memory {self.memory}: give a size such as 16GB")
        for name in ("cores", "jobs"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name} must be at least 1")
        if self.gpus not in (0, 1):
            raise UserError(
                f"--gpus {self.gpus}: a job is one worker running one notebook on one GPU; "
                "use --gpus 1 and more --jobs"
            )
        return self


def cluster_kwargs(options: SlurmOptions) -> dict:
    """The ``SLURMCluster`` keyword arguments for ``options``: one worker process per job with
    one task slot (a run uses all the job's cores itself)."""
    options.check()
    directives = [f"--gres=gpu:{options.gpus}"] if options.gpus else []
    directives += list(options.extra)
    return {
        "queue": options.queue,
        "account": options.account,
        "walltime": options.walltime,
        "memory": options.memory,
        "cores": 1,  # the worker's task slots: one run at a time ...
        "processes": 1,
        "job_cpu": options.cores,  # ... which gets every core of the job
        "job_extra_directives": directives,
        "job_script_prologue": [f"export {THREADS_VARIABLE}={options.cores}"],
        "python": options.python,
        "job_name": "helpers-sweep",
    }


def make_cluster(options: SlurmOptions):
    """A ``SLURMCluster`` (its scheduler runs here; no job is submitted until it scales)."""
    require_dask("dask", "distributed", "dask_jobqueue")
    from dask_jobqueue import SLURMCluster

    return SLURMCluster(**cluster_kwargs(options))


def job_script(options: SlurmOptions) -> str:
    """The batch script each job would run, for review (``sweep --slurm --dry-run``)."""
    cluster = make_cluster(options)
    try:
        return cluster.job_script()
    finally:
        cluster.close()
