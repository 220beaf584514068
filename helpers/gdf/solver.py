"""The one solve path of the gradient-domain methods: PCG on the masked Poisson system.

:func:`solve` solves ``A x = b`` for a :class:`helpers.gdf.system.PoissonSystem` (the masked
Poisson matrix of :func:`helpers.gdf.operators.masked_laplacian` and its two-level spectral +
coarse preconditioner); the toy problem, blending and the edits (:mod:`helpers.gdf.toy`,
:mod:`helpers.gdf.blending`, :mod:`helpers.gdf.editing`) only build ``Omega`` and ``b`` and
call it.

**Mixed precision.**  The iterations run in float32 on all channels at once (one box
transform per iteration for the whole ``(C, h, w)`` stack); the residual is recomputed in
float64 and the correction refined until ``||b - A x|| <= tol ||b||`` per channel, so the
result is exact to ``tol`` whatever float32 loses.

Part of :mod:`helpers.gdf`: above the system; below the toy problem and blending.  Imports
nothing of ours outside the package.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .system import PoissonSystem

__all__ = ["SolveInfo", "channel_dot", "solve"]


@dataclass
class SolveInfo:
    """What :func:`solve` did: CG iterations, float64 refinement rounds, final residual."""

    iterations: int
    rounds: int
    residual: np.ndarray  # ||b - A x|| / ||b|| per channel, float64
    converged: bool


def channel_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-channel dot products of two ``(C, h, w)`` stacks, as float64 ``(C,)``.

    float32 goes through BLAS ``sdot``; float64 deliberately does not: OpenBLAS's threaded
    ``ddot`` was measured at ~16 ms per call *whatever the length* on a busy 2-core machine.
    """
    c = a.shape[0]
    a2, b2 = a.reshape(c, -1), b.reshape(c, -1)
    if a.dtype == np.float32 and b.dtype == np.float32:
        return np.array([np.dot(a2[i], b2[i]) for i in range(c)], dtype=np.float64)
    return np.einsum("ij,ij->i", a2, b2)


def _pcg(
    system: PoissonSystem, rhs: np.ndarray, tol_abs: np.ndarray, maxiter: int
) -> tuple[np.ndarray, int]:
    """Preconditioned CG in the system's work dtype on all channels at once.

    Solves ``A x = rhs`` to ``||r|| <= tol_abs``.

    Starts from the coarse solution (so residuals stay orthogonal to the coarse space, see
    :meth:`PoissonSystem.precondition`); ``A p`` comes by recurrence from the ``A z`` the
    preconditioner returns, so an iteration costs one box solve, two stencils, one coarse solve.
    """
    x, ax = system.deflate(rhs)
    r = rhs - ax
    if np.all(np.sqrt(channel_dot(r, r)) <= tol_abs):
        return x, 0
    z, az = system.precondition(r)
    p, q = z.copy(), az.copy()  # z, az are the preconditioner's work buffers
    rz = channel_dot(r, z)
    tmp = np.empty_like(r)
    history = []
    it = 0
    for it in range(1, maxiter + 1):
        pq = channel_dot(p, q)
        alpha = np.divide(rz, pq, out=np.zeros_like(rz), where=pq > 0)
        alpha = alpha.astype(r.dtype)[:, None, None]
        x += np.multiply(p, alpha, out=tmp)
        r -= np.multiply(q, alpha, out=tmp)
        res = np.sqrt(channel_dot(r, r))
        if np.all(res <= tol_abs):
            break
        history.append(float(np.max(res / np.maximum(tol_abs, 1e-300))))
        if it > 10 and history[-1] > 0.5 * history[-11]:
            break  # stagnation (float32 rounding): let the float64 refinement round take over
        z, az = system.precondition(r)
        rz_new = channel_dot(r, z)
        beta = np.divide(rz_new, rz, out=np.zeros_like(rz), where=rz > 0)
        beta = beta.astype(r.dtype)[:, None, None]
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
    if rhs_norm is None:
        norm_b = np.sqrt(channel_dot(rhs, rhs))
    else:
        norm_b = np.asarray(rhs_norm, dtype=np.float64)
    goal = tol * norm_b
    x = np.zeros_like(rhs)
    r = rhs
    res = np.sqrt(channel_dot(r, r))
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
        res = np.sqrt(channel_dot(r, r))
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(norm_b > 0, res / np.where(norm_b > 0, norm_b, 1.0), 0.0)
    return x, SolveInfo(iterations, rounds, rel, bool(np.all(res <= goal)))
