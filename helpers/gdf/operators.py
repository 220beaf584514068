"""Discrete gradient operators on the pixel grid, shared by every gradient-domain method.

Conventions (Pérez, Gangnet & Blake 2003, Sec. 2, discrete form):

* pixels are ``(y, x)`` on an ``H x W`` grid, flattened in raster order ``y * W + x``;
* ``N_p`` are the 4-neighbours of ``p`` *that exist in the image*: a pixel on the image
  border has fewer neighbours, which is the natural (Neumann) boundary condition;
* forward differences ``(D u)_e = u_q - u_p`` for every edge ``e = (p, q)`` with ``q`` the
  right (``Dx``) or lower (``Dy``) neighbour, so ``D^T D`` is the grid graph Laplacian;
* the masked 5-point Laplacian of a region ``Omega`` is
  ``A[p, p] = |N_p| (+ pin weight)``, ``A[p, q] = -1`` for ``q in N_p ∩ Omega`` — the matrix
  of Pérez Eq. 7 with unknowns the pixels of ``Omega`` only.

Everything here is vectorised index arithmetic: no Python loop over pixels.
Arrays are float images ``(H, W)`` or ``(H, W, C)`` in [0, 1]; :func:`guidance_divergence`
works on channel-first stacks ``(C, H, W)``, the layout the solver uses.  The solver's
matrix-free products (:mod:`helpers.gdf.system`) are tested against :func:`masked_laplacian`.

Part of :mod:`helpers.gdf` (the gradient-domain package): the bottom layer, imported by the
solver, the toy problem and blending; it imports nothing of ours.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = [
    "forward_differences",
    "gradients",
    "grid_laplacian",
    "masked_laplacian",
    "mixed_gradient",
    "neighbour_count",
    "guidance_divergence",
]


def forward_differences(shape: tuple[int, int]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Sparse forward-difference operators ``(Dx, Dy)`` for an ``(H, W)`` grid.

    ``Dx``: ``(H * (W - 1), H * W)``, row ``y * (W - 1) + x`` is ``u[y, x + 1] - u[y, x]``;
    ``Dy``: ``((H - 1) * W, H * W)``, row ``y * W + x`` is ``u[y + 1, x] - u[y, x]``.
    """
    h, w = (int(v) for v in shape)
    idx = np.arange(h * w).reshape(h, w)

    def _diff(lo: np.ndarray, hi: np.ndarray) -> sp.csr_matrix:
        # CSR directly: row e holds (p, -1), (q, +1) with p < q, so every row is sorted
        m = lo.size
        cols = np.stack([lo.ravel(), hi.ravel()], axis=1).ravel()
        vals = np.tile(np.array([-1.0, 1.0]), m)
        indptr = np.arange(0, 2 * m + 1, 2)
        return sp.csr_matrix((vals, cols, indptr), shape=(m, h * w))

    return _diff(idx[:, :-1], idx[:, 1:]), _diff(idx[:-1, :], idx[1:, :])


