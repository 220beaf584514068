"""Color2Gray: a grey image whose gradients follow the colour contrast, not only the luminance.

Gooch, Olsen, Tumblin & Gooch, "Color2Gray: Salience-Preserving Color Removal" (SIGGRAPH
2005), solved as the toy problem (:mod:`helpers.gdf.toy`): least squares
``min ||D v - delta||^2 + (v_0 - l_0)^2`` over the grey image ``v``, through the same normal
equations and the one solve path (:func:`helpers.gdf.solver.solve`), with the wanted
differences ``delta`` on every pixel pair taken from the colour image instead of from a grey
one.

``delta`` follows Gooch et al. (2005), "Color2Gray": a pair's difference is its lightness
difference when that is at least the "crunched" chroma difference
``c = mu tanh(|d(a, b)| / mu) / 100`` (CIELAB a, b); otherwise it is ``c`` with the sign of the
chroma difference along the colour axis at angle ``theta`` (45 degrees: red-yellow above
green-blue).  Departures from Gooch et al., both so that a grey input comes back unchanged:
the lightness difference is the BT.601 luma difference (the "plain luminance" it is compared
with), not CIELAB ``L``; and only 4-neighbour pairs are used (they use whole neighbourhoods),
which makes it the toy problem.  The result is shifted to the mean of the plain luminance.

Neither seed writeup mentions Color2Gray; the series adds it as one more gradient-domain method:
wanted differences changed, then integrated back by least squares, as in Fattal, Lischinski &
Werman's gradient-domain HDR compression (SIGGRAPH 2002) and Pérez et al.'s editing (2003).

Part of :mod:`helpers.gdf`, beside the toy problem; uses the solver.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from .common import LUMA, SolvedImage, as_image, split_alpha
from .solver import solve
from .system import PoissonSystem

__all__ = [
    "Color2GrayResult",
    "color2gray",
    "colour_edges",
    "contrast_gradients",
    "contrast_kept",
    "ContrastReport",
    "contrast_report",
    "isoluminant_pattern",
    "rgb_to_lab",
]

_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375],
     [0.2126729, 0.7151522, 0.0721750],
     [0.0193339, 0.1191920, 0.9503041]]
)  # fmt: skip
_WHITE = np.array([0.95047, 1.0, 1.08883])  # D65


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` sRGB in [0, 1] -> CIELAB ``(H, W, 3)`` (L in [0, 100]), D65 white."""
    c = np.asarray(rgb, dtype=np.float64)
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _XYZ.T / _WHITE
    eps, kappa = 216 / 24389, 24389 / 27
    f = np.where(xyz > eps, np.cbrt(xyz), (kappa * xyz + 16) / 116)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])],
        axis=-1,
    )


def _colour(image, what: str = "image") -> np.ndarray:
    """An ``(H, W, 3)`` colour image of at least 2x2 pixels (:func:`as_image`; an alpha channel
    is dropped), float64."""
    rgb, _ = split_alpha(as_image(image, what, min_side=2))
    if rgb.ndim != 3:
        raise UserError(
            f"{what} must be an (H, W, 3) colour image, got a grey one of shape {rgb.shape}"
        )
    return rgb.astype(np.float64)


def contrast_gradients(
    rgb: np.ndarray, *, mu: float = 15.0, theta: float = 45.0
) -> tuple[np.ndarray, np.ndarray]:
    """The wanted grey differences ``(delta_x (H, W-1), delta_y (H-1, W))`` of a colour image
    (Gooch et al.'s ``delta`` on 4-neighbour pairs, grey units; see the module docstring).

    ``mu``: the chroma "crunch" in CIELAB units (a chroma jump counts at most ``mu``);
    ``theta``: the colour axis in the a-b plane, in degrees, that decides the sign.
    """
    if not (np.isfinite(mu) and mu > 0):
        raise UserError(f"mu must be a positive number, got {mu}")
    rgb = _colour(rgb)
    ab = rgb_to_lab(rgb)[..., 1:]
    luma = rgb @ LUMA
    axis = np.array([np.cos(np.radians(theta)), np.sin(np.radians(theta))])

    def delta(d_l: np.ndarray, d_ab: np.ndarray) -> np.ndarray:
        crunched = mu * np.tanh(np.linalg.norm(d_ab, axis=-1) / mu) / 100.0
        sign = np.where(d_ab @ axis >= 0, 1.0, -1.0)
        return np.where(np.abs(d_l) >= crunched, d_l, sign * crunched)

    return (
        delta(np.diff(luma, axis=1), np.diff(ab, axis=1)),
        delta(np.diff(luma, axis=0), np.diff(ab, axis=0)),
    )


@dataclass
class Color2GrayResult(SolvedImage):
    """The grey image, the plain luminance beside it, and the solve."""

    image: np.ndarray  # (H, W) float64, not clipped
    luminance: np.ndarray  # (H, W) float64 BT.601 luma of the input
    residual: float  # ||b - A v|| / ||b|| of the normal equations
    iterations: int
    seconds: float

    @property
    def label(self) -> str:
        return "color2gray"

    @property
    def unknowns(self) -> int:
        return int(self.image.size)


