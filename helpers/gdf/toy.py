"""The toy problem: rebuild a grey image from its gradients and one pinned pixel.

The least-squares problem of the Berkeley writeup (Project 2, Part 1) goes through the one
solve path (:func:`helpers.gdf.solver.solve`); :func:`toy_reconstruct_naive` keeps the
writeup's per-pixel loops + ``lsqr`` as the baseline, and :func:`toy_timing` times the two.

The writeup pins ``v(0, 0)`` by overwriting two entries of row 0 of its ``(2wh, wh)`` matrix;
the series adds a separate pin row instead.  :data:`PINS` names both (and a third reading),
:func:`toy_system` assembles each, and :func:`toy_lsqr` solves it as the writeup did.

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
    "PINS",
    "ToyResult",
    "ToyTiming",
    "single_threaded_blas",
    "toy_reconstruct",
    "toy_lsqr",
    "toy_reconstruct_naive",
    "toy_system",
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
    pin: str = "row"  # how objective 3 entered the system (PINS)
    offset: float = 0.0  # mean(v - s): the constant a pin other than v(0, 0) shifts v by
    spread: float = 0.0  # max |v - s - offset|: the error once that constant is taken out

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
        offset=float(np.mean(v - s)),
        spread=float(np.max(np.abs(v - s - np.mean(v - s)))),
    )


PINS = ("row", "overwrite", "replace")
"""How objective 3 (``v(0, 0) = s(0, 0)``) enters the least-squares system ``A v = b``:

