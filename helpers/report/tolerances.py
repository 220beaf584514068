"""The regression tolerances, in one place: each metric's kind, its :class:`Tolerance` and why.

Part of :mod:`helpers.report`, used by :mod:`helpers.report.regress`: every metric gets a kind
(:func:`metric_kind`) and the kind's :class:`Tolerance` from :data:`TOLERANCES`, with the
notebooks' own bounds (:data:`BOUNDS`) and a reference file's per-key overrides
(:func:`tolerance_for`).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """How one kind of value is compared, and why.

    ``compare``: ``"log"`` (ok when ``value <= factor * reference`` and ``value <= ceiling``, the
    notebook's own bound), ``"relative"`` (``|value - reference| <= atol + rtol * |reference|``),
    ``"equal"``, ``"never"`` (shown, not compared) or ``"image"`` (mean absolute difference,
    in 8-bit grey levels, inside the image's region at full resolution ``<= mad``).
    """

    compare: str
    reason: str
    factor: float = 1.0
    ceiling: float | None = None
    rtol: float = 0.0
    atol: float = 0.0
    mad: float = 0.0

    def describe(self) -> str:
        """The tolerance as a table cell."""
        if self.compare == "log":
            bound = f", <= {self.ceiling:g}" if self.ceiling is not None else ""
            return f"<= {self.factor:g}x ref{bound}"
        if self.compare == "relative":
            return f"rtol {self.rtol:g}" + (f", atol {self.atol:g}" if self.atol else "")
        if self.compare == "image":
            return f"MAD <= {self.mad:g}/255"
        return {"equal": "equal", "never": "not compared"}[self.compare]


TOLERANCES: dict[str, Tolerance] = {
    "error": Tolerance(
        "log",
        factor=2.0,
        reason="errors of exact solves sit at round-off (1e-11 .. 1e-8): compared on a log "
        "scale, a regression is a factor, not a difference; 2x allows round-off to move, "
        "and the notebook's own bound (BOUNDS) is never allowed",
    ),
    "residual": Tolerance(
        "log",
        factor=2.0,
        reason="relative residuals of the exact solves (1e-12 .. 1e-6): as errors; a 10x worse "
        "solve must fail even far below the notebook's bound",
    ),
    "loss": Tolerance(
        "relative",
        rtol=1e-2,
        reason="losses are large sums (1e4 .. 1e9) from a few optimiser steps: relative; CPU runs "
        "are bitwise reproducible, 1% allows another BLAS or CPU",
    ),
    "number": Tolerance(
        "relative",
        rtol=1e-2,
        reason="other measured floats (activation means, ratios): relative, as losses",
    ),
    "count": Tolerance(
        "equal",
        reason="integers (unknowns, evaluations, sizes) are counts: exact",
    ),
    "label": Tolerance(
        "equal",
        reason="strings, booleans and None (layer names, choices): exact",
    ),
    "timing": Tolerance(
        "never",
        reason="wall-clock seconds and speed-ups depend on the machine and its load; "
        "benchmarks/ measures them",
    ),
    "image": Tolerance(
        "image",
        mad=1.0,
        reason="blends are exact solves rounded to 8 bits and CPU style transfer is bitwise "
        "reproducible: beyond rounding (1 level on average) inside the region is a change; "
        "a naive paste instead of a blend is 28-80 levels off in its mask's box",
    ),
}
"""The regression tolerances, in one place: metric kind -> :class:`Tolerance` (default atol 0).

A reference file may override them per metric key: ``"tolerances": {"final_loss": {"rtol":
0.05}}`` (fields of :class:`Tolerance`) or ``{"some_key": null}`` (do not compare)."""

TIMING_KEY = re.compile(r"(seconds|_time\b|^time|_ms\b|per_second|speed)")
"""Metric keys that hold durations or speeds: kind ``timing``, never compared."""

KINDS: tuple[tuple[re.Pattern, str], ...] = (
    (TIMING_KEY, "timing"),
    (re.compile(r"residual"), "residual"),
    (re.compile(r"error"), "error"),
    (re.compile(r"loss|final|total|content|style"), "loss"),
)
"""Float metrics by key (first match wins; else ``number``).  Ints are ``count``, the rest
``label``."""

BOUNDS: tuple[tuple[re.Pattern, float, str], ...] = (
    (re.compile(r"naive_max_abs_error$"), 1e-4, "notebook 05 asserts the naive solve <= 1e-4"),
    (re.compile(r"max_abs_error$"), 1e-6, "notebook 05 asserts max_abs_error <= 1e-6"),
    (re.compile(r"residual"), 1e-6, "notebook 06 asserts every relative residual <= 1e-6"),
)
"""The notebooks' own bounds (first match wins): the ``ceiling`` of ``log`` tolerances."""


def metric_kind(key: str, ref_value: Any) -> str:
    """The :data:`TOLERANCES` kind of one flattened metric key and its reference value."""
    if any(pattern.search(key) for pattern, kind in KINDS if kind == "timing"):
        return "timing"
    if isinstance(ref_value, bool) or not isinstance(ref_value, int | float):
        return "label"
    if isinstance(ref_value, int):
        return "count"
    return next((kind for pattern, kind in KINDS if pattern.search(key)), "number")


def tolerance_for(key: str, ref_value: Any, overrides: dict | None = None) -> Tolerance:
    """The tolerance of one metric: its kind's, with the notebook's bound, then the reference's
    per-key override."""
    tol = TOLERANCES[metric_kind(key, ref_value)]
    if tol.compare == "log":
        bound = next((b for pattern, b, _ in BOUNDS if pattern.search(key)), None)
        tol = dataclasses.replace(tol, ceiling=bound)
    override = (overrides or {}).get(key, {})
    if override is None:
        return dataclasses.replace(tol, compare="never", reason="ignored by the reference")
    return dataclasses.replace(tol, **override) if override else tol
