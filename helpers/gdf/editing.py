"""Poisson image editing beyond cloning: the edits of Pérez, Gangnet & Blake (2003), Sec. 4.

Every edit is a *guidance field* ``v`` plus a *region* ``Omega``, and every one goes through
:func:`guided_solve`, which builds the right-hand side of Pérez Eq. 7 from ``v`` and calls the
one solve path (:func:`helpers.gdf.solver.solve`):

* :func:`monochrome_transfer`: the source's *luminance* gradients in every channel (Sec. 3,
  "monochrome transfer"), so the colour inside comes from the target's surroundings;
* :func:`texture_flatten`: the image's own gradients kept only next to an edge map (Canny or
  a gradient threshold), zero elsewhere (Sec. 4, "texture flattening");
* :func:`illumination_change`: ``v = alpha^beta |grad f|^-beta grad f`` (Sec. 4, "local
  illumination changes");
* :func:`color_change`: the gradients of a recoloured copy (per-channel gains), with the
  original around the region (Sec. 4, "local color changes");
* :func:`seamless_tile`: the image's gradients inside, its border replaced by the average of
  opposite borders (Sec. 4, "seamless tiling"), so that repeats of the tile meet without a seam.

Guidance fields live on pixel pairs, in the forward-difference layout of
:func:`helpers.gdf.operators.gradients`: ``vx (H, W-1, C)`` is the wanted ``f[y, x+1] - f[y, x]``,
``vy (H-1, W, C)`` the wanted ``f[y+1, x] - f[y, x]``.  Images are float in [0, 1]; results are
float64 and not clipped.  Part of :mod:`helpers.gdf`, beside blending; uses the solver and
:func:`helpers.gdf.blending.place_mask`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .. import images
from ..errors import UserError
from .common import (
    LUMA,
    SolvedImage,
    as_image,
    check_placement,
    check_region,
    parse_offset,
    place_mask,
    region,
    split_alpha,
)
from .solver import channel_dot, solve
from .system import PoissonSystem

__all__ = [
    "EDGE_METHODS",
    "ILLUMINATION_UNITS",
    "LUMA",
    "EditResult",
    "color_change",
    "edge_map",
    "guided_solve",
    "illumination_change",
    "illumination_field",
    "monochrome_transfer",
    "seam_difference",
    "seamless_tile",
    "texture_flatten",
    "tile",
]

EDGE_METHODS = ("canny", "threshold")
"""Edge maps for :func:`texture_flatten`."""

ILLUMINATION_UNITS = ("relative", "unit", "8bit")
"""What ``alpha`` of :func:`illumination_change` is measured in."""


@dataclass
class EditResult(SolvedImage):
    """One edit and what it took.  ``image`` is the exact solution (float64, not clipped)."""

    image: np.ndarray  # (H, W) or (H, W, C) float64
    mask: np.ndarray  # (H, W) bool: Omega, the solved pixels
    mode: str
    unknowns: int
    residual: np.ndarray  # (C,) ||b - A x|| / ||b|| per channel
    iterations: int
    seconds: float


# ----------------------------------------------------------------------------- inputs


def _image(image, what: str) -> np.ndarray:
    """A float ``(H, W)`` or ``(H, W, 3)`` image of at least 3x3 pixels (:func:`as_image`; an
    alpha channel is dropped), float64."""
    colour, _ = split_alpha(as_image(image, what, min_side=3))
    return colour.astype(np.float64)


def _luma(image3: np.ndarray) -> np.ndarray:
    """``(H, W)`` luma of an ``(H, W, C)`` image (C = 1: itself)."""
    return image3[..., 0] if image3.shape[2] == 1 else image3 @ LUMA


def _as3(image: np.ndarray) -> np.ndarray:
    return image[..., None] if image.ndim == 2 else image


def _pixel_gradients(image3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward differences at every pixel ``(H, W, C)``, zero past the last column / row
    (OpenCV's ``[0, -1, 1]`` kernel)."""
    gx = np.zeros_like(image3)
    gy = np.zeros_like(image3)
    gx[:, :-1] = np.diff(image3, axis=1)
    gy[:-1] = np.diff(image3, axis=0)
    return gx, gy


# ----------------------------------------------------------------------------- the solve