def gradients(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward differences of an image as arrays: ``gx (H, W-1, ...)``, ``gy (H-1, W, ...)``.

    The same numbers as ``Dx @ u`` and ``Dy @ u`` (per channel), computed with ``np.diff``.
    """
    image = np.asarray(image)
    return np.diff(image, axis=1), np.diff(image, axis=0)


def grid_laplacian(shape: tuple[int, int]) -> sp.csr_matrix:
    """``D^T D`` for the full ``(H, W)`` grid: the graph Laplacian with natural Neumann borders."""
    dx, dy = forward_differences(shape)
    return (dx.T @ dx + dy.T @ dy).tocsr()


def neighbour_count(shape: tuple[int, int]) -> np.ndarray:
    """``|N_p|`` for every pixel of an ``(H, W)`` grid: 4 inside, 3 on edges, 2 in corners."""
    h, w = shape
    count = np.full((h, w), 4.0)
    count[0, :] -= 1
    count[-1, :] -= 1
    count[:, 0] -= 1
    count[:, -1] -= 1
    return np.maximum(count, 0.0)


def masked_laplacian(mask: np.ndarray, *, pins: np.ndarray | None = None) -> sp.csr_matrix:
    """The masked 5-point Laplacian ``A`` (Pérez Eq. 7) over the pixels where ``mask`` is true.

    Args:
        mask: ``(H, W)`` bool, the unknown pixels ``Omega``.
        pins: optional ``(H, W)`` float weights added to the diagonal (a pinned pixel of the
            toy problem contributes ``w * (u_p - value)^2`` to the least-squares energy).

    Returns:
        ``(n, n)`` CSR matrix, ``n = mask.sum()``, unknowns in raster order of ``mask``.
        ``A[p, p] = |N_p| + pins[p]`` and ``A[p, q] = -1`` for 4-neighbours ``q`` inside
        ``Omega``.  Neighbours outside ``Omega`` but inside the image are Dirichlet values
        (they go to the right-hand side); neighbours outside the image do not exist.
    """
    mask = np.asarray(mask, dtype=bool)
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    n = ys.size
    index = np.full((h, w), -1, dtype=np.int64)
    index[ys, xs] = np.arange(n)
    diag = neighbour_count((h, w))[ys, xs]
    if pins is not None:
        diag = diag + np.asarray(pins, dtype=np.float64)[ys, xs]
    # Columns in raster order (up, left, self, right, down) keep every CSR row sorted.
    cols = np.full((n, 5), -1, dtype=np.int64)
    up, left, right, down = ys > 0, xs > 0, xs < w - 1, ys < h - 1
    cols[up, 0] = index[ys[up] - 1, xs[up]]
    cols[left, 1] = index[ys[left], xs[left] - 1]
    cols[:, 2] = np.arange(n)
    cols[right, 3] = index[ys[right], xs[right] + 1]
    cols[down, 4] = index[ys[down] + 1, xs[down]]
    vals = np.full((n, 5), -1.0)
    vals[:, 2] = diag
    keep = cols >= 0
    indptr = np.concatenate([[0], np.cumsum(keep.sum(axis=1))])
    return sp.csr_matrix((vals[keep], cols[keep], indptr), shape=(n, n))


def mixed_gradient(source_diff: np.ndarray, target_diff: np.ndarray) -> np.ndarray:
    """Pérez Eq. 13, the mixed guidance: per pixel pair (and channel) the source's difference
    where ``|s_p - s_q| >= |t_p - t_q|`` (ties go to the source), else the target's."""
    return np.where(np.abs(source_diff) >= np.abs(target_diff), source_diff, target_diff)


def guidance_divergence(
    source: np.ndarray,
    target: np.ndarray,
    *,
    mode: str = "poisson",
    source_valid: np.ndarray | None = None,
) -> np.ndarray:
    """``sum_{q in N_p} (v_pq - (t_p - t_q))`` for every pixel of a channel-first window.

    This is the right-hand side of the *correction* problem ``A e = g`` whose solution gives
    the blend ``f = t + e`` (on Omega; the caller masks it).  ``v_pq`` is the guidance of
    Pérez Eq. 11 (``"poisson"``: ``s_p - s_q``) or Eq. 12/13 (``"mixed"``: :func:`mixed_gradient`,
    per pixel pair and per channel).  Pairs touching a pixel where ``source_valid`` is false (the
    source does not cover it) fall back to the target gradient, i.e. contribute nothing.

    Args:
        source, target: ``(C, h, w)`` float windows of the placed source and the target
            (float32 is fine: differences are taken in float64, where they are exact).
        source_valid: optional ``(h, w)`` bool, where the placed source exists.

    Returns ``(C, h, w)`` float64.  Only pairs inside the window are used (it is the image, or
    a window that contains Omega and its neighbours).
    """
    if mode not in ("poisson", "mixed"):
        raise ValueError(f"mode must be 'poisson' or 'mixed', got {mode!r}")
    out = np.zeros(source.shape, dtype=np.float64)
    # float32 inputs: every difference is taken in float64, where it is exact
    diff = np.subtract(source, target, dtype=np.float64) if mode == "poisson" else None
    for axis in (1, 2):  # y pairs, x pairs (two whole-array passes, not a pixel loop)
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis] = slice(None, -1)
        hi[axis] = slice(1, None)
        lo, hi = tuple(lo), tuple(hi)
        if mode == "mixed":
            ds = np.subtract(source[hi], source[lo], dtype=np.float64)
            dt = np.subtract(target[hi], target[lo], dtype=np.float64)
            edge = mixed_gradient(ds, dt) - dt  # exactly 0 where the target wins
        else:
            edge = np.subtract(diff[hi], diff[lo])  # (s_q - s_p) - (t_q - t_p)
        if source_valid is not None:
            sv = np.asarray(source_valid, dtype=bool)
            edge = edge * ((sv[:-1, :] & sv[1:, :]) if axis == 1 else (sv[:, :-1] & sv[:, 1:]))
        # g_p = sum_q (d_p - d_q): the edge (p, p+1) adds -edge to p and +edge to p+1.
        out[lo] -= edge
        out[hi] += edge
    return out