* ``"row"`` (the series' default): one more row, ``A`` = the ``H(W-1) + (H-1)W`` gradient rows
  and the pin row; every objective is kept.
* ``"overwrite"``: the Berkeley writeup as written: ``A`` is ``(2wh, wh)`` (row ``2 v[y, x]``
  the x objective of pixel ``(y, x)``, row ``2 v[y, x] + 1`` its y objective; the rows of
  pixels with no right / lower neighbour stay zero: our reading of the layout), then
  ``A[0, 0] = 1`` and ``b[0] = s(0, 0)``.  Row 0 held the x objective of pixel ``(0, 0)``
  (``A[0, 0] = -1``, ``A[0, 1] = 1``), so it becomes ``v(0, 0) + v(0, 1) = s(0, 0)``: the
  solution keeps every gradient but is ``s - s(0, 1) / 2``, shifted by a constant.
* ``"replace"``: the same layout with row 0 *replaced* by the pin ``v(0, 0) = s(0, 0)`` (the
  other reading of the writeup's sentence); the x objective between ``(0, 0)`` and ``(0, 1)`` is
  dropped, the other gradients still tie the image together, and it is recovered exactly.
"""


def toy_system(image: np.ndarray, *, pin: str = "row") -> tuple[sp.csr_matrix, np.ndarray]:
    """The toy problem's least-squares system ``(A, b)``, assembled with whole-array index
    arithmetic: the same matrix as the per-pixel loops of :func:`toy_reconstruct_naive`
    (tested), in milliseconds.  ``pin``: one of :data:`PINS`."""
    if pin not in PINS:
        raise ValueError(f"pin must be one of {PINS}, got {pin!r}")
    s = _as_grey(image)
    h, w = s.shape
    flat = s.ravel()
    idx = np.arange(h * w).reshape(h, w)
    has_x = (np.arange(w) < w - 1)[None, :].repeat(h, axis=0).ravel()
    has_y = (np.arange(h) < h - 1)[:, None].repeat(w, axis=1).ravel()
    if pin == "row":  # loop order: per pixel its x row, then its y row, when they exist
        start = np.cumsum(has_x.astype(int) + has_y) - has_x - has_y
        x_row, y_row, n_rows = start, start + has_x, int(has_x.sum() + has_y.sum()) + 1
    else:  # the writeup's (2wh, wh) layout
        x_row, y_row, n_rows = 2 * idx.ravel(), 2 * idx.ravel() + 1, 2 * h * w
    p_x, p_y = idx.ravel()[has_x], idx.ravel()[has_y]
    rows = np.concatenate([x_row[has_x]] * 2 + [y_row[has_y]] * 2)
    cols = np.concatenate([p_x + 1, p_x, p_y + w, p_y])
    vals = np.concatenate([np.ones(p_x.size), -np.ones(p_x.size), np.ones(p_y.size)])
    vals = np.concatenate([vals, -np.ones(p_y.size)])
    b = np.zeros(n_rows)
    b[x_row[has_x]] = flat[p_x + 1] - flat[p_x]  # objective 1
    b[y_row[has_y]] = flat[p_y + w] - flat[p_y]  # objective 2
    # objective 3: a row of its own, or row 0 (which holds pixel (0, 0)'s x objective) edited
    e = n_rows - 1 if pin == "row" else 0
    if pin == "overwrite":  # A[0, 0] = 1: the entry -1 becomes 1, A[0, 1] = 1 stays
        vals[(rows == 0) & (cols == 0)] = 1.0
    else:  # "replace" clears row 0 first; "row" appends the pin row
        keep = rows != 0 if pin == "replace" else slice(None)
        rows, cols, vals = np.r_[rows[keep], e], np.r_[cols[keep], 0], np.r_[vals[keep], 1.0]
    b[e] = s[0, 0]
    return sp.csr_matrix((vals, (rows, cols)), shape=(n_rows, h * w)), b


def _loop_system(s: np.ndarray, pin: str) -> tuple[sp.lil_matrix, np.ndarray]:
    """The per-pixel loops of the writeup (a ``lil_matrix``, one row per gradient)."""
    h, w = s.shape
    im2var = np.arange(h * w).reshape(h, w)
    rows = h * (w - 1) + (h - 1) * w + 1 if pin == "row" else 2 * h * w
    a = sp.lil_matrix((rows, h * w))
    b = np.zeros(rows)
    e = 0
    for y in range(h):
        for x in range(w):
            if pin != "row":
                e = 2 * im2var[y, x]  # the writeup's layout: rows 2p (x) and 2p + 1 (y)
            if x + 1 < w:  # objective 1: v(x+1, y) - v(x, y) = s(x+1, y) - s(x, y)
                a[e, im2var[y, x + 1]] = 1
                a[e, im2var[y, x]] = -1
                b[e] = s[y, x + 1] - s[y, x]
                e += 1
            elif pin != "row":
                e += 1
            if y + 1 < h:  # objective 2: v(x, y+1) - v(x, y) = s(x, y+1) - s(x, y)
                a[e, im2var[y + 1, x]] = 1
                a[e, im2var[y, x]] = -1
                b[e] = s[y + 1, x] - s[y, x]
                e += 1
    if pin == "replace":
        a[0, :] = 0
    e = rows - 1 if pin == "row" else 0  # objective 3: v(0, 0) = s(0, 0)
    a[e, im2var[0, 0]] = 1
    b[e] = s[0, 0]
    return a, b


def _lsqr(a, b: np.ndarray, s: np.ndarray, t0: float, pin: str, atol: float, btol: float):
    """``scipy.sparse.linalg.lsqr`` on ``(A, b)`` as a :class:`ToyResult`."""
    a = a.tocsr()
    result = spla.lsqr(a, b, atol=atol, btol=btol, iter_lim=100_000)
    v = result[0].reshape(s.shape)
    rnorm = float(np.linalg.norm(a.T @ (a @ result[0] - b)))
    return ToyResult(
        image=v,
        max_abs_error=float(np.max(np.abs(v - s))),
        residual=rnorm,
        iterations=int(result[2]),
        seconds=time.perf_counter() - t0,
        pin=pin,
        offset=float(np.mean(v - s)),
        spread=float(np.max(np.abs(v - s - np.mean(v - s)))),
    )


def toy_reconstruct_naive(
    image: np.ndarray, *, pin: str = "row", atol: float = 1e-10, btol: float = 1e-10
) -> ToyResult:
    """The writeup's approach, kept as the baseline: per-pixel Python loops fill ``A`` and ``b``
    (one row per x gradient, one per y gradient; objective 3 as ``pin`` says, :data:`PINS`),
    then ``scipy.sparse.linalg.lsqr``.  The default ``pin="row"`` adds a separate pin row where
    the writeup overwrites row 0 (``pin="overwrite"``).  Slow on purpose; compare with
    :func:`toy_reconstruct`.
    """
    if pin not in PINS:
        raise ValueError(f"pin must be one of {PINS}, got {pin!r}")
    t0 = time.perf_counter()
    s = _as_grey(image)
    a, b = _loop_system(s, pin)
    return _lsqr(a, b, s, t0, pin, atol, btol)


def toy_lsqr(
    image: np.ndarray, *, pin: str = "overwrite", atol: float = 1e-10, btol: float = 1e-10
) -> ToyResult:
    """The writeup's least squares on :func:`toy_system` (the loops' matrix, assembled in
    milliseconds) with ``scipy.sparse.linalg.lsqr`` ("sparse least squares from scipy": we take
    it to be ``lsqr``).  For rendering the toy problem at the writeup's 224x224."""
    t0 = time.perf_counter()
    s = _as_grey(image)
    a, b = toy_system(s, pin=pin)
    return _lsqr(a, b, s, t0, pin, atol, btol)


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
