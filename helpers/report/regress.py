"""The regression check: this run's metrics and result images against a stored reference.

Part of :mod:`helpers.report`.  Each notebook's ``outputs/<notebook>/metrics.json`` (see
:meth:`helpers.notebook.NotebookRun.save_metrics`) is compared with a reference file
``<REFERENCE_DIR>/<notebook>.json`` under :data:`TOLERANCES`; every compared value is a
:class:`Drift` row.  :func:`record_reference` writes such reference files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from ..runtime import atomic_write_text, outputs_dir
from ..tables import format_table
from .files import publish_modes, read_metrics

TOLERANCES: dict[str, Any] = {
    # metrics.json "metrics" numbers (losses, errors, residuals):
    # |new - ref| <= atol + rtol * |ref|
    "rtol": 1e-2,
    "atol": 1e-6,
    # result images (metrics.json "images"): same shape, and PSNR >= image_psnr_db between
    # 16x16 box-averaged thumbnails (values in [0, 1]) of the new and the reference image.
    # Identical pixels (same sha256) are reported as such; fine texture is covered by the losses.
    "image_psnr_db": 30.0,
    "thumbnail": 16,
    # ints, strings, booleans and lists of them must be equal; numbers whose key mentions a
    # duration (TIMING_KEY) are shown but never compared; profile and seed must match.
}
"""The regression tolerances, in one place.  A reference file may override them per key:
``"tolerances": {"final_loss": {"rtol": 0.05}}`` or ``{"some_key": null}`` (do not compare)."""

TIMING_KEY = re.compile(r"(seconds|_time$|^time|_ms$|per_second|speed)")


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


# ----------------------------------------------------------------------------- images


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two float images in [0, 1] (inf when equal)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def thumbnail(image: np.ndarray, size: int | None = None) -> np.ndarray:
    """Box-average an ``(H, W)`` or ``(H, W, C)`` float image in [0, 1] to ``(size, size, C)``."""
    from PIL import Image

    size = int(size or TOLERANCES["thumbnail"])
    arr = np.asarray(image, np.float32)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    channels = [
        np.asarray(
            Image.fromarray(arr[:, :, c], mode="F").resize((size, size), Image.Resampling.BOX)
        )
        for c in range(arr.shape[2])
    ]
    return np.stack(channels, axis=-1)


def image_summary(path: Path) -> dict:
    """What a reference keeps of a result image: shape, sha256 of the pixels, a 16x16 thumbnail
    (0-255)."""
    from PIL import Image

    with Image.open(path) as img:
        pixels = np.asarray(img)
    scale = 65535.0 if pixels.dtype == np.uint16 else 255.0
    thumb = thumbnail(pixels.astype(np.float32) / scale)
    return {
        "shape": list(pixels.shape),
        "sha256": hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest(),
        "thumbnail": np.rint(thumb * 255).astype(int).reshape(-1).tolist(),
        "thumbnail_shape": list(thumb.shape),
    }


# ----------------------------------------------------------------------------- comparing


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


def compare_metrics(stem: str, metrics: dict, reference: dict) -> list[Drift]:
    """Compare one notebook's metrics.json record with its reference record."""
    rows: list[Drift] = []
    overrides = reference.get("tolerances", {}) or {}
    for key in ("profile", "seed"):
        if metrics.get(key) != reference.get(key):
            rows.append(Drift(
                stem, key, _fmt(reference.get(key)), _fmt(metrics.get(key)), "equal", False,
                "run and reference differ; compare like with like",
            ))
    new, ref = flatten(metrics.get("metrics", {})), flatten(reference.get("metrics", {}))
    for key, ref_value in ref.items():
        tol = dict(rtol=TOLERANCES["rtol"], atol=TOLERANCES["atol"])
        ignored = key in overrides and overrides[key] is None
        if ignored or TIMING_KEY.search(key.rsplit(".", 1)[-1]):
            note = "timing" if key not in overrides else "ignored by the reference"
            rows.append(
                Drift(stem, key, _fmt(ref_value), _fmt(new.get(key)), "not compared", True, note)
            )
            continue
        tol.update(overrides.get(key) or {})
        if key not in new:
            rows.append(Drift(
                stem, key, _fmt(ref_value), "missing", "present", False, "metric no longer saved"
            ))
            continue
        rows.append(_compare_value(stem, key, new[key], ref_value, tol))
    for key in sorted(set(new) - set(ref)):
        rows.append(Drift(
            stem, key, "-", _fmt(new[key]), "-", True,
            "new: not in the reference (record again to track it)",
        ))
    return rows


def _compare_value(stem: str, key: str, value: Any, ref_value: Any, tol: dict) -> Drift:
    """One metric: floats within ``tol`` (rtol, atol), everything else equal."""
    both_ints = isinstance(ref_value, int) and isinstance(value, int)
    if _is_number(ref_value) and _is_number(value) and not both_ints:
        diff = abs(value - ref_value)
        bound = tol["atol"] + tol["rtol"] * abs(ref_value)
        ok = math.isfinite(value) and diff <= bound
        rel = diff / abs(ref_value) if ref_value else math.inf if diff else 0.0
        if ok:
            note = ""
        elif math.isfinite(rel):
            note = f"{'+' if value > ref_value else '-'}{rel:.2%}"
        else:
            note = f"off by {diff:.3g}"
        tolerance = f"rtol {tol['rtol']:g}, atol {tol['atol']:g}"
        return Drift(stem, key, _fmt(ref_value), _fmt(value), tolerance, ok, note)
    ok = value == ref_value
    return Drift(stem, key, _fmt(ref_value), _fmt(value), "equal", ok, "" if ok else "changed")


