"""Pixels for the regression check (:mod:`.regress`): PSNR and mean absolute difference on the
8-bit scale, a PNG's levels and pixel hash, regions (``[top, left, bottom, right]``) and crops.

Part of :mod:`helpers.report`; imports only NumPy and Pillow.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB of two images with values in [0, peak] (inf when equal)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(peak**2 / mse)


def mean_abs_levels(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two 8-bit-scale images, in grey levels."""
    return float(np.mean(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def read_levels(source: Path | bytes) -> np.ndarray:
    """A PNG's pixels as float64 on the 8-bit scale (0-255; 16-bit images are divided by 257)."""
    from PIL import Image

    with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as img:
        pixels = np.asarray(img)
    scale = 257.0 if pixels.dtype == np.uint16 else 1.0
    return pixels.astype(np.float64) / scale


def pixel_sha256(path: Path) -> str:
    """sha256 of an image file's decoded pixels (information: identical or not)."""
    from PIL import Image

    with Image.open(path) as img:
        return hashlib.sha256(np.ascontiguousarray(np.asarray(img)).tobytes()).hexdigest()


def region_box(box: Any, shape: Sequence[int]) -> list[int]:
    """A declared ``[top, left, bottom, right]`` clipped to the image, else the whole image."""
    h, w = int(shape[0]), int(shape[1])
    if not box:
        return [0, 0, h, w]
    top, left, bottom, right = (int(v) for v in box)
    return [max(0, top), max(0, left), min(h, bottom), min(w, right)]


def crop(pixels: np.ndarray, box: Sequence[int]) -> np.ndarray:
    """``pixels[top:bottom, left:right]``."""
    top, left, bottom, right = box
    return pixels[top:bottom, left:right]


def png_bytes(pixels: np.ndarray) -> bytes:
    """Lossless PNG bytes of ``pixels`` (uint8 or uint16, grey or colour)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG")
    return buffer.getvalue()
