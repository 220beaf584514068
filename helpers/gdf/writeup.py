"""The Berkeley writeup's Project 2 as written, beside the series' choices (notebooks 05, 06).

* :func:`toy_pins`: the toy problem (Part 1) with the series' pin and with the writeup's
  (:data:`helpers.gdf.toy.PINS`), at the writeup's output size.
* :func:`compare_equations`: one example blended with Pérez et al.'s Eq. 7 (the series') and
  with the writeup's equations (:mod:`helpers.gdf.berkeley`), with their difference and the
  step across the mask's border (:func:`helpers.gdf.berkeley.seam_steps`).
* :func:`alpha_source_blend`: the writeup's mask from the source's alpha channel: the example's
  4-channel source (:func:`helpers.gdf.examples.load_rgba_source`) blended with no mask,
  against the example's masked blend.

Each result offers ``panels()`` (panel title -> image in [0, 1], for
:func:`helpers.figures.panel_row`) and ``metrics()`` (for ``metrics.json``).

Part of :mod:`helpers.gdf`, on top of the examples (:mod:`helpers.gdf.examples`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .berkeley import SeamSteps, border_pins, seam_steps
from .blending import BlendResult, blend
from .examples import Example, load_example, load_rgba_source
from .toy import ToyResult, single_threaded_blas, toy_lsqr, toy_reconstruct

__all__ = [
    "AlphaSourceBlend",
    "EquationsComparison",
    "ToyPins",
    "alpha_source_blend",
    "compare_equations",
    "toy_pins",
]


@dataclass
class ToyPins:
    """The toy problem solved three ways: the series' solve (:func:`toy_reconstruct`, the pin a
    separate equation) and the writeup's least squares with ``lsqr`` (:func:`toy_lsqr`) with
    row 0 overwritten as written and with row 0 replaced."""

    image: np.ndarray = field(repr=False)  # (H, W) float in [0, 1]
    results: dict[str, ToyResult]  # "row" / "overwrite" / "replace" -> result

    def panels(self) -> dict[str, np.ndarray]:
        """Input | each reconstruction (titled with its error and constant shift)."""
        h, w = self.image.shape
        names = {
            "row": "series: gdf.solve, pin as its own row",
            "overwrite": "writeup as written: A[0,0]=1, b[0]=s(0,0)",
            "replace": "row 0 replaced by the pin (lsqr)",
        }
        out = {f"input, {w}x{h}": self.image}
        for pin, r in self.results.items():
            title = f"{names[pin]}\nmax |v - s| {r.max_abs_error:.1e}"
            if abs(r.offset) * 255 >= 0.5:
                title += f"\n= constant shift {r.offset:+.3f} (spread {r.spread:.0e})"
            out[title] = np.clip(r.image, 0, 1)
        return out

    def metrics(self) -> dict:
        return {
            pin: {
                "max_abs_difference": r.max_abs_error,  # the writeup's pin is off by a constant
                "offset": r.offset,
                "spread": r.spread,
                "seconds": r.seconds,
            }
            for pin, r in self.results.items()
        }


def toy_pins(image: np.ndarray) -> ToyPins:
    """:class:`ToyPins` of a grey image (the writeup's ``lsqr`` runs with single-threaded BLAS,
    as :func:`helpers.gdf.toy_timing` times it)."""
    results = {"row": toy_reconstruct(image)}
    with single_threaded_blas():
        for pin in ("overwrite", "replace"):
            results[pin] = toy_lsqr(image, pin=pin)
    return ToyPins(np.asarray(image), results)


@dataclass
class EquationsComparison:
    """One example blended with Pérez's equations and with the Berkeley writeup's."""

    example: Example = field(repr=False)
    perez: BlendResult = field(repr=False)
    berkeley: BlendResult = field(repr=False)
    seams: dict[str, SeamSteps]  # "Pérez" / "Berkeley" -> the step across the border
    boundary_pixels: int  # mask pixels with a neighbour outside the mask: b differs there
    border_pixels: int  # mask pixels on the image border: the diagonal differs there

    @property
    def difference(self) -> np.ndarray:
        """``|Pérez - Berkeley|`` per pixel (mean over channels), float64, 0 outside."""
        return np.abs(self.perez.image - self.berkeley.image).mean(axis=-1)

    @property
    def max_difference(self) -> float:
        """Largest ``|Pérez - Berkeley|`` over pixels and channels, in 8-bit levels."""
        return float(np.abs(self.perez.image - self.berkeley.image).max() * 255)

    @property
    def mean_difference(self) -> float:
        """Mean ``|Pérez - Berkeley|`` inside the mask, in 8-bit levels."""
        inside = self.perez.mask
        return float(np.abs(self.perez.image - self.berkeley.image)[inside].mean() * 255)

    def panels(self, *, gain: float = 4.0) -> dict[str, np.ndarray]:
        """Target (mask outlined in white) | Pérez | Berkeley | ``gain`` x the difference."""
        outlined = np.array(self.example.target, dtype=np.float32)
        outlined[_border(self.example.mask)] = 1.0
        p, b = self.seams["Pérez"], self.seams["Berkeley"]
        return {
            "target, mask border in white": outlined,
            f"Pérez Eq. 7 (the series)\nseam step {p.step:.1f}, error {p.error:.1f}": (
                self.perez.clipped
            ),
            f"Berkeley's equations\nseam step {b.step:.1f}, error {b.error:.1f}": (
                self.berkeley.clipped
            ),
            f"{gain:g} x |difference|\nmax {self.max_difference:.1f}, "
            f"mean {self.mean_difference:.1f} levels": np.clip(self.difference * gain, 0, 1),
        }

    def metrics(self) -> dict:
        """The numbers of the comparison (8-bit levels, counts), for ``metrics.json``."""
        return {
            "max_difference": self.max_difference,
            "mean_difference": self.mean_difference,
            "boundary_pixels": self.boundary_pixels,
            "border_pixels": self.border_pixels,
            "residual_berkeley": self.berkeley.max_residual,
            "seam_perez": vars(self.seams["Pérez"]),
            "seam_berkeley": vars(self.seams["Berkeley"]),
        }

    def summary(self) -> str:
        """Where the two systems differ, and by how much (8-bit levels)."""
        p, b = self.seams["Pérez"], self.seams["Berkeley"]
        return (
            f"{self.boundary_pixels:,} mask pixels with a neighbour outside the mask "
            "(b differs there), "
            f"{self.border_pixels} on the image border (the diagonal differs there)\n"
            f"|Pérez - Berkeley|: max {self.max_difference:.1f}, mean {self.mean_difference:.1f} "
            "levels inside the mask\n"
            f"step across the seam |f_p - t_q|: Pérez {p.step:.1f}, Berkeley {b.step:.1f} "
            f"(the source's own step there: {p.source_step:.1f}); seam error "
            f"|(f_p - t_q) - (s_p - s_q)|: Pérez {p.error:.1f}, Berkeley {b.error:.1f} levels"
        )


def _border(mask: np.ndarray) -> np.ndarray:
    """The region's pixels with a 4-neighbour outside it (in the image)."""
    m = np.asarray(mask, dtype=bool)
    out = np.zeros_like(m)
    out[1:] |= m[1:] & ~m[:-1]
    out[:-1] |= m[:-1] & ~m[1:]
    out[:, 1:] |= m[:, 1:] & ~m[:, :-1]
    out[:, :-1] |= m[:, :-1] & ~m[:, 1:]
    return out


