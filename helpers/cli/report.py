"""``report``: run the notebook series with papermill, render the HTML writeup, check regressions.

CLI layer: options, checks and printing; the work is done by :mod:`helpers.report`, imported
only when the command runs (no torch at start-up).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from pathlib import Path

DESCRIPTION = """\
Run notebooks/NN-*.ipynb in order with papermill (parameters from configs/<profile>/<stem>.yaml)
into outputs/notebooks/, render outputs/report/index.html (one page per notebook) with
nbconvert, print a pass/fail table; optionally compare each notebook's metrics.json and result
images with a reference run.

profiles:
  smoke   tiny images, a few steps: seconds per notebook (tests, CI)
  quick   the CPU default: recognisable results (mostly 48-96 px) in about 6 minutes
  full    the sources' scale where they give one (see configs/README.md): meant for a GPU
  auto    full when CUDA is present, else quick (default)

Before running it prints an estimated time per notebook (the seconds of its last run under the
profile in outputs/notebooks/results.json, else the profile's constant times a short timing on
the chosen device); a run estimated at over an hour on a CPU asks first, or needs --yes without
a terminal.  A notebook's new outputs replace outputs/<notebook>/ only when it passes; a failed
or interrupted attempt is kept as outputs/<notebook>.failed/.

exit codes: 0 all passed (and no drift), 1 a notebook failed or a value drifted,
2 bad input (unknown profile, missing parameter file, ...), 130 interrupted.
"""

EPILOG = """\
examples:
  python -m helpers report                                # auto profile, whole series
  python -m helpers report --profile smoke --only 01,05   # two notebooks, seconds each
  python -m helpers report --profile smoke --check tests/reference/smoke
  python -m helpers report --no-run --check tests/reference/smoke   # check the last run's outputs

recording a new reference (after an intended change of results):
  python -m helpers report --profile smoke --record tests/reference/smoke
  git diff tests/reference/smoke      # review what changed, then commit the JSON files
  python -m helpers report --profile smoke --only 04 --record tests/reference/smoke   # one notebook
The reference keeps, per notebook, the metrics.json numbers, the figure names, and for each
result image its shape, pixel sha256 and a full-resolution PNG crop of its region (a blend's
mask box; else the whole image) in <REFERENCE>/<notebook>/. Tolerances, each with its reason:
helpers.report.TOLERANCES (errors and residuals <= 2x the reference and the notebook's bound;
losses rtol 1e-2; counts and labels exact; timings never; images: mean absolute difference
<= 1 grey level in the region); a reference file may override them per key under "tolerances".

nbval (make test): --prepare DIR writes papermill-parameterised, unexecuted copies for
`pytest --nbval-lax DIR`, so the notebooks run once at smoke scale and feed --no-run --check.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="run the notebooks with papermill, render outputs/report/index.html, "
        "check regressions",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--profile",
        default="auto",
        choices=["auto", "smoke", "quick", "full"],
        help="parameter profile (default: auto)",
    )
    p.add_argument(
        "--only",
        metavar="NN,NN",
        help="run only these notebooks (numbers or stems, comma-separated); the report keeps "
        "the others' last run under the same profile",
    )
    p.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="time limit per notebook (default: smoke 300, quick 1800, full 3600)",
    )
    _add_reference_options(p)
    _add_mode_options(p)
    p.set_defaults(func=run_report)


def _add_reference_options(p: argparse.ArgumentParser) -> None:
    """--check, --record and --no-run: the regression reference."""
    p.add_argument(
        "--check",
        metavar="REFERENCE_DIR",
        help="compare metrics.json and result images with REFERENCE_DIR/<notebook>.json",
    )
    p.add_argument(
        "--record",
        metavar="REFERENCE_DIR",
        help="after a run in which every notebook passed, write REFERENCE_DIR/<notebook>.json",
    )
    p.add_argument(
        "--no-run",
        action="store_true",
        help="do not execute or render: only --check/--record the outputs already there",
    )


