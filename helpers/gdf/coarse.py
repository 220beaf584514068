"""The solver's coarse space: bilinear hats on a lattice, cut off by the mask (Galerkin).

What the spectral box solve gets wrong lives along the boundary of ``Omega`` and is smooth
along it; :class:`CoarseSpace` removes it with ``Q = Z (Z^T A Z)^{-1} Z^T`` (one small sparse
LU), the second level of :class:`helpers.gdf.system.PoissonSystem`'s preconditioner.

Part of :mod:`helpers.gdf`, below the solver; imports nothing of ours.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

__all__ = ["COARSE_REGULARISATION", "COARSE_SPACING", "CoarseSpace"]

COARSE_SPACING = 8
"""Lattice spacing (pixels) of the bilinear coarse space."""

COARSE_REGULARISATION = 1e-8
"""Relative diagonal shift of the coarse matrix: bounds the coefficients of nearly dependent hats
(a 1-pixel-wide line of Omega between two lattice rows) without spoiling the Galerkin property."""


class CoarseSpace:
    """``Q = Z (Z^T A Z)^{-1} Z^T`` with ``Z = diag(inside) P``, ``P`` bilinear interpolation.

    ``Z^T A Z`` is assembled from the edge form ``x^T A x = sum_{Omega-Omega edges}
    (x_p - x_q)^2 + sum_p dirichlet_p x_p^2`` with weighted block sums (no sparse products).

    Args:
        inside: ``(ny, nx)`` the box's Omega indicator.
        dirichlet_idx, dirichlet_weight: flat box indices of Omega pixels with a Dirichlet
            weight (their neighbours outside Omega, plus pins) and those weights.
        spacing: lattice spacing ``a`` in pixels.
        dtype: the work dtype of the products.

    ``n`` is the number of coarse unknowns (0: no coarse space, ``lu`` is None); ``matrix``
    is ``Z^T A Z`` (regularised) and ``lu`` its factorisation.
    """

    def __init__(
        self,
        inside: np.ndarray,
        dirichlet_idx: np.ndarray,
        dirichlet_weight: np.ndarray,
        spacing: int,
        dtype=np.float32,
    ) -> None:
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
        stencil = self._edge_stencil(ins, p3)
        self._add_dirichlet(stencil, dirichlet_idx, dirichlet_weight, p3)

        # Keep only the nodes that are the nearest node of some Omega pixel.  A node whose hat
        # merely grazes Omega (a thin line of pixels near the far side of its cell) would be
        # nearly proportional to its neighbour there, making Z^T A Z near-singular and the
        # coefficients huge (and float32 products meaningless).
        mass = self._restrict_grid(ins[None].astype(np.float32))[0]
        active = (mass >= 1.0) & (stencil[0] > 0)
        self.active = np.flatnonzero(active.ravel())
        self.n = self.active.size
        if self.n == 0:
            self.lu = None
            return
        matrix = self._assemble(stencil)
        self.matrix = matrix
        self.lu = spla.splu(matrix, permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})
        self.inside_w = inside.astype(dtype)

    # -- assembly of Z^T A Z -------------------------------------------------------------
    def _edge_stencil(self, ins: np.ndarray, p3: np.ndarray) -> tuple[np.ndarray, ...]:
        """The Omega-Omega edge terms of ``Z^T A Z`` as lattice stencils.

        Returns ``(cen, east, south, se, sw)``, each ``(my, mx)``: node ``(I, J)`` with itself,
        with ``(I, J + 1)``, ``(I + 1, J)``, ``(I + 1, J + 1)`` and ``(I + 1, J - 1)``.
        """
        a = self.a
        ones = np.ones(a, dtype=np.float32)
        # x-pairs (y, x)-(y, x+1) inside Omega, summed over the x of each block: (ky, a, kx)
        wh = (ins[:, :-1] & ins[:, 1:]).astype(np.float32)
        hblk = (self._pad(wh).reshape(self.ky, a, self.kx, a) @ ones).astype(np.float64)
        hsum = np.einsum("iak,ab->ikb", hblk, p3) / a**2  # weighted by the y hats: (ky, kx, 3)
        # y-pairs summed over the y of each block, then weighted by the x hats: (ky, kx, 3)
        wv = (ins[:-1, :] & ins[1:, :]).astype(np.float32)
        vblk = np.add.reduce(self._pad(wv).reshape(self.ky, a, self.kx * a), axis=1)
        vblk = vblk.astype(np.float64)
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
        for ys_, h in ((lo_y, h0), (hi_y, h2)):
            cen[ys_, lo_x] += h
            cen[ys_, hi_x] += h
            east[ys_, lo_x] -= h
        south[lo_y, lo_x] += h1
        south[lo_y, hi_x] += h1
        se[lo_y, lo_x] -= h1
        sw[lo_y, hi_x] -= h1
        # y-pairs: y pattern [[1, -1], [-1, 1]] on (I, I+1), x pattern from the hats in x
        for xs_, v in ((lo_x, v0), (hi_x, v2)):
            cen[lo_y, xs_] += v
            cen[hi_y, xs_] += v
            south[lo_y, xs_] -= v
        east[lo_y, lo_x] += v1
        east[hi_y, lo_x] += v1
        se[lo_y, lo_x] -= v1
        sw[lo_y, hi_x] -= v1
        return cen, east, south, se, sw

    def _add_dirichlet(
        self,
        stencil: tuple[np.ndarray, ...],
        dirichlet_idx: np.ndarray,
        dirichlet_weight: np.ndarray,
        p3: np.ndarray,
    ) -> None:
        """Add the Dirichlet neighbours and pins (few pixels) to the stencils, in place:
        ``(P_y^T P_y) (x) (P_x^T P_x)`` weighted per pixel."""
        cen, east, south, se, sw = stencil
        a, nx = self.a, self.shape[1]
        my, mx = self.my, self.mx
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

    def _assemble(self, stencil: tuple[np.ndarray, ...]) -> sp.csc_matrix:
        """``Z^T A Z`` over the active nodes as a sparse matrix (regularised, see below)."""
        cen, east, south, se, sw = stencil
        my, mx = self.my, self.mx
        index = np.full(my * mx, -1, dtype=np.int64)
        index[self.active] = np.arange(self.n)
        index = index.reshape(my, mx)
        rows, cols, vals = [np.arange(self.n)], [np.arange(self.n)], [cen.ravel()[self.active]]
        for dy, dx, arr in ((0, 1, east), (1, 0, south), (1, 1, se), (1, -1, sw)):
            j0, j1 = max(0, -dx), mx - max(0, dx)  # columns J with J + dx inside the lattice
            i0 = index[: my - dy, j0:j1]
            i1 = index[dy:, j0 + dx : j1 + dx]
            val = arr[: my - dy, j0:j1]
            ok = (i0 >= 0) & (i1 >= 0) & (val != 0)
            rows += [i0[ok], i1[ok]]
            cols += [i1[ok], i0[ok]]
            vals += [val[ok], val[ok]]
        rows_a, cols_a = np.concatenate(rows), np.concatenate(cols)
        vals_a = np.concatenate(vals)
        matrix = sp.csc_matrix((vals_a, (rows_a, cols_a)), shape=(self.n, self.n))
        # A tiny shift guards against a (near-)singular coarse matrix from odd mask shapes;
        # Q only has to be a good symmetric positive preconditioner component, not exact.
        return matrix + sp.diags(COARSE_REGULARISATION * vals[0], format="csc")

    # -- transfers between the box and the lattice ---------------------------------------
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
