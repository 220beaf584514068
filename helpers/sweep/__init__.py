"""Sweeps: one notebook run over a grid of papermill parameters, fanned out on Dask.

``python -m helpers sweep SWEEP.yaml`` (:mod:`helpers.cli.sweep`) is the command.

* :mod:`.spec`: the sweep file (notebook, base profile, a grid of products and zips) expanded
  into runs whose ids derive from their parameters.
* :mod:`.task`: one run as an idempotent Dask task (the report's papermill runner in a child
  process, staged and renamed into ``outputs/sweeps/<sweep>/<run-id>/``).
* :mod:`.runner`: the cluster (local, an existing scheduler, or Slurm), skip-if-done, retries,
  the progress bar; :mod:`.results`: ``results.csv`` and the contact sheet;
  :mod:`.slurm`: the ``dask_jobqueue.SLURMCluster`` and its job script.
* :mod:`.extra`: the Dask stack is the optional ``sweep`` extra (``pip install -e '.[sweep]'``);
  without it a sweep is refused in one line.

It sits above :mod:`helpers.report` (whose runner it reuses) and imports no torch or Dask at
import time.
"""

from .extra import SWEEP_EXTRA, require_dask
from .results import CONTACT_SHEET, RESULTS, read_results_csv, result_rows
from .runner import SweepOutcome, local_layout, run_sweep, sweep_root, write_results
from .slurm import SlurmOptions, cluster_kwargs, job_script
from .spec import Run, Sweep, expand_grid, load_sweep, run_id
from .task import RunFailed, execute_run, is_complete

__all__ = [
    "CONTACT_SHEET",
    "RESULTS",
    "Run",
    "RunFailed",
    "Sweep",
    "SweepOutcome",
    "SlurmOptions",
    "SWEEP_EXTRA",
    "cluster_kwargs",
    "execute_run",
    "expand_grid",
    "is_complete",
    "job_script",
    "load_sweep",
    "local_layout",
    "read_results_csv",
    "require_dask",
    "result_rows",
    "run_id",
    "run_sweep",
    "sweep_root",
    "write_results",
]
