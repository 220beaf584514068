"""The masked Poisson operator of one region and its two-level preconditioner.

:class:`PoissonSystem` is ``A``, the matrix of :func:`helpers.gdf.operators.masked_laplacian`
(unknowns = the pixels of a region ``Omega``, Dirichlet values outside it, natural Neumann
edges at the image border, optional pinned pixels), applied matrix-free, and the preconditioner
:func:`helpers.gdf.solver.solve`'s CG uses:

* **Spectral preconditioner.**  ``Omega`` sits in a rectangular box on which the 5-point
  Laplacian with the right boundary condition per side (Dirichlet where the box has a margin,
  natural Neumann where ``Omega`` touches the image border) is diagonalised by a fast sine /
  cosine transform (``scipy.fft`` DST-II, DCT-II, DCT-IV or DST-IV per axis;
  :mod:`helpers.gdf.box`).  Restricted to ``Omega`` that box operator *is* ``A``, so
  ``R L_box^{-1} R^T`` is exact away from the boundary of ``Omega`` (a fictitious-domain /
  capacitance preconditioner).
* **Coarse correction.**  What the box solve gets wrong lives along the boundary of
  ``Omega`` and is smooth along it; a Galerkin coarse space of bilinear hat functions on an
  8-pixel lattice, cut off by the mask, removes it (``Z (Z^T A Z)^{-1} Z^T``, one small sparse
  LU; :mod:`helpers.gdf.coarse`).  The two are combined as the balancing / A-DEF2 two-level
  preconditioner (CG starts from the coarse solution, each step applies the box solve then the
  coarse correction), which is symmetric on the residuals CG produces; CG then needs 6-8
  iterations from 256² to 2048².  Small systems (at most ``SMALL_SYSTEM`` unknowns) skip the
  coarse space: the box solve alone needs a few more iterations there, but each costs about
  half and the coarse setup disappears.
* **No stencils in the loop.**  ``A`` times the box solution and times the coarse correction
  are known in closed form (the box operator equals ``A`` on ``Omega`` except for couplings
  to the ring just outside it; the bilinear interpolant's Laplacian lives on lattice lines),
  so an iteration costs two transforms, one small LU solve and a dozen array passes.

Part of :mod:`helpers.gdf`: above the operators, the box and the coarse space; below the solve
path (:mod:`helpers.gdf.solver`).  Imports nothing of ours outside the package.
"""

from __future__ import annotations

import numpy as np

from .box import axis_plan, inverse_eigenvalues, transform, window
from .coarse import COARSE_SPACING, CoarseSpace

__all__ = ["SMALL_SYSTEM", "PoissonSystem"]

SMALL_SYSTEM = 4096
"""Systems with at most this many unknowns use the box solve alone (no coarse space)."""


