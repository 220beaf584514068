"""How long a report run will take, estimated before it starts.

Part of :mod:`helpers.report`.  The estimate of one notebook is

    seconds = KERNEL_SECONDS + figures * t_figure + sum over its optimisations of
              evaluations * (t_step + images * (t_image + pixels * t_pixel))
              + gradient-domain pixels * t_solve

* ``t_step``, ``t_image`` and ``t_pixel`` come from a short measurement on the chosen device:
  a few timed evaluations as the loop does them (VGG-19 forward with Gram matrices, backward;
  random weights: same cost, no download) at the smallest size of the plan for one image and
  for a batch of four, and at the largest size for one image;
* ``t_figure`` from drawing one image-grid figure, ``t_solve`` from one Poisson blend;
* the counts (how many optimisations, of how many images, at which size, for how many
  evaluations) from the profile's parameters and :data:`WORKLOADS`, one function per notebook
  that mirrors what the notebook runs.  A notebook not listed there (a new one, or the tiny
  fake series of the tests) is estimated from its kernel start and figures only.

The numbers are estimates: the report prints each one beside the measured time, so the error
stays visible (:func:`helpers.report.results_table`).
"""

from __future__ import annotations

import ast
import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .params import notebook_parameters

KERNEL_SECONDS = 5.0
"""Starting a kernel and importing torch, helpers and matplotlib (measured: 4.5-5.5 s here)."""

ASPECT = 0.75
"""Short side / long side of the sample photos (Tübingen is 1024x768), for ``size`` = long side."""

MEASURE_MAX_SIZE = 192
"""Largest side timed by :func:`measure`; larger images are extrapolated by their pixels."""

LONG_RUN_SECONDS = 3600.0
"""Above this on a CPU the report asks before it starts (``--yes`` on a non-terminal)."""


@dataclasses.dataclass(frozen=True)
class Work:
    """One optimisation: ``images`` images of ``pixels`` each, optimised together (one batch)
    for ``evaluations`` forward+backward passes."""

    images: int
    pixels: int
    evaluations: int


@dataclasses.dataclass
class Plan:
    """What one notebook will do, in countable units."""

    notebook: str
    works: list[Work] = dataclasses.field(default_factory=list)
    figures: int = 0
    solve_pixels: int = 0  # pixels solved by the gradient-domain notebooks
    modelled: bool = True  # False: not in WORKLOADS (or it no longer fits the notebook)


@dataclasses.dataclass(frozen=True)
class Speed:
    """Measured unit costs on one device (seconds).

    One evaluation of a batch of ``b`` images of ``p`` pixels costs
    ``step + b * (image + pixel * p)``.
    """

    device: str
    step: float  # per evaluation, whatever its batch and size (launches, Python, the optimiser)
    image: float  # per image per evaluation, beyond its pixels
    pixel: float  # per image pixel per evaluation
    figure: float  # per figure (drawn, saved and displayed)
    solve: float  # per solved pixel of a Poisson blend

    def evaluation_seconds(self, work: Work) -> float:
        return self.step + work.images * max(0.0, self.image + self.pixel * work.pixels)

    def notebook_seconds(self, plan: Plan) -> float:
        nst = sum(w.evaluations * self.evaluation_seconds(w) for w in plan.works)
        return KERNEL_SECONDS + plan.figures * self.figure + nst + plan.solve_pixels * self.solve


# ----------------------------------------------------------------------------- workloads


def _photo(size: int) -> int:
    return int(size * size * ASPECT)


def _size(value: Any) -> int:
    """``128`` or ``"224x224"`` -> pixels; 0 / None -> 0 (as stored: unknown here)."""
    if isinstance(value, str) and "x" in value:
        w, h = (int(v) for v in value.lower().split("x"))
        return w * h
    return _photo(int(value or 0))


def _works_02(p: Mapping[str, Any]) -> list[Work]:
    steps, content, texture = p["STEPS"], _photo(p["CONTENT_SIZE"]), p["TEXTURE_SIZE"] ** 2
    return [
        Work(5 * 2, content, steps),  # single layers x two seeds
        Work(6 * 2, content, steps),  # CMU groups x two seeds (cmu recipe)
        Work(len(p["STYLES"]) * 5, texture, steps),  # styles x growing subsets
        Work(5, texture, steps),  # the second seed
        Work(6 + 1, texture, steps),  # a texture per CMU group and from CMU's style set
        Work(2, texture, steps),  # CMU's two-seed texture
        Work(1, texture, steps),  # max pooling
        Work(1, texture, steps),  # U[0, 1] noise
    ]