def guided_solve(
    base: np.ndarray,
    omega: np.ndarray,
    vx: np.ndarray,
    vy: np.ndarray,
    *,
    mode: str = "guided",
    tol: float = 1e-6,
    t0: float | None = None,
) -> EditResult:
    """Pérez Eq. 7 with any guidance field: ``f = base`` off ``omega``; on it, ``f`` solves

    ``|N_p| f_p - sum_{q in N_p ∩ Omega} f_q = sum_{q in N_p \\ Omega} base_q + sum_q v_pq``.

    Args:
        base: ``(H, W)`` or ``(H, W, C)`` float, the Dirichlet values around ``omega``.
        omega: ``(H, W)`` bool, the unknowns (not empty, not the whole image).
        vx, vy: ``(H, W-1[, C])`` and ``(H-1, W[, C])``: the wanted forward differences.
        tol: relative residual ``||b - A f|| / ||b||`` per channel to reach.

    Solved as a correction ``f = base + e`` with ``A e = sum_q (v_pq - (base_p - base_q))``,
    all channels at once, by :func:`helpers.gdf.solver.solve`.
    """
    t0 = time.perf_counter() if t0 is None else t0
    base3 = _as3(np.asarray(base, dtype=np.float64))
    omega = np.asarray(omega, dtype=bool)
    check_region(omega)
    vx3 = vx.reshape(base3.shape[0], base3.shape[1] - 1, -1)
    vy3 = vy.reshape(base3.shape[0] - 1, base3.shape[1], -1)
    dx = vx3 - np.diff(base3, axis=1)  # the guidance minus base's own differences
    dy = vy3 - np.diff(base3, axis=0)
    g = np.zeros(base3.shape)
    g[:, :-1] -= dx  # the pair (p, p + x) adds v_pq - (b_p - b_q) = -dx to p, +dx to p + x
    g[:, 1:] += dx
    g[:-1] -= dy
    g[1:] += dy
    system = PoissonSystem(omega)
    gb = system.to_box(g) * system.inside_w
    b = system.apply(system.to_box(base3) * system.inside_w) + gb  # the full system's b
    e, info = solve(system, gb, tol=tol, rhs_norm=np.sqrt(channel_dot(b, b)))
    out = base3.copy()
    system.add_to_image(out, e)
    image = out[..., 0] if np.ndim(base) == 2 else out
    return EditResult(
        image, omega, mode, system.unknowns, info.residual, info.iterations,
        time.perf_counter() - t0,
    )  # fmt: skip


# ----------------------------------------------------------------------------- the edits


def monochrome_transfer(
    source: np.ndarray,
    target: np.ndarray,
    mask: np.ndarray,
    *,
    offset: tuple[int, int] = (0, 0),
    tol: float = 1e-6,
) -> EditResult:
    """Seamless cloning with the source's luminance gradients only (Pérez Sec. 3).

    Every channel gets the same guidance, the BT.601 luma gradient of ``source``, so the
    colour inside the region interpolates the target's colour on its border (the chroma is
    harmonic there) and only the source's luminance detail is imported.  ``source`` and
    ``mask`` are placed as in :func:`helpers.gdf.blend`: source pixel ``(i, j)`` lands on target
    pixel ``(i + dy, j + dx)``; pairs the placed source does not cover keep the target's
    gradients.  A grey target gives a grey result.
    """
    t0 = time.perf_counter()
    src = _as3(_image(source, "source"))
    tgt = _image(target, "target")
    m = region(mask, src.shape, against="source")
    dy, dx = parse_offset(offset)
    h, w = tgt.shape[:2]
    check_placement(src.shape, tgt.shape, (dy, dx))
    omega = place_mask(m, (h, w), (dy, dx))
    placed = np.zeros((h, w))
    placed_luma = _luma(src)
    ys, ye, xs, xe = max(dy, 0), min(dy + src.shape[0], h), max(dx, 0), min(dx + src.shape[1], w)
    covered = np.zeros((h, w), dtype=bool)
    if ys < ye and xs < xe:
        placed[ys:ye, xs:xe] = placed_luma[ys - dy : ye - dy, xs - dx : xe - dx]
        covered[ys:ye, xs:xe] = True
    tgt3 = _as3(tgt)
    tx, ty = np.diff(tgt3, axis=1), np.diff(tgt3, axis=0)
    keep_x = (covered[:, :-1] & covered[:, 1:])[..., None]
    keep_y = (covered[:-1] & covered[1:])[..., None]
    vx = np.where(keep_x, np.diff(placed, axis=1)[..., None], tx)
    vy = np.where(keep_y, np.diff(placed, axis=0)[..., None], ty)
    return guided_solve(tgt, omega, vx, vy, mode="monochrome transfer", tol=tol, t0=t0)


