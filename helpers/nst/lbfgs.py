"""L-BFGS with one independent state per batch element (:class:`BatchedLBFGS`).

Part of :mod:`helpers.nst`; imports nothing but torch.  The optimisation loop
(:mod:`helpers.nst.loop`) drives it one function evaluation at a time, so a batch of
configurations shares each forward+backward pass while every element keeps its own history,
step and line search: a batched run follows the same trajectory as the individual runs.

With ``bounds=(lo, hi)`` it is a projected L-BFGS (in the spirit of Kim, Sra & Dhillon's
projected quasi-Newton method and of L-BFGS-B's active set): every trial point is clipped to the
box, a variable at a bound whose gradient points outwards is held fixed when the direction is
computed, and the Armijo test uses the step actually taken.  The optimiser then never leaves the
box, so the image it returns is the image it optimised (no clamp afterwards that undoes part of
the optimisation).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _dot(a: Tensor, b: Tensor) -> Tensor:
    """Row-wise dot products of two ``(B, D)`` tensors -> ``(B,)``, no ``(B, D)`` temporary."""
    return torch.bmm(a.unsqueeze(1), b.unsqueeze(2)).view(-1)


class BatchedLBFGS:
    """L-BFGS with one independent state per batch element, driven one evaluation at a time.

    ``tell(f, g)`` takes the values and gradients at the current trial points (the
    ``(B, D)`` tensor ``trial``, updated in place with the next trial points) and returns the
    ``(B,)`` mask of elements whose trial was accepted.  Line search: backtracking until the
    Armijo condition ``f(x + t·d) <= f(x) + c1·t·gᵀd`` holds, with a safeguarded quadratic
    interpolation step; the first step of a fresh history moves the largest pixel by
    ``first_step``.  Curvature pairs with ``sᵀy <= 0`` are skipped, which keeps the inverse
    Hessian approximation positive definite without a Wolfe curvature check.

    ``x``, ``f``, ``g``: the accepted iterates, values and gradients; ``done``: every element
    has stopped (stationary, or no descent after ``max_backtracks`` with a fresh history).
    Raises :class:`FloatingPointError` when a value or gradient at the initial point is not
    finite.

    ``bounds=(lo, hi)``: keep every variable in ``[lo, hi]`` (the initial point is clipped into
    the box): projected trial points, directions over the free variables only (a variable
    at a bound whose gradient pushes outwards is fixed), and the Armijo condition
    ``f(P(x + t·d)) <= f(x) + c1·gᵀ(P(x + t·d) − x)``.  ``None``: unconstrained.
    """

    def __init__(
        self,
        trial: Tensor,
        *,
        history_size: int = 20,
        c1: float = 1e-4,
        first_step: float = 0.05,
        max_backtracks: int = 20,
        bounds: tuple[float, float] | None = None,
    ) -> None:
        b, d = trial.shape
        self.bounds = None if bounds is None else (float(bounds[0]), float(bounds[1]))
        if self.bounds is not None:
            if not self.bounds[0] < self.bounds[1]:
                raise ValueError(f"bounds must be (lo, hi) with lo < hi, got {bounds}")
            with torch.no_grad():
                trial.clamp_(*self.bounds)
        self.trial = trial
        self.m = history_size
        self.c1 = c1
        self.first_step = first_step
        self.max_backtracks = max_backtracks
        self.x = trial.detach().clone()
        self.g = torch.zeros_like(self.x)
        self.d = torch.zeros_like(self.x)
        self.f = torch.full((b,), math.inf, dtype=trial.dtype, device=trial.device)
        self.t = torch.ones(b, dtype=trial.dtype, device=trial.device)
        self.gd = torch.zeros(b, dtype=trial.dtype, device=trial.device)
        self.slope = torch.zeros(b, dtype=trial.dtype, device=trial.device)  # gᵀ(trial − x)
        self.gamma = torch.ones(b, dtype=trial.dtype, device=trial.device)
        self.S = trial.new_zeros(self.m, b, d)
        self.Y = trial.new_zeros(self.m, b, d)
        self.rho = trial.new_zeros(self.m, b)
        self._s = torch.empty_like(self.x)
        self._y = torch.empty_like(self.x)
        self._q = torch.empty_like(self.x)
        self._rows = torch.arange(b, device=trial.device)
        self.ptr = [0] * b
        self.count = [0] * b
        self.backtracks = [0] * b
        self.active = [True] * b
        self.started = False

    @property
    def done(self) -> bool:
        return not any(self.active)

    def _slots(self) -> list[tuple[Tensor, Tensor, Tensor]]:
        """(s, y, rho) for ages 1 … depth, newest first; rho is 0 where an element has none.

        Views into the ring buffers when every element's ring is aligned (always for a batch
        of one), gathered copies otherwise.
        """
        depth = max(self.count)
        if depth == 0:
            return []
        ages = torch.arange(1, depth + 1, device=self.rho.device).unsqueeze(1)
        valid = (ages <= torch.tensor(self.count, device=self.rho.device)).to(self.rho.dtype)
        out = []
        aligned = all(p == self.ptr[0] for p in self.ptr)
        for age in range(1, depth + 1):
            if aligned:
                k = (self.ptr[0] - age) % self.m
                out.append((self.S[k], self.Y[k], self.rho[k] * valid[age - 1]))
            else:
                idx = torch.tensor([(p - age) % self.m for p in self.ptr], device=self.S.device)
                out.append(
                    (
                        self.S[idx, self._rows],
                        self.Y[idx, self._rows],
                        self.rho[idx, self._rows] * valid[age - 1],
                    )
                )
        return out

    def _direction(self) -> None:
        """d = −H·g by the two-loop recursion (Nocedal & Wright, Alg. 7.4), per element; with
        bounds d = −P·H·P·g, ``P`` zeroing the variables held at a bound (still a descent
        direction: ``P·H·P`` is positive semi-definite)."""
        free = self._free()
        q = self._q.copy_(self.g)
        if free is not None:
            q.mul_(free)
        pairs = self._slots()
        alphas = []
        for s, y, rho in pairs:
            a = rho * _dot(s, q)
            q.addcmul_(y, a.unsqueeze(1), value=-1.0)
            alphas.append(a)
        fresh = torch.tensor([c == 0 for c in self.count], device=q.device)
        # a fresh element has no pairs, so q is still its (free) gradient here
        first = self.first_step / q.abs().amax(dim=1).clamp_min(1e-30)
        scale = torch.where(fresh, first, self.gamma)
        q.mul_(scale.unsqueeze(1))
        for (s, y, rho), a in zip(reversed(pairs), reversed(alphas)):
            b = rho * _dot(y, q)
            q.addcmul_(s, (a - b).unsqueeze(1))
        if free is not None:
            q.mul_(free)
        torch.neg(q, out=self.d)

    def _free(self) -> Tensor | None:
        """``(B, D)`` 1 where a variable may move, 0 where it sits at a bound and the gradient
        pushes it outwards (None without bounds)."""
        if self.bounds is None:
            return None
        lo, hi = self.bounds
        held = ((self.x <= lo) & (self.g > 0)) | ((self.x >= hi) & (self.g < 0))
        return (~held).to(self.x.dtype)

    def _reset(self, i: int) -> None:
        self.count[i] = 0
        self.rho[:, i] = 0

    def tell(self, f: Tensor, g: Tensor) -> Tensor:
        """Values ``f: (B,)`` and gradients ``g: (B, D)`` at ``trial`` -> ``(B,)`` accept mask;
        ``trial`` then holds the next points to evaluate."""
        accept = self._accepted(f, g)
        acc = accept.tolist()
        if self.started and any(acc):
            self._store_pairs(accept, g)
        self._move(accept, acc, f, g)
        # step sizes: 1 after an accepted step, interpolated backtracking after a rejected one
        recompute = any(acc)
        if self.started and not all(acc):
            recompute = self._backtrack(accept, acc, f) or recompute
        else:
            self.t.fill_(1.0)
        for i, ok in enumerate(acc):
            if ok:
                self.backtracks[i] = 0
        self.started = True
        if recompute:
            self._new_direction()
        step = self.t * torch.tensor(self.active, dtype=self.t.dtype, device=self.t.device)
        torch.addcmul(self.x, self.d, step.unsqueeze(1), out=self.trial)
        if self.bounds is None:
            self.slope = self.t * self.gd
        else:
            self.trial.clamp_(*self.bounds)
            self.slope = _dot(self.g, torch.sub(self.trial, self.x, out=self._s))
        return accept

    def _accepted(self, f: Tensor, g: Tensor) -> Tensor:
        """Which trials pass: finite and, after the first, the Armijo condition."""
        finite = torch.isfinite(f) & torch.isfinite(g).all(dim=1)
        if not self.started:
            if not bool(finite.all()):
                raise FloatingPointError(
                    "the loss or its gradient is not finite at the initial image"
                )
            return torch.ones_like(finite)
        armijo = f <= self.f + self.c1 * self.slope
        return finite & armijo

    def _store_pairs(self, accept: Tensor, g: Tensor) -> None:
        """The curvature pairs (s, y) of the accepted steps into the ring buffers."""
        torch.sub(self.trial, self.x, out=self._s)
        torch.sub(g, self.g, out=self._y)
        sy, yy = _dot(self._s, self._y), _dot(self._y, self._y)
        good = (accept & (sy > 1e-10 * yy) & (yy > 0)).tolist()
        gamma = sy / yy.clamp_min(1e-30)
        inv = 1.0 / sy.where(sy > 0, torch.ones_like(sy))
        if all(good) and all(p == self.ptr[0] for p in self.ptr):
            k = self.ptr[0]
            self.S[k].copy_(self._s)
            self.Y[k].copy_(self._y)
            self.rho[k].copy_(inv)
        else:
            for i in (i for i, ok in enumerate(good) if ok):
                k = self.ptr[i]
                self.S[k, i] = self._s[i]
                self.Y[k, i] = self._y[i]
                self.rho[k, i] = inv[i]
        for i, ok in enumerate(good):
            if ok:
                self.ptr[i] = (self.ptr[i] + 1) % self.m
                self.count[i] = min(self.count[i] + 1, self.m)
        self.gamma = torch.where(accept & (sy > 1e-10 * yy) & (yy > 0), gamma, self.gamma)

    def _move(self, accept: Tensor, acc: list[bool], f: Tensor, g: Tensor) -> None:
        """The accepted trials become the iterates."""
        if all(acc):
            self.x.copy_(self.trial)
            self.g.copy_(g)
            self.f.copy_(f)
        elif any(acc):
            mask = accept.unsqueeze(1)
            self.x.copy_(torch.where(mask, self.trial, self.x))
            self.g.copy_(torch.where(mask, g, self.g))
            self.f.copy_(torch.where(accept, f, self.f))

    def _backtrack(self, accept: Tensor, acc: list[bool], f: Tensor) -> bool:
        """Shorter steps for the rejected trials; True when a history was reset (the direction
        must be recomputed)."""
        recompute = False
        # quadratic through f(x), the slope of the step taken and f(trial), as a function of t
        dec = f - self.f - self.slope
        t_quad = -self.slope * self.t / (2.0 * dec.clamp_min(1e-30))
        t_new = torch.minimum(torch.maximum(t_quad, 0.1 * self.t), 0.5 * self.t)
        t_new = torch.where(torch.isfinite(f), t_new, 0.1 * self.t)
        self.t = torch.where(accept, torch.ones_like(self.t), t_new)
        for i, ok in enumerate(acc):
            if ok or not self.active[i]:
                continue
            self.backtracks[i] += 1
            if self.backtracks[i] > self.max_backtracks:
                self.backtracks[i] = 0
                self.t[i] = 1.0
                if self.count[i] > 0:  # a stale history: restart from steepest descent
                    self._reset(i)
                    recompute = True
                else:
                    self.active[i] = False
        return recompute

    def _new_direction(self) -> None:
        """The search directions from the current iterates; uphill ones restart from steepest
        descent, stationary elements stop."""
        self._direction()
        self.gd = _dot(self.g, self.d)
        uphill = (self.gd >= 0).tolist()
        if any(u and a for u, a in zip(uphill, self.active)):
            for i, u in enumerate(uphill):
                if u:
                    self._reset(i)
            self._direction()
            self.gd = _dot(self.g, self.d)
        free = self._free()
        g = self.g if free is None else self.g * free
        stationary = ((g.abs().amax(dim=1) == 0) | (self.gd >= 0)).tolist()
        for i, s in enumerate(stationary):
            if s:
                self.active[i] = False
