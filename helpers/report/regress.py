"""The regression check: this run's metrics, result images and figures against a stored reference.

Part of :mod:`helpers.report`.  Each notebook's ``outputs/<notebook>/metrics.json`` (see
:meth:`helpers.notebook.NotebookRun.save_metrics`) is compared with a reference file
``<REFERENCE_DIR>/<notebook>.json`` (plus full-resolution crops of its result images in
``<REFERENCE_DIR>/<notebook>/<image>.png``).  Every metric gets a kind (:func:`metric_kind`)
and the kind's :class:`Tolerance` from :mod:`helpers.report.tolerances`, the one place
where they are stated, each with its reason.  Every compared item is a :class:`Drift` row.
:func:`record_reference` writes reference files.

Result images are compared at full resolution inside their *region*: the box a notebook
declares for the image in ``metrics.json`` (``"regions": {image: [top, left, bottom, right]}``,
e.g. a blend's mask bounding box, where the blend changes the target), else the whole image.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from ..runtime import atomic_write_bytes, atomic_write_text, outputs_dir
from ..tables import format_table
from .files import publish_modes, read_metrics
from .pixels import crop, mean_abs_levels, pixel_sha256, png_bytes, psnr, read_levels, region_box
from .tolerances import TOLERANCES, Tolerance, tolerance_for


@dataclasses.dataclass
class Drift:
    """One compared value.  ``ok`` False means the check fails; ``note`` says why."""

    notebook: str
    item: str
    reference: str
    value: str
    tolerance: str
    ok: bool
    note: str = ""


def _failed(stem: str, item: str, reference: str, value: str, tolerance: str, note: str) -> Drift:
    return Drift(stem, item, reference, value, tolerance, False, note)


# ----------------------------------------------------------------------------- metrics


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts/lists -> ``{"a.b[0]": leaf}``."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _fmt(v: Any) -> str:
    if _is_number(v):
        return f"{v:.6g}"
    return "-" if v is None else str(v)


def _device_type(device: Any) -> str:
    """``"cpu (2 threads)"`` -> ``"cpu"``, ``"NVIDIA H100 ..."`` / ``"cuda:0"`` -> ``"cuda"``."""
    text = str(device or "").lower()
    return "cpu" if text.startswith("cpu") else "cuda" if text else "-"


def compare_run_kind(stem: str, metrics: dict, reference: dict) -> list[Drift]:
    """Like with like: the run's profile, seed and device type against the reference's."""
    rows = []
    recorded = (reference.get("recorded_on") or {}).get("device")
    pairs = [(k, reference.get(k), metrics.get(k)) for k in ("profile", "seed")]
    if recorded is not None:
        pairs.append(("device", _device_type(recorded), _device_type(metrics.get("device"))))
    for key, ref, now in pairs:
        if ref != now:
            note = "run and reference differ; compare like with like"
            rows.append(_failed(stem, key, _fmt(ref), _fmt(now), "equal", note))
    return rows


def compare_metrics(stem: str, metrics: dict, reference: dict) -> list[Drift]:
    """Compare one notebook's metrics.json record with its reference record."""
    rows = compare_run_kind(stem, metrics, reference)
    overrides = reference.get("tolerances", {}) or {}
    new, ref = flatten(metrics.get("metrics", {})), flatten(reference.get("metrics", {}))
    for key, ref_value in ref.items():
        tol = tolerance_for(key, ref_value, overrides)
        if tol.compare == "never":
            note = "timing" if key not in overrides else "ignored by the reference"
            rows.append(
                Drift(stem, key, _fmt(ref_value), _fmt(new.get(key)), tol.describe(), True, note)
            )
        elif key not in new:
            note = "metric no longer saved"
            rows.append(_failed(stem, key, _fmt(ref_value), "missing", "present", note))
        else:
            rows.append(_compare_value(stem, key, new[key], ref_value, tol))
    for key in sorted(set(new) - set(ref)):
        note = "new: not in the reference (record again to track it)"
        rows.append(Drift(stem, key, "-", _fmt(new[key]), "-", True, note))
    return rows


