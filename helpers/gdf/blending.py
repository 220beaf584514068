"""Poisson and mixed-gradient blending (Pérez, Gangnet & Blake 2003): seamless cloning.

:func:`blend` builds ``Omega`` (the placed mask) and the guidance right-hand side and goes
through the one solve path (:func:`helpers.gdf.solver.solve`); :func:`naive_paste` is the
seam-showing baseline, :func:`relative_residual` an independent check with sparse matrices.

Images are float arrays in [0, 1], ``(H, W)`` grey or ``(H, W, C)`` colour.  Results are
float64 and *not* clipped: the exact solution may leave [0, 1] slightly (clip for display;
:func:`helpers.images.save_image` does).

Part of :mod:`helpers.gdf`: a use of the solver, beside the toy problem (:mod:`helpers.gdf.toy`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from .berkeley import EQUATIONS, border_pins
from .berkeley import guidance as berkeley_guidance
from .box import window
from .common import (
    BLEND_MODES,
    MASK_THRESHOLD,
    SolvedImage,
    as_image,
    blend_region,
    check_placement,
    check_region,
    mask_levels,
    parse_offset,
    place_mask,
    split_alpha,
)
from .operators import guidance_divergence, masked_laplacian, mixed_gradient
from .solver import channel_dot, solve
from .system import PoissonSystem

__all__ = [
    "MASK_THRESHOLD",
    "BlendResult",
    "blend",
    "mask_levels",
    "naive_paste",
    "place_mask",
    "relative_residual",
]


@dataclass
class BlendResult(SolvedImage):
    """A blend and what it took.  ``image`` is the exact solution (float64, not clipped)."""

    image: np.ndarray  # (H, W) or (H, W, C) float64, target size
    mask: np.ndarray  # (H, W) bool: Omega, the solved pixels, in target coordinates
    mode: str
    offset: tuple[int, int]
    unknowns: int
    residual: np.ndarray  # (C,) ||b - A x|| / ||b|| per channel (0 where nothing was solved)
    iterations: int
    seconds: float
    equations: str = "perez"  # "perez" (Eq. 7) or "berkeley" (the writeup's, berkeley.py)

    @property
    def label(self) -> str:
        suffix = " (Berkeley's equations)" if self.equations == "berkeley" else ""
        return f"{self.mode} blend{suffix}"


def _prepare(source, target, mask, offset, threshold: float):
    """Validate the inputs (:mod:`helpers.gdf.common`'s rules).

    Returns (src (Hs,Ws[,C]), tgt (H,W[,C]), target alpha, mask (Hs,Ws) bool, offset).
    """
    offset = parse_offset(offset)
    src, m = blend_region(source, mask, threshold=threshold)
    tgt, tgt_alpha = split_alpha(as_image(target, "target"))
    check_placement(src.shape, tgt.shape, offset)
    if src.ndim != tgt.ndim:  # one grey, one colour: blend in colour
        src = src if src.ndim == 3 else np.repeat(src[..., None], 3, axis=2)
        tgt = tgt if tgt.ndim == 3 else np.repeat(tgt[..., None], 3, axis=2)
    return src, tgt, tgt_alpha, m, offset


# ~60 lines only because of its reference docstring; the body is ~30 lines
def blend(
    source: np.ndarray,
    target: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    mode: str = "poisson",
    offset: tuple[int, int] = (0, 0),
    tol: float = 1e-6,
    threshold: float = MASK_THRESHOLD,
    equations: str = "perez",
) -> BlendResult:
    """Seamless cloning: solve Pérez et al.'s masked Poisson problem exactly (to ``tol``).

    Args:
        source: ``(Hs, Ws)`` or ``(Hs, Ws, 3)`` float in [0, 1]; a 4th (alpha) channel is the
            mask when ``mask`` is None (and ignored otherwise).
        target: ``(H, W)`` or ``(H, W, 3)`` float in [0, 1]; an alpha channel passes through.
        mask: ``(Hs, Ws)`` bool or numbers; a pixel is in the region when ``> threshold``
            (0.5: anti-aliased edges round to the nearer side).
        mode: ``"poisson"`` (source gradients, Eq. 11) or ``"mixed"`` (per pixel pair and
            channel the larger of the source and target gradient, ties to the source, Eq. 13).
        offset: ``(dy, dx)``: source and mask pixel ``(i, j)`` go to target pixel
            ``(i + dy, j + dx)``.  Mask pixels pushed outside the target are dropped (cropped);
            a mask pushed wholly outside is an error.  Without an offset the source and the
            target must have the same size.
        tol: relative residual ``||b - A x|| / ||b||`` per channel to reach.
        equations: ``"perez"`` (Eq. 7: diagonal ``|N_p|``, the guidance on every pair,
            including the pairs across the mask's border) or ``"berkeley"`` (the Berkeley
            writeup's Part 2 as written: diagonal 4, guidance only on pairs inside the mask;
            :mod:`helpers.gdf.berkeley` says precisely what differs).

    Unknowns are the mask pixels only; the target gives Dirichlet values around them; a mask
    pixel on the target's border simply has fewer neighbours (natural Neumann edge).  Pixel
    pairs whose source end is not covered by the (shifted) source use the target gradient.
    An empty mask returns the target unchanged; a mask covering the whole target has no
    boundary values to anchor the solution and is refused.  Grey and colour inputs may be
    mixed (the result is then colour); all channels are solved together.

    Returns a :class:`BlendResult` whose ``image`` (float64, target size) equals the target
    exactly outside the mask.
    """
    t0 = time.perf_counter()
    if mode not in BLEND_MODES:
        raise UserError(f"mode {mode!r}: use {' or '.join(map(repr, BLEND_MODES))}")
    if equations not in EQUATIONS:
        raise UserError(f"equations {equations!r}: use {' or '.join(map(repr, EQUATIONS))}")
    src, tgt, tgt_alpha, m, offset = _prepare(source, target, mask, offset, threshold)
    h, w = tgt.shape[:2]
    omega = place_mask(m, (h, w), offset)
    out = tgt.astype(np.float64)  # a copy: the target is never modified
    channels = 1 if tgt.ndim == 2 else tgt.shape[2]

    def _finish(residual: np.ndarray, iterations: int) -> BlendResult:
        image = (
            out
            if tgt_alpha is None
            else np.concatenate(
                [out if out.ndim == 3 else out[..., None], tgt_alpha[..., None].astype(np.float64)],
                axis=2,
            )
        )
        seconds = time.perf_counter() - t0
        return BlendResult(
            image, omega, mode, offset, int(omega.sum()), residual, iterations, seconds, equations
        )

    if not m.any():
        return _finish(np.zeros(channels), 0)
    check_region(omega, within="target", offset=offset)
    system = PoissonSystem(omega, pins=border_pins(omega) if equations == "berkeley" else None)
    g, bnorm = _guidance(system, src, tgt, offset, mode, equations)
    e, info = solve(system, g, tol=tol, rhs_norm=bnorm)
    system.add_to_image(out, e)
    return _finish(info.residual, info.iterations)


def _guidance(
    system: PoissonSystem,
    src: np.ndarray,
    tgt: np.ndarray,
    offset: tuple[int, int],
    mode: str,
    equations: str = "perez",
) -> tuple[np.ndarray, np.ndarray]:
    """``(g, ||b||)``: the correction problem's right-hand side on the box (float64) and, per
    channel, the norm of the full system's ``b`` (the residual is measured relative to it)."""
    h, w = tgt.shape[:2]
    # windows keep the inputs' float32 (or float64) values; the guidance is built in float64
    work = np.result_type(src.dtype, tgt.dtype, np.float32)
    tb = system.to_box(tgt, dtype=work)
    src_chw = src[None] if src.ndim == 2 else np.moveaxis(src, 2, 0)
    origin_in_source = (system.origin[0] - offset[0], system.origin[1] - offset[1])
    sb = window(src_chw, origin_in_source, system.shape, work)
    valid = None
    source_ones = np.ones((1,) + src.shape[:2], dtype=bool)
    covered = window(source_ones, origin_in_source, system.shape, bool)[0]
    covered &= system.to_box(np.ones((h, w), dtype=bool), dtype=bool)[0]  # and inside the target
    if not covered.ravel()[system.ring].all():
        valid = covered
    if equations == "berkeley":
        g = berkeley_guidance(system, sb, tb, valid, mode)
    elif mode == "poisson" and valid is None:
        # sum_q (d_p - d_q) with d = s - t is the operator's stencil applied to d on Omega
        # (the same pixel pairs as guidance_divergence, in five passes instead of a dozen)
        g = system.apply(np.subtract(sb, tb, dtype=np.float64))
    else:
        g = guidance_divergence(sb, tb, mode=mode, source_valid=valid)
    g *= system.inside32
    # ||b|| of the full system b = g + A t_Omega (float32 is plenty for a normaliser)
    b = system.apply(np.multiply(tb, system.inside32, dtype=np.float32))
    b += g.astype(np.float32)
    bnorm = np.sqrt(channel_dot(b, b))
    return g, bnorm


def naive_paste(
    source: np.ndarray,
    target: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    offset=(0, 0),
    threshold: float = MASK_THRESHOLD,
) -> np.ndarray:
    """Copy the masked source pixels onto the target (the seam-showing baseline), float64."""
    src, tgt, tgt_alpha, m, offset = _prepare(source, target, mask, offset, threshold)
    out = tgt.astype(np.float64)
    omega = place_mask(m, tgt.shape[:2], offset)
    ys, xs = np.nonzero(omega)
    out[ys, xs] = src[ys - offset[0], xs - offset[1]]
    return out


def relative_residual(
    result: BlendResult, source: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None
) -> np.ndarray:
    """Independent check: ``||b - A x|| / ||b||`` per channel with ``A``, ``b`` assembled as
    sparse matrices (:func:`helpers.gdf.operators.masked_laplacian`), not with the solver's
    stencils."""
    src, tgt, _, m, offset = _prepare(source, target, mask, result.offset, MASK_THRESHOLD)
    omega = result.mask
    h, w = omega.shape
    a = masked_laplacian(omega)
    ys, xs = np.nonzero(omega)
    img = result.image if result.image.ndim == 3 else result.image[..., None]
    tgt3 = tgt.astype(np.float64) if tgt.ndim == 3 else tgt.astype(np.float64)[..., None]
    src3 = src.astype(np.float64) if src.ndim == 3 else src.astype(np.float64)[..., None]
    res = []
    for c in range(tgt3.shape[2]):
        bvec = np.zeros(ys.size)
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            qy, qx = ys + dy, xs + dx
            ok = (qy >= 0) & (qy < h) & (qx >= 0) & (qx < w)
            py_, px_, qy, qx = ys[ok], xs[ok], qy[ok], qx[ok]
            sy, sx, ty, tx = py_ - offset[0], px_ - offset[1], qy - offset[0], qx - offset[1]
            hs, ws = src3.shape[:2]
            sok = (ty >= 0) & (ty < hs) & (tx >= 0) & (tx < ws)
            gt = tgt3[py_, px_, c] - tgt3[qy, qx, c]
            across = src3[np.clip(ty, 0, hs - 1), np.clip(tx, 0, ws - 1), c]
            gs = np.where(sok, src3[sy, sx, c] - across, gt)
            v = mixed_gradient(gs, gt) if result.mode == "mixed" else gs
            v = np.where(sok, v, gt)
            contrib = v + np.where(omega[qy, qx], 0.0, tgt3[qy, qx, c])
            np.add.at(bvec, np.flatnonzero(ok), contrib)
        x = img[ys, xs, c]
        res.append(np.linalg.norm(bvec - a @ x) / np.linalg.norm(bvec))
    return np.array(res)
