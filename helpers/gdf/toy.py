"""The toy problem: rebuild a grey image from its gradients and one pinned pixel.

The least-squares problem of the Berkeley writeup (CS194-26 project 2, part 1) goes through
the one solve path (:func:`helpers.gdf.solver.solve`); :func:`toy_reconstruct_naive` keeps
the seed's per-pixel loops + ``lsqr`` as the baseline, and :func:`toy_timing` times the two.

Part of :mod:`helpers.gdf`: a use of the solver, beside blending (:mod:`helpers.gdf.blending`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .common import LUMA, as_image
from .operators import forward_differences
from .solver import solve
from .system import PoissonSystem

__all__ = [
    "ToyResult",
    "ToyTiming",
    "single_threaded_blas",
    "toy_reconstruct",
    "toy_reconstruct_naive",
    "toy_timing",
]


@dataclass
class ToyResult:
    """Reconstruction of a grey image from its gradients and one pinned pixel."""

    image: np.ndarray  # (H, W) float64
    max_abs_error: float
    residual: float
    iterations: int
    seconds: float
    # gx (H, W-1), gy (H-1, W)
    gradients: tuple[np.ndarray, np.ndarray] = field(repr=False, default=None)

    def summary(self) -> str:
        h, w = self.image.shape
        return (
            f"toy: {h * w:,} unknowns, max |error| {self.max_abs_error:.2e}, "
            f"residual {self.residual:.1e}, {self.iterations} iterations, {self.seconds:.3f} s"
        )


def _as_grey(image: np.ndarray, what: str = "image") -> np.ndarray:
    """A grey float64 ``(H, W)`` image of at least 2x2 pixels (:func:`as_image`); colour is
    converted to BT.601 luma, an alpha channel dropped."""
    arr = as_image(image, what, min_side=2)
    if arr.ndim == 3 and arr.shape[2] == 2:  # grey and alpha
        arr = arr[..., 0]
    arr = np.asarray(arr, dtype=np.float64)
    return arr[..., :3] @ LUMA if arr.ndim == 3 else arr


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


def toy_reconstruct_naive(
    image: np.ndarray, *, atol: float = 1e-10, btol: float = 1e-10
) -> ToyResult:
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
        text = (
            f"vectorised: {self.fast_seconds * 1e3:.1f} ms (median), "
            f"max |error| {self.fast.max_abs_error:.1e}"
        )
        if self.naive is not None:
            text += (
                f"; loops + lsqr: {self.naive_seconds:.2f} s, "
                f"max |error| {self.naive.max_abs_error:.1e}"
                f"; {self.speedup:,.0f}x faster"
            )
        return text


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[bool]:
    """Run a block with the BLAS libraries (NumPy's OpenBLAS) on one thread (restored afterwards).

    On a busy 2-core machine OpenBLAS's threaded float64 ``ddot`` was measured at ~16 ms per
    call whatever the length (7 us single-threaded), which would make ``lsqr`` look far slower
    than it is.  Timing comparisons use this so the baseline is not penalised for that.
    Yields whether a BLAS library was found to limit (False: none found, nothing changed).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas") as limits:
        # the limiter already scanned the loaded libraries: None = no BLAS found
        yield limits.get_original_num_threads()["blas"] is not None


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
    slow_seconds = slow.seconds if slow is not None else float("nan")
    return ToyTiming(fast, float(np.median(times)), slow, slow_seconds)