def _compare_value(stem: str, key: str, value: Any, ref_value: Any, tol: Tolerance) -> Drift:
    """One metric under its tolerance."""
    row = Drift(stem, key, _fmt(ref_value), _fmt(value), tol.describe(), True)
    numbers = _is_number(value) and _is_number(ref_value)
    if tol.compare == "log" and numbers:
        limit = tol.factor * ref_value if ref_value > 0 else 0.0
        if tol.ceiling is not None:
            limit = min(limit, tol.ceiling) if ref_value > 0 else tol.ceiling
        row.ok = math.isfinite(value) and value <= limit
        if not row.ok:
            ratio = value / ref_value if ref_value > 0 else math.inf
            over = tol.ceiling is not None and value > tol.ceiling
            row.note = f"x{ratio:.3g} of the reference" + (" and above the bound" if over else "")
    elif tol.compare == "relative" and numbers:
        diff = abs(value - ref_value)
        row.ok = math.isfinite(value) and diff <= tol.atol + tol.rtol * abs(ref_value)
        if not row.ok:
            rel = diff / abs(ref_value) if ref_value else math.inf
            sign = "+" if value > ref_value else "-"
            row.note = f"{sign}{rel:.2%}" if math.isfinite(rel) else f"off by {diff:.3g}"
    else:  # counts, labels, and a number whose reference is not one (or the reverse)
        row.ok = value == ref_value and isinstance(value, bool) == isinstance(ref_value, bool)
        row.tolerance = "equal"
        row.note = "" if row.ok else "changed"
    return row


# ----------------------------------------------------------------------------- images


def compare_images(
    stem: str, folder: Path, metrics: dict, reference: dict, reference_dir: Path
) -> list[Drift]:
    """The result images (metrics.json ``images``) against the reference's crops, then the
    figures (``figures``): every figure of the reference must have been written again."""
    rows: list[Drift] = []
    names = list(metrics.get("images", []))
    regions = metrics.get("regions", {}) or {}
    ref_images = reference.get("images", {}) or {}
    tol = TOLERANCES["image"]
    for name, ref in ref_images.items():
        path = folder / f"{name}.png"
        if name not in names or not path.is_file():
            note = f"{path.name} not written"
            rows.append(_failed(stem, f"image {name}", "present", "missing", tol.describe(), note))
            continue
        rows.append(_compare_image(stem, name, path, regions.get(name), ref, reference_dir))
    for name in names:
        if name not in ref_images:
            rows.append(
                Drift(stem, f"image {name}", "-", "present", "-", True, "new: not in the reference")
            )
    figures = list(metrics.get("figures", []))
    for name in reference.get("figures", []) or []:
        written = name in figures and (folder / f"{name}.png").is_file()
        now, note = ("present", "") if written else ("missing", f"{name}.png not written")
        rows.append(Drift(stem, f"figure {name}", "present", now, "present", written, note))
    return rows


