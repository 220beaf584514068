"""How long a report run will take, estimated before it starts.

Part of :mod:`helpers.report`.  A notebook's estimate is

* the seconds of its **last passed run under the same profile**, as ``results.json`` records
  them (``outputs/notebooks/results.json``, written by :func:`helpers.report.run_series` after
  every notebook, which keeps each profile's last seconds across runs of the others); else
* ``KERNEL_SECONDS + PROFILE_UNITS[profile] * t``, where ``t`` is one short timing on the
  chosen device (:func:`calibrate`: one VGG-19 evaluation as the loop does it, at
  ``CALIBRATION_SIZE`` px with random weights), taken only when some notebook has no last run.

So a new notebook needs nothing here: its first run is estimated from the profile's constant,
and every later one from the run before.  The numbers are estimates: the report prints each one
beside the measured time, so the error stays visible (:func:`helpers.report.results_table`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..runtime import outputs_root
from .run import last_seconds, load_results

KERNEL_SECONDS = 5.0
"""Starting a kernel and importing torch, helpers and matplotlib (measured: 4.5-5.5 s here)."""

CALIBRATION_SIZE = 64
"""Side of the square image of the calibration evaluation (:func:`calibrate`)."""

PROFILE_UNITS = {"smoke": 140.0, "quick": 490.0, "full": 175_000.0}
"""Seconds of an average notebook beyond its kernel start, in calibration evaluations.

Fitted once on the 2-core CPU: the mean over notebooks 01-08 of the issue-19 workload model
(which counted each notebook's optimisations), divided by :func:`calibrate` measured beside it
(0.041-0.044 s); that model printed 87 s (smoke), 3.3 min (quick) and 17 h (full) for the
series.  Only a notebook's first run under a profile uses them."""

LONG_RUN_SECONDS = 3600.0
"""Above this on a CPU the report asks before it starts (``--yes`` on a non-terminal)."""

LAST_RUN = "last run"
CALIBRATED = "calibrated"


@dataclasses.dataclass(frozen=True)
class Estimate:
    """One notebook's estimate: ``seconds``, and where they come from: ``source`` is
    :data:`LAST_RUN` (``device``: the device of that run) or :data:`CALIBRATED` (``device``:
    the device timed)."""

    notebook: str
    seconds: float
    source: str
    device: str

    def describe(self, profile: str) -> str:
        """``7 s (its last quick run, on cpu (2 threads))``, or why it is a guess."""
        if self.source == LAST_RUN:
            why = f"its last {profile} run, on {self.device}"
        else:
            why = f"no {profile} run recorded: guessed from a short timing"
        return f"{format_seconds(self.seconds)} ({why})"


@dataclasses.dataclass(frozen=True)
class SeriesEstimate:
    """The estimates of a series under ``profile`` on ``device``; ``calibration``: seconds of
    one calibration evaluation (None when every notebook had a last run and nothing was
    timed)."""

    profile: str
    device: str
    notebooks: list[Estimate]
    calibration: float | None = None

    @property
    def seconds(self) -> dict[str, float]:
        """Estimated seconds per notebook stem."""
        return {e.notebook: e.seconds for e in self.notebooks}

    @property
    def total(self) -> float:
        return sum(e.seconds for e in self.notebooks)


@dataclasses.dataclass(frozen=True)
class LastRun:
    """A notebook's last passed run under one profile: its ``seconds`` and ``device``."""

    seconds: float
    device: str


def last_runs(profile: str, path: Path | None = None) -> dict[str, LastRun]:
    """Each notebook's last passed run under ``profile``, by notebook stem, as ``results.json``
    (default ``outputs/notebooks/results.json``) records it: its per-profile ``last_seconds``
    (kept across runs of other profiles), else the passed results of the series it shows.
    Empty when the file is missing or unreadable."""
    path = Path(path) if path is not None else outputs_root() / "notebooks" / "results.json"
    last: dict[str, LastRun] = {}
    with contextlib.suppress(UserError, OSError, ValueError, KeyError, TypeError):
        shown = load_results(path)
        last = {
            r.notebook: LastRun(r.seconds, r.device) for r in shown if r.ok and r.profile == profile
        }
    with contextlib.suppress(KeyError, TypeError, ValueError):
        for nb, run in last_seconds(path).get(profile, {}).items():
            last[nb] = LastRun(float(run["seconds"]), str(run.get("device", "-")))
    return last


def calibrate(device, repeats: int = 3) -> float:
    """Median seconds of one evaluation as the loop does it (VGG-19 forward, Gram matrices and
    a loss at every style layer, backward; random weights: same cost, no download) for one
    ``CALIBRATION_SIZE`` x ``CALIBRATION_SIZE`` image on ``device``, after one warm-up."""
    import torch

    from ..nst import vgg

    device = torch.device(device)
    model = vgg.VGGFeatures(
        [*vgg.STYLE_LAYERS, vgg.CONTENT_LAYER_PAPER], weights="random", device=device
    )
    size = CALIBRATION_SIZE
    image = torch.rand(1, 3, size, size, device=device, requires_grad=True)
    times = []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        loss = image.new_zeros(())
        for f in model(image).values():
            flat = f.flatten(2)
            gram = flat @ flat.transpose(1, 2) / flat.shape[-1]
            loss = loss + gram.square().mean() + f.square().mean()
        loss.backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i:  # the first one warms up
            times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def estimate_series(
    plan: Sequence[tuple[Path, Mapping[str, Any]]],
    profile: str,
    *,
    device: str = "auto",
    results: Path | None = None,
    calibration: float | None = None,
) -> SeriesEstimate:
    """Estimate each notebook of ``plan`` (notebook, its ``profile`` parameters): its last
    passed run under ``profile`` in ``results`` (default ``outputs/notebooks/results.json``),
    else the profile's constant times :func:`calibrate` on the device the parameters (``DEVICE``)
    or ``device`` choose.  ``calibration``: seconds of one calibration evaluation, timed only
    when it is None and a notebook needs it."""
    from ..runtime import device_name, get_device

    if profile not in PROFILE_UNITS:
        raise UserError(f"unknown profile {profile!r}: use one of {', '.join(PROFILE_UNITS)}")
    chosen = get_device(next((p.get("DEVICE") for _, p in plan if p.get("DEVICE")), device))
    name = device_name(chosen)
    last = last_runs(profile, results)
    if calibration is None and any(Path(nb).stem not in last for nb, _ in plan):
        calibration = calibrate(chosen)
    estimates = []
    for notebook, _ in plan:
        stem = Path(notebook).stem
        if stem in last:
            estimates.append(Estimate(stem, float(last[stem].seconds), LAST_RUN, last[stem].device))
        else:
            seconds = KERNEL_SECONDS + PROFILE_UNITS[profile] * calibration
            estimates.append(Estimate(stem, seconds, CALIBRATED, name))
    return SeriesEstimate(profile, name, estimates, calibration)


def format_seconds(seconds: float) -> str:
    """``42 s``, ``3.5 min``, ``2.1 h``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
