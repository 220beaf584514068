"""The box: the rectangular window around Omega on which the solver's vectors live.

``Omega`` sits in a box whose sides carry one boundary condition each: ``"D"`` (a margin
pixel outside Omega, odd/Dirichlet reflection half a pixel beyond it) or ``"N"`` (the image
border, even/natural-Neumann reflection).  Per axis the pair of kinds is diagonalised by one
real-to-real transform (``scipy.fft`` DST/DCT type II or IV), which is what makes the box
solve of :class:`helpers.gdf.system.PoissonSystem` a fast spectral solve.

Part of :mod:`helpers.gdf`, below the solver and the coarse space; imports nothing of ours.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft

__all__ = [
    "AXIS_TRANSFORMS",
    "FFT_THREADS_FROM",
    "FFT_WORKERS",
    "axis_plan",
    "inverse_eigenvalues",
    "smooth_length",
    "transform",
    "window",
]

FFT_WORKERS = -1
"""Threads for scipy.fft (-1 = all cores)."""

FFT_THREADS_FROM = 1 << 19
"""Transforms of fewer values than this run single-threaded (thread start-up would dominate)."""


def smooth_length(n: int, multiple: int) -> int:
    """Smallest m >= n, divisible by ``multiple``, whose prime factors are all <= 5.

    (Such lengths have fast transforms.)
    """
    m = max(int(n), 1)
    m += (-m) % multiple
    while True:
        r = m
        for p in (2, 3, 5):
            while r % p == 0:
                r //= p
        if r == 1:
            return m
        m += multiple


# Per-axis boundary kinds: "D" = a box margin pixel outside Omega with an odd (Dirichlet)
# reflection half a pixel beyond it, "N" = the image border (even reflection: the pixel has
# fewer neighbours).  Each pair is diagonalised by one real-to-real transform.
AXIS_TRANSFORMS = {
    # kind: (forward, inverse, type, eigenvalue offset)   eig_k = 2 - 2 cos(pi (k + off) / n)
    "DD": (sfft.dst, sfft.idst, 2, 1.0),
    "NN": (sfft.dct, sfft.idct, 2, 0.0),
    "ND": (sfft.dct, sfft.idct, 4, 0.5),
    "DN": (sfft.dst, sfft.idst, 4, 0.5),
}


def axis_plan(lo: int, hi: int, size: int, multiple: int) -> tuple[int, int, str]:
    """``(start, length, kind)`` of the box along one axis for Omega spanning ``lo..hi``."""
    touch_lo, touch_hi = lo == 0, hi == size - 1
    if touch_lo and touch_hi:
        return 0, size, "NN"
    if touch_lo:
        n = smooth_length(hi + 2, multiple)
        return 0, n, "ND"
    if touch_hi:
        need = size - lo + 1
        n = smooth_length(need, multiple)
        return size - n, n, "DN"
    need = hi - lo + 3
    n = smooth_length(need, multiple)
    return lo - 1 - (n - need) // 2, n, "DD"


def window(
    image_chw: np.ndarray, start: tuple[int, int], shape: tuple[int, int], dtype
) -> np.ndarray:
    """Copy the box ``[start, start + shape)`` out of a ``(C, H, W)`` array; zero beyond it."""
    c, h, w = image_chw.shape
    (y0, x0), (ny, nx) = start, shape
    out = np.zeros((c, ny, nx), dtype=dtype)
    ys, ye = max(y0, 0), min(y0 + ny, h)
    xs, xe = max(x0, 0), min(x0 + nx, w)
    if ys < ye and xs < xe:
        out[:, ys - y0 : ye - y0, xs - x0 : xe - x0] = image_chw[:, ys:ye, xs:xe]
    return out


def inverse_eigenvalues(
    shape: tuple[int, int], kinds: tuple[str, str], dtype
) -> tuple[np.ndarray, bool]:
    """``(1 / eigenvalues, singular)`` of the box Laplacian (eigenvalues per axis add up).

    ``singular``: a pure Neumann box (Omega touches all four borders), whose constant mode is
    dropped (its inverse eigenvalue is 0; the coarse space supplies it).
    """
    lam = []
    for n, kind in zip(shape, kinds):
        off = AXIS_TRANSFORMS[kind][3]
        lam.append(2.0 - 2.0 * np.cos(np.pi * (np.arange(n) + off) / n))
    total = lam[0][:, None] + lam[1][None, :]
    # Pure Neumann box (Omega touches all four borders): the constant mode is singular;
    # the box solve drops it (then L u = r - mean(r)) and the coarse space supplies it.
    singular = bool(total[0, 0] <= 1e-12)
    if singular:
        total[0, 0] = np.inf
    return np.reciprocal(total).astype(dtype), singular


def transform(
    f: np.ndarray, kinds: tuple[str, str], inverse: bool, in_place: bool = True
) -> np.ndarray:
    """The box's orthonormal sine/cosine transform of a ``(C, ny, nx)`` stack.

    ``kinds``: the box's ``(y, x)`` boundary kinds; in place unless ``in_place`` is false.
    Public ``scipy.fft`` only: one ``dstn``/``dctn`` (or inverse) over both axes when they
    have the same kind, else one 1-D transform per axis.
    """
    # threads only pay off for big transforms (on a busy machine their start-up dominates)
    workers = FFT_WORKERS if f.size >= FFT_THREADS_FROM else 1
    ky, kx = kinds
    if ky == kx:
        fwd, inv, typ, _ = AXIS_TRANSFORMS[ky]
        if inverse:
            fn = sfft.idstn if inv is sfft.idst else sfft.idctn
        else:
            fn = sfft.dstn if fwd is sfft.dst else sfft.dctn
        return fn(f, type=typ, axes=(1, 2), norm="ortho", workers=workers, overwrite_x=in_place)
    for axis, kind in ((1, ky), (2, kx)):
        fwd, inv, typ, _ = AXIS_TRANSFORMS[kind]
        f = (inv if inverse else fwd)(
            f, type=typ, axis=axis, norm="ortho", workers=workers, overwrite_x=in_place
        )
        in_place = True
    return f
