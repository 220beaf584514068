"""The Berkeley writeup's Poisson equations (Project 2, Part 2), as a named option of blending.

The writeup builds one equation per mask pixel ``p``: ``A[e, p] = 4``; for each of the four
neighbours ``q``, inside the mask ``A[e, q] = -1`` and ``b[e] -= s_q - s_p``, outside it
``b[e] += t_q``.  Pérez et al.'s Eq. 7 (the series' default, :func:`helpers.gdf.blend` with
``equations="perez"``) differs in exactly two terms:

* **boundary pairs.**  Pérez adds the source difference ``s_p - s_q`` for *every* neighbour,
  including a neighbour ``q`` outside the mask; the writeup adds it only for neighbours inside.
  Its equations are Pérez's with the guidance set to 0 on the pairs that cross the mask's
  border: the blend is asked to meet the target there with no step, where Pérez asks for the
  source's step.
* **the diagonal.**  The writeup writes 4; Pérez uses ``|N_p|``, the neighbours that exist in
  the image.  They differ only for mask pixels on the image border.  The writeup does not say
  what a neighbour outside the image adds to ``b``; we take it to add nothing, so such a
  neighbour acts as a fixed value of 0 (our reading).

The writeup's ``A`` is ``(len(mask coordinates), h*w)``; its columns off the mask are zero, so
we solve the equivalent square system on the mask pixels (our reading) through the one solve
path (:func:`helpers.gdf.solver.solve`): the diagonal 4 is :class:`PoissonSystem`'s ``|N_p|``
plus a pin of ``4 - |N_p|`` (:func:`border_pins`).  Its mixture gradients (the writeup's
"Bells & Whistles") take, on pairs inside the mask, the larger of the source and target
difference (:func:`helpers.gdf.operators.mixed_gradient`).

:func:`seam_steps` measures what the two choices trade: the step across the mask's border.
:func:`compare_equations` blends one example both ways for notebook 06.

Part of :mod:`helpers.gdf`: used by blending (:mod:`helpers.gdf.blending`); above the operators
and the system.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .operators import guidance_divergence, neighbour_count
from .system import PoissonSystem

__all__ = ["EQUATIONS", "SeamSteps", "border_pins", "guidance", "seam_steps"]

EQUATIONS = ("perez", "berkeley")
"""``blend``'s systems: Pérez et al.'s Eq. 7 (the default) or the Berkeley writeup's."""


def border_pins(omega: np.ndarray) -> np.ndarray | None:
    """``4 - |N_p|`` on the region's pixels (``(H, W)`` float), the pins that make
    :class:`PoissonSystem`'s diagonal the writeup's 4; None when no region pixel is on the
    image border (the two diagonals then agree)."""
    pins = (4.0 - neighbour_count(omega.shape)) * omega
    return pins if pins.any() else None


def guidance(
    system: PoissonSystem,
    sb: np.ndarray,
    tb: np.ndarray,
    valid: np.ndarray | None,
    mode: str,
) -> np.ndarray:
    """The writeup's right-hand side in correction form, ``b - A t`` on the box, float64.

    ``sb``, ``tb``: ``(C, ny, nx)`` windows of the placed source and the target; ``valid``:
    where the source covers the box (None: everywhere).  Pairs inside Omega take the guidance
    (``s_p - s_q`` or the mixed rule), pairs across its border none: their term is
    ``0 - (t_p - t_q)``; a pin (a mask pixel on the image border) adds ``-pin_p t_p``.
    """
    inside = system.inside32 > 0
    sv = inside if valid is None else inside & valid
    g = guidance_divergence(sb, tb, mode=mode, source_valid=sv)  # boundary pairs: 0 so far
    c = g.shape[0]
    flat_g, flat_t = g.reshape(c, -1), tb.reshape(c, -1).astype(np.float64)
    for p_idx, q_idx in system.ring_pairs:  # p in Omega, q its neighbour just outside
        flat_g[:, p_idx] += flat_t[:, q_idx] - flat_t[:, p_idx]
    if system.pin_idx.size:
        flat_g[:, system.pin_idx] -= system.pin_weight * flat_t[:, system.pin_idx]
    return g


@dataclass
class SeamSteps:
    """The step across a region's border, over its boundary pairs (p inside, q outside), in
    8-bit levels averaged over pairs and channels."""

    step: float  # mean |f_p - t_q|: the visible step from the blend to the target
    source_step: float  # mean |s_p - s_q|: the step the source has there
    error: float  # mean |(f_p - t_q) - (s_p - s_q)|: Pérez's guidance missed on those pairs
    pairs: int


def seam_steps(
    image: np.ndarray, source: np.ndarray, target: np.ndarray, omega: np.ndarray
) -> SeamSteps:
    """:class:`SeamSteps` of a blend ``image`` of ``source`` into ``target`` over ``omega``
    (all ``(H, W[, C])`` at the same size, offset 0)."""
    f, s, t = (np.asarray(a, dtype=np.float64) for a in (image, source, target))
    f, s, t = (a if a.ndim == 3 else a[..., None] for a in (f, s, t))
    f, s, t = f[..., : t.shape[2]], s[..., : t.shape[2]], t
    steps, source_steps = [], []
    for axis in (0, 1):
        lo = [slice(None)] * 2
        hi = [slice(None)] * 2
        lo[axis], hi[axis] = slice(None, -1), slice(1, None)
        lo, hi = tuple(lo), tuple(hi)
        for p, q in ((lo, hi), (hi, lo)):  # p inside, q outside, both orders
            cross = omega[p] & ~omega[q]
            steps.append((f[p][cross] - t[q][cross]).ravel())
            source_steps.append((s[p][cross] - s[q][cross]).ravel())
    step, source_step = np.concatenate(steps), np.concatenate(source_steps)
    if not step.size:
        return SeamSteps(0.0, 0.0, 0.0, 0)
    return SeamSteps(
        step=float(np.abs(step).mean() * 255),
        source_step=float(np.abs(source_step).mean() * 255),
        error=float(np.abs(step - source_step).mean() * 255),
        pairs=int(step.size // t.shape[2]),
    )
