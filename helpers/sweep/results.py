"""What a sweep leaves behind: ``results.csv`` (one row per run) and the contact sheet.

Part of :mod:`helpers.sweep`.  Both are rebuilt from the run folders alone (each run's
``run.json`` and ``metrics.json``), so they are right whatever happened to the process that
started the sweep, and the report can read them without Dask.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .spec import Run, Sweep, canonical_json
from .task import FAILED, load_record

RESULTS = "results.csv"
CONTACT_SHEET = "contact-sheet.png"
FIXED_COLUMNS = ("run_id", "status", "seconds", "attempt", "device")
TAIL_COLUMNS = ("failed_cell", "folder", "parameters")


def run_folder(root: Path, run: Run) -> tuple[Path, dict | None]:
    """The folder holding the run's latest outcome (its result, else its failed attempt) and
    that outcome's record (``None``: not run yet)."""
    for folder in (root / run.id, root / FAILED / run.id):
        record = load_record(folder)
        if record and record.get("parameters") == run.parameters:
            return folder, record
    return root / run.id, None


def read_metrics(folder: Path) -> dict[str, Any]:
    """The run's ``metrics.json`` (empty when missing or unreadable)."""
    try:
        return json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _scalars(metrics: dict[str, Any]) -> dict[str, Any]:
    """The scalar metrics (numbers, flags, words); nested ones stay in the run's metrics.json."""
    return {
        k: v
        for k, v in metrics.items()
        if isinstance(v, int | float | str | bool) and not isinstance(v, dict)
    }


def _describe_failure(failed: dict | None) -> str:
    if not failed:
        return ""
    from ..report.run import FailedCell

    return FailedCell(**failed).describe()


def result_rows(sweep: Sweep, root: Path) -> list[dict[str, Any]]:
    """One row per run, in the sweep's order: id, status (passed, failed or pending), seconds,
    attempt, device, the varied parameters, the scalar metrics, the failing cell, the folder."""
    rows = []
    for run in sweep.runs:
        folder, record = run_folder(root, run)
        record = record or {}
        metrics = read_metrics(folder) if record.get("status") == "passed" else {}
        row: dict[str, Any] = {
            "run_id": run.id,
            "status": record.get("status", "pending"),
            "seconds": record.get("seconds", ""),
            "attempt": record.get("attempt", ""),
            "device": metrics.get("device") or record.get("device", ""),
        }
        row.update({name: _cell(run.varied.get(name)) for name in sweep.axes})
        row.update(_scalars(metrics.get("metrics", {})))
        row["failed_cell"] = _describe_failure(record.get("failed"))
        row["folder"] = str(folder.relative_to(root)) if record else ""
        row["parameters"] = canonical_json(run.parameters)
        rows.append(row)
    return rows


def _cell(value: Any) -> Any:
    return canonical_json(value) if isinstance(value, list | dict) else value


def results_csv_text(rows: Sequence[dict[str, Any]], axes: Sequence[str]) -> str:
    """The CSV text: fixed columns, the grid's names, the metrics seen in any row, the tail."""
    head = [*FIXED_COLUMNS, *axes]
    metrics = [
        k
        for k in dict.fromkeys(k for row in rows for k in row)
        if k not in head and k not in TAIL_COLUMNS
    ]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*head, *metrics, *TAIL_COLUMNS], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def read_results_csv(path: Path) -> list[dict[str, str]]:
    """``results.csv`` back as rows of strings."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# ----------------------------------------------------------------------------- contact sheet


def key_image(folder: Path, wanted: str | None) -> Path | None:
    """The run's key image: ``wanted`` (``<name>.png``), else the first result image it saved,
    else its first figure."""
    metrics = read_metrics(folder)
    names = [wanted] if wanted else [*metrics.get("images", []), *metrics.get("figures", [])]
    for name in names:
        path = folder / f"{name}.png"
        if path.is_file():
            return path
    return None


def _label(run: Run, width: int = 28) -> str:
    lines = []
    for name, value in run.varied.items():
        text = f"{name}={_slug(value)}"
        lines.append(text if len(text) <= width else text[: width - 1] + "…")
    return "\n".join(lines) or run.id


def _slug(value: Any) -> str:
    if isinstance(value, str) and "/" in value:
        return Path(value).stem
    return str(value)


def contact_sheet(sweep: Sweep, root: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """``<root>/contact-sheet.png``: each run's key image, labelled with its varied values;
    a run without one (failed, pending) is a grey tile saying so."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from PIL import Image

    from ..figures import save_figure

    n = len(sweep.runs)
    columns = min(n, 4)
    grid_rows = -(-n // columns)
    fig, axes = plt.subplots(
        grid_rows, columns, figsize=(2.6 * columns, 2.9 * grid_rows), squeeze=False
    )
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, run, row in zip(axes.flat, sweep.runs, rows, strict=False):
        path = key_image(root / run.id, sweep.image) if row["status"] == "passed" else None
        if path is not None:
            with Image.open(path) as img:
                ax.imshow(img.convert("RGB"))
        else:
            ax.set_facecolor("#dddddd")
            ax.set_axis_on()
            ax.set_xticks([])
            ax.set_yticks([])
            ax.text(0.5, 0.5, row["status"], ha="center", va="center", transform=ax.transAxes)
        ax.set_title(_label(run), fontsize=7)
    fig.suptitle(f"sweep {sweep.name}: {sweep.stem}, {sweep.profile} profile", fontsize=9)
    fig.tight_layout()
    path = save_figure(fig, root / CONTACT_SHEET)
    plt.close(fig)
    return path