def color2gray(
    image: np.ndarray, *, mu: float = 15.0, theta: float = 45.0, tol: float = 1e-8
) -> Color2GrayResult:
    """Grey version of ``image`` (``(H, W, 3)`` float in [0, 1]) that keeps colour contrast.

    The toy problem's least squares with ``delta`` from :func:`contrast_gradients`: normal
    equations ``(Dx^T Dx + Dy^T Dy + e_0 e_0^T) v = Dx^T delta_x + Dy^T delta_y + e_0 l_0``
    (``l`` the BT.601 luma), the masked Poisson system with Omega = the whole image and one
    pin, solved by :func:`helpers.gdf.solver.solve`; then ``v`` is shifted to ``l``'s mean.
    """
    t0 = time.perf_counter()
    rgb = _colour(image)
    h, w = rgb.shape[:2]
    dx, dy = contrast_gradients(rgb, mu=mu, theta=theta)
    lum = rgb @ LUMA
    b = np.zeros((h, w))
    b[:, :-1] -= dx  # D^T delta: each pair (p, q) adds -delta to p and +delta to q
    b[:, 1:] += dx
    b[:-1] -= dy
    b[1:] += dy
    b[0, 0] += lum[0, 0]
    pins = np.zeros((h, w))
    pins[0, 0] = 1.0
    system = PoissonSystem(np.ones((h, w), dtype=bool), pins=pins)
    x, info = solve(system, system.to_box(b), tol=tol)
    v = np.zeros((h, w))
    system.add_to_image(v, x)
    v += lum.mean() - v.mean()
    return Color2GrayResult(
        v, lum, float(info.residual[0]), info.iterations, time.perf_counter() - t0
    )


def isoluminant_pattern(size: int = 96, *, tiles: int = 6) -> np.ndarray:
    """An ``(size, size, 3)`` red / green checkerboard with a disc, 8-bit values, whose two
    colours have (to 8-bit rounding) the same BT.601 luma: plain grey conversion loses it."""
    if size < 8 or tiles < 1:
        raise UserError(f"pattern size {size} (>= 8) and tiles {tiles} (>= 1)")
    red = np.array([200.0, 70.0, 60.0])
    green = np.array([40.0, 0.0, 60.0])
    # the green level that gives green the red's luma (BT.601), rounded to 8 bits
    green[1] = np.round((red @ LUMA - green[0] * LUMA[0] - green[2] * LUMA[2]) / LUMA[1])
    y, x = np.mgrid[0:size, 0:size]
    cell = max(size // tiles, 1)
    check = ((y // cell + x // cell) % 2).astype(bool)
    r = size / 4
    disc = (y - size / 2) ** 2 + (x - size / 2) ** 2 <= r * r
    pick = check ^ disc
    out = np.where(pick[..., None], green, red) / 255.0
    return out.astype(np.float32)


def colour_edges(rgb: np.ndarray, *, min_delta_e: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Pixel pairs across a colour edge: CIELAB distance (Delta E 1976) of at least
    ``min_delta_e``; bool ``(H, W-1)`` for x pairs and ``(H-1, W)`` for y pairs."""
    lab = rgb_to_lab(_colour(rgb))
    return (
        np.linalg.norm(np.diff(lab, axis=1), axis=-1) >= min_delta_e,
        np.linalg.norm(np.diff(lab, axis=0), axis=-1) >= min_delta_e,
    )


def contrast_kept(grey: np.ndarray, edges: tuple[np.ndarray, np.ndarray]) -> float:
    """Mean ``|grad grey|`` (absolute forward difference, grey units) over the pairs marked in
    ``edges`` (from :func:`colour_edges`); NaN when there are none."""
    g = np.asarray(grey, dtype=np.float64)
    ex, ey = edges
    values = np.concatenate([np.abs(np.diff(g, axis=1))[ex], np.abs(np.diff(g, axis=0))[ey]])
    return float(values.mean()) if values.size else float("nan")


@dataclass(frozen=True)
class ContrastReport:
    """:func:`color2gray` of one image and how much colour-edge contrast it keeps: ``kept`` and
    ``plain`` are the mean ``|grad|`` across the image's colour edges (:func:`colour_edges`) of
    the result (clipped to [0, 1], as saved) and of the plain BT.601 luminance."""

    name: str
    rgb: np.ndarray
    result: Color2GrayResult
    kept: float
    plain: float


def contrast_report(
    image: np.ndarray,
    *,
    name: str = "",
    mu: float = 15.0,
    theta: float = 45.0,
    min_delta_e: float = 10.0,
) -> ContrastReport:
    """:func:`color2gray` of ``image`` and the contrast it keeps (:class:`ContrastReport`)."""
    result = color2gray(image, mu=mu, theta=theta)
    edges = colour_edges(image, min_delta_e=min_delta_e)
    kept, plain = contrast_kept(result.clipped, edges), contrast_kept(result.luminance, edges)
    return ContrastReport(name, image, result, kept, plain)
