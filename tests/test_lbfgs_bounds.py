"""The bound-aware BatchedLBFGS (projected steps) against scipy's L-BFGS-B, and the loop keeping
its iterates in [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import torch

from benchmarks import quality
from helpers import nst


def _quadratic(d: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    a = a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)
    c = 2.0 * torch.randn(d, generator=g, dtype=torch.float64)
    return a, c


def test_projected_lbfgs_finds_scipy_lbfgsb_box_minimum_per_element():
    d = 40
    problems = [_quadratic(d, s) for s in (0, 1)]

    def f(x: torch.Tensor) -> torch.Tensor:  # element i uses problem i
        return torch.stack([0.5 * xi @ a @ xi - xi @ c for xi, (a, c) in zip(x, problems)])

    x = torch.full((2, d), 0.5, dtype=torch.float64)
    x[1, :5] = 3.0  # outside the box: clipped in at the start
    opt = nst.BatchedLBFGS(x, history_size=10, bounds=(0.0, 1.0))
    for _ in range(300):
        xr = x.clone().requires_grad_(True)
        v = f(xr)
        v.sum().backward()
        opt.tell(v.detach(), xr.grad)
        assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0  # every trial inside the box
        if opt.done:
            break
    for i, (a, c) in enumerate(problems):
        an, cn = a.numpy(), c.numpy()
        ref = scipy.optimize.minimize(
            lambda v, an=an, cn=cn: 0.5 * v @ an @ v - v @ cn,
            np.full(d, 0.5),
            jac=lambda v, an=an, cn=cn: an @ v - cn,
            method="L-BFGS-B",
            bounds=[(0, 1)] * d,
            tol=1e-14,
        )
        active = int(((ref.x < 1e-9) | (ref.x > 1 - 1e-9)).sum())
        assert active > 0  # the bounds matter for this problem
        np.testing.assert_allclose(opt.x[i].numpy(), ref.x, atol=1e-5)
        assert float(opt.f[i]) == pytest.approx(ref.fun, rel=1e-9)


def test_bad_bounds_are_refused():
    with pytest.raises(ValueError):
        nst.BatchedLBFGS(torch.zeros(1, 3), bounds=(1.0, 0.0))


def test_bounded_loop_never_leaves_the_unit_box(random_weights):
    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    content = np.stack([xx, yy, 0.5 * (xx + yy)], axis=2).astype(np.float32)
    style = np.random.default_rng(0).random((32, 32, 3)).astype(np.float32)
    seen = []

    def watch(step) -> None:
        seen.append((float(step.image.min()), float(step.image.max())))

    res = nst.stylize(
        content,
        style,
        steps=15,
        record_every=1,
        callback=watch,
        progress=False,
        device="cpu",
        weights=random_weights,
    )
    assert seen and all(lo >= 0.0 and hi <= 1.0 for lo, hi in seen)
    # the reported final loss is that of the delivered (8-bit) image
    scored = quality.delivered_losses(
        [res.image],
        content,
        style,
        objective=res.objectives[0],
        device="cpu",
        weights=random_weights,
    )
    assert float(res.losses["total"][0]) == pytest.approx(scored[0], rel=1e-5)