def _compare_image(
    stem: str, name: str, path: Path, box: Any, ref: dict, reference_dir: Path
) -> Drift:
    """One result image against its reference crop: shape, region, then the MAD inside it."""
    tol = TOLERANCES["image"]
    item = f"image {name}"
    pixels = read_levels(path)
    if list(pixels.shape) != ref["shape"]:
        ref_shape, now_shape = ("x".join(map(str, s)) for s in (ref["shape"], pixels.shape))
        return Drift(stem, item, ref_shape, now_shape, "same shape", False, "shape changed")
    if "region" not in ref or "crop" not in ref:
        note = "the reference predates image crops; record it again"
        return _failed(stem, item, "-", "-", tol.describe(), note)
    region = region_box(box, pixels.shape)
    if region != ref["region"]:
        note = "the declared region (e.g. the mask's box) moved"
        return _failed(stem, item, str(ref["region"]), str(region), "same region", note)
    sha = pixel_sha256(path)
    if sha == ref["sha256"]:
        return Drift(stem, item, sha[:12], sha[:12], tol.describe(), True, "identical pixels")
    crop_path = reference_dir / ref["crop"]
    if not crop_path.is_file():
        note = f"reference crop {crop_path} missing; record again"
        return _failed(stem, item, ref["sha256"][:12], sha[:12], tol.describe(), note)
    expected, now = read_levels(crop_path), crop(pixels, region)
    mad = mean_abs_levels(expected, now)
    ok = mad <= tol.mad
    value = f"MAD {mad:.2f}/255, PSNR {psnr(expected, now, 255.0):.1f} dB"
    note = "pixels differ, within tolerance" if ok else "image drifted inside its region"
    return Drift(stem, item, ref["sha256"][:12], value, tol.describe(), ok, note)


# ----------------------------------------------------------------------------- references


def check_reference(reference_dir: Path, notebooks: Sequence[str] | None = None) -> list[Drift]:
    """Compare ``outputs/<nb>/metrics.json`` (and result images) with ``reference_dir/<nb>.json``.

    ``notebooks``: the stems to check (default: every reference file).  A notebook without a
    reference, or a reference without this run's metrics, is a failing row; a notebook whose
    outputs come from another profile than its reference is refused (:class:`UserError`).
    """
    reference_dir = Path(reference_dir)
    if not reference_dir.is_dir():
        raise UserError(
            f"reference folder {reference_dir} does not exist; "
            f"record one with --record {reference_dir}"
        )
    refs = {p.stem: p for p in sorted(reference_dir.glob("*.json"))}
    stems = list(notebooks) if notebooks is not None else list(refs)
    if not stems:
        raise UserError(
            f"{reference_dir} holds no reference files (*.json); "
            f"record one with --record {reference_dir}"
        )
    rows: list[Drift] = []
    for stem in stems:
        if stem not in refs:
            note = f"no {reference_dir / (stem + '.json')}; record it with --record"
            rows.append(_failed(stem, "reference", "missing", "-", "-", note))
            continue
        reference = json.loads(refs[stem].read_text(encoding="utf-8"))
        metrics = read_metrics(stem)
        if metrics is None:
            note = "the notebook did not save metrics (did it run and pass?)"
            rows.append(_failed(stem, "metrics.json", "present", "missing", "-", note))
            continue
        if metrics.get("profile") != reference.get("profile"):  # unlike things: no table of drift
            raise UserError(
                f"cannot compare {stem}: its outputs come from the {metrics.get('profile')} "
                f"profile, the reference {refs[stem]} from {reference.get('profile')}; run "
                f"`python -m helpers report --profile {reference.get('profile')} --only "
                f"{stem.split('-', 1)[0]}` first"
            )
        rows += compare_metrics(stem, metrics, reference)
        rows += compare_images(stem, outputs_dir() / stem, metrics, reference, reference_dir)
    return rows


