"""Notebook conveniences for blending: the sample examples, OpenCV for comparison, and
comparisons of every method on the same inputs (notebook 06, the benchmarks, the tests).

The examples are defined in :mod:`helpers.gdf.samples` from the public originals of the
manifest (:mod:`helpers.assets`), and loaded through :func:`helpers.images.load`.

Part of :mod:`helpers.gdf`, on top of blending (:mod:`helpers.gdf.blending`); uses the
plumbing (assets, images).  It returns data; :func:`helpers.tables.blend_comparison_table`
formats a list of :class:`Comparison` as text.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import images
from ..errors import UserError
from .blending import MASK_THRESHOLD, blend, naive_paste
from .samples import EXAMPLES, derive_example, derive_rgba_source

__all__ = [
    "COLUMNS",
    "Comparison",
    "ComparisonSummary",
    "Example",
    "compare_example",
    "compare_examples",
    "list_examples",
    "load_example",
    "load_rgba_source",
    "mask_crop",
    "opencv_available",
    "opencv_clone",
    "pick",
    "save_comparisons",
    "summarize",
]


@dataclass
class Example:
    """One blending example: source aligned to the target canvas, target, mask (target coords)."""

    name: str
    source: np.ndarray  # (H, W, 3) float32 in [0, 1]
    target: np.ndarray  # (H, W, 3) float32 in [0, 1]
    mask: np.ndarray  # (H, W) bool


def list_examples() -> list[str]:
    """Names of the blending examples (:data:`helpers.gdf.samples.EXAMPLES`)."""
    return sorted(EXAMPLES)


def load_example(name: str, *, size: int | tuple[int, int] | str | None = None) -> Example:
    """One blending example as float images, derived from its public originals
    (:mod:`helpers.gdf.samples` says how: placed sources, masks from a channel or a polygon).

    Args:
        name: one of :func:`list_examples`.
        size: ``None`` = full resolution; ``N`` = downscale so the longer side is at most N
            (aspect kept); ``(W, H)`` or ``"WxH"`` = exactly that size (the Berkeley writeup's
            224x224 renders).  The mask is resized as grey levels and thresholded at 0.5.
    """
    if name not in EXAMPLES:
        raise UserError(f"unknown example {name!r}; known examples: {', '.join(list_examples())}")
    source, target, grey = derive_example(EXAMPLES[name])
    mask = (grey > MASK_THRESHOLD).astype(np.float32)  # binary at full size, then resized
    size = images.parse_size(size)
    if _resizes(target.shape, size):
        source = images.resize(source, size)
        target = images.resize(target, size)
        mask = images.resize(mask, size)
    return Example(name, source, target, mask > MASK_THRESHOLD)


def _resizes(shape: tuple[int, ...], size) -> bool:
    """Whether :func:`load_example`'s parsed ``size`` resizes an image of ``shape``: ``N`` only
    ever downscales (unlike images.load's size), ``(W, H)`` always applies."""
    return size is not None and (isinstance(size, tuple) or max(shape[:2]) > size)


def load_rgba_source(name: str, *, size: int | tuple[int, int] | str | None = None) -> np.ndarray:
    """The example's source as the Berkeley writeup made it: 4 channels, the mask in the alpha
    channel (:func:`helpers.gdf.samples.derive_rgba_source`), ``(H, W, 4)`` float32, resized as
    :func:`load_example` resizes (the alpha as grey levels; :func:`blend` thresholds it at 0.5)."""
    if name not in EXAMPLES:
        raise UserError(f"unknown example {name!r}; known examples: {', '.join(list_examples())}")
    rgba = derive_rgba_source(EXAMPLES[name])
    size = images.parse_size(size)
    return images.resize(rgba, size) if _resizes(rgba.shape, size) else rgba


def opencv_clone(
    source: np.ndarray, target: np.ndarray, mask: np.ndarray, *, mode: str = "poisson"
) -> np.ndarray:
    """``cv2.seamlessClone`` (NORMAL_CLONE or MIXED_CLONE) on the same inputs, for comparison.

    OpenCV approximates the problem (guidance on the mask's bounding box, its own gradient
    mixing rule) and works in 8 bits; it places the mask's bounding-box centre at the same
    spot, so the result lines up with :func:`blend` at offset 0.  Returns float32 in [0, 1].
    Raises :class:`UserError` when OpenCV is not installed (``pip install '.[opencv]'``).
    """
    try:
        import cv2
    except ImportError as exc:
        raise UserError(
            "OpenCV is not installed; pip install -e '.[opencv]' to compare with cv2.seamlessClone"
        ) from exc

    m = np.asarray(mask, dtype=bool)
    ys, xs = np.nonzero(m)
    if ys.size == 0:
        return np.asarray(target, dtype=np.float32).copy()
    src8 = images.to_uint8(source)
    tgt8 = images.to_uint8(target)
    if src8.ndim == 2:
        src8 = np.repeat(src8[..., None], 3, axis=2)
    if tgt8.ndim == 2:
        tgt8 = np.repeat(tgt8[..., None], 3, axis=2)
    center = (int((xs.min() + xs.max() + 1) // 2), int((ys.min() + ys.max() + 1) // 2))
    flag = cv2.NORMAL_CLONE if mode == "poisson" else cv2.MIXED_CLONE
    out = cv2.seamlessClone(src8, tgt8, m.astype(np.uint8) * 255, center, flag)
    return out.astype(np.float32) / 255.0


def opencv_available() -> bool:
    """Whether ``cv2`` (the optional ``opencv`` extra) can be imported."""
    try:
        import cv2  # noqa: F401
    except ImportError:
        return False
    return True


COLUMNS = (
    "mask",
    "source",
    "target",
    "naive paste",
    "Poisson",
    "mixed",
    "OpenCV normal",
    "OpenCV mixed",
)
"""The panels of a comparison strip, left to right."""


@dataclass
class Comparison:
    """One example blended every way: the strip's images and the numbers behind them."""

    name: str
    images: dict  # COLUMNS -> (H, W[, 3]) float in [0, 1], or None (OpenCV missing)
    seconds: dict  # method -> wall seconds
    residuals: dict  # "Poisson" / "mixed" -> max relative residual over channels
    unknowns: int
    iterations: dict  # "Poisson" / "mixed" -> CG iterations
    results: dict = field(default_factory=dict, repr=False)  # "Poisson" / "mixed" -> BlendResult
    inputs: Example | None = field(default=None, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        return self.images["target"].shape[:2]

    @property
    def outside_exact(self) -> bool:
        """Both exact blends equal the target bit for bit outside the mask."""
        outside = ~self.images["mask"].astype(bool)
        target = self.images["target"].astype(np.float64)
        return all(np.array_equal(r.image[outside], target[outside]) for r in self.results.values())

    def opencv_difference(self, column: str = "Poisson") -> float:
        """Mean |exact - OpenCV| inside the mask, in 8-bit levels (NaN without OpenCV)."""
        other = self.images["OpenCV normal" if column == "Poisson" else "OpenCV mixed"]
        if other is None:
            return float("nan")
        inside = self.images["mask"].astype(bool)
        return float(np.abs(self.images[column][inside] - other[inside]).mean() * 255)

    def caption(self, column: str) -> str:
        """Short label for one strip panel (residual and time where there are any)."""
        if column in self.residuals:
            residual, ms = self.residuals[column], self.seconds[column] * 1e3
            return f"{column}\nres {residual:.1e}, {ms:.0f} ms"
        if column in self.seconds:
            if self.images.get(column) is not None:
                return f"{column}\n{self.seconds[column] * 1e3:.0f} ms"
            return f"{column}\n(not installed)"
        return column


def compare_example(
    example: str | Example,
    *,
    size: int | tuple[int, int] | str | None = None,
    opencv: bool = True,
) -> Comparison:
    """Blend one example every way: naive paste, Poisson, mixed, and (if installed) OpenCV's
    NORMAL_CLONE and MIXED_CLONE, on the same inputs.  ``size`` as in :func:`load_example`."""
    ex = load_example(example, size=size) if isinstance(example, str) else example
    panels = {"mask": ex.mask.astype(np.float32), "source": ex.source, "target": ex.target}
    seconds, residuals, iterations = {}, {}, {}
    t0 = time.perf_counter()
    panels["naive paste"] = naive_paste(ex.source, ex.target, ex.mask)
    seconds["naive paste"] = time.perf_counter() - t0
    unknowns = 0
    results = {}
    for column, mode in (("Poisson", "poisson"), ("mixed", "mixed")):
        res = blend(ex.source, ex.target, ex.mask, mode=mode)
        results[column] = res
        panels[column] = res.clipped
        seconds[column] = res.seconds
        residuals[column] = res.max_residual
        iterations[column] = res.iterations
        unknowns = res.unknowns
    use_cv = opencv and opencv_available()
    for column, mode in (("OpenCV normal", "poisson"), ("OpenCV mixed", "mixed")):
        if use_cv:
            t0 = time.perf_counter()
            panels[column] = opencv_clone(ex.source, ex.target, ex.mask, mode=mode)
            seconds[column] = time.perf_counter() - t0
        else:
            panels[column] = None
            seconds[column] = float("nan")
    return Comparison(ex.name, panels, seconds, residuals, unknowns, iterations, results, ex)


def compare_examples(
    names: list[str] | tuple[str, ...], *, size=None, opencv: bool = True
) -> list[Comparison]:
    """:func:`compare_example` for each name (one call processes the whole list)."""
    return [compare_example(name, size=size, opencv=opencv) for name in names]


def save_comparisons(
    comparisons: list[Comparison],
    save: Callable[..., object],
    *,
    suffix: str = "",
    columns: tuple[str, ...] = ("Poisson", "mixed"),
) -> list[str]:
    """Save the blended images of ``columns`` via ``save(name, image, region=box)`` (e.g.
    ``run.save_image``; ``box`` = the mask's bounding box ``(top, left, bottom, right)``, where
    the blend changes the target) as ``<example>-<method><suffix>``; returns the names.  (By
    default only the exact blends: OpenCV's output depends on its version, so it does not
    belong in a regression check.)"""
    names = []
    for c in comparisons:
        ys, xs = np.nonzero(c.images["mask"])
        box = None
        if ys.size:
            box = (int(ys.min()), int(xs.min()), int(ys.max()) + 1, int(xs.max()) + 1)
        for column in columns:
            if c.images.get(column) is not None:
                name = f"{c.name}-{column.lower().replace(' ', '-')}{suffix}"
                save(name, c.images[column], region=box)
                names.append(name)
    return names


def mask_crop(image: np.ndarray, mask: np.ndarray, *, margin: float = 0.25) -> np.ndarray:
    """``image`` cut to the mask's bounding box grown by ``margin`` of its size on each side."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return image
    h, w = mask.shape
    my = int((ys.max() - ys.min() + 1) * margin) + 2
    mx = int((xs.max() - xs.min() + 1) * margin) + 2
    rows = slice(max(ys.min() - my, 0), min(ys.max() + my + 1, h))
    cols = slice(max(xs.min() - mx, 0), min(xs.max() + mx + 1, w))
    return image[rows, cols]


def pick(comparisons: list[Comparison], names: list[str] | tuple[str, ...]) -> list[Comparison]:
    """The comparisons whose example is in ``names`` (in ``comparisons`` order; all if none
    match)."""
    chosen = [c for c in comparisons if c.name in set(names)]
    return chosen or list(comparisons)


@dataclass
class ComparisonSummary:
    """What a notebook asserts about a list of comparisons, and the numbers it records."""

    names: list[str]
    max_residual: float  # over examples, modes and channels
    outside_exact: bool  # every exact blend equals the target outside its mask
    finite: bool  # no NaN/inf in the exact blends
    opencv_complete: bool  # every OpenCV panel was produced
    metrics: dict  # per example: residuals, unknowns, seconds (for metrics.json)


def _metrics(c: Comparison) -> dict:
    """One example's numbers for ``metrics.json``."""
    opencv = c.seconds["OpenCV normal"]
    return {
        "residual_poisson": c.residuals["Poisson"],
        "residual_mixed": c.residuals["mixed"],
        "unknowns": c.unknowns,
        "seconds_poisson": c.seconds["Poisson"],
        "seconds_mixed": c.seconds["mixed"],
        "seconds_opencv": None if np.isnan(opencv) else opencv,
    }


def summarize(comparisons: list[Comparison]) -> ComparisonSummary:
    """Collect the invariants and metrics of :func:`compare_examples` results in one object."""
    exact = ("Poisson", "mixed")
    opencv = ("OpenCV normal", "OpenCV mixed")
    return ComparisonSummary(
        names=[c.name for c in comparisons],
        max_residual=max((max(c.residuals.values()) for c in comparisons), default=0.0),
        outside_exact=all(c.outside_exact for c in comparisons),
        finite=all(np.isfinite(c.images[k]).all() for c in comparisons for k in exact),
        opencv_complete=all(c.images[k] is not None for c in comparisons for k in opencv),
        metrics={c.name: _metrics(c) for c in comparisons},
    )