def edge_map(
    image: np.ndarray,
    *,
    method: str = "canny",
    threshold: float = 0.1,
    low: float = 30.0,
    high: float = 45.0,
) -> np.ndarray:
    """``(H, W)`` bool edge pixels of ``image`` for :func:`texture_flatten`.

    ``"canny"``: ``cv2.Canny`` on the 8-bit image (colour: the strongest channel), hysteresis
    thresholds ``low``/``high`` in 8-bit levels, 3x3 Sobel (the defaults of
    ``cv2.textureFlattening``; needs OpenCV).  ``"threshold"``: pixels whose luma gradient
    magnitude (forward differences) exceeds ``threshold`` (in [0, 1] units); no OpenCV needed.
    """
    img = _image(image, "image")
    if method == "threshold":
        gx, gy = _pixel_gradients(_as3(_luma(_as3(img))))
        return np.hypot(gx[..., 0], gy[..., 0]) > threshold
    if method != "canny":
        raise UserError(f"edge method {method!r}: use one of {', '.join(EDGE_METHODS)}")
    try:
        import cv2
    except ImportError as exc:
        raise UserError(
            "Canny edges need OpenCV (pip install -e '.[opencv]'); or use the gradient "
            "threshold edge map (method 'threshold')"
        ) from exc
    return cv2.Canny(images.to_uint8(img), float(low), float(high), apertureSize=3) > 0


def texture_flatten(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    edges: str | np.ndarray = "canny",
    threshold: float = 0.1,
    low: float = 30.0,
    high: float = 45.0,
    rule: str = "either",
    tol: float = 1e-6,
) -> EditResult:
    """Texture flattening (Pérez Sec. 4): ``v_pq = f_p - f_q`` where an edge lies
    between ``p`` and ``q``, ``0`` elsewhere, inside ``mask``.

    ``edges``: ``"canny"`` or ``"threshold"`` (see :func:`edge_map`, which takes ``threshold``,
    ``low``, ``high``), or a precomputed ``(H, W)`` bool edge map.  ``rule``: which pixel
    pairs an edge map of *pixels* keeps: ``"either"`` (``p`` or ``q`` is an edge pixel, our
    reading of the paper) or ``"forward"`` (the pair's left / upper pixel is one: OpenCV's
    ``textureFlattening``, which zeroes the forward differences of non-edge pixels).
    """
    t0 = time.perf_counter()
    img = _image(image, "image")
    omega = region(mask, img.shape)
    if isinstance(edges, str):
        on = edge_map(img, method=edges, threshold=threshold, low=low, high=high)
    else:
        on = region(edges, img.shape, what="edge map")
    if rule not in ("either", "forward"):
        raise UserError(f"pair rule {rule!r}: use 'either' or 'forward'")
    keep_x, keep_y = (
        (on[:, :-1], on[:-1]) if rule == "forward" else (on[:, :-1] | on[:, 1:], on[:-1] | on[1:])
    )
    img3 = _as3(img)
    vx = np.diff(img3, axis=1) * keep_x[..., None]
    vy = np.diff(img3, axis=0) * keep_y[..., None]
    return guided_solve(img, omega, vx, vy, mode="texture flattening", tol=tol, t0=t0)


def illumination_field(
    image: np.ndarray,
    omega: np.ndarray,
    *,
    alpha: float = 0.2,
    beta: float = 0.2,
    alpha_units: str = "relative",
) -> tuple[np.ndarray, np.ndarray, float]:
    """``(vx, vy, alpha_used)``: ``v = alpha^beta |grad f|^-beta grad f`` per channel.

    ``grad f`` and its norm are taken per pixel from forward differences (as OpenCV does); the
    x pair ``(p, p + x)`` gets ``p``'s scaled x difference.  Pixels with a zero gradient keep
    zero.  ``alpha_units``: ``"relative"`` (``alpha`` times the mean gradient norm over
    ``omega``, Pérez's choice), ``"unit"`` (image units, [0, 1]) or ``"8bit"`` (0-255 levels,
    OpenCV's ``illuminationChange``, whose defaults are ``alpha = 0.2, beta = 0.4``).
    """
    if alpha_units not in ILLUMINATION_UNITS:
        raise UserError(f"alpha units {alpha_units!r}: use one of {', '.join(ILLUMINATION_UNITS)}")
    if not (np.isfinite(alpha) and alpha > 0 and np.isfinite(beta)):
        raise UserError(f"alpha must be > 0 and beta finite, got alpha={alpha}, beta={beta}")
    img3 = _as3(np.asarray(image, dtype=np.float64))
    gx, gy = _pixel_gradients(img3)
    norm = np.hypot(gx, gy)
    if alpha_units == "relative":
        mean = float(norm[omega].mean()) if omega.any() else 0.0
        a = alpha * mean
    else:
        a = alpha / 255.0 if alpha_units == "8bit" else alpha
    scale = np.zeros_like(norm)
    positive = norm > 0
    if a > 0:
        scale[positive] = a**beta * norm[positive] ** (-beta)
    return (gx * scale)[:, :-1], (gy * scale)[:-1], a


