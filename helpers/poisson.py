"""Gradient-domain fusion (Pérez, Gangnet & Blake 2003): the toy problem, Poisson and mixed blending.

Everything here goes through ONE solve path, :func:`solve`, for the masked Poisson system
``A x = b`` of :func:`helpers.gradients.masked_laplacian` (unknowns = the pixels of a region
``Omega``, Dirichlet values outside it, natural Neumann edges at the image border, optional
pinned pixels).  :func:`toy_reconstruct` and :func:`blend` (both modes) only build ``Omega``
and ``b`` and call it.

How the solve is fast without giving up exactness (the residual is checked in float64):

* **Spectral preconditioner.**  ``Omega`` sits in a rectangular box on which the 5-point
  Laplacian with the right boundary condition per side (Dirichlet where the box has a margin,
  natural Neumann where ``Omega`` touches the image border) is diagonalised by a fast sine /
  cosine transform (``scipy.fft`` DST-II, DCT-II, DCT-IV or DST-IV per axis).  Restricted to
  ``Omega`` that box operator *is* ``A``, so ``R L_box^{-1} R^T`` is exact away from the
  boundary of ``Omega`` (a fictitious-domain / capacitance preconditioner).
* **Coarse correction.**  What the box solve gets wrong lives along the boundary of
  ``Omega`` and is smooth along it; a Galerkin coarse space of bilinear hat functions on an
  8-pixel lattice, cut off by the mask, removes it (``Z (Z^T A Z)^{-1} Z^T``, one small sparse
  LU).  The two are combined as the balancing / A-DEF2 two-level preconditioner (CG starts
  from the coarse solution, each step applies the box solve then the coarse correction), which
  is symmetric on the residuals CG produces; CG then needs 6-8 iterations from 256² to 2048².
* **No stencils in the loop.**  ``A`` times the box solution and times the coarse correction
  are known in closed form (the box operator equals ``A`` on ``Omega`` except for couplings
  to the ring just outside it; the bilinear interpolant's Laplacian lives on lattice lines),
  so an iteration costs two transforms, one small LU solve and a dozen array passes.
* **Mixed precision.**  The iterations run in float32 on all channels at once (one box
  transform per iteration for the whole ``(C, h, w)`` stack); the residual is recomputed in
  float64 and the correction refined until ``||b - A x|| <= tol ||b||`` per channel.

Images are float arrays in [0, 1], ``(H, W)`` grey or ``(H, W, C)`` colour.  Results are
float64 and *not* clipped: the exact solution may leave [0, 1] slightly (clip for display;
:func:`helpers.images.save_image` does).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import scipy.fft as sfft
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .errors import UserError
from .gradients import forward_differences, guidance_divergence

__all__ = [
    "MASK_THRESHOLD",
    "BlendResult",
    "ToyResult",
    "PoissonSystem",
    "SolveInfo",
    "solve",
    "toy_reconstruct",
    "toy_reconstruct_naive",
    "blend",
    "place_mask",
    "naive_paste",
    "relative_residual",
    "Example",
    "list_examples",
    "load_example",
    "opencv_available",
    "opencv_clone",
    "Comparison",
    "COLUMNS",
    "compare_example",
    "compare_examples",
    "comparison_table",
    "save_comparisons",
    "blend_panel",
    "mask_crop",
    "ToyTiming",
    "toy_timing",
    "single_threaded_blas",
    "pick",
    "summarize",
    "ComparisonSummary",
]

MASK_THRESHOLD = 0.5
"""A mask pixel belongs to the blend region when its value is > 0.5 (anti-aliased edges round)."""

COARSE_SPACING = 8
"""Lattice spacing (pixels) of the bilinear coarse space."""

COARSE_REGULARISATION = 1e-8
"""Relative diagonal shift of the coarse matrix: bounds the coefficients of nearly dependent hats
(a 1-pixel-wide line of Omega between two lattice rows) without spoiling the Galerkin property."""

FFT_WORKERS = -1
"""Threads for scipy.fft (-1 = all cores)."""

FFT_THREADS_FROM = 1 << 19
"""Transforms of fewer values than this run single-threaded (thread start-up would dominate)."""


# --------------------------------------------------------------------------------------------
# The box: where Omega sits, and which boundary condition each side of the box carries
# --------------------------------------------------------------------------------------------

def _smooth_length(n: int, multiple: int) -> int:
    """Smallest m >= n, divisible by ``multiple``, whose prime factors are all <= 5 (fast transforms)."""
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
_AXIS_TRANSFORMS = {
    # kind: (forward, inverse, type, eigenvalue offset)   eig_k = 2 - 2 cos(pi (k + off) / n)
    "DD": (sfft.dst, sfft.idst, 2, 1.0),
    "NN": (sfft.dct, sfft.idct, 2, 0.0),
    "ND": (sfft.dct, sfft.idct, 4, 0.5),
    "DN": (sfft.dst, sfft.idst, 4, 0.5),
}


def _axis_plan(lo: int, hi: int, size: int, multiple: int) -> tuple[int, int, str]:
    """``(start, length, kind)`` of the box along one axis for Omega spanning ``lo..hi``."""
    touch_lo, touch_hi = lo == 0, hi == size - 1
    if touch_lo and touch_hi:
        return 0, size, "NN"
    if touch_lo:
        n = _smooth_length(hi + 2, multiple)
        return 0, n, "ND"
    if touch_hi:
        need = size - lo + 1
        n = _smooth_length(need, multiple)
        return size - n, n, "DN"
    need = hi - lo + 3
    n = _smooth_length(need, multiple)
    return lo - 1 - (n - need) // 2, n, "DD"


def _window(image_chw: np.ndarray, start: tuple[int, int], shape: tuple[int, int], dtype) -> np.ndarray:
    """Copy the box ``[start, start + shape)`` out of a ``(C, H, W)`` array; zero beyond the image."""
    c, h, w = image_chw.shape
    (y0, x0), (ny, nx) = start, shape
    out = np.zeros((c, ny, nx), dtype=dtype)
    ys, ye = max(y0, 0), min(y0 + ny, h)
    xs, xe = max(x0, 0), min(x0 + nx, w)
    if ys < ye and xs < xe:
        out[:, ys - y0 : ye - y0, xs - x0 : xe - x0] = image_chw[:, ys:ye, xs:xe]
    return out


# --------------------------------------------------------------------------------------------
# Coarse space: bilinear hats on a lattice, cut off by the mask (Galerkin)
# --------------------------------------------------------------------------------------------

class _Coarse:
    """``Q = Z (Z^T A Z)^{-1} Z^T`` with ``Z = diag(inside) P``, ``P`` bilinear interpolation.

    ``Z^T A Z`` is assembled from the edge form ``x^T A x = sum_{Omega-Omega edges}
    (x_p - x_q)^2 + sum_p dirichlet_p x_p^2`` with weighted block sums (no sparse products).
    """

    def __init__(self, inside: np.ndarray, dirichlet_idx: np.ndarray, dirichlet_weight: np.ndarray, spacing: int, dtype=np.float32) -> None:
        a = spacing
        ny, nx = inside.shape
        self.a = a
        self.shape = (ny, nx)
        self.ky, self.kx = -(-ny // a), -(-nx // a)
        self.my, self.mx = self.ky + 1, self.kx + 1
        t = np.arange(a) / a
        self.t = t  # position inside a block: weight on the upper node (1 - t on the lower)
        p3 = np.stack([(1 - t) ** 2, t * (1 - t), t**2], axis=1)  # (a, 3)

        ins = inside > 0
        ones = np.ones(a, dtype=np.float32)
        # x-pairs (y, x)-(y, x+1) inside Omega, summed over the x of each block: (ky, a, kx)
        wh = (ins[:, :-1] & ins[:, 1:]).astype(np.float32)
        hblk = (self._pad(wh).reshape(self.ky, a, self.kx, a) @ ones).astype(np.float64)
        hsum = np.einsum("iak,ab->ikb", hblk, p3) / a**2  # weighted by the y hats: (ky, kx, 3)
        # y-pairs summed over the y of each block, then weighted by the x hats: (ky, kx, 3)
        wv = (ins[:-1, :] & ins[1:, :]).astype(np.float32)
        vblk = np.add.reduce(self._pad(wv).reshape(self.ky, a, self.kx * a), axis=1).astype(np.float64)
        vsum = vblk.reshape(self.ky, self.kx, a) @ p3 / a**2

        my, mx = self.my, self.mx
        cen = np.zeros((my, mx))
        east = np.zeros((my, mx))  # couples (I, J) with (I, J + 1)
        south = np.zeros((my, mx))  # (I, J) with (I + 1, J)
        se = np.zeros((my, mx))  # (I, J) with (I + 1, J + 1)
        sw = np.zeros((my, mx))  # (I, J) with (I + 1, J - 1)
        lo_y, hi_y = slice(0, my - 1), slice(1, my)
        lo_x, hi_x = slice(0, mx - 1), slice(1, mx)
        h0, h1, h2 = hsum[..., 0], hsum[..., 1], hsum[..., 2]
        v0, v1, v2 = vsum[..., 0], vsum[..., 1], vsum[..., 2]
        # x-pairs: x pattern [[1, -1], [-1, 1]] on (J, J+1), y pattern from the hats in y
        for (ys_, h) in ((lo_y, h0), (hi_y, h2)):
            cen[ys_, lo_x] += h
            cen[ys_, hi_x] += h
            east[ys_, lo_x] -= h
        south[lo_y, lo_x] += h1
        south[lo_y, hi_x] += h1
        se[lo_y, lo_x] -= h1
        sw[lo_y, hi_x] -= h1
        # y-pairs: y pattern [[1, -1], [-1, 1]] on (I, I+1), x pattern from the hats in x
        for (xs_, v) in ((lo_x, v0), (hi_x, v2)):
            cen[lo_y, xs_] += v
            cen[hi_y, xs_] += v
            south[lo_y, xs_] -= v
        east[lo_y, lo_x] += v1
        east[hi_y, lo_x] += v1
        se[lo_y, lo_x] -= v1
        sw[lo_y, hi_x] -= v1
        # Dirichlet neighbours and pins (few pixels): (P_y^T P_y) (x) (P_x^T P_x)
        idx = np.asarray(dirichlet_idx)
        if idx.size:
            y, x = np.divmod(idx, nx)
            wgt = np.asarray(dirichlet_weight, dtype=np.float64)
            i_, ty = np.divmod(y, a)
            j_, tx = np.divmod(x, a)
            py_ = p3[ty].T  # (3, k)
            px_ = p3[tx].T
            node = i_ * mx + j_
            size = my * mx

            def _acc(arr: np.ndarray, where: np.ndarray, weights: np.ndarray) -> None:
                arr += np.bincount(where, weights=weights, minlength=size).reshape(my, mx)

            _acc(cen, node, wgt * py_[0] * px_[0])
            _acc(cen, node + 1, wgt * py_[0] * px_[2])
            _acc(cen, node + mx, wgt * py_[2] * px_[0])
            _acc(cen, node + mx + 1, wgt * py_[2] * px_[2])
            _acc(east, node, wgt * py_[0] * px_[1])
            _acc(east, node + mx, wgt * py_[2] * px_[1])
            _acc(south, node, wgt * py_[1] * px_[0])
            _acc(south, node + 1, wgt * py_[1] * px_[2])
            _acc(se, node, wgt * py_[1] * px_[1])
            _acc(sw, node + 1, wgt * py_[1] * px_[1])

        # Keep only the nodes that are the nearest node of some Omega pixel.  A node whose hat
        # merely grazes Omega (a thin line of pixels near the far side of its cell) would be
        # nearly proportional to its neighbour there, making Z^T A Z near-singular and the
        # coefficients huge (and float32 products meaningless).
        mass = self._restrict_grid(ins[None].astype(np.float32))[0]
        active = (mass >= 1.0) & (cen > 0)
        self.active = np.flatnonzero(active.ravel())
        self.n = self.active.size
        if self.n == 0:
            self.lu = None
            return
        index = np.full(my * mx, -1, dtype=np.int64)
        index[self.active] = np.arange(self.n)
        index = index.reshape(my, mx)
        rows, cols, vals = [np.arange(self.n)], [np.arange(self.n)], [cen.ravel()[self.active]]
        for (dy, dx, arr) in ((0, 1, east), (1, 0, south), (1, 1, se), (1, -1, sw)):
            j0, j1 = max(0, -dx), mx - max(0, dx)  # columns J with J + dx inside the lattice
            i0 = index[: my - dy, j0:j1]
            i1 = index[dy:, j0 + dx : j1 + dx]
            val = arr[: my - dy, j0:j1]
            ok = (i0 >= 0) & (i1 >= 0) & (val != 0)
            rows += [i0[ok], i1[ok]]
            cols += [i1[ok], i0[ok]]
            vals += [val[ok], val[ok]]
        rows_a, cols_a, vals_a = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
        matrix = sp.csc_matrix((vals_a, (rows_a, cols_a)), shape=(self.n, self.n))
        # A tiny shift guards against a (near-)singular coarse matrix from odd mask shapes;
        # Q only has to be a good symmetric positive preconditioner component, not exact.
        matrix = matrix + sp.diags(COARSE_REGULARISATION * vals[0], format="csc")
        self.matrix = matrix
        self.lu = spla.splu(matrix, permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})
        self.inside_w = inside.astype(dtype)

    def _pad(self, arr: np.ndarray) -> np.ndarray:
        """Zero-pad a 2-D (or trailing-2-D) array to ``(ky * a, kx * a)``."""
        py, px = self.ky * self.a, self.kx * self.a
        if arr.shape[-2:] == (py, px):
            return arr
        out = np.zeros(arr.shape[:-2] + (py, px), dtype=arr.dtype)
        out[..., : arr.shape[-2], : arr.shape[-1]] = arr
        return out

    def _restrict_grid(self, r: np.ndarray) -> np.ndarray:
        """``P^T r`` for a ``(C, ny, nx)`` stack, as ``(C, my, mx)`` node values."""
        a, c = self.a, r.shape[0]
        t = self.t.astype(r.dtype)
        rp = self._pad(r)
        py = rp.shape[1]
        # x first: the hats' weights over each block of ``a`` columns, one batched matmul
        # (far faster than a reduction over a short last axis; a 2-D BLAS sgemm of the same
        # numbers was measured 30x slower on the busy test machine)
        lo_hi = rp.reshape(c, py, self.kx, a) @ np.stack([1 - t, t], axis=1)
        cx = np.empty((c, py, self.mx), dtype=r.dtype)
        cx[:, :, :-1] = lo_hi[..., 0]
        cx[:, :, -1] = 0
        cx[:, :, 1:] += lo_hi[..., 1]
        # then y, on the small array
        u = cx.reshape(c, self.ky, a, self.mx)
        out = np.zeros((c, self.my, self.mx), dtype=r.dtype)
        out[:, :-1] = np.einsum("ckam,a->ckm", u, 1 - t)
        out[:, 1:] += np.einsum("ckam,a->ckm", u, t)
        return out

    def restrict(self, r: np.ndarray) -> np.ndarray:
        """``Z^T r``: ``(C, ny, nx)`` (zero off Omega) -> ``(n, C)`` float64."""
        grid = self._restrict_grid(r)
        return grid.reshape(grid.shape[0], -1)[:, self.active].T.astype(np.float64)

    def lattice(self, coeffs: np.ndarray, dtype=np.float32) -> np.ndarray:
        """``(n, C)`` coarse coefficients -> ``(C, my, mx)`` node values (zero at dropped nodes)."""
        c = coeffs.shape[1]
        grid = np.zeros((c, self.my * self.mx), dtype=dtype)
        grid[:, self.active] = coeffs.T
        return grid.reshape(c, self.my, self.mx)

    def interp_x(self, grid: np.ndarray) -> np.ndarray:
        """Linear interpolation along the last axis: ``(C, rows, mx)`` -> ``(C, rows, nx)``."""
        c, rows, _ = grid.shape
        t = self.t.astype(grid.dtype)
        out = grid[:, :, :-1, None] + t * np.diff(grid, axis=2)[..., None]
        return out.reshape(c, rows, self.kx * self.a)[:, :, : self.shape[1]]

    def interp_y(self, arr: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Linear interpolation along axis 1: ``(C, my, cols)`` -> ``(C, ny, cols)``.

        Written so the inner loop runs along whole rows (fast for the full-size result);
        ``out``, if given, is a ``(C, ky * a, cols)`` buffer.
        """
        c, _, cols = arr.shape
        t = self.t.astype(arr.dtype)
        if out is None:
            out = np.empty((c, self.ky * self.a, cols), dtype=arr.dtype)
        # each block of ``a`` rows = (a x 2 weights) @ (its two node rows): one batched matmul,
        # one write of the full-size result
        ends = np.stack([arr[:, :-1], arr[:, 1:]], axis=2)  # (C, ky, 2, cols), small
        np.matmul(np.stack([1 - t, t], axis=1), ends, out=out.reshape(c, self.ky, self.a, cols))
        return out[:, : self.shape[0]]

    def prolong(self, coeffs: np.ndarray, dtype=np.float32) -> np.ndarray:
        """``Z c``: ``(n, C)`` coarse coefficients -> ``(C, ny, nx)``, zero off Omega."""
        v = self.interp_y(self.interp_x(self.lattice(coeffs, dtype)))
        v *= self.inside_w.astype(dtype, copy=False)
        return v

    def apply(self, r: np.ndarray) -> np.ndarray:
        """``Q r = Z (Z^T A Z)^{-1} Z^T r`` for a ``(C, ny, nx)`` stack."""
        return self.prolong(self.lu.solve(self.restrict(r)), dtype=r.dtype)