def _works_03(p: Mapping[str, Any]) -> list[Work]:
    pixels, steps, batch = _photo(p["SIZE"]), p["STEPS"], max(1, p["MAX_BATCH"])
    balance = [Work(1, _photo(size), p["BALANCE_STEPS"]) for size in p["BALANCE_SIZES"]]
    columns = len(p["BERKELEY_RATIOS"]) if p["RECIPE"] == "berkeley" else 2 * p["DECADES"] + 1
    cells = columns * 5  # x the growing style-layer sets
    grid = [Work(min(batch, cells - i), pixels, steps) for i in range(0, cells, batch)]
    odd = Work(1, pixels, steps * p["ODD_BUDGET"])  # the noisy cell with a larger budget
    return [*balance, Work(1, pixels, p["BALANCE_STEPS"]), *grid, odd]


def _works_04(p: Mapping[str, Any]) -> list[Work]:
    steps, cmu_pixels = p["STEPS"], _photo(p["CMU_SIZE"])
    cmu = [Work(len(p["CMU_STYLES"]), cmu_pixels, steps) for _ in p["CMU_CONTENTS"]]
    return [
        Work(len(p["STYLES"]), _photo(p["SIZE"]), steps),
        *cmu,  # the gatys recipe
        *cmu,  # the cmu recipe
        # paper vs practice: the recipe, max pooling, conv features, noise init, mean Gram and
        # Adam at two learning rates
        *(Work(1, _photo(p["COMPARE_SIZE"]), p["COMPARE_STEPS"]) for _ in range(7)),
        Work(1, _photo(p["USER_SIZE"]), steps),
    ]


def _works_07(p: Mapping[str, Any]) -> list[Work]:
    pixels, steps = _photo(p["SIZE"]), p["STEPS"]
    stages = [Work(1, _photo(size), n) for size, n in zip(p["SCALES"], p["SCALE_STEPS"])]
    single = Work(1, _photo(max(p["SCALES"])), max(p["SCALE_STEPS"]))  # the same wall time
    # colour control (two runs), the style blends (three), the spatial control (one)
    return [*(Work(1, pixels, steps) for _ in range(6)), *stages, single]


def _works_01(p: Mapping[str, Any]) -> list[Work]:
    return [Work(1, _photo(p["SIZE"]), 2)]  # two forward passes (avg and max pooling)


def _solve_05(p: Mapping[str, Any]) -> int:
    pixels = _size(p["SIZE"]) or 110 * 119  # the toy image as stored
    return pixels * (p["REPEATS"] + 2)


def _solve_06(p: Mapping[str, Any]) -> int:
    from ..images import resolve

    total = 0
    for name in p["EXAMPLES"]:
        render = _size(p["RENDER_SIZE"])
        try:
            from PIL import Image

            with Image.open(resolve(f"gdf/{name}/mask.png")) as im:
                w, h = im.size
            full = w * h if not p["FULL_SIZE"] else _photo(p["FULL_SIZE"])
        except Exception:  # a missing asset fails in the notebook, with its own message
            full = 512 * 384
        total += 2 * (render + full)  # poisson and mixed, at both sizes; masks cover ~1/2
    return total // 2


def _solve_08(p: Mapping[str, Any]) -> int:
    stored = 250 * 333  # the bear_pool example as stored
    mono = _photo(p["MONO_SIZE"]) or stored
    edit = _photo(p["EDIT_SIZE"]) or stored
    # monochrome transfer; flattening, local illumination and colour changes; texture flattening;
    # the painting and its pattern
    return mono + 3 * edit + p["TEXTURE_SIZE"] ** 2 + _photo(p["PAINTING_SIZE"]) * 2


WORKLOADS: dict[str, tuple[Callable[[Mapping[str, Any]], list[Work]] | None, Any]] = {
    "01-vgg-setup": (_works_01, None),
    "02-reconstruction-ablations": (_works_02, None),
    "03-alpha-beta-layer-grid": (_works_03, None),
    "04-style-transfer": (_works_04, None),
    "05-gradient-toy-problem": (None, _solve_05),
    "06-poisson-blending": (None, _solve_06),
    "07-style-controls": (_works_07, None),
    "08-poisson-editing": (None, _solve_08),
}
"""Per notebook: (its optimisations, its solved pixels) as functions of its parameters."""


