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
from .box import window
from .operators import guidance_divergence, masked_laplacian
from .solver import PoissonSystem, channel_dot, solve

__all__ = [
    "MASK_THRESHOLD",
    "BlendResult",
    "blend",
    "mask_levels",
    "naive_paste",
    "place_mask",
    "relative_residual",
]

MASK_THRESHOLD = 0.5
"""A mask pixel belongs to the blend region when its value is > 0.5 (anti-aliased edges round)."""


def mask_levels(mask: np.ndarray) -> tuple[np.ndarray, bool]:
    """A mask read from a file (float in [0, 1]) -> its levels, and whether it is a 0/1 mask.

    A mask saved from NumPy as uint8 0 and 1 reads as 0 and 1/255 (16-bit: 1/65535), all under
    :data:`MASK_THRESHOLD`.  A mask whose largest value is 1 in its file (at most 1/255 here)
    is such a 0/1 mask: its nonzero pixels become 1.0, so it blends exactly like the same mask
    saved as 0/255.  Any other mask comes back unchanged, for the 0.5 threshold.
    """
    arr = np.asarray(mask, dtype=np.float32)
    top = float(arr.max(initial=0.0))
    if 0.0 < top <= 1.0 / 255.0 + 1e-6:
        return (arr > 0).astype(np.float32), True
    return arr, False


class SolvedImage:
    """What every solved result (a blend, an edit) offers on top of its ``image`` and its
    per-channel ``residual``."""

    image: np.ndarray
    residual: np.ndarray

    @property
    def clipped(self) -> np.ndarray:
        """The image clipped to [0, 1] for display or saving."""
        return np.clip(self.image, 0.0, 1.0)

    @property
    def max_residual(self) -> float:
        return float(np.max(self.residual)) if self.residual.size else 0.0


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

    def summary(self) -> str:
        return (
            f"{self.mode} blend: {self.unknowns:,} unknowns, residual {self.max_residual:.1e}, "
            f"{self.iterations} iterations, {self.seconds:.3f} s"
        )


def _float_image(image, what: str) -> np.ndarray:
    arr = np.asarray(image)
    if arr.dtype == bool:
        arr = arr.astype(np.float32)
    if not np.issubdtype(arr.dtype, np.floating):
        raise UserError(
            f"{what} has dtype {arr.dtype}; pass a float image in [0, 1] "
            "(helpers.images.load_image returns one)"
        )
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    bad_channels = arr.ndim == 3 and arr.shape[2] not in (2, 3, 4)
    if arr.ndim not in (2, 3) or bad_channels or min(arr.shape[:2]) < 1:
        raise UserError(
            f"{what} must be (H, W) grey or (H, W, 3) colour, optionally with alpha; "
            f"got shape {arr.shape}"
        )
    if arr.size and not (np.isfinite(arr.min()) and np.isfinite(arr.max())):  # NaN propagates
        raise UserError(f"{what} contains NaN or infinite values")
    return arr


