"""The report pipeline: run the notebook series with papermill, render it with nbconvert, check it.

``python -m helpers report`` (:mod:`helpers.cli.report`) is the command; this package holds
the logic and returns data (lists of :class:`NotebookResult` / :class:`Drift` records); the
CLI does the printing.  It sits between the CLI and the plumbing (:mod:`helpers.runtime`,
:mod:`helpers.errors`, :mod:`helpers.tables`) and imports no torch at import time.

* :mod:`.params`: where the notebooks and the profiles ``configs/<profile>/<stem>.yaml`` live
  (``smoke``, ``quick``, ``full``; ``auto`` = ``full`` with CUDA, else ``quick``) and each
  notebook's ``parameters`` cell.
* :mod:`.run`: executes the notebooks in order into ``outputs/notebooks/`` (atomically, each
  under a time limit); a failing notebook is named with its failing cell and the rest run.
* :mod:`.render`: one nbconvert page per executed notebook (``templates/report_page.html.j2``:
  title, profile/device line, abstract, collapsed parameters, folded code; outputs cleaned of
  object reprs and absolute paths by :mod:`.clean`) and ``index.html`` (:mod:`.index`: a card
  per chapter with its key figure, headline numbers and pass/fail), swapped into
  ``outputs/report/`` in one rename.
* :mod:`.regress`: each notebook's ``outputs/<notebook>/metrics.json`` (see
  :meth:`helpers.notebook.NotebookRun.save_metrics`) against ``<REFERENCE_DIR>/<notebook>.json``
  under :data:`TOLERANCES`.

Environment: ``HELPERS_NOTEBOOKS`` / ``HELPERS_CONFIGS`` move the notebook and profile folders
(tests use a tiny fake series); ``HELPERS_OUTPUTS`` moves ``outputs/`` (see
:func:`helpers.runtime.outputs_dir`).
"""

from .params import (
    NOTEBOOK_GLOB,
    PROFILES,
    TIMEOUTS,
    configs_dir,
    discover,
    notebook_parameters,
    notebooks_dir,
    parse_only,
    profile_parameters,
    resolve_profile,
)
from .regress import (
    Drift,
    check_reference,
    compare_images,
    compare_metrics,
    drift_table,
    flatten,
    mean_abs_levels,
    psnr,
    record_reference,
)
from .render import PAGE_TEMPLATE, REPORT_TITLE, render_report
from .run import (
    FailedCell,
    NotebookResult,
    load_results,
    notebook_title,
    prepare_notebooks,
    results_table,
    run_notebook,
    run_series,
    save_results,
)
from .tolerances import TIMING_KEY, TOLERANCES, Tolerance, metric_kind

__all__ = [
    "NOTEBOOK_GLOB",
    "PAGE_TEMPLATE",
    "PROFILES",
    "REPORT_TITLE",
    "TIMEOUTS",
    "TIMING_KEY",
    "TOLERANCES",
    "Drift",
    "Tolerance",
    "FailedCell",
    "NotebookResult",
    "check_reference",
    "compare_images",
    "compare_metrics",
    "configs_dir",
    "discover",
    "drift_table",
    "flatten",
    "mean_abs_levels",
    "metric_kind",
    "load_results",
    "notebook_parameters",
    "notebook_title",
    "notebooks_dir",
    "parse_only",
    "prepare_notebooks",
    "profile_parameters",
    "psnr",
    "record_reference",
    "render_report",
    "resolve_profile",
    "results_table",
    "run_notebook",
    "run_series",
    "save_results",
]