def record_reference(
    reference_dir: Path, notebooks: Sequence[str], *, profile: str | None = None
) -> list[Path]:
    """Write ``reference_dir/<nb>.json`` and the crops ``reference_dir/<nb>/<image>.png`` from
    this run's metrics.json and result images.

    ``profile``: refuse metrics saved under another profile.  Per-key ``tolerances`` already
    in a reference file are kept; crops of images no longer saved are removed.
    """
    reference_dir = Path(reference_dir)
    checked = []
    for stem in notebooks:
        metrics = read_metrics(stem)
        if metrics is None:
            raise UserError(
                f"cannot record {stem}: outputs/{stem}/metrics.json is missing; "
                "run the notebook first"
            )
        if profile is not None and metrics.get("profile") != profile:
            raise UserError(
                f"cannot record {stem}: its metrics.json is from the {metrics.get('profile')} "
                f"profile, not {profile}; run it with --profile {profile} first"
            )
        checked.append((stem, metrics))
    reference_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, metrics in checked:
        target = reference_dir / f"{stem}.json"
        old = json.loads(target.read_text(encoding="utf-8")) if target.is_file() else {}
        record, crops = _reference_record(stem, metrics)
        if old.get("tolerances"):
            record["tolerances"] = old["tolerances"]
        crop_dir = reference_dir / stem
        crop_dir.mkdir(exist_ok=True)
        for stale in set(crop_dir.glob("*.png")) - {reference_dir / c for c in crops}:
            stale.unlink()
        for relative, data in crops.items():
            publish_modes(atomic_write_bytes(reference_dir / relative, data))
        publish_modes(crop_dir, atomic_write_text(target, _dump_json(record)))
        written.append(target)
    return written


def _reference_record(stem: str, metrics: dict) -> tuple[dict, dict[str, bytes]]:
    """A reference file's content for one notebook, and its crops (relative path -> PNG)."""
    folder = outputs_dir() / stem
    regions = metrics.get("regions", {}) or {}
    images, crops = {}, {}
    for name in metrics.get("images", []):
        from PIL import Image

        path = folder / f"{name}.png"
        with Image.open(path) as img:
            pixels = np.asarray(img)
        region = region_box(regions.get(name), pixels.shape)
        relative = f"{stem}/{name}.png"
        crops[relative] = png_bytes(crop(pixels, region))
        images[name] = {
            "shape": list(pixels.shape),
            "region": region,
            "crop": relative,
            "sha256": pixel_sha256(path),
        }
    record = {
        "notebook": stem,
        "profile": metrics.get("profile"),
        "seed": metrics.get("seed"),
        "recorded_on": {k: metrics.get(k) for k in ("device", "torch", "python")},
        "metrics": metrics.get("metrics", {}),
        "images": images,
        "figures": list(metrics.get("figures", [])),
    }
    return record, crops


def _dump_json(record: dict) -> str:
    """Indented JSON with lists of numbers kept on one line (regions stay readable in diffs)."""
    text = json.dumps(record, indent=1, sort_keys=True)
    # only arrays json.dumps broke over lines ("[" + newline): never text inside a string
    return (
        re.sub(
            r"\[\n\s*([-+0-9.eE,\s]+?)\s*\]",
            lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]",
            text,
        )
        + "\n"
    )


# ----------------------------------------------------------------------------- text table


def drift_table(rows: Sequence[Drift], *, verbose: bool = False) -> str:
    """The drifted rows (all rows with ``verbose``) as an aligned text table, plus a summary."""
    shown = [r for r in rows if verbose or not r.ok or r.note.startswith("new")]
    table = [
        {
            "notebook": r.notebook,
            "item": r.item,
            "reference": r.reference,
            "this run": r.value,
            "tolerance": r.tolerance,
            "result": ("ok" if r.ok else "DRIFT") + (f" {r.note}" if r.note else ""),
        }
        for r in shown
    ]
    columns = ["notebook", "item", "reference", "this run", "tolerance", "result"]
    lines = format_table(table, columns).splitlines() if shown else []
    bad = sum(not r.ok for r in rows)
    identical = sum(r.note == "identical pixels" for r in rows)
    images = sum(r.item.startswith("image ") and r.reference != "-" for r in rows)
    figures = sum(r.item.startswith("figure ") for r in rows)
    compared = sum(r.tolerance != "not compared" for r in rows)
    nbs = len({r.notebook for r in rows})
    lines.append(
        f"regression check: {compared} values compared in {nbs} notebooks, {bad} drifted; "
        f"{identical}/{images} result images bitwise identical to the reference; "
        f"{figures} figures checked"
    )
    return "\n".join(lines)