def _split_alpha(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """``(colour, alpha)``: the last channel of a grey+alpha or RGBA image is its alpha."""
    if arr.ndim == 3 and arr.shape[2] in (2, 4):
        colour = arr[..., :-1]
        return (colour[..., 0] if colour.shape[2] == 1 else colour), arr[..., -1]
    return arr, None


def place_mask(
    mask: np.ndarray, target_shape: tuple[int, int], offset: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """The mask shifted by ``offset = (dy, dx)`` into target coordinates (``(H, W)`` bool).

    Source/mask pixel ``(i, j)`` lands on target pixel ``(i + dy, j + dx)``; the part that falls
    outside the target is cropped.
    """
    mask = np.asarray(mask, dtype=bool)
    h, w = target_shape
    dy, dx = (int(v) for v in offset)
    out = np.zeros((h, w), dtype=bool)
    ys, ye = max(dy, 0), min(dy + mask.shape[0], h)
    xs, xe = max(dx, 0), min(dx + mask.shape[1], w)
    if ys < ye and xs < xe:
        out[ys:ye, xs:xe] = mask[ys - dy : ye - dy, xs - dx : xe - dx]
    return out


def _parse_offset(offset) -> tuple[int, int]:
    try:
        dy, dx = offset
        if int(dy) != dy or int(dx) != dx:
            raise ValueError
        return int(dy), int(dx)
    except (TypeError, ValueError) as exc:
        raise UserError(
            f"offset {offset!r}: give two whole numbers (dy, dx), e.g. (0, 0) or (-20, 35)"
        ) from exc


def _prepare(source, target, mask, offset, threshold: float):
    """Validate the inputs.

    Returns (src (Hs,Ws[,C]), tgt (H,W[,C]), target alpha, mask (Hs,Ws) bool, offset).
    """
    offset = _parse_offset(offset)
    src, alpha = _split_alpha(_float_image(source, "source"))
    tgt, tgt_alpha = _split_alpha(_float_image(target, "target"))
    if mask is None:
        if alpha is None:
            raise UserError(
                "no mask given and the source has no alpha channel: pass a mask image "
                "(white = blend region) or a source with transparency"
            )
        m = alpha > threshold
    else:
        marr = np.asarray(mask)
        if marr.ndim == 3 and marr.shape[2] == 1:
            marr = marr[..., 0]
        if marr.ndim != 2:
            raise UserError(
                f"mask must be a single-channel (H, W) image, got shape {marr.shape}; "
                "load it in mode 'L'"
            )
        numbers = np.issubdtype(marr.dtype, np.number) and np.isfinite(marr).all()
        if marr.dtype != bool and not numbers:
            raise UserError("mask must be boolean or numbers (0/1 or values in [0, 1])")
        m = marr if marr.dtype == bool else marr > threshold
        if m.shape != src.shape[:2]:
            raise UserError(
                f"mask is {m.shape[0]}x{m.shape[1]} but the source is "
                f"{src.shape[0]}x{src.shape[1]} (HxW); they must be the same size"
            )
    if offset == (0, 0) and src.shape[:2] != tgt.shape[:2]:
        raise UserError(
            f"source is {src.shape[0]}x{src.shape[1]} but the target is "
            f"{tgt.shape[0]}x{tgt.shape[1]} (HxW); "
            "use images of the same size, or place the source with an offset (dy, dx)"
        )
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
    if mode not in ("poisson", "mixed"):
        raise UserError(f"mode {mode!r}: use 'poisson' or 'mixed'")
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
            image, omega, mode, offset, int(omega.sum()), residual, iterations, seconds
        )

    if not m.any():
        return _finish(np.zeros(channels), 0)
    _check_region(omega, offset)
    system = PoissonSystem(omega)
    g, bnorm = _guidance(system, src, tgt, offset, mode)
    e, info = solve(system, g, tol=tol, rhs_norm=bnorm)
    system.add_to_image(out, e)
    return _finish(info.residual, info.iterations)


def _check_region(omega: np.ndarray, offset: tuple[int, int]) -> None:
    """Refuse a placed mask that leaves no unknowns, or no boundary values to anchor them."""
    h, w = omega.shape
    if not omega.any():
        raise UserError(
            f"offset {offset} pushes the mask entirely outside the {h}x{w} target; "
            "use an offset that keeps part of it inside"
        )
    if omega.all():
        raise UserError(
            "the mask covers the whole target, so no target pixels remain to fix the solution "
            "(the Poisson problem then has no boundary values); shrink the mask"
        )


def _guidance(
    system: PoissonSystem, src: np.ndarray, tgt: np.ndarray, offset: tuple[int, int], mode: str
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
    if mode == "poisson" and valid is None:
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
            v = np.where(np.abs(gs) >= np.abs(gt), gs, gt) if result.mode == "mixed" else gs
            v = np.where(sok, v, gt)
            contrib = v + np.where(omega[qy, qx], 0.0, tgt3[qy, qx, c])
            np.add.at(bvec, np.flatnonzero(ok), contrib)
        x = img[ys, xs, c]
        res.append(np.linalg.norm(bvec - a @ x) / np.linalg.norm(bvec))
    return np.array(res)