def illumination_change(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    alpha: float = 0.2,
    beta: float = 0.2,
    alpha_units: str = "relative",
    tol: float = 1e-6,
) -> EditResult:
    """Local illumination change (Pérez Sec. 4): the guidance
    ``v = alpha^beta |grad f|^-beta grad f`` inside ``mask`` (see :func:`illumination_field`).

    ``beta > 0`` shrinks gradients stronger than ``alpha`` and lifts weaker ones (flatter
    lighting, softer highlights); ``beta < 0`` does the opposite.  Pérez et al. use
    ``alpha`` = 0.2 x the mean gradient norm over the region and ``beta`` = 0.2 (the defaults).
    """
    t0 = time.perf_counter()
    img = _image(image, "image")
    omega = region(mask, img.shape)
    vx, vy, _ = illumination_field(img, omega, alpha=alpha, beta=beta, alpha_units=alpha_units)
    return guided_solve(img, omega, vx, vy, mode="illumination change", tol=tol, t0=t0)


def color_change(
    image: np.ndarray,
    mask: np.ndarray,
    gains: tuple[float, float, float] = (1.5, 0.5, 0.5),
    *,
    tol: float = 1e-6,
) -> EditResult:
    """Local colour change (Pérez Sec. 4): the guidance is the gradient of the image
    with its channels scaled by ``gains`` (R, G, B), the original stays around the region, so
    the recoloured object keeps its own edges and meets its surroundings without a seam."""
    t0 = time.perf_counter()
    img = _image(image, "image")
    if img.ndim != 3:
        raise UserError("colour change needs an (H, W, 3) colour image")
    omega = region(mask, img.shape)
    k = np.asarray(gains, dtype=np.float64).ravel()
    if k.size != 3 or not np.isfinite(k).all() or (k < 0).any():
        raise UserError(f"colour gains {gains!r}: give three numbers >= 0 (R, G, B)")
    vx = np.diff(img, axis=1) * k
    vy = np.diff(img, axis=0) * k
    return guided_solve(img, omega, vx, vy, mode="colour change", tol=tol, t0=t0)


def seamless_tile(image: np.ndarray, *, tol: float = 1e-6) -> EditResult:
    """Seamless tiling (Pérez Sec. 4): the image's own gradients inside, and as
    boundary values the average of opposite borders, ``f_north = f_south = (g_north +
    g_south) / 2`` and the same east / west (corners: the mean of the four).

    The first and last rows (columns) of the result are then equal, so tiles repeated side
    by side meet like neighbouring rows inside one tile.  Omega = every pixel but the border.
    """
    t0 = time.perf_counter()
    img = _image(image, "image")
    base = _as3(img).copy()
    rows = 0.5 * (base[0] + base[-1])
    base[0], base[-1] = rows, rows
    cols = 0.5 * (base[:, 0] + base[:, -1])
    base[:, 0], base[:, -1] = cols, cols
    omega = np.zeros(img.shape[:2], dtype=bool)
    omega[1:-1, 1:-1] = True
    img3 = _as3(img)
    res = guided_solve(
        base, omega, np.diff(img3, axis=1), np.diff(img3, axis=0),
        mode="seamless tiling", tol=tol, t0=t0,
    )  # fmt: skip
    if img.ndim == 2:
        res.image = res.image[..., 0]
    return res


def tile(image: np.ndarray, reps: tuple[int, int] = (2, 2)) -> np.ndarray:
    """``image`` repeated ``reps = (rows, cols)`` times (``np.tile`` on the pixel axes)."""
    image = np.asarray(image)
    return np.tile(image, (*reps, 1) if image.ndim == 3 else reps)


def seam_difference(image: np.ndarray) -> float:
    """Mean absolute jump across the borders where copies of ``image`` meet when tiled: first
    row against last row and first column against last column, all channels, [0, 1] units."""
    img = np.asarray(image, dtype=np.float64)
    rows = np.abs(img[0] - img[-1]).ravel()
    cols = np.abs(img[:, 0] - img[:, -1]).ravel()
    return float(np.concatenate([rows, cols]).mean())