def compare_images(stem: str, folder: Path, names: Iterable[str], reference: dict) -> list[Drift]:
    """Compare the result images listed in metrics.json with the reference's summaries."""
    rows: list[Drift] = []
    names = list(names)
    ref_images = reference.get("images", {}) or {}
    for name, ref in ref_images.items():
        path = folder / f"{name}.png"
        if name not in names or not path.is_file():
            threshold = float(TOLERANCES["image_psnr_db"])
            rows.append(Drift(
                stem, f"image {name}", "present", "missing", f"PSNR >= {threshold:g} dB", False,
                f"{path.name} not written",
            ))
            continue
        rows.append(_compare_image(stem, name, image_summary(path), ref))
    for name in names:
        if name not in ref_images:
            rows.append(
                Drift(stem, f"image {name}", "-", "present", "-", True, "new: not in the reference")
            )
    return rows


def _compare_image(stem: str, name: str, now: dict, ref: dict) -> Drift:
    """One result image's summary against the reference's: shape, then pixels, then the
    thumbnails' PSNR."""
    threshold = float(TOLERANCES["image_psnr_db"])
    item, tol = f"image {name}", f"PSNR >= {threshold:g} dB"
    if now["shape"] != ref["shape"]:
        ref_shape, now_shape = ("x".join(map(str, s["shape"])) for s in (ref, now))
        return Drift(stem, item, ref_shape, now_shape, "same shape", False, "shape changed")
    if now["sha256"] == ref["sha256"]:
        return Drift(
            stem, item, ref["sha256"][:12], now["sha256"][:12], tol, True, "identical pixels"
        )
    shape = tuple(ref["thumbnail_shape"])
    a = np.asarray(ref["thumbnail"], np.float64).reshape(shape) / 255
    b = np.asarray(now["thumbnail"], np.float64).reshape(shape) / 255
    value = psnr(a, b)
    ok = value >= threshold
    note = "pixels differ, within tolerance" if ok else "image drifted"
    return Drift(stem, item, ref["sha256"][:12], f"PSNR {value:.1f} dB", tol, ok, note)


# ----------------------------------------------------------------------------- references


def check_reference(reference_dir: Path, notebooks: Sequence[str] | None = None) -> list[Drift]:
    """Compare ``outputs/<nb>/metrics.json`` (and result images) with ``reference_dir/<nb>.json``.

    ``notebooks``: the stems to check (default: every reference file).  A notebook without a
    reference, or a reference without this run's metrics, is a failing row.
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
            rows.append(Drift(
                stem, "reference", "missing", "-", "-", False,
                f"no {reference_dir / (stem + '.json')}; record it with --record",
            ))
            continue
        reference = json.loads(refs[stem].read_text(encoding="utf-8"))
        metrics = read_metrics(stem)
        if metrics is None:
            rows.append(Drift(
                stem, "metrics.json", "present", "missing", "-", False,
                "the notebook did not save metrics (did it run and pass?)",
            ))
            continue
        rows += compare_metrics(stem, metrics, reference)
        rows += compare_images(stem, outputs_dir() / stem, metrics.get("images", []), reference)
    return rows


def record_reference(
    reference_dir: Path, notebooks: Sequence[str], *, profile: str | None = None
) -> list[Path]:
    """Write ``reference_dir/<nb>.json`` from this run's metrics.json and result images.

    ``profile``: refuse metrics saved under another profile.  Per-key ``tolerances`` already
    in a reference file are kept.
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
        record = _reference_record(stem, metrics)
        if old.get("tolerances"):
            record["tolerances"] = old["tolerances"]
        publish_modes(atomic_write_text(target, _dump_json(record)))
        written.append(target)
    return written


def _reference_record(stem: str, metrics: dict) -> dict:
    """A reference file's content for one notebook's metrics.json and result images."""
    folder = outputs_dir() / stem
    return {
        "notebook": stem,
        "profile": metrics.get("profile"),
        "seed": metrics.get("seed"),
        "recorded_on": {k: metrics.get(k) for k in ("device", "torch", "python")},
        "metrics": metrics.get("metrics", {}),
        "images": {
            name: image_summary(folder / f"{name}.png") for name in metrics.get("images", [])
        },
    }


def _dump_json(record: dict) -> str:
    """Indented JSON with lists of numbers kept on one line (thumbnails stay readable in
    diffs)."""
    text = json.dumps(record, indent=1, sort_keys=True)
    # only arrays json.dumps broke over lines ("[" + newline): never text inside a string
    return re.sub(
        r"\[\n\s*([-+0-9.eE,\s]+?)\s*\]",
        lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]",
        text,
    ) + "\n"


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
    nbs = len({r.notebook for r in rows})
    lines.append(
        f"regression check: {len(rows)} values in {nbs} notebooks, {bad} drifted; "
        f"{identical}/{images} result images bitwise identical to the reference"
    )
    return "\n".join(lines)