def _add_mode_options(p: argparse.ArgumentParser) -> None:
    """What to run and render, where the notebooks and configs are, how much to print."""
    p.add_argument(
        "--no-render", action="store_true", help="execute but do not render the HTML report"
    )
    p.add_argument(
        "--render-only",
        action="store_true",
        help="only re-render outputs/report/ from the last run's executed notebooks",
    )
    p.add_argument(
        "--prepare",
        metavar="DIR",
        help="only write parameterised (unexecuted) copies into DIR, for pytest --nbval-lax",
    )
    p.add_argument(
        "--notebooks",
        metavar="DIR",
        help="notebook folder (default: notebooks/, or $HELPERS_NOTEBOOKS)",
    )
    p.add_argument(
        "--configs",
        metavar="DIR",
        help="profile folder holding <profile>/<stem>.yaml (default: configs/, or "
        "$HELPERS_CONFIGS)",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show every compared value, not only the drifted ones",
    )
    p.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="start a run estimated at over an hour on a CPU without asking (needed without "
        "a terminal)",
    )


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM unwinds like Ctrl-C, so temporary files are removed and the kernel is shut down."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _check_options(args: argparse.Namespace, notebooks_dir: Path, configs: Path) -> None:
    """Refuse bad settings before anything runs (a run may take minutes)."""
    from .. import report
    from ..errors import UserError

    if args.notebooks and not notebooks_dir.is_dir():
        raise UserError(f"--notebooks {notebooks_dir}: not a folder")
    if args.configs and not configs.is_dir():
        raise UserError(f"--configs {configs}: not a folder")
    if args.timeout is not None and args.timeout <= 0:
        raise UserError(f"--timeout {args.timeout:g}: give a positive number of seconds")
    if args.no_run and not (args.check or args.record):
        raise UserError("--no-run does nothing without --check or --record")
    if args.check and not Path(args.check).is_dir():  # before the run, which may take minutes
        raise UserError(
            f"reference folder {args.check} does not exist; record one with --record {args.check}"
        )
    if args.only is not None and not report.parse_only(args.only):
        raise UserError(f"--only {args.only!r}: name at least one notebook, e.g. --only 01,05")


def run_report(args: argparse.Namespace) -> int:
    from .. import report
    from ..errors import UserError

    notebooks_dir = Path(args.notebooks) if args.notebooks else report.notebooks_dir()
    configs = Path(args.configs) if args.configs else report.configs_dir()
    _check_options(args, notebooks_dir, configs)
    notebooks = report.discover(notebooks_dir, report.parse_only(args.only))
    stems = [nb.stem for nb in notebooks]
    profile = report.resolve_profile(args.profile)
    _check_outputs_writable(args)

    if args.render_only:
        results = report.load_results()
        index = report.render_report(results, notebooks=notebooks_dir, configs=configs)
        print(f"report: {index}")
        print(report.results_table(results))
        return 0 if all(r.ok for r in results) else 1

    if args.prepare:
        written = report.prepare_notebooks(
            notebooks, profile=profile, dest=Path(args.prepare), configs=configs
        )
        print(f"{len(written)} notebooks parameterised for the {profile} profile in {args.prepare}")
        return 0

    failed = drifted = False
    if not args.no_run:
        _fetch_inputs(notebooks)  # before any notebook starts, as `make report` does
        estimates = _estimate(args, notebooks, profile, configs)
        results = _run_and_render(args, notebooks, profile, notebooks_dir, configs, estimates)
        print()
        print(report.results_table(results))
        failed = not all(r.ok for r in results)

    if args.check:
        rows = report.check_reference(Path(args.check), stems)
        print()
        print(report.drift_table(rows, verbose=args.verbose))
        drifted = not all(r.ok for r in rows)

    if args.record:
        if failed:
            raise UserError(
                f"not recording into {args.record}: a notebook failed; fix it and run again"
            )
        written = report.record_reference(Path(args.record), stems, profile=profile)
        print(f"recorded {len(written)} reference files in {args.record}")
    return 1 if failed or drifted else 0


def _fetch_inputs(notebooks: list[Path]) -> None:
    """Fetch the missing sample images (from ASSETS_MIRROR or their URLs) and, when a
    style-transfer notebook is selected, the VGG-19 weights.  When that fails: one UserError
    line naming what is missing and how to provide it; no notebook is started."""
    import os

    from ..assets import fetch_assets
    from ..errors import UserError
    from ..runtime import cache_dir

    try:
        fetch_assets(log=lambda line: print(line, flush=True))
    except UserError as exc:
        raise UserError(f"notebooks not started: {exc}") from None
    if not any(_uses_nst(nb) for nb in notebooks) or os.environ.get("VGG19_WEIGHTS"):
        return  # VGG19_WEIGHTS is checked where it is loaded
    from ..nst import vgg

    if not (cache_dir() / vgg.CACHE_NAME).is_file():
        try:
            vgg.fetch_caffe_weights(log=lambda line: print(line, flush=True))
        except UserError as exc:
            raise UserError(f"notebooks not started: VGG-19 weights: {exc}") from None


