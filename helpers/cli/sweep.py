"""``sweep``: run one notebook over a grid of papermill parameters, fanned out on Dask.

CLI layer: options, checks and printing; the work is done by :mod:`helpers.sweep`, imported
only when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DESCRIPTION = """\
Expand SWEEP.yaml (a notebook, a base profile, a grid of parameter products and zips) into
runs, and execute each with papermill on a Dask cluster into
outputs/sweeps/<sweep>/<run-id>/ (the executed notebook, its figures, metrics.json, run.json).
A run whose folder already holds a complete result for the same parameters is skipped, so a
second invocation does nothing. A failed run is retried, then reported with its failing cell;
the others go on. At the end: outputs/sweeps/<sweep>/results.csv (one row per run) and
contact-sheet.png (each run's key image).

where the runs go:
  (default)            a local cluster: one worker per GPU, pinned to it; else CPU workers
                       that share the cores (each run gets cores // workers threads)
  --scheduler ADDRESS  a running Dask cluster (e.g. tcp://10.0.0.5:8786)
  --slurm              a dask-jobqueue SLURMCluster: one job per worker (--queue, --walltime,
                       --memory, --cores, --gpus, --jobs); --dry-run prints its job script

exit codes: 0 every run passed (or was already complete), 1 a run failed, 2 bad input.
"""

EPILOG = """\
examples:
  python -m helpers sweep sweeps/smoke.yaml --workers 2
  python -m helpers sweep sweeps/smoke.yaml --list               # the runs and their folders
  python -m helpers sweep study.yaml --scheduler tcp://head:8786
  python -m helpers sweep study.yaml --slurm --queue gpu --gpus 1 --walltime 02:00:00 --jobs 8
  python -m helpers sweep study.yaml --slurm --queue gpu --gpus 1 --dry-run   # the job script
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a notebook over a parameter grid with papermill on Dask (local, a cluster, "
        "Slurm)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("sweep_file", metavar="SWEEP.yaml", help="the sweep (see sweeps/smoke.yaml)")
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="local workers (default: one per GPU, else one per core, at most one per run)",
    )
    p.add_argument(
        "--retries",
        type=int,
        metavar="N",
        help="tries after a failure before a run is reported failed (default: the file's, else 1)",
    )
    p.add_argument("--scheduler", metavar="ADDRESS", help="use this running Dask scheduler")
    p.add_argument("--list", action="store_true", help="list the runs and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--notebooks", metavar="DIR", help="notebook folder (default: notebooks/)")
    p.add_argument("--configs", metavar="DIR", help="profile folder (default: configs/)")
    s = p.add_argument_group("Slurm (dask-jobqueue)")
    s.add_argument("--slurm", action="store_true", help="submit the workers as Slurm jobs")
    s.add_argument("--queue", help="partition (#SBATCH -p)")
    s.add_argument("--account", help="account to charge (#SBATCH -A)")
    s.add_argument("--walltime", default="01:00:00", help="per job (default 01:00:00)")
    s.add_argument("--memory", default="16GB", help="per job (default 16GB)")
    s.add_argument("--cores", type=int, default=4, help="CPU cores per job (default 4)")
    s.add_argument("--gpus", type=int, default=0, help="GPUs per job: 0 (default) or 1")
    s.add_argument(
        "--sbatch",
        action="append",
        default=[],
        metavar="DIRECTIVE",
        help="one more #SBATCH directive, e.g. --sbatch=--constraint=a100 (repeatable)",
    )
    s.add_argument("--jobs", type=int, default=1, help="jobs, i.e. workers (default 1)")
    s.add_argument("--dry-run", action="store_true", help="print the job script and exit")
    p.set_defaults(func=run_sweep_command)


def _slurm_options(args: argparse.Namespace):
    from ..sweep import SlurmOptions

    return SlurmOptions(
        queue=args.queue,
        account=args.account,
        walltime=args.walltime,
        memory=args.memory,
        cores=args.cores,
        gpus=args.gpus,
        jobs=args.jobs,
        extra=tuple(args.sbatch),
    ).check()


def run_sweep_command(args: argparse.Namespace) -> int:
    from .. import sweep as sw
    from ..errors import UserError

    if args.slurm and args.scheduler:
        raise UserError("--slurm and --scheduler both choose the cluster; give one")
    if args.retries is not None and args.retries < 0:
        raise UserError(f"--retries {args.retries}: give 0 or more")
    if args.dry_run and not args.slurm:
        raise UserError("--dry-run prints the Slurm job script; add --slurm")
    for flag in ("notebooks", "configs"):
        value = getattr(args, flag)
        if value and not Path(value).is_dir():
            raise UserError(f"--{flag} {value}: not a folder")
    slurm = _slurm_options(args) if args.slurm else None
    spec = sw.load_sweep(
        args.sweep_file,
        notebooks=Path(args.notebooks) if args.notebooks else None,
        configs=Path(args.configs) if args.configs else None,
    )
    if args.dry_run:
        print(sw.job_script(slurm))
        return 0
    if args.list:
        root = sw.sweep_root(spec)
        for run in spec.runs:
            done = sw.is_complete(root / run.id, spec.stem, run.parameters)
            print(f"{'done   ' if done else 'to run '} {root / run.id}")
        return 0
    outcome = sw.run_sweep(
        spec,
        workers=args.workers,
        scheduler=args.scheduler,
        slurm=slurm,
        retries=args.retries,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    for record in outcome.failures:
        failed = record.get("failed") or {}
        where = _where(failed)
        print(f"FAILED {record.get('run_id')}: {where}", flush=True)
    print(outcome.summary())
    return 1 if outcome.failed else 0


def _where(failed: dict) -> str:
    from ..report.run import FailedCell

    try:
        return FailedCell(**failed).describe()
    except TypeError:
        return str(failed)
