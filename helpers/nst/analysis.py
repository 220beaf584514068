"""Measurements on style-transfer results, for the notebooks' figures and checks.

Part of :mod:`helpers.nst`, above the experiments and the controls: image metrics
(:func:`high_frequency_energy`, :func:`mean_squared_gradient`, :func:`difference` of two
results, :func:`column_differences` of a grid's columns) and the analyses the notebooks report,
each returning a dataclass: :func:`budget_check` (notebook 03: is a grid cell's speckle the
budget's or the objective's?) and :func:`color_check` (notebook 07: how well the colour controls
keep the photo's colours).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .color import match_histogram, rgb_to_ycbcr
from .experiments import alpha_beta_grid
from .inputs import ImageLike, as_array
from .results import TransferResult

# --- image metrics ----------------------------------------------------------------------------


def high_frequency_energy(image: np.ndarray) -> float:
    """The high-frequency energy of an ``(H, W, 3)`` image in [0, 1]: the mean squared discrete
    (5-point) Laplacian over the interior pixels and channels.  Fine-grain noise shows here."""
    img = np.asarray(image, dtype=np.float64)
    lap = 4 * img[1:-1, 1:-1] - img[:-2, 1:-1] - img[2:, 1:-1] - img[1:-1, :-2] - img[1:-1, 2:]
    return float(np.mean(lap**2))


def mean_squared_gradient(image: np.ndarray) -> float:
    """The squared neighbour differences of an image per value: ``Σ (dy² + dx²) / (H·W·C)``.

    That is :func:`helpers.nst.losses.total_variation` (the squared TV) per pixel and channel,
    what a TV weight suppresses.  Not :func:`high_frequency_energy`: a Laplacian weighs the
    finest scale more and ignores a constant gradient.
    """
    img = np.asarray(image, np.float64)
    dy, dx = np.diff(img, axis=0), np.diff(img, axis=1)
    return float((np.square(dy).sum() + np.square(dx).sum()) / img.size)


@dataclass
class Difference:
    """How two images of the same shape differ, pixel by pixel."""

    image: np.ndarray
    """``(H, W)`` float in [0, 1]: ``|a − b|`` averaged over the colour channels."""
    mean_255: float
    """Mean ``|a − b|`` over pixels and channels, in grey levels (1/255 of the full range)."""
    max_255: float
    """Largest ``|a − b|`` of any pixel and channel, in grey levels."""

    def shown(self, gain: float = 4.0) -> np.ndarray:
        """:attr:`image` times ``gain``, clipped to [0, 1], to draw small differences."""
        return np.clip(self.image * float(gain), 0.0, 1.0)


def difference(a: np.ndarray, b: np.ndarray) -> Difference:
    """``|a − b|`` of two ``(H, W, 3)`` images in [0, 1] (e.g. the same reconstruction from two
    noise seeds), as an image and two numbers in grey levels."""
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if x.shape != y.shape:
        raise ValueError(f"images differ in shape: {x.shape} and {y.shape}")
    diff = np.abs(x - y)
    per_pixel = diff.mean(axis=-1) if diff.ndim == 3 else diff
    return Difference(per_pixel, float(diff.mean() * 255), float(diff.max() * 255))


def column_differences(
    grid: TransferResult, reference: ImageLike | None = None
) -> dict[str, float]:
    """Per column of a grid (``grid.cols``): the mean over its rows of :func:`difference`
    (``mean_255``) between each cell and ``reference`` (e.g. the photo), or, with no
    ``reference``, between each cell and the cell left of it (keys ``"<left> → <col>"``)."""
    if not (grid.rows and grid.cols):
        raise ValueError("column_differences needs a grid (a result with rows and cols)")
    cells = grid.grid()
    if reference is not None:
        ref = as_array(reference, "reference image")
        return {
            col: float(np.mean([difference(row[c], ref).mean_255 for row in cells]))
            for c, col in enumerate(grid.cols)
        }
    return {
        f"{grid.cols[c - 1]} → {col}": float(
            np.mean([difference(row[c], row[c - 1]).mean_255 for row in cells])
        )
        for c, col in enumerate(grid.cols)
        if c > 0
    }


# --- notebook 03: the noisy cells -------------------------------------------------------------


@dataclass
class BudgetCheck:
    """A grid cell run again with a larger budget: whose is its speckle?"""

    cell: TransferResult
    """The cell as the grid ran it (a batch of one)."""
    longer: TransferResult
    """The same objective with ``longer_steps`` evaluations."""
    steps: int
    longer_steps: int
    energy: dict[str, float]
    """:func:`high_frequency_energy` of ``"photo"``, ``"style"``, ``"<steps> evals"`` (the
    cell) and ``"<longer_steps> evals"`` (the longer run)."""
    verdict: str
    """``"the budget"`` when the longer run halved the energy, else ``"the objective"``."""

    @property
    def cell_energy(self) -> float:
        return self.energy[f"{self.steps} evals"]

    @property
    def longer_energy(self) -> float:
        return self.energy[f"{self.longer_steps} evals"]


def budget_check(
    content: ImageLike,
    style: ImageLike,
    cell: TransferResult,
    *,
    steps: int,
    factor: int,
    **options,
) -> BudgetCheck:
    """Run a cell of :func:`helpers.nst.alpha_beta_grid` (``cell``, e.g. ``grid.at(row,
    col)``, run with ``steps`` evaluations) again with ``factor`` times the budget: if its
    high-frequency energy then falls below half, the speckle was the budget's, else the
    objective's.  ``options`` as for the grid (its content layers, device, ...)."""
    objective = cell.objectives[0]
    longer = alpha_beta_grid(
        content,
        style,
        ratios=[objective.ratio],
        style_layer_sets=[objective.style_layers],
        steps=steps * factor,
        **options,
    )
    short_key, long_key = f"{steps} evals", f"{steps * factor} evals"
    energy = {
        "photo": high_frequency_energy(as_array(content, "content image")),
        "style": high_frequency_energy(as_array(style, "style image")),
        short_key: high_frequency_energy(cell.image),
        long_key: high_frequency_energy(longer.image),
    }
    verdict = "the budget" if energy[long_key] < 0.5 * energy[short_key] else "the objective"
    return BudgetCheck(cell, longer, steps, steps * factor, energy, verdict)