def _uses_nst(notebook: Path) -> bool:
    """Whether the notebook imports helpers.nst (and so needs the VGG-19 weights)."""
    import re

    text = notebook.read_text(encoding="utf-8")
    return re.search(r"from helpers(?:\.nst)? import [^\n]*\bnst\b|helpers\.nst", text) is not None


def _check_outputs_writable(args: argparse.Namespace) -> None:
    """Every folder the command will write, checked before any work (one line, exit 2)."""
    from ..runtime import check_writable_dir, outputs_root

    if not args.no_run:
        check_writable_dir(outputs_root(), what="outputs folder")
    for folder, what in ((args.record, "--record folder"), (args.prepare, "--prepare folder")):
        if folder:
            check_writable_dir(Path(folder), what=what)


def _estimate(
    args: argparse.Namespace, notebooks: list[Path], profile: str, configs: Path
) -> dict[str, float]:
    """Print the estimated time per notebook (its last run under the profile, else the profile's
    constant times a short timing on the chosen device); over an hour on a CPU ask first on a
    terminal, refuse without one unless --yes."""
    from .. import report
    from ..errors import UserError
    from ..report import estimate

    plan = [(nb, report.profile_parameters(nb, profile, configs)) for nb in notebooks]
    series = estimate.estimate_series(plan, profile)
    for guess in series.notebooks:
        print(f"  estimate {guess.notebook}: {guess.describe(profile)}")
    quick = (
        ""
        if profile in ("smoke", "quick")
        else (
            "; for recognisable results in minutes use `python -m helpers report --profile quick`"
        )
    )
    total = series.total
    print(
        f"estimated {estimate.format_seconds(total)} for {len(notebooks)} notebooks, profile "
        f"{profile}, on {series.device}{quick}",
        flush=True,
    )
    if total <= estimate.LONG_RUN_SECONDS or not series.device.startswith("cpu") or args.yes:
        return series.seconds
    line = (
        f"the {profile} profile is estimated at {estimate.format_seconds(total)} on "
        f"{series.device} (over an hour on a CPU)"
    )
    if sys.stdin is not None and sys.stdin.isatty():
        answer = input(f"{line}; start it? [y/N] ").strip().lower()
        if answer in ("y", "yes"):
            return series.seconds
        raise UserError(f"not started; {_QUICK_HINT}")
    raise UserError(f"{line}; not started without a terminal: add --yes, or {_QUICK_HINT}")


_QUICK_HINT = "use `python -m helpers report --profile quick` (minutes on a CPU)"


def _run_and_render(
    args: argparse.Namespace,
    notebooks: list[Path],
    profile: str,
    notebooks_dir: Path,
    configs: Path,
    estimates: dict[str, float] | None = None,
) -> list:
    """Run the notebooks, printing progress, then render the report (unless --no-render)."""
    from .. import report

    print(f"running {len(notebooks)} notebooks, profile {profile}", flush=True)

    def on_start(i, n, nb):
        print(f"[{i}/{n}] {nb.stem} ...", flush=True)

    def on_done(i, n, result):
        guess = "" if result.estimate is None else f" (estimated {result.estimate:.1f} s)"
        line = (
            f"[{i}/{n}] {result.notebook}: {result.status} in {result.seconds:.1f} s{guess} "
            f"on {result.device}"
        )
        if result.failed:
            line += f"\n      {result.failed.describe()}"
        print(line, flush=True)

    with _sigterm_as_interrupt():
        results = report.run_series(
            notebooks,
            profile=profile,
            configs=configs,
            timeout=args.timeout,
            progress_bar=sys.stderr.isatty(),
            on_start=on_start,
            on_done=on_done,
            keep_others=bool(args.only),
            estimates=estimates,
        )
        if not args.no_render:  # the series: this run, plus (with --only) the others' last run
            series = report.load_results()
            index = report.render_report(series, notebooks=notebooks_dir, configs=configs)
            print(f"report: {index}")
    return results
