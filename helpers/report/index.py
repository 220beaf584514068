"""The report's contents page ``index.html``: one card per chapter.

Part of :mod:`helpers.report` (used by :mod:`.render`).  Each card shows a thumbnail of the
chapter's key figure (``metrics.json`` ``key_figure``, else its first figure; embedded as a
small PNG, so the page is one file that works offline), its
title linked to its page, pass/fail, profile, device and run time, and a few headline numbers
from ``metrics.json`` (:data:`HEADLINES`; any missing key is skipped, and a chapter not listed
shows its first scalar metrics).  The page is a plain Jinja2 template,
``templates/report_index.html.j2``, with inline CSS and no script.
"""

from __future__ import annotations

import collections
import datetime as _dt
import math
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from ..runtime import ROOT, atomic_write_text, outputs_dir
from .clean import relative_text
from .files import read_metrics
from .run import NotebookResult

REPORT_TITLE = "Style transfer and Poisson image editing: the notebook series"

TEMPLATES = Path(__file__).resolve().parent / "templates"
THUMB_SIZE = (360, 240)
"""Largest thumbnail width and height in pixels (the aspect ratio is kept)."""


def _ratio_vs_opencv(metrics: dict) -> str | None:
    """Median over the full-resolution examples of our Poisson solve time / OpenCV's."""
    ratios = sorted(
        e["seconds_poisson"] / e["seconds_opencv"]
        for e in (metrics.get("full") or {}).values()
        if isinstance(e, dict) and e.get("seconds_opencv") and e.get("seconds_poisson")
    )
    return f"{ratios[len(ratios) // 2]:.3g}×" if ratios else None


def _seams(metrics: dict) -> str | None:
    """Notebook 08's seam difference of a texture before and after tiling."""
    tiling = metrics.get("tiling") or {}
    if "seam_plain" not in tiling or "seam_tiled" not in tiling:
        return None
    return f"{_format(tiling['seam_plain'])} → {_format(tiling['seam_tiled'])}"


Headline = tuple[str, "str | Callable[[dict], object]"]

HEADLINES: dict[str, list[Headline]] = {
    "01": [
        ("photo size (h, w)", "image_size"),
        ("mean relu4_2 activation", "activation_mean.relu4_2"),
    ],
    "02": [
        ("style loss left, avg pooling", "style_pooling_final_over_initial.avg"),
        ("style loss left, max pooling", "style_pooling_final_over_initial.max"),
        ("evaluations per run", "evaluations"),
    ],
    "03": [
        ("recipe", "recipe"),
        ("chosen α/β at 512 px", "chosen_ratio_512"),
        ("chosen α/β", "chosen_ratio"),
        ("content/style balance", "balance_ratio"),
    ],
    "04": [
        ("final loss, Starry Night", "paper_final_total.starry_night"),
        ("α/β", "ratio"),
        ("seconds / evaluation", "seconds_per_evaluation"),
    ],
    "05": [
        ("toy max error", "max_abs_error"),
        ("relative residual", "relative_residual"),
        ("speed-up vs naive", "speedup"),
    ],
    "06": [("blend residual", "independent_residual"), ("time vs OpenCV", _ratio_vs_opencv)],
    "07": [
        ("colour preserved: chroma error (/255)", "chroma_error_255"),
        ("histogram matching: mean error", "histogram_mean_error"),
        ("multi-scale final loss", "multiscale.multi_loss"),
    ],
    "08": [
        ("flattening residual", "paper.flatten.residual"),
        ("tiling seam, plain → tiled", _seams),
        ("monochrome residual", "monochrome.residual"),
    ],
}
"""Per chapter number: ``(label, dotted key into metrics.json "metrics" or a function)``.
Keys a chapter does not record are skipped; a chapter none of whose keys exist shows its
first scalar metrics instead."""


def _lookup(metrics: dict, key: str):
    value = metrics
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _format(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.3g}" if 1e-3 <= abs(value) < 1e4 or value == 0 else f"{value:.2e}"
    if isinstance(value, list | tuple):
        return " × ".join(_format(v) for v in value)
    return str(value)