class PoissonSystem:
    """The masked Poisson operator ``A`` of one region ``Omega`` and its preconditioner.

    Args:
        omega: ``(H, W)`` bool, the unknown pixels (at least one).
        pins: optional ``(H, W)`` float weights added to the diagonal of ``A``
            (:func:`helpers.gdf.operators.masked_laplacian` with the same arguments is the
            same matrix).
        coarse_spacing: lattice spacing of the coarse space (0 disables it); None (the
            default) picks by size: :data:`SMALL_SYSTEM` unknowns or fewer get none (the
            box solve alone needs a few more iterations, but each costs half as much and
            there is no coarse setup), larger systems :data:`COARSE_SPACING`.  A pure Neumann
            box (Omega touches all four borders) always keeps it: it supplies the constant
            mode the box solve drops.

    Vectors live on the *box*, a ``(ny, nx)`` window of the image starting at ``origin``
    (possibly reaching past the image where that side is a Dirichlet margin), as
    channel-first stacks ``(C, ny, nx)`` that are zero off ``Omega``.
    """

    def __init__(
        self,
        omega: np.ndarray,
        *,
        pins: np.ndarray | None = None,
        coarse_spacing: int | None = None,
    ) -> None:
        omega = np.asarray(omega, dtype=bool)
        if omega.ndim != 2 or not omega.any():
            raise ValueError("omega must be a non-empty 2-D boolean mask")
        self.image_shape = h, w = omega.shape
        rows = np.flatnonzero(omega.any(axis=1))
        cols = np.flatnonzero(omega.any(axis=0))
        self.unknowns = unknowns = int(np.count_nonzero(omega))
        if coarse_spacing is None:
            all_borders = rows[0] == 0 and rows[-1] == h - 1 and cols[0] == 0 and cols[-1] == w - 1
            small = unknowns <= SMALL_SYSTEM and not all_borders
            coarse_spacing = 0 if small else COARSE_SPACING
        multiple = coarse_spacing if coarse_spacing else 1
        y0, ny, ky = axis_plan(int(rows[0]), int(rows[-1]), h, multiple)
        x0, nx, kx = axis_plan(int(cols[0]), int(cols[-1]), w, multiple)
        self.origin = (y0, x0)
        self.shape = (ny, nx)
        self.kinds = (ky, kx)

        ins = window(omega[None], self.origin, self.shape, bool)[0]
        self.inside32 = ins.astype(np.float32)
        # CG runs in float32 (memory traffic is the cost); float64 refinement rounds restore
        # accuracy.  (float64 iterations were measured slower even for small problems: a
        # restart after a float64 residual buys more than longer float64 CG runs.)
        self.dtype = np.dtype(np.float32)
        self.inside_w = ins.astype(self.dtype)
        self._find_ring(ins)
        self._find_diagonal_fixes(ins, pins)

        # Spectral inverse of the box Laplacian (eigenvalues per axis add up).
        self.inverse_eigenvalues, self.singular_box = inverse_eigenvalues(
            self.shape, self.kinds, self.dtype
        )

        self._work: dict = {}
        self.coarse = None
        if coarse_spacing:
            self.coarse = self._coarse_space(ins, coarse_spacing)

    def _find_ring(self, ins: np.ndarray) -> None:
        """``ring_pairs``: (Omega pixel p, its neighbour q just outside Omega) per direction;
        ``ring``: those q (off Omega, next to it), as flat box indices."""
        nx = self.shape[1]
        # p is unique within a direction, so fancy-index updates need no accumulation.  q
        # always lies in the image: where Omega touches the image border the box ends there.
        up = np.flatnonzero(ins[1:] & ~ins[:-1]) + nx
        down = np.flatnonzero(ins[:-1] & ~ins[1:])
        yl, xl = np.divmod(np.flatnonzero(ins[:, 1:] & ~ins[:, :-1]), nx - 1)
        left = yl * nx + xl + 1
        yr, xr = np.divmod(np.flatnonzero(ins[:, :-1] & ~ins[:, 1:]), nx - 1)
        right = yr * nx + xr
        self.ring_pairs = [(up, up - nx), (down, down + nx), (left, left - 1), (right, right + 1)]
        self.ring = np.unique(np.concatenate([q for _, q in self.ring_pairs]))
        # The same pairs regrouped so that p is unique within a group (most pixels have one
        # ring neighbour: one big group, then small ones), for fewer indexed updates.
        p_all = np.concatenate([p for p, _ in self.ring_pairs])
        q_all = np.concatenate([q for _, q in self.ring_pairs])
        order = np.argsort(p_all, kind="stable")
        p_sorted = p_all[order]
        run_start = np.flatnonzero(np.r_[True, p_sorted[1:] != p_sorted[:-1]])
        rank = np.arange(p_sorted.size) - np.repeat(
            run_start, np.diff(np.r_[run_start, p_sorted.size])
        )
        self.ring_groups = [
            (p_sorted[rank == k], q_all[order][rank == k])
            for k in range(int(rank.max(initial=-1)) + 1)
        ]

    def _find_diagonal_fixes(self, ins: np.ndarray, pins: np.ndarray | None) -> None:
        """``fix``/``fix_delta``: Omega pixels whose diagonal is not 4 (on the image border,
        fewer neighbours; pins) and the difference; ``pin_idx``/``pin_weight``: the pins."""
        h, w = self.image_shape
        (y0, x0), (ny, nx) = self.origin, self.shape
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
            pins64 = np.asarray(pins, dtype=np.float64)[None]
            pins_box = window(pins64, self.origin, self.shape, np.float64)[0] * ins
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

    def _coarse_space(self, ins: np.ndarray, spacing: int) -> CoarseSpace | None:
        """The coarse space of this Omega (None where it has no node)."""
        # Dirichlet weight of each Omega pixel: its neighbours outside Omega, plus pins
        p_all = np.concatenate([p for p, _ in self.ring_pairs])
        d_idx, d_count = np.unique(p_all, return_counts=True)
        d_weight = d_count.astype(np.float64)
        if self.pin_idx.size:
            d_idx = np.concatenate([d_idx, self.pin_idx])
            d_weight = np.concatenate([d_weight, self.pin_weight])
        coarse = CoarseSpace(ins, d_idx, d_weight, spacing, self.dtype)
        return coarse if coarse.n else None

    # -- layout ---------------------------------------------------------------------------
    def to_box(self, image: np.ndarray, dtype=np.float64) -> np.ndarray:
        """``(H, W)`` or ``(H, W, C)`` image -> ``(C, ny, nx)`` box stack (zero beyond it)."""
        chw = image[None] if image.ndim == 2 else np.moveaxis(image, 2, 0)
        return window(chw, self.origin, self.shape, dtype)

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

        The same operator as :func:`helpers.gdf.operators.masked_laplacian` (on Omega), in five
        whole-array passes: the diagonal is 4 except at the few pixels listed in
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
        if out.flags.c_contiguous:
            out.reshape(-1)[self._flat_index(c)[1]] = 0
        else:
            flat_out[:, self.ring] = 0
        if self.fix.size:
            flat_out[:, self.fix] += self.fix_delta.astype(x.dtype) * flat_x[:, self.fix]
        return out

    def _buffers(self, c: int) -> dict:
        """Work arrays for ``c`` channels, allocated once per system.

        (The CG loop allocates nothing big.)
        """
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

    def _flat_index(self, c: int) -> tuple[list, np.ndarray]:
        """The ring groups and the ring as indices into a flattened ``(c, ny, nx)`` stack
        (one 1-D indexed update per group is several times faster than ``[:, idx]``)."""
        key = ("flat", c)
        if key not in self._work:
            size = self.shape[0] * self.shape[1]
            shift = (np.arange(c) * size)[:, None]
            groups = [((p + shift).ravel(), (q + shift).ravel()) for p, q in self.ring_groups]
            self._work[key] = (groups, (self.ring + shift).ravel())
        return self._work[key]

    def _add_ring(self, out: np.ndarray, u: np.ndarray, dtype, sign: float = 1.0) -> None:
        """``out_p += sign * (sum of u over p's neighbours just outside Omega + pin_p u_p)``
        for ``(C, ny, nx)`` stacks, in place."""
        c = out.shape[0]
        if out.flags.c_contiguous and u.flags.c_contiguous:
            flat_out, flat_u = out.reshape(-1), u.reshape(-1)
            for p_idx, q_idx in self._flat_index(c)[0]:
                if sign > 0:
                    flat_out[p_idx] += flat_u[q_idx]
                else:
                    flat_out[p_idx] -= flat_u[q_idx]
        else:
            flat_out, flat_u = out.reshape(c, -1), u.reshape(c, -1)
            for p_idx, q_idx in self.ring_groups:
                if sign > 0:
                    flat_out[:, p_idx] += flat_u[:, q_idx]
                else:
                    flat_out[:, p_idx] -= flat_u[:, q_idx]
        if self.pin_idx.size:
            flat_out, flat_u = out.reshape(c, -1), u.reshape(c, -1)
            pin_weight = (sign * self.pin_weight).astype(dtype)
            flat_out[:, self.pin_idx] += pin_weight * flat_u[:, self.pin_idx]

    def box_solve(
        self,
        r: np.ndarray,
        out: tuple[np.ndarray, np.ndarray] | None = None,
        *,
        masked: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(y, A y)`` with ``y = R L_box^{-1} R^T r``: the fast transform solve.

        ``A y`` costs no stencil: on Omega the box operator equals ``A`` except that it also
        couples to the ring of pixels just outside Omega, so ``(A y)_p = r_p + sum of the box
        solution u over p's neighbours on that ring`` (plus ``pin_p y_p`` where pins exist).
        """
        c = r.shape[0]
        y, ay = out if out is not None else (np.empty_like(r), np.empty_like(r))
        u = transform(r, self.kinds, inverse=False, in_place=False)
        u *= self.inverse_eigenvalues
        u = transform(u, self.kinds, inverse=True)
        np.copyto(ay, r)
        if self.singular_box:
            mean = r.reshape(c, -1).sum(axis=1, dtype=np.float64) / r[0].size
            ay -= mean.astype(r.dtype)[:, None, None] * self.inside_w
        self._add_ring(ay, u, r.dtype)
        if not masked:  # the caller cuts to Omega later (saves a pass)
            return u, ay
        np.multiply(u, self.inside_w, out=y)
        return y, ay

    def coarse_solve(
        self,
        r: np.ndarray,
        out: np.ndarray | None = None,
        subtract_from: np.ndarray | None = None,
        *,
        masked: bool = True,
    ) -> tuple[np.ndarray, np.ndarray | None]:
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
        self._add_lattice_laplacian(av, grid, tx, sign)
        self._add_ring(av, v, r.dtype, sign)
        if masked:
            v *= self.inside_w
        return v, (av if subtract_from is None else None)

    def _add_lattice_laplacian(
        self, av: np.ndarray, grid: np.ndarray, tx: np.ndarray, sign: float
    ) -> None:
        """``av += sign * (box Laplacian of the interpolant)`` on Omega, in place.

        ``grid``: the ``(C, my, mx)`` node values, ``tx``: them interpolated along x.  Only
        lattice rows and columns (and Neumann image borders) carry a nonzero Laplacian.
        """
        co = self.coarse
        a = co.a
        ny, nx = self.shape
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
            mid, right = grid[:, :, 1 : n_cols + 1], grid[:, :, 2 : n_cols + 2]
            second = 2 * mid - right - grid[:, :, :n_cols]
            d2 = co.interp_y(second * (sign / a))
            av[:, :, cols] += d2 * ins[:, cols]
        if kx_lo == "N" and nx >= 2:
            edge = co.interp_y((grid[:, :, :1] - grid[:, :, 1:2]) * (sign / a))
            av[:, :, 0] += edge[:, :, 0] * ins[:, 0]
        if kx_hi == "N" and nx >= 2:
            k = (nx - 2) // a
            edge = co.interp_y((grid[:, :, k + 1 : k + 2] - grid[:, :, k : k + 1]) * (sign / a))
            av[:, :, nx - 1] += edge[:, :, 0] * ins[:, nx - 1]

    def deflate(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(x0, A x0)`` with ``x0 = Q r``: the coarse solution.

        A start whose residual has ``Z^T r = 0``.
        """
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
        # ay -= A v in place
        v, _ = self.coarse_solve(ay, out=work["v_out"], subtract_from=ay, masked=False)
        u -= v
        u *= self.inside_w
        return u, ay