def _values(notebook: Path, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The notebook's defaults (its parameters cell) overridden by the profile's values."""
    values: dict[str, Any] = {}
    for name, info in notebook_parameters(notebook).items():
        try:
            values[name] = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError):
            continue
    return {**values, **parameters}


def plan_notebook(notebook: Path, parameters: Mapping[str, Any]) -> Plan:
    """Count what ``notebook`` will do with ``parameters`` (its profile's values)."""
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    figures = sum(c.source.count("save_figure(") for c in nb.cells if c.cell_type == "code")
    plan = Plan(notebook.stem, figures=figures)
    works, solve = WORKLOADS.get(notebook.stem, (None, None))
    if works is None and solve is None:
        plan.modelled = False
        return plan
    values = _values(notebook, parameters)
    try:
        plan.works = works(values) if works else []
        plan.solve_pixels = solve(values) if solve else 0
    except (KeyError, TypeError, ValueError):  # the notebook changed: estimate what is known
        plan.works, plan.solve_pixels, plan.modelled = [], 0, False
    return plan


# ----------------------------------------------------------------------------- measurement


def _time_evaluations(size: int, device, repeats: int, batch: int = 1) -> float:
    """Median seconds of one evaluation as the loop does it (VGG-19 forward, Gram matrices and
    a loss at every style layer, backward) for ``batch`` images of ``size`` x ``size``."""
    import torch

    from ..nst import vgg

    model = vgg.VGGFeatures(
        [*vgg.STYLE_LAYERS, vgg.CONTENT_LAYER_PAPER], weights="random", device=device
    )
    image = torch.rand(batch, 3, size, size, device=device, requires_grad=True)
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


def _time_figure() -> float:
    """Seconds to draw and save one titled 5x5 image-grid figure, twice: a notebook saves each
    figure and the inline backend renders it again for display."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    images = np.random.default_rng(0).random((25, 64, 64, 3))
    seconds = []
    for _ in range(2):  # the first one also loads fonts (once per kernel): time the second
        t0 = time.perf_counter()
        fig, axes = plt.subplots(5, 5, figsize=(9.5, 9.5))
        for i, (ax, image) in enumerate(zip(axes.flat, images, strict=True)):
            ax.imshow(image)
            ax.set_title(f"cell {i}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        fig.suptitle("a grid")
        fig.savefig(io.BytesIO(), format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        seconds.append(time.perf_counter() - t0)
    return 2 * seconds[-1]


def _time_solve() -> float:
    """Seconds per solved pixel of one Poisson blend of a disk in a 256x256 colour image (after
    a small warm-up blend: the first call pays for imports and transform plans, and a small
    problem's fixed overhead would be extrapolated to the notebooks' megapixel blends)."""
    import numpy as np

    from ..gdf import blend

    rng = np.random.default_rng(0)
    for size, radius in ((48, 16), (256, 100)):
        source, target = rng.random((2, size, size, 3))
        yy, xx = np.mgrid[:size, :size]
        mask = (yy - size // 2) ** 2 + (xx - size // 2) ** 2 < radius**2
        t0 = time.perf_counter()
        result = blend(source, target, mask)
        seconds = time.perf_counter() - t0
    return seconds / max(1, result.unknowns)


def measure(device, plans: Sequence[Plan], repeats: int = 3) -> Speed:
    """Time a few evaluations on ``device`` at the smallest size of ``plans`` (one image, then a
    batch of four) and at the largest (one image); fit :class:`Speed`."""
    import math

    import torch

    from ..runtime import device_name

    device = torch.device(device)
    pixels = [w.pixels for p in plans for w in p.works if w.evaluations > 2]
    step = image = pixel = 0.0
    if pixels:
        small = max(16, round(math.sqrt(min(pixels))))
        # capped: the cost per pixel is measured up to 192 px and extrapolated (a 1024 px
        # evaluation alone takes tens of seconds on a CPU)
        large = max(small, min(MEASURE_MAX_SIZE, round(math.sqrt(max(pixels)))))
        one = _time_evaluations(small, device, repeats)
        four = _time_evaluations(small, device, repeats, batch=4)
        per_image = max(0.0, (four - one) / 3)
        step = max(0.0, one - per_image)
        image = per_image
        if large > small:
            at_large = max(per_image, _time_evaluations(large, device, 1) - step)
            pixel = (at_large - per_image) / (large * large - small * small)
            image = per_image - pixel * small * small
    figure = _time_figure() if any(p.figures for p in plans) else 0.0
    solve = _time_solve() if any(p.solve_pixels for p in plans) else 0.0
    return Speed(device_name(device), step, image, pixel, figure, solve)


def estimate_series(
    plan: Sequence[tuple[Path, Mapping[str, Any]]], device: str = "auto"
) -> tuple[dict[str, float], Speed, list[Plan]]:
    """Estimated seconds per notebook stem for ``plan`` (notebook, profile parameters), the
    measured unit costs and the counted plans."""
    from ..runtime import get_device

    plans = [plan_notebook(nb, params) for nb, params in plan]
    chosen = next((p.get("DEVICE") for _, p in plan if p.get("DEVICE")), device)
    speed = measure(get_device(chosen), plans)
    return {p.notebook: speed.notebook_seconds(p) for p in plans}, speed, plans


def format_seconds(seconds: float) -> str:
    """``42 s``, ``3.5 min``, ``2.1 h``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