# --- notebook 07: colour preservation ---------------------------------------------------------


@dataclass
class ColorCheck:
    """How well the colour controls of :func:`helpers.nst.controls.color_grid` keep the photo's
    colours (differences in 1/255 of the full range where named ``_255``)."""

    luminance_only: list[np.ndarray]
    """The luminance-only results, one per style (the grid's rows)."""
    chroma_error_255: list[float]
    """Per style: mean |Cb, Cr difference| of the luminance-only result from the photo's."""
    luma_change_255: list[float]
    """Per style: mean |Y difference| of the luminance-only result from the photo's."""
    histogram_mean_error: float
    """Largest |mean colour difference| of a histogram-matched style from the photo, before
    clipping to [0, 1] (a channel, a style)."""
    plain_shift_255: float
    """Largest |mean colour shift| of the first style's plain transfer from the photo."""


def color_check(
    content: ImageLike,
    styles: Mapping[str, ImageLike],
    grid: TransferResult,
    *,
    method: str = "eigen",
) -> ColorCheck:
    """Measure a :func:`helpers.nst.controls.color_grid` result (``grid``, rows = the names of
    ``styles``) against the ``content`` photo; ``method`` as the grid's histogram matching."""
    photo = as_array(content, "content image")
    ycc = rgb_to_ycbcr(photo)
    lum = [grid.at(name, "luminance-only").image for name in grid.rows]
    chroma = [float(np.abs(rgb_to_ycbcr(im)[..., 1:] - ycc[..., 1:]).mean() * 255) for im in lum]
    luma = [float(np.abs(rgb_to_ycbcr(im)[..., 0] - ycc[..., 0]).mean() * 255) for im in lum]
    photo_mean = photo.reshape(-1, 3).mean(0)
    matched = [match_histogram(s, photo, method=method, clip=False) for s in styles.values()]
    mean_err = max(float(np.abs(m.reshape(-1, 3).mean(0) - photo_mean).max()) for m in matched)
    plain = grid.at(grid.rows[0], "plain").image
    shift = float(np.abs(plain.reshape(-1, 3).mean(0) - photo_mean).max() * 255)
    return ColorCheck(lum, chroma, luma, mean_err, shift)