def headline_numbers(stem: str, metrics: dict | None, *, limit: int = 3) -> list[tuple]:
    """``[(label, formatted value)]`` for the chapter's index card (never raises on odd
    metrics)."""
    numbers = (metrics or {}).get("metrics") or {}
    rows = []
    for label, key in HEADLINES.get(stem.split("-", 1)[0], []):
        try:
            value = key(numbers) if callable(key) else _lookup(numbers, key)
        except (TypeError, ValueError, ZeroDivisionError, KeyError):
            value = None
        if value is not None and not isinstance(value, dict):
            rows.append((label, _format(value)))
    if not rows:  # a chapter not listed (or renamed keys): its first scalar numbers
        rows = [
            (key.replace("_", " "), _format(value))
            for key, value in numbers.items()
            if isinstance(value, int | float | str) and not isinstance(value, bool)
        ]
    return rows[:limit]


def key_figure(stem: str, metrics: dict | None) -> Path | None:
    """The PNG of the chapter's key figure under ``outputs/<stem>/``, if it exists."""
    metrics = metrics or {}
    names = [
        metrics.get("key_figure"),
        *(metrics.get("figures") or []),
        *(metrics.get("images") or []),
    ]
    for name in names:
        if name and (outputs_dir() / stem / f"{name}.png").is_file():
            return outputs_dir() / stem / f"{name}.png"
    return None


def thumbnail_uri(source: Path) -> str | None:
    """The image at ``source`` shrunk to :data:`THUMB_SIZE`, as a ``data:image/png`` URI (the
    index page embeds it: one self-contained file); None when it cannot be read."""
    import base64
    import io

    from PIL import Image

    try:
        with Image.open(source) as image:
            image = image.convert("RGB")
            image.thumbnail(THUMB_SIZE)
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", optimize=True)
    except OSError:
        return None
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def chapter_card(result: NotebookResult, *, linked: bool) -> dict:
    """What the index shows for one chapter.

    ``notes`` are extra lines on the card (e.g. a profile that differs from the series').
    """
    metrics = read_metrics(result.notebook)
    figure = key_figure(result.notebook, metrics)
    thumb = thumbnail_uri(figure) if figure is not None else None
    where = relative_text(result.failed.describe()) if result.failed else ""
    anchor = f"#cell-id={result.failed.cell_id}" if result.failed and result.failed.cell_id else ""
    return {
        "notebook": result.notebook,
        "title": result.title or result.notebook,
        "href": f"{result.notebook}.html" if linked else None,
        "failed_href": f"{result.notebook}.html{anchor}" if linked and anchor else None,
        "status": result.status,
        "ok": result.ok,
        "profile": (metrics or {}).get("profile", result.profile),
        "device": (metrics or {}).get("device", result.device),
        "seconds": f"{result.seconds:.1f} s",
        "thumb": thumb,
        "headline": headline_numbers(result.notebook, metrics),
        "failed": where,
        "notes": [],
    }


def flag_mixed_profiles(cards: Sequence[dict]) -> None:
    """Add a note to each card whose profile differs from the series' (the most common one; an
    interrupted or ``--only`` run can leave chapters from two profiles side by side)."""
    counts = collections.Counter(c["profile"] for c in cards)
    if len(counts) < 2:
        return
    usual = max(counts, key=lambda p: (counts[p], p == "full", p == "quick"))
    for card in cards:
        if card["profile"] != usual:
            number = card["notebook"].split("-", 1)[0]
            card["notes"].append(
                f"Mixed profiles: this chapter ran under the {card['profile']} profile, the others "
                f"under {usual}; re-run it with `python -m helpers report --profile {usual} "
                f"--only {number}`."
            )


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "-"
    return out.stdout.strip() or "-"


def write_index(results: Sequence[NotebookResult], folder: Path, *, linked: set[str]) -> Path:
    """Write ``folder/index.html`` for ``results``."""
    import jinja2

    cards = [chapter_card(r, linked=r.notebook in linked) for r in results]
    flag_mixed_profiles(cards)
    profiles = sorted({c["profile"] for c in cards})
    devices = sorted({c["device"] for c in cards if c["device"] != "-"}) or ["-"]
    total = sum(r.seconds for r in results)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    html = env.get_template("report_index.html.j2").render(
        title=REPORT_TITLE,
        cards=cards,
        profiles=", ".join(profiles),
        devices=", ".join(devices),
        passed=sum(r.ok for r in results),
        total=len(results),
        seconds=f"{total:.0f} s" if total < 120 else f"{total / 60:.1f} min",
        rendered=_dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        commit=_git_commit(),
    )
    return atomic_write_text(folder / "index.html", html)