def compare_equations(
    example: str | Example, *, size=None, mode: str = "poisson"
) -> EquationsComparison:
    """Blend one example (``size`` as in :func:`load_example`) with ``equations="perez"`` and
    ``"berkeley"`` in ``mode``, and measure both seams."""
    ex = load_example(example, size=size) if isinstance(example, str) else example
    perez = blend(ex.source, ex.target, ex.mask, mode=mode)
    berkeley = blend(ex.source, ex.target, ex.mask, mode=mode, equations="berkeley")
    seams = {
        name: seam_steps(r.image, ex.source, ex.target, r.mask)
        for name, r in (("Pérez", perez), ("Berkeley", berkeley))
    }
    pins = border_pins(perez.mask)
    border = 0 if pins is None else int(np.count_nonzero(pins))
    boundary = int(np.count_nonzero(_border(perez.mask) & perez.mask))
    return EquationsComparison(ex, perez, berkeley, seams, boundary, border)


@dataclass
class AlphaSourceBlend:
    """An example blended from its 4-channel source (mask = alpha, no mask passed) and from
    its source and mask."""

    rgba: np.ndarray = field(repr=False)  # (H, W, 4) float32
    via_alpha: BlendResult = field(repr=False)
    via_mask: BlendResult = field(repr=False)

    @property
    def same_region(self) -> bool:
        return bool(np.array_equal(self.via_alpha.mask, self.via_mask.mask))

    @property
    def identical(self) -> bool:
        """The two blends are equal bit for bit."""
        return bool(np.array_equal(self.via_alpha.image, self.via_mask.image))

    @property
    def max_difference(self) -> float:
        return float(np.abs(self.via_alpha.image - self.via_mask.image).max() * 255)

    def panels(self) -> dict[str, np.ndarray]:
        """RGBA source over a checkerboard | its alpha | the blend from it | the masked blend."""
        same = "identical" if self.identical else f"max diff {self.max_difference:.2g} levels"
        return {
            "4-channel source\n(transparent: checkerboard)": _over_checkerboard(self.rgba),
            "its alpha channel = the mask": self.rgba[..., 3],
            "blend(rgba, target)\nno mask passed": self.via_alpha.clipped,
            f"blend(source, target, mask)\n{same}": self.via_mask.clipped,
        }

    def metrics(self) -> dict:
        return {
            "identical": self.identical,
            "same_region": self.same_region,
            "max_difference": self.max_difference,
            "unknowns": self.via_alpha.unknowns,
        }


def _over_checkerboard(rgba: np.ndarray, square: int = 8) -> np.ndarray:
    """An RGBA image composited over a grey checkerboard (to show where it is transparent)."""
    h, w = rgba.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w] // square
    board = np.where((yy + xx) % 2 == 0, 0.8, 0.6)[..., None]
    alpha = rgba[..., 3:4]
    return (alpha * rgba[..., :3] + (1 - alpha) * board).astype(np.float32)


def alpha_source_blend(name: str, *, size=None, mode: str = "poisson") -> AlphaSourceBlend:
    """Blend example ``name`` from its 4-channel source with no mask (the writeup's way) and
    from its source and mask (the series' way), ``size`` as in :func:`load_example`."""
    rgba = load_rgba_source(name, size=size)
    ex = load_example(name, size=size)
    via_alpha = blend(rgba, ex.target, mode=mode)
    via_mask = blend(ex.source, ex.target, ex.mask, mode=mode)
    return AlphaSourceBlend(rgba, via_alpha, via_mask)