# --------------------------------------------------------------------------------------------
# The system and the one solve path
# --------------------------------------------------------------------------------------------

class PoissonSystem:
    """The masked Poisson operator ``A`` of one region ``Omega`` and its preconditioner.

    Args:
        omega: ``(H, W)`` bool, the unknown pixels (at least one).
        pins: optional ``(H, W)`` float weights added to the diagonal of ``A``
            (:func:`helpers.gradients.masked_laplacian` with the same arguments is the same matrix).
        coarse_spacing: lattice spacing of the coarse space (0 disables it).

    Vectors live on the *box*, a ``(ny, nx)`` window of the image starting at ``origin``
    (possibly reaching past the image where that side is a Dirichlet margin), as
    channel-first stacks ``(C, ny, nx)`` that are zero off ``Omega``.
    """

    def __init__(self, omega: np.ndarray, *, pins: np.ndarray | None = None, coarse_spacing: int = COARSE_SPACING) -> None:
        omega = np.asarray(omega, dtype=bool)
        if omega.ndim != 2 or not omega.any():
            raise ValueError("omega must be a non-empty 2-D boolean mask")
        self.image_shape = h, w = omega.shape
        rows = np.flatnonzero(omega.any(axis=1))
        cols = np.flatnonzero(omega.any(axis=0))
        multiple = coarse_spacing if coarse_spacing else 1
        y0, ny, ky = _axis_plan(int(rows[0]), int(rows[-1]), h, multiple)
        x0, nx, kx = _axis_plan(int(cols[0]), int(cols[-1]), w, multiple)
        self.origin = (y0, x0)
        self.shape = (ny, nx)
        self.kinds = (ky, kx)
        self.unknowns = int(omega.sum())

        ins = _window(omega[None], self.origin, self.shape, bool)[0]
        self.inside32 = ins.astype(np.float32)
        # CG runs in float32 (memory traffic is the cost); float64 refinement rounds restore
        # accuracy.  (float64 iterations were measured slower even for small problems: a
        # restart after a float64 residual buys more than longer float64 CG runs.)
        self.dtype = np.dtype(np.float32)
        self.inside_w = ins.astype(self.dtype)
        # (Omega pixel p, its neighbour q just outside Omega) for each direction; p is unique
        # within a direction, so fancy-index updates need no accumulation.  q always lies in
        # the image: where Omega touches the image border the box ends there.
        up = np.flatnonzero(ins[1:] & ~ins[:-1]) + nx
        down = np.flatnonzero(ins[:-1] & ~ins[1:])
        yl, xl = np.divmod(np.flatnonzero(ins[:, 1:] & ~ins[:, :-1]), nx - 1)
        left = yl * nx + xl + 1
        yr, xr = np.divmod(np.flatnonzero(ins[:, :-1] & ~ins[:, 1:]), nx - 1)
        right = yr * nx + xr
        self.ring_pairs = [(up, up - nx), (down, down + nx), (left, left - 1), (right, right + 1)]
        self.ring = np.unique(np.concatenate([q for _, q in self.ring_pairs]))  # off Omega, next to it
        # Omega pixels whose diagonal is not 4: on the image border (fewer neighbours), pins
        delta = np.zeros((ny, nx))
        if y0 == 0:
            delta[0, :] -= 1.0
        if y0 + ny == h:
            delta[-1, :] -= 1.0
        if x0 == 0:
            delta[:, 0] -= 1.0
        if x0 + nx == w:
            delta[:, -1] -= 1.0
        pins_box = None
        if pins is not None:
            pins_box = _window(np.asarray(pins, dtype=np.float64)[None], self.origin, self.shape, np.float64)[0] * ins
            delta += pins_box
        delta *= ins
        self.fix = np.flatnonzero(delta)
        self.fix_delta = delta.ravel()[self.fix]
        if pins_box is not None:
            self.pin_idx = np.flatnonzero(pins_box)
            self.pin_weight = pins_box.ravel()[self.pin_idx]
        else:
            self.pin_idx = np.zeros(0, dtype=np.int64)
            self.pin_weight = np.zeros(0)

        # Spectral inverse of the box Laplacian (eigenvalues per axis add up).
        lam = []
        for n, kind in ((ny, ky), (nx, kx)):
            off = _AXIS_TRANSFORMS[kind][3]
            lam.append(2.0 - 2.0 * np.cos(np.pi * (np.arange(n) + off) / n))
        total = lam[0][:, None] + lam[1][None, :]
        # Pure Neumann box (Omega touches all four borders): the constant mode is singular;
        # the box solve drops it (then L u = r - mean(r)) and the coarse space supplies it.
        self.singular_box = bool(total[0, 0] <= 1e-12)
        if self.singular_box:
            total[0, 0] = np.inf
        self.inverse_eigenvalues = np.reciprocal(total).astype(self.dtype)

        self._work: dict = {}
        self.coarse = None
        if coarse_spacing:
            # Dirichlet weight of each Omega pixel: its neighbours outside Omega, plus pins
            p_all = np.concatenate([p for p, _ in self.ring_pairs])
            d_idx, d_count = np.unique(p_all, return_counts=True)
            d_weight = d_count.astype(np.float64)
            if self.pin_idx.size:
                d_idx = np.concatenate([d_idx, self.pin_idx])
                d_weight = np.concatenate([d_weight, self.pin_weight])
            coarse = _Coarse(ins, d_idx, d_weight, coarse_spacing, self.dtype)
            self.coarse = coarse if coarse.n else None

    # -- layout ---------------------------------------------------------------------------
    def to_box(self, image: np.ndarray, dtype=np.float64) -> np.ndarray:
        """``(H, W)`` or ``(H, W, C)`` image -> ``(C, ny, nx)`` box stack (zero beyond the image)."""
        chw = image[None] if image.ndim == 2 else np.moveaxis(image, 2, 0)
        return _window(chw, self.origin, self.shape, dtype)

    def add_to_image(self, image: np.ndarray, box: np.ndarray) -> None:
        """``image[Omega] += box`` in place; ``image`` is ``(H, W)`` or ``(H, W, C)``."""
        h, w = self.image_shape
        (y0, x0), (ny, nx) = self.origin, self.shape
        ys, ye, xs, xe = max(y0, 0), min(y0 + ny, h), max(x0, 0), min(x0 + nx, w)
        part = box[:, ys - y0 : ye - y0, xs - x0 : xe - x0]
        if image.ndim == 2:
            image[ys:ye, xs:xe] += part[0]
        else:
            for k in range(part.shape[0]):  # per channel: faster than one transposed add
                image[ys:ye, xs:xe, k] += part[k]

    # -- operators ------------------------------------------------------------------------
    def apply(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``A x`` for a box stack (float32 or float64, zero off Omega); zero off Omega.

        The same operator as :func:`helpers.gradients.stencil_apply` with five whole-array
        passes instead of seven: the diagonal is 4 except at the few pixels listed in
        ``fix`` (image border, pins), and off Omega only the ring around it needs zeroing.
        """
        if out is None:
            out = np.empty_like(x)
        np.multiply(x, x.dtype.type(4), out=out)
        out[:, 1:, :] -= x[:, :-1, :]
        out[:, :-1, :] -= x[:, 1:, :]
        out[:, :, 1:] -= x[:, :, :-1]
        out[:, :, :-1] -= x[:, :, 1:]
        c = x.shape[0]
        flat_out, flat_x = out.reshape(c, -1), x.reshape(c, -1)
        flat_out[:, self.ring] = 0
        if self.fix.size:
            flat_out[:, self.fix] += self.fix_delta.astype(x.dtype) * flat_x[:, self.fix]
        return out

    def _buffers(self, c: int) -> dict:
        """Work arrays for ``c`` channels, allocated once per system (the loop allocates nothing big)."""
        key = ("work", c)
        if key not in self._work:
            ny, nx = self.shape
            shape = (c, ny, nx)
            pad_rows = self.coarse.ky * self.coarse.a if self.coarse is not None else ny
            self._work[key] = {
                "y": np.empty(shape, self.dtype),
                "ay": np.empty(shape, self.dtype),
                "v": np.empty((c, pad_rows, nx), self.dtype),
                "v_out": np.empty(shape, self.dtype),
            }
        return self._work[key]

    def _transform(self, f: np.ndarray, inverse: bool, in_place: bool = True) -> np.ndarray:
        """The box's orthonormal sine/cosine transform of a stack (in place by default)."""
        ky, kx = self.kinds
        # threads only pay off for big transforms (on a busy machine their start-up dominates)
        workers = FFT_WORKERS if f.size >= FFT_THREADS_FROM else 1
        if ky == kx:
            fwd, inv, typ, _ = _AXIS_TRANSFORMS[ky]
            if inverse:
                fn = sfft.idstn if inv is sfft.idst else sfft.idctn
            else:
                fn = sfft.dstn if fwd is sfft.dst else sfft.dctn
            return fn(f, type=typ, axes=(1, 2), norm="ortho", workers=workers, overwrite_x=in_place)
        for axis, kind in ((1, ky), (2, kx)):
            fwd, inv, typ, _ = _AXIS_TRANSFORMS[kind]
            f = (inv if inverse else fwd)(f, type=typ, axis=axis, norm="ortho", workers=workers, overwrite_x=in_place)
            in_place = True
        return f

    def _add_ring(self, flat_out: np.ndarray, flat_u: np.ndarray, dtype) -> None:
        """``out_p += sum of u over p's neighbours just outside Omega`` (+ ``pin_p u_p``)."""
        for p_idx, q_idx in self.ring_pairs:
            flat_out[:, p_idx] += flat_u[:, q_idx]
        if self.pin_idx.size:
            flat_out[:, self.pin_idx] += self.pin_weight.astype(dtype) * flat_u[:, self.pin_idx]

    def box_solve(self, r: np.ndarray, out: tuple[np.ndarray, np.ndarray] | None = None, *, masked: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """``(y, A y)`` with ``y = R L_box^{-1} R^T r``: the fast transform solve.

        ``A y`` costs no stencil: on Omega the box operator equals ``A`` except that it also
        couples to the ring of pixels just outside Omega, so ``(A y)_p = r_p + sum of the box
        solution u over p's neighbours on that ring`` (plus ``pin_p y_p`` where pins exist).
        """
        c = r.shape[0]
        y, ay = out if out is not None else (np.empty_like(r), np.empty_like(r))
        u = self._transform(r, inverse=False, in_place=False)
        u *= self.inverse_eigenvalues
        u = self._transform(u, inverse=True)
        np.copyto(ay, r)
        if self.singular_box:
            mean = r.reshape(c, -1).sum(axis=1, dtype=np.float64) / r[0].size
            ay -= mean.astype(r.dtype)[:, None, None] * self.inside_w
        self._add_ring(ay.reshape(c, -1), u.reshape(c, -1), r.dtype)
        if not masked:  # the caller cuts to Omega later (saves a pass)
            return u, ay
        np.multiply(u, self.inside_w, out=y)
        return y, ay

    def coarse_solve(self, r: np.ndarray, out: np.ndarray | None = None, subtract_from: np.ndarray | None = None,
                     *, masked: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """``(v, A v)`` with ``v = Q r``, the coarse correction (box stacks in the work dtype).

        ``A v`` costs no stencil: the bilinear interpolant is linear between lattice lines,
        so its box Laplacian vanishes except on every ``a``-th row and column (and on image
        borders); those few lines come straight from the node values, then the ring
        couplings are added as in :meth:`box_solve`.  With ``subtract_from`` given, ``A v``
        is subtracted from it in place (no full-size ``A v`` array) and ``None`` is returned
        in its place.
        """
        co = self.coarse
        a = co.a
        c = r.shape[0]
        ny, nx = self.shape
        work = self._buffers(c)
        grid = co.lattice(co.lu.solve(co.restrict(r)), r.dtype)
        tx = co.interp_x(grid)  # (C, my, nx)
        v = out if out is not None else np.empty_like(r)
        if co.ky * a == ny:  # v (not yet cut to Omega) straight into its buffer
            co.interp_y(tx, out=v)
        else:  # the lattice overhangs the box: interpolate into a padded buffer, then copy
            np.copyto(v, co.interp_y(tx, out=work["v"]))
        if subtract_from is None:
            av = np.zeros_like(v)
            sign = 1.0
        else:
            av = subtract_from
            sign = -1.0
        ins = self.inside_w
        (ky_lo, ky_hi), (kx_lo, kx_hi) = self.kinds
        # y second differences: slope changes on lattice rows a*I, 1 <= I, a*I <= ny - 2
        n_rows = (ny - 2) // a if ny >= 3 else 0
        if n_rows:
            rows = slice(a, a * n_rows + 1, a)
            d2 = (2 * tx[:, 1 : n_rows + 1] - tx[:, 2 : n_rows + 2] - tx[:, :n_rows]) * (sign / a)
            av[:, rows, :] += d2 * ins[rows]
        if ky_lo == "N" and ny >= 2:  # even reflection: 2 v0 - v0 - v1
            av[:, 0, :] += (tx[:, 0] - tx[:, 1]) * (sign / a) * ins[0]
        if ky_hi == "N" and ny >= 2:
            k = (ny - 2) // a
            av[:, ny - 1, :] += (tx[:, k + 1] - tx[:, k]) * (sign / a) * ins[ny - 1]
        # x second differences on lattice columns, interpolated along y from the nodes
        n_cols = (nx - 2) // a if nx >= 3 else 0
        if n_cols:
            cols = slice(a, a * n_cols + 1, a)
            d2 = co.interp_y((2 * grid[:, :, 1 : n_cols + 1] - grid[:, :, 2 : n_cols + 2] - grid[:, :, :n_cols]) * (sign / a))
            av[:, :, cols] += d2 * ins[:, cols]
        if kx_lo == "N" and nx >= 2:
            av[:, :, 0] += co.interp_y((grid[:, :, :1] - grid[:, :, 1:2]) * (sign / a))[:, :, 0] * ins[:, 0]
        if kx_hi == "N" and nx >= 2:
            k = (nx - 2) // a
            av[:, :, nx - 1] += co.interp_y((grid[:, :, k + 1 : k + 2] - grid[:, :, k : k + 1]) * (sign / a))[:, :, 0] * ins[:, nx - 1]
        flat_av, flat_v = av.reshape(c, -1), v.reshape(c, -1)
        if sign > 0:
            self._add_ring(flat_av, flat_v, r.dtype)
        else:
            for p_idx, q_idx in self.ring_pairs:
                flat_av[:, p_idx] -= flat_v[:, q_idx]
            if self.pin_idx.size:
                flat_av[:, self.pin_idx] -= self.pin_weight.astype(r.dtype) * flat_v[:, self.pin_idx]
        if masked:
            v *= ins
        return v, (av if subtract_from is None else None)

    def deflate(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(x0, A x0)`` with ``x0 = Q r``: the coarse solution, a start whose residual has ``Z^T r = 0``."""
        if self.coarse is None:
            return np.zeros_like(r), np.zeros_like(r)
        return self.coarse_solve(r)

    def precondition(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(z, A z)`` with ``z = (I - Q A) M r``: box solve, then the coarse correction.

        For residuals with ``Z^T r = 0`` (CG started from :meth:`deflate` keeps them so) this
        is the symmetric two-level preconditioner ``Q + (I - QA) M (I - AQ)`` ("balancing",
        A-DEF2 in Tang et al. 2009) at the cost of one box solve and one coarse solve per
        iteration, and no stencil.  The returned arrays are work buffers, overwritten by the
        next call.
        """
        work = self._buffers(r.shape[0])
        if self.coarse is None:
            return self.box_solve(r, out=(work["y"], work["ay"]))
        # z = cut_Omega(u - v) with u, v the uncut box and coarse solutions: one masking pass
        u, ay = self.box_solve(r, out=(work["y"], work["ay"]), masked=False)
        v, _ = self.coarse_solve(ay, out=work["v_out"], subtract_from=ay, masked=False)  # ay -= A v in place
        u -= v
        u *= self.inside_w
        return u, ay


@dataclass
class SolveInfo:
    """What :func:`solve` did: CG iterations, float64 refinement rounds, final residual."""

    iterations: int
    rounds: int
    residual: np.ndarray  # ||b - A x|| / ||b|| per channel, float64
    converged: bool


def _channel_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-channel dot products of two ``(C, h, w)`` stacks, as float64 ``(C,)``.

    float32 goes through BLAS ``sdot``; float64 deliberately does not: OpenBLAS's threaded
    ``ddot`` was measured at ~16 ms per call *whatever the length* on a busy 2-core machine.
    """
    c = a.shape[0]
    a2, b2 = a.reshape(c, -1), b.reshape(c, -1)
    if a.dtype == np.float32 and b.dtype == np.float32:
        return np.array([np.dot(a2[i], b2[i]) for i in range(c)], dtype=np.float64)
    return np.einsum("ij,ij->i", a2, b2)


def _pcg(system: PoissonSystem, rhs: np.ndarray, tol_abs: np.ndarray, maxiter: int) -> tuple[np.ndarray, int]:
    """Preconditioned CG in the system's work dtype on all channels at once: ``A x = rhs`` to ``||r|| <= tol_abs``.

    Starts from the coarse solution (so residuals stay orthogonal to the coarse space, see
    :meth:`PoissonSystem.precondition`); ``A p`` comes by recurrence from the ``A z`` the
    preconditioner returns, so an iteration costs one box solve, two stencils, one coarse solve.
    """
    x, ax = system.deflate(rhs)
    r = rhs - ax
    if np.all(np.sqrt(_channel_dot(r, r)) <= tol_abs):
        return x, 0
    z, az = system.precondition(r)
    p, q = z.copy(), az.copy()  # z, az are the preconditioner's work buffers
    rz = _channel_dot(r, z)
    tmp = np.empty_like(r)
    history = []
    it = 0
    for it in range(1, maxiter + 1):
        pq = _channel_dot(p, q)
        alpha = np.divide(rz, pq, out=np.zeros_like(rz), where=pq > 0).astype(r.dtype)[:, None, None]
        x += np.multiply(p, alpha, out=tmp)
        r -= np.multiply(q, alpha, out=tmp)
        res = np.sqrt(_channel_dot(r, r))
        if np.all(res <= tol_abs):
            break
        history.append(float(np.max(res / np.maximum(tol_abs, 1e-300))))
        if it > 10 and history[-1] > 0.5 * history[-11]:
            break  # stagnation (float32 rounding): let the float64 refinement round take over
        z, az = system.precondition(r)
        rz_new = _channel_dot(r, z)
        beta = np.divide(rz_new, rz, out=np.zeros_like(rz), where=rz > 0).astype(r.dtype)[:, None, None]
        rz = rz_new
        p *= beta
        p += z
        q *= beta
        q += az
    return x, it


def solve(
    system: PoissonSystem,
    rhs: np.ndarray,
    *,
    tol: float = 1e-6,
    rhs_norm: np.ndarray | None = None,
    maxiter: int = 300,
    max_rounds: int = 8,
) -> tuple[np.ndarray, SolveInfo]:
    """THE solve path: ``A x = rhs`` for a box stack ``rhs (C, ny, nx)`` (zero off Omega).

    Args:
        system: the operator and its preconditioner.
        rhs: float64 right-hand side on the box.
        tol: stop when ``||rhs - A x|| <= tol * rhs_norm`` in float64, per channel.
        rhs_norm: ``(C,)`` the norm the residual is relative to (default ``||rhs||``; blending
            solves for a correction and passes the norm of the full system's ``b``).
        maxiter: CG iterations per refinement round at most.
        max_rounds: float64 refinement rounds at most.

    Returns ``(x, info)``: ``x`` float64 ``(C, ny, nx)`` zero off Omega.
    """
    rhs = np.asarray(rhs, dtype=np.float64)
    norm_b = np.sqrt(_channel_dot(rhs, rhs)) if rhs_norm is None else np.asarray(rhs_norm, dtype=np.float64)
    goal = tol * norm_b
    x = np.zeros_like(rhs)
    r = rhs
    res = np.sqrt(_channel_dot(r, r))
    iterations = rounds = 0
    while np.any(res > goal) and rounds < max_rounds:
        # float32 CG cannot resolve much below 1e-6 of its own right-hand side; aim a bit under
        # the goal and let the float64 residual decide whether another round is needed.
        floor = 2e-6 if system.dtype == np.float32 else 1e-13
        inner_goal = np.maximum(0.5 * goal, floor * res).astype(np.float64)
        dx, its = _pcg(system, r.astype(system.dtype), inner_goal, maxiter)
        iterations += its
        rounds += 1
        x += dx
        r = rhs - system.apply(x)
        res = np.sqrt(_channel_dot(r, r))
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(norm_b > 0, res / np.where(norm_b > 0, norm_b, 1.0), 0.0)
    return x, SolveInfo(iterations, rounds, rel, bool(np.all(res <= goal)))


# --------------------------------------------------------------------------------------------
# Toy problem
# --------------------------------------------------------------------------------------------

@dataclass
class ToyResult:
    """Reconstruction of a grey image from its gradients and one pinned pixel."""

    image: np.ndarray  # (H, W) float64
    max_abs_error: float
    residual: float
    iterations: int
    seconds: float
    gradients: tuple[np.ndarray, np.ndarray] = field(repr=False, default=None)  # gx (H, W-1), gy (H-1, W)

    def summary(self) -> str:
        h, w = self.image.shape
        return (
            f"toy: {h * w:,} unknowns, max |error| {self.max_abs_error:.2e}, "
            f"residual {self.residual:.1e}, {self.iterations} iterations, {self.seconds:.3f} s"
        )


def _as_grey(image: np.ndarray, what: str = "image") -> np.ndarray:
    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        arr = arr[..., :3] @ np.array([0.299, 0.587, 0.114])
    if arr.ndim != 2 or min(arr.shape) < 2:
        raise UserError(f"{what} must be a grey (H, W) image of at least 2x2 pixels, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise UserError(f"{what} contains NaN or infinite values")
    return arr


def toy_reconstruct(image: np.ndarray, *, tol: float = 1e-10) -> ToyResult:
    """Rebuild ``image`` from its x and y forward differences plus the pinned pixel ``(0, 0)``.

    The least-squares problem of the writeup (objectives 1-3) is solved through its normal
    equations ``(Dx^T Dx + Dy^T Dy + e0 e0^T) v = Dx^T gx + Dy^T gy + e0 s[0, 0]`` — the
    masked Poisson system with Omega = the whole image and one pin — by :func:`solve`.

    Args:
        image: ``(H, W)`` float in [0, 1] (colour is converted to luminance).
    """
    t0 = time.perf_counter()
    s = _as_grey(image)
    h, w = s.shape
    dx, dy = forward_differences((h, w))
    flat = s.ravel()
    gx, gy = dx @ flat, dy @ flat  # objectives 1 and 2: the target gradients
    b = dx.T @ gx + dy.T @ gy
    b[0] += s[0, 0]  # objective 3: v[0, 0] = s[0, 0]
    pins = np.zeros((h, w))
    pins[0, 0] = 1.0
    system = PoissonSystem(np.ones((h, w), dtype=bool), pins=pins)
    x, info = solve(system, system.to_box(b.reshape(h, w)), tol=tol)
    v = np.zeros((h, w))
    system.add_to_image(v, x)
    seconds = time.perf_counter() - t0
    return ToyResult(
        image=v,
        max_abs_error=float(np.max(np.abs(v - s))),
        residual=float(info.residual[0]),
        iterations=info.iterations,
        seconds=seconds,
        gradients=(gx.reshape(h, w - 1), gy.reshape(h - 1, w)),
    )


def toy_reconstruct_naive(image: np.ndarray, *, atol: float = 1e-10, btol: float = 1e-10) -> ToyResult:
    """The seed writeup's approach, kept as the baseline: per-pixel Python loops fill ``A`` and
    ``b`` (one row per x gradient, one per y gradient, one for the pinned pixel), then
    ``scipy.sparse.linalg.lsqr``.  Slow on purpose; compare with :func:`toy_reconstruct`.
    """
    t0 = time.perf_counter()
    s = _as_grey(image)
    h, w = s.shape
    im2var = np.arange(h * w).reshape(h, w)
    a = sp.lil_matrix((h * (w - 1) + (h - 1) * w + 1, h * w))
    b = np.zeros(a.shape[0])
    e = 0
    for y in range(h):
        for x in range(w):
            if x + 1 < w:  # objective 1: v(x+1, y) - v(x, y) = s(x+1, y) - s(x, y)
                a[e, im2var[y, x + 1]] = 1
                a[e, im2var[y, x]] = -1
                b[e] = s[y, x + 1] - s[y, x]
                e += 1
            if y + 1 < h:  # objective 2: v(x, y+1) - v(x, y) = s(x, y+1) - s(x, y)
                a[e, im2var[y + 1, x]] = 1
                a[e, im2var[y, x]] = -1
                b[e] = s[y + 1, x] - s[y, x]
                e += 1
    a[e, im2var[0, 0]] = 1  # objective 3: v(0, 0) = s(0, 0)
    b[e] = s[0, 0]
    result = spla.lsqr(a.tocsr(), b, atol=atol, btol=btol, iter_lim=100_000)
    v = result[0].reshape(h, w)
    rnorm = float(np.linalg.norm(a.tocsr().T @ (a.tocsr() @ result[0] - b)))
    return ToyResult(
        image=v,
        max_abs_error=float(np.max(np.abs(v - s))),
        residual=rnorm,
        iterations=int(result[2]),
        seconds=time.perf_counter() - t0,
    )


@dataclass
class ToyTiming:
    """The vectorised toy solver (median of repeats) against the seed's loops + lsqr (one run)."""

    fast: ToyResult
    fast_seconds: float
    naive: ToyResult | None
    naive_seconds: float

    @property
    def seconds(self) -> dict:
        out = {"vectorised (toy_reconstruct)": self.fast_seconds}
        if self.naive is not None:
            out["seed: per-pixel loops + lsqr"] = self.naive_seconds
        return out

    @property
    def speedup(self) -> float:
        return self.naive_seconds / self.fast_seconds if self.naive is not None else float("nan")

    def summary(self) -> str:
        text = f"vectorised: {self.fast_seconds * 1e3:.1f} ms (median), max |error| {self.fast.max_abs_error:.1e}"
        if self.naive is not None:
            text += (f"; loops + lsqr: {self.naive_seconds:.2f} s, max |error| {self.naive.max_abs_error:.1e}"
                     f"; {self.speedup:,.0f}x faster")
        return text


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[bool]:
    """Run a block with NumPy's bundled OpenBLAS on one thread (restored afterwards).

    On a busy 2-core machine OpenBLAS's threaded float64 ``ddot`` was measured at ~16 ms per
    call whatever the length (7 us single-threaded), which would make ``lsqr`` look far slower
    than it is.  Timing comparisons use this so the baseline is not penalised for that.
    Yields whether the thread count could be set (False: no OpenBLAS found, nothing changed).
    """
    import ctypes
    import glob
    import os

    setter = getter = None
    for folder in (os.path.dirname(np.__file__) + ".libs", os.path.join(os.path.dirname(np.__file__), ".libs")):
        for path in glob.glob(os.path.join(folder, "*openblas*.so*")):
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for suffix in ("scipy_openblas_{}_num_threads64_", "openblas_{}_num_threads64_", "openblas_{}_num_threads"):
                if hasattr(lib, suffix.format("set")) and hasattr(lib, suffix.format("get")):
                    setter, getter = getattr(lib, suffix.format("set")), getattr(lib, suffix.format("get"))
                    break
            if setter is not None:
                break
        if setter is not None:
            break
    if setter is None:
        yield False
        return
    before = int(getter())
    setter(ctypes.c_int(1))
    try:
        yield True
    finally:
        setter(ctypes.c_int(before))


def toy_timing(image: np.ndarray, *, repeats: int = 20, naive: bool = True) -> ToyTiming:
    """Time :func:`toy_reconstruct` (median of ``repeats`` after one warm-up) and, if ``naive``,
    :func:`toy_reconstruct_naive` once, on the same image, both with single-threaded BLAS
    (see :func:`single_threaded_blas`)."""
    with single_threaded_blas():
        fast = toy_reconstruct(image)
        times = []
        for _ in range(max(1, repeats)):
            t0 = time.perf_counter()
            toy_reconstruct(image)
            times.append(time.perf_counter() - t0)
        slow = toy_reconstruct_naive(image) if naive else None
    return ToyTiming(fast, float(np.median(times)), slow, slow.seconds if slow is not None else float("nan"))


# --------------------------------------------------------------------------------------------
# Blending
# --------------------------------------------------------------------------------------------

@dataclass
class BlendResult:
    """A blend and what it took.  ``image`` is the exact solution (float64, not clipped)."""

    image: np.ndarray  # (H, W) or (H, W, C) float64, target size
    mask: np.ndarray  # (H, W) bool: Omega, the solved pixels, in target coordinates
    mode: str
    offset: tuple[int, int]
    unknowns: int
    residual: np.ndarray  # (C,) ||b - A x|| / ||b|| per channel (0 where nothing was solved)
    iterations: int
    seconds: float

    @property
    def clipped(self) -> np.ndarray:
        """The image clipped to [0, 1] for display or saving."""
        return np.clip(self.image, 0.0, 1.0)

    @property
    def max_residual(self) -> float:
        return float(np.max(self.residual)) if self.residual.size else 0.0

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
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (2, 3, 4)) or min(arr.shape[:2]) < 1:
        raise UserError(f"{what} must be (H, W) grey or (H, W, 3) colour, optionally with alpha; got shape {arr.shape}")
    if arr.size and not (np.isfinite(arr.min()) and np.isfinite(arr.max())):  # NaN propagates
        raise UserError(f"{what} contains NaN or infinite values")
    return arr


def _split_alpha(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """``(colour, alpha)``: the last channel of a grey+alpha or RGBA image is its alpha."""
    if arr.ndim == 3 and arr.shape[2] in (2, 4):
        colour = arr[..., :-1]
        return (colour[..., 0] if colour.shape[2] == 1 else colour), arr[..., -1]
    return arr, None


def place_mask(mask: np.ndarray, target_shape: tuple[int, int], offset: tuple[int, int] = (0, 0)) -> np.ndarray:
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
        raise UserError(f"offset {offset!r}: give two whole numbers (dy, dx), e.g. (0, 0) or (-20, 35)") from exc


def _prepare(source, target, mask, offset, threshold: float):
    """Validate the inputs; return (src (Hs,Ws[,C]), tgt (H,W[,C]), target alpha, mask (Hs,Ws) bool, offset)."""
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
            raise UserError(f"mask must be a single-channel (H, W) image, got shape {marr.shape}; load it in mode 'L'")
        if marr.dtype != bool and not (np.issubdtype(marr.dtype, np.number) and np.isfinite(marr).all()):
            raise UserError("mask must be boolean or numbers (0/1 or values in [0, 1])")
        m = marr if marr.dtype == bool else marr > threshold
        if m.shape != src.shape[:2]:
            raise UserError(
                f"mask is {m.shape[0]}x{m.shape[1]} but the source is {src.shape[0]}x{src.shape[1]} (HxW); "
                "they must be the same size"
            )
    if offset == (0, 0) and src.shape[:2] != tgt.shape[:2]:
        raise UserError(
            f"source is {src.shape[0]}x{src.shape[1]} but the target is {tgt.shape[0]}x{tgt.shape[1]} (HxW); "
            "use images of the same size, or place the source with an offset (dy, dx)"
        )
    if src.ndim != tgt.ndim:  # one grey, one colour: blend in colour
        src = src if src.ndim == 3 else np.repeat(src[..., None], 3, axis=2)
        tgt = tgt if tgt.ndim == 3 else np.repeat(tgt[..., None], 3, axis=2)
    return src, tgt, tgt_alpha, m, offset


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
        image = out if tgt_alpha is None else np.concatenate(
            [out if out.ndim == 3 else out[..., None], tgt_alpha[..., None].astype(np.float64)], axis=2
        )
        return BlendResult(image, omega, mode, offset, int(omega.sum()), residual, iterations, time.perf_counter() - t0)

    if not m.any():
        return _finish(np.zeros(channels), 0)
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
    system = PoissonSystem(omega)
    # windows keep the inputs' float32 (or float64) values; the guidance is built in float64
    work = np.result_type(src.dtype, tgt.dtype, np.float32)
    tb = system.to_box(tgt, dtype=work)
    src_chw = src[None] if src.ndim == 2 else np.moveaxis(src, 2, 0)
    origin_in_source = (system.origin[0] - offset[0], system.origin[1] - offset[1])
    sb = _window(src_chw, origin_in_source, system.shape, work)
    valid = None
    covered = _window(np.ones((1,) + src.shape[:2], dtype=bool), origin_in_source, system.shape, bool)[0]
    covered &= system.to_box(np.ones((h, w), dtype=bool), dtype=bool)[0]  # and inside the target
    if not covered.ravel()[system.ring].all():
        valid = covered
    g = guidance_divergence(sb, tb, mode=mode, source_valid=valid)
    g *= system.inside32
    # ||b|| of the full system b = g + A t_Omega (float32 is plenty for a normaliser)
    b = system.apply(np.multiply(tb, system.inside32, dtype=np.float32))
    b += g.astype(np.float32)
    bnorm = np.sqrt(_channel_dot(b, b))
    e, info = solve(system, g, tol=tol, rhs_norm=bnorm)
    system.add_to_image(out, e)
    return _finish(info.residual, info.iterations)


def naive_paste(source: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None, *, offset=(0, 0), threshold: float = MASK_THRESHOLD) -> np.ndarray:
    """Copy the masked source pixels onto the target (the seam-showing baseline), float64."""
    src, tgt, tgt_alpha, m, offset = _prepare(source, target, mask, offset, threshold)
    out = tgt.astype(np.float64)
    omega = place_mask(m, tgt.shape[:2], offset)
    ys, xs = np.nonzero(omega)
    out[ys, xs] = src[ys - offset[0], xs - offset[1]]
    return out


def relative_residual(result: BlendResult, source: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Independent check: ``||b - A x|| / ||b||`` per channel with ``A``, ``b`` assembled as
    sparse matrices (:func:`helpers.gradients.masked_laplacian`), not with the solver's stencils."""
    from .gradients import masked_laplacian

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
            gs = np.where(sok, src3[sy, sx, c] - src3[np.clip(ty, 0, hs - 1), np.clip(tx, 0, ws - 1), c], gt)
            v = np.where(np.abs(gs) >= np.abs(gt), gs, gt) if result.mode == "mixed" else gs
            v = np.where(sok, v, gt)
            contrib = v + np.where(omega[qy, qx], 0.0, tgt3[qy, qx, c])
            np.add.at(bvec, np.flatnonzero(ok), contrib)
        x = img[ys, xs, c]
        res.append(np.linalg.norm(bvec - a @ x) / np.linalg.norm(bvec))
    return np.array(res)


# --------------------------------------------------------------------------------------------
# The sample examples (data/gdf/<name>/) and OpenCV for comparison
# --------------------------------------------------------------------------------------------

@dataclass
class Example:
    """One blending example: source aligned to the target canvas, target, mask (target coords)."""

    name: str
    source: np.ndarray  # (H, W, 3) float32 in [0, 1]
    target: np.ndarray  # (H, W, 3) float32 in [0, 1]
    mask: np.ndarray  # (H, W) bool


def list_examples() -> list[str]:
    """Names of the blending examples in the asset manifest (folders ``gdf/<name>/`` with a mask)."""
    from .assets import load_manifest

    names = set()
    for asset in load_manifest():
        parts = asset.path.split("/")
        if len(parts) == 3 and parts[0] == "gdf" and parts[2] == "mask.png":
            names.add(parts[1])
    return sorted(names)


def _example_file(name: str, stem: str) -> str:
    from .assets import load_manifest

    for asset in load_manifest():
        parts = asset.path.split("/")
        if len(parts) == 3 and parts[:2] == ["gdf", name] and parts[2].rsplit(".", 1)[0] == stem:
            return asset.path
    raise UserError(f"example {name!r} has no {stem} image; known examples: {', '.join(list_examples())}")


def load_example(name: str, *, size: int | tuple[int, int] | str | None = None) -> Example:
    """Load ``data/gdf/<name>/{source,target,mask}`` (any of .png/.jpg) as float images.

    Args:
        name: one of :func:`list_examples`.
        size: ``None`` = full resolution; ``N`` = downscale so the longer side is at most N
            (aspect kept); ``(W, H)`` or ``"WxH"`` = exactly that size (the Berkeley writeup's
            224x224 renders).  The mask is resized as grey levels and thresholded at 0.5.
    """
    from .assets import asset_path
    from .images import load_image, parse_size, resize

    if name not in list_examples():
        raise UserError(f"unknown example {name!r}; known examples: {', '.join(list_examples())}")
    source = load_image(asset_path(_example_file(name, "source")), mode="RGB")
    target = load_image(asset_path(_example_file(name, "target")), mode="RGB")
    mask = load_image(asset_path(_example_file(name, "mask")), mode="L")
    size = parse_size(size)
    if size is not None and (isinstance(size, tuple) or max(target.shape[:2]) > size):
        source, target, mask = resize(source, size), resize(target, size), resize(mask, size)
    return Example(name, source, target, mask > MASK_THRESHOLD)


def opencv_clone(source: np.ndarray, target: np.ndarray, mask: np.ndarray, *, mode: str = "poisson") -> np.ndarray:
    """``cv2.seamlessClone`` (NORMAL_CLONE or MIXED_CLONE) on the same inputs, for comparison.

    OpenCV approximates the problem (guidance on the mask's bounding box, its own gradient
    mixing rule) and works in 8 bits; it places the mask's bounding-box centre at the same
    spot, so the result lines up with :func:`blend` at offset 0.  Returns float32 in [0, 1].
    Raises :class:`UserError` when OpenCV is not installed (``pip install '.[opencv]'``).
    """
    try:
        import cv2
    except ImportError as exc:
        raise UserError("OpenCV is not installed; pip install -e '.[opencv]' to compare with cv2.seamlessClone") from exc
    from .images import to_uint8

    m = np.asarray(mask, dtype=bool)
    ys, xs = np.nonzero(m)
    if ys.size == 0:
        return np.asarray(target, dtype=np.float32).copy()
    src8 = to_uint8(source)
    tgt8 = to_uint8(target)
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


COLUMNS = ("mask", "source", "target", "naive paste", "Poisson", "mixed", "OpenCV normal", "OpenCV mixed")
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
            return f"{column}\nres {self.residuals[column]:.1e}, {self.seconds[column] * 1e3:.0f} ms"
        if column in self.seconds:
            return f"{column}\n{self.seconds[column] * 1e3:.0f} ms" if self.images.get(column) is not None else f"{column}\n(not installed)"
        return column


def compare_example(example: str | Example, *, size: int | tuple[int, int] | str | None = None, opencv: bool = True) -> Comparison:
    """Blend one example every way: naive paste, Poisson, mixed, and (if installed) OpenCV's
    NORMAL_CLONE and MIXED_CLONE, on the same inputs.  ``size`` as in :func:`load_example`."""
    ex = load_example(example, size=size) if isinstance(example, str) else example
    images = {"mask": ex.mask.astype(np.float32), "source": ex.source, "target": ex.target}
    seconds, residuals, iterations = {}, {}, {}
    t0 = time.perf_counter()
    images["naive paste"] = naive_paste(ex.source, ex.target, ex.mask)
    seconds["naive paste"] = time.perf_counter() - t0
    unknowns = 0
    results = {}
    for column, mode in (("Poisson", "poisson"), ("mixed", "mixed")):
        res = blend(ex.source, ex.target, ex.mask, mode=mode)
        results[column] = res
        images[column] = res.clipped
        seconds[column] = res.seconds
        residuals[column] = res.max_residual
        iterations[column] = res.iterations
        unknowns = res.unknowns
    use_cv = opencv and opencv_available()
    for column, mode in (("OpenCV normal", "poisson"), ("OpenCV mixed", "mixed")):
        if use_cv:
            t0 = time.perf_counter()
            images[column] = opencv_clone(ex.source, ex.target, ex.mask, mode=mode)
            seconds[column] = time.perf_counter() - t0
        else:
            images[column] = None
            seconds[column] = float("nan")
    return Comparison(ex.name, images, seconds, residuals, unknowns, iterations, results, ex)


def compare_examples(names: list[str] | tuple[str, ...], *, size=None, opencv: bool = True) -> list[Comparison]:
    """:func:`compare_example` for each name (one call processes the whole list)."""
    return [compare_example(name, size=size, opencv=opencv) for name in names]


def comparison_table(comparisons: list[Comparison]) -> str:
    """A plain-text table: size, unknowns, residuals, iterations and times per example."""
    rows = [("example", "size", "unknowns", "Poisson res / it / ms", "mixed res / it / ms",
             "OpenCV normal / mixed ms", "|exact - OpenCV| normal / mixed")]
    for c in comparisons:
        h, w = c.shape
        cv = c.seconds["OpenCV normal"], c.seconds["OpenCV mixed"]
        if np.isnan(cv[0]):
            cv_text = diff_text = "not installed"
        else:
            cv_text = f"{cv[0] * 1e3:.0f} / {cv[1] * 1e3:.0f}"
            diff_text = f"{c.opencv_difference('Poisson'):.1f} / {c.opencv_difference('mixed'):.1f} levels"
        rows.append((
            c.name, f"{w}x{h}", f"{c.unknowns:,}",
            f"{c.residuals['Poisson']:.1e} / {c.iterations['Poisson']} / {c.seconds['Poisson'] * 1e3:.0f}",
            f"{c.residuals['mixed']:.1e} / {c.iterations['mixed']} / {c.seconds['mixed'] * 1e3:.0f}",
            cv_text, diff_text,
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(wd) for cell, wd in zip(r, widths)) for r in rows]
    lines.insert(1, "  ".join("-" * wd for wd in widths))
    return "\n".join(lines)


def save_comparisons(comparisons: list[Comparison], save: Callable[[str, np.ndarray], object], *, suffix: str = "",
                     columns: tuple[str, ...] = ("Poisson", "mixed")) -> list[str]:
    """Save the blended images of ``columns`` via ``save(name, image)`` (e.g. ``run.save_image``)
    as ``<example>-<method><suffix>``; returns the names.  (By default only the exact blends:
    OpenCV's output depends on its version, so it does not belong in a regression check.)"""
    names = []
    for c in comparisons:
        for column in columns:
            if c.images.get(column) is not None:
                name = f"{c.name}-{column.lower().replace(' ', '-')}{suffix}"
                save(name, c.images[column])
                names.append(name)
    return names


def blend_panel(example: str = "penguin_snow", *, enabled: bool = True, size: int = 320):
    """An ipywidgets panel: move the source with offset sliders and switch Poisson / mixed.

    Returns the widget (display it in a notebook).  With ``enabled=False`` (headless runs)
    it builds nothing and returns None.
    """
    if not enabled:
        print("interactive panel off: set INTERACTIVE = True in the parameters cell to use it")
        return None
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    ex = load_example(example, size=size)
    h, w = ex.target.shape[:2]
    dy = widgets.IntSlider(value=0, min=-h // 2, max=h // 2, description="offset dy")
    dx = widgets.IntSlider(value=0, min=-w // 2, max=w // 2, description="offset dx")
    mode = widgets.ToggleButtons(options=["poisson", "mixed"], description="mode")
    out = widgets.Output()

    def update(_=None):
        with out:
            out.clear_output(wait=True)
            try:
                res = blend(ex.source, ex.target, ex.mask, mode=mode.value, offset=(dy.value, dx.value))
            except UserError as exc:
                print(f"error: {exc}")
                return
            fig, ax = plt.subplots(figsize=(6, 6 * h / w))
            ax.imshow(res.clipped)
            ax.set_axis_off()
            ax.set_title(res.summary(), fontsize=8)
            display(fig)
            plt.close(fig)

    for control in (dy, dx, mode):
        control.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([dy, dx]), mode, out])


def mask_crop(image: np.ndarray, mask: np.ndarray, *, margin: float = 0.25) -> np.ndarray:
    """``image`` cut to the mask's bounding box grown by ``margin`` of its size on each side."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return image
    h, w = mask.shape
    my, mx = int((ys.max() - ys.min() + 1) * margin) + 2, int((xs.max() - xs.min() + 1) * margin) + 2
    return image[max(ys.min() - my, 0) : min(ys.max() + my + 1, h), max(xs.min() - mx, 0) : min(xs.max() + mx + 1, w)]


def pick(comparisons: list[Comparison], names: list[str] | tuple[str, ...]) -> list[Comparison]:
    """The comparisons whose example is in ``names`` (in ``comparisons`` order; all if none match)."""
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


def summarize(comparisons: list[Comparison]) -> ComparisonSummary:
    """Collect the invariants and metrics of :func:`compare_examples` results in one object."""
    metrics = {
        c.name: {
            "residual_poisson": c.residuals["Poisson"],
            "residual_mixed": c.residuals["mixed"],
            "unknowns": c.unknowns,
            "seconds_poisson": c.seconds["Poisson"],
            "seconds_mixed": c.seconds["mixed"],
            "seconds_opencv": None if np.isnan(c.seconds["OpenCV normal"]) else c.seconds["OpenCV normal"],
        }
        for c in comparisons
    }
    return ComparisonSummary(
        names=[c.name for c in comparisons],
        max_residual=max((max(c.residuals.values()) for c in comparisons), default=0.0),
        outside_exact=all(c.outside_exact for c in comparisons),
        finite=all(np.isfinite(c.images[k]).all() for c in comparisons for k in ("Poisson", "mixed")),
        opencv_complete=all(c.images["OpenCV normal"] is not None and c.images["OpenCV mixed"] is not None for c in comparisons),
        metrics=metrics,
    )
