"""Notebook conveniences for the Sec. 4 edits: OpenCV's versions and side-by-side comparisons.

OpenCV ships three of Pérez et al.'s edits (``cv2.textureFlattening``,
``cv2.illuminationChange``, ``cv2.colorChange``); :func:`opencv_edit` runs one on the same
image and region, :func:`compare_edit` runs ours and OpenCV's and measures the mean absolute
difference inside the region.  Used by notebook 08 and the tests; it returns data, and
:func:`helpers.tables.edit_comparison_table` formats it as text.

Part of :mod:`helpers.gdf`, on top of :mod:`helpers.gdf.editing`; uses the plumbing (images).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .. import images
from ..errors import UserError
from .common import EDIT_MODES, MASK_THRESHOLD
from .editing import EditResult, color_change, illumination_change, texture_flatten

__all__ = [
    "EDITS",
    "OPENCV_DEFAULTS",
    "EditComparison",
    "compare_edit",
    "load_region",
    "opencv_edit",
]

EDITS = EDIT_MODES
"""The edits OpenCV also has, by their ``blend --mode`` name (:data:`helpers.gdf.EDIT_MODES`)."""

OPENCV_DEFAULTS = {
    "flatten": {"low": 30.0, "high": 45.0},
    "illumination": {"alpha": 0.2, "beta": 0.4},
    "color": {"gains": (1.0, 1.0, 1.0)},
}
"""OpenCV's default parameters of each edit (``kernel_size = 3`` for Canny, fixed here)."""


def _cv2():
    try:
        import cv2
    except ImportError as exc:
        raise UserError(
            "OpenCV is not installed; pip install -e '.[opencv]' to compare with its edits"
        ) from exc
    return cv2


def opencv_edit(kind: str, image: np.ndarray, mask: np.ndarray, **params) -> np.ndarray:
    """OpenCV's version of edit ``kind`` (one of :data:`EDITS`) on the same inputs.

    ``params``: ``low``/``high`` (flatten, Canny thresholds in 8-bit levels), ``alpha``/``beta``
    (illumination, ``alpha`` in 8-bit levels), ``gains`` (color, R, G, B); missing ones take
    :data:`OPENCV_DEFAULTS`.  OpenCV works in 8 bits on BGR; this takes and returns RGB float
    in [0, 1] (float32).  Raises :class:`UserError` without OpenCV.
    """
    cv2 = _cv2()
    if kind not in EDITS:
        raise UserError(f"edit {kind!r}: OpenCV has {', '.join(EDITS)}")
    p = {**OPENCV_DEFAULTS[kind], **params}
    rgb = np.asarray(image)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    bgr = np.ascontiguousarray(images.to_uint8(rgb[..., :3])[..., ::-1])
    m8 = np.asarray(mask, dtype=bool).astype(np.uint8) * 255
    if kind == "flatten":
        out = cv2.textureFlattening(
            bgr, m8, low_threshold=p["low"], high_threshold=p["high"], kernel_size=3
        )
    elif kind == "illumination":
        out = cv2.illuminationChange(bgr, m8, alpha=p["alpha"], beta=p["beta"])
    else:
        r, g, b = (float(v) for v in p["gains"])
        out = cv2.colorChange(bgr, m8, red_mul=r, green_mul=g, blue_mul=b)
    return out[..., ::-1].astype(np.float32) / 255.0


def _ours(kind: str, image, mask, params: dict) -> EditResult:
    if kind == "flatten":
        return texture_flatten(
            image, mask, edges="canny", low=params["low"], high=params["high"], rule="forward"
        )
    if kind == "illumination":
        return illumination_change(
            image, mask, alpha=params["alpha"], beta=params["beta"], alpha_units="8bit"
        )
    return color_change(image, mask, params["gains"])


@dataclass
class EditComparison:
    """One edit, ours and OpenCV's, on the same image, region and parameters."""

    kind: str
    image: np.ndarray  # (H, W, 3) the input
    mask: np.ndarray  # (H, W) bool
    ours: EditResult
    opencv: np.ndarray | None  # (H, W, 3) float32, None without OpenCV
    opencv_seconds: float  # NaN without OpenCV
    params: dict = field(default_factory=dict)

    @property
    def difference(self) -> float:
        """Mean |ours - OpenCV| inside the region, in 8-bit levels (NaN without OpenCV).
        Ours is rounded to 8 bits first, as OpenCV's output is."""
        if self.opencv is None:
            return float("nan")
        ours = images.to_uint8(self.ours.clipped).astype(np.float64)
        theirs = images.to_uint8(self.opencv).astype(np.float64)
        return float(np.abs(ours - theirs)[self.mask].mean())

    def metrics(self) -> dict:
        """The numbers for ``metrics.json``."""
        cv = None if self.opencv is None else self.opencv_seconds
        diff = None if self.opencv is None else self.difference
        return {
            "residual": self.ours.max_residual,
            "unknowns": self.ours.unknowns,
            "seconds": self.ours.seconds,
            "seconds_opencv": cv,
            "difference_opencv_levels": diff,
        }


def compare_edit(
    kind: str, image: np.ndarray, mask: np.ndarray, *, opencv: bool = True, **params
) -> EditComparison:
    """Edit ``kind`` (:data:`EDITS`) with OpenCV's parameters (:data:`OPENCV_DEFAULTS`,
    overridden by ``params``), ours and (if installed and ``opencv``) OpenCV's.

    Ours takes the same parameters and OpenCV's readings of them: Canny edges with the same
    thresholds and OpenCV's pair rule (``rule="forward"``), ``alpha`` in 8-bit levels
    (``alpha_units="8bit"``), the same gains.
    """
    if kind not in EDITS:
        raise UserError(f"edit {kind!r}: use one of {', '.join(EDITS)}")
    p = {**OPENCV_DEFAULTS[kind], **params}
    ours = _ours(kind, image, mask, p)
    theirs, seconds = None, float("nan")
    if opencv:
        try:
            _cv2()
        except UserError:
            pass
        else:
            t0 = time.perf_counter()
            theirs = opencv_edit(kind, image, mask, **p)
            seconds = time.perf_counter() - t0
    rgb = np.asarray(image, dtype=np.float32)
    return EditComparison(kind, rgb, np.asarray(mask, dtype=bool), ours, theirs, seconds, p)


def load_region(
    image: str, mask: str, *, size: int | str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(image (H, W, 3) float32, mask (H, W) bool)`` from two sample asset names or paths,
    resized alike (``size`` as in :func:`helpers.images.load`); the mask is in above
    :data:`helpers.gdf.MASK_THRESHOLD`."""
    img = images.load(image, size=size, mode="RGB")
    m = images.load(mask, mode="L")
    m = images.resize(m, (img.shape[1], img.shape[0]))
    return img, m > MASK_THRESHOLD
