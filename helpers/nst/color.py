"""Colour preservation for style transfer (Gatys et al. 2017, *Controlling Perceptual Factors
in Neural Style Transfer*, section 5), used by :mod:`helpers.nst.controls`.

* ``"luminance"``: transfer on the YCbCr luma only (BT.601 full range, JPEG's), with the
  style's luma mean and standard deviation matched to the content's; the result's luma is then
  recombined with the content's chroma (Cb, Cr).
* ``"histogram"``: before the transfer, the style's colours go through the linear map
  ``x' = A(x − μ_s) + μ_c`` with ``A·Σ_s·Aᵀ = Σ_c`` (mean and covariance of the RGB pixels).
  The default is the paper's image-analogies variant ``A = Σ_c^½·Σ_s^−½`` (symmetric square
  roots by eigendecomposition, ``method="eigen"``); ``method="cholesky"`` gives
  ``A = L_c·L_s⁻¹``.

Images are ``(H, W, 3)`` float arrays in [0, 1] (or anything :func:`as_array` takes).
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from .inputs import ImageLike, as_array

PRESERVE_COLORS = ("luminance", "histogram")
HISTOGRAM_METHODS = ("eigen", "cholesky")


_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_YCC_OFFSET = np.array([0.0, 0.5, 0.5])


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` RGB in [0, 1] -> Y, Cb, Cr (BT.601 full range, JPEG's; Cb/Cr centred at ½)."""
    return (np.asarray(rgb, np.float64)[..., :3] @ _YCC.T + _YCC_OFFSET).astype(np.float32)


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycbcr` (not clipped)."""
    return ((np.asarray(ycc, np.float64) - _YCC_OFFSET) @ np.linalg.inv(_YCC).T).astype(np.float32)


def _grey3(y: np.ndarray) -> np.ndarray:
    return np.repeat(np.clip(y, 0.0, 1.0)[..., None], 3, axis=2).astype(np.float32)


def luminance_inputs(content: ImageLike, style: ImageLike) -> tuple[np.ndarray, np.ndarray]:
    """The luminance-only transfer's inputs: the content's luma and the style's luma with its
    mean and standard deviation matched to the content's, each as a grey ``(H, W, 3)`` image
    (the network sees luma in all three channels, as in the paper)."""
    yc = rgb_to_ycbcr(as_array(content, "content image"))[..., 0]
    ys = rgb_to_ycbcr(as_array(style, "style image"))[..., 0]
    matched = (ys - ys.mean()) * (yc.std() / max(float(ys.std()), 1e-8)) + yc.mean()
    return _grey3(yc), _grey3(matched)


def recombine_luminance(result: np.ndarray, content: ImageLike) -> np.ndarray:
    """The transfer's luma (Y of ``result``) with the content's chroma (Cb, Cr), in RGB [0, 1]."""
    from ..images import resize

    c = as_array(content, "content image")
    h, w = result.shape[:2]
    if c.shape[:2] != (h, w):
        c = resize(c, (w, h))
    ycc = rgb_to_ycbcr(c)
    ycc[..., 0] = rgb_to_ycbcr(result)[..., 0]
    return np.clip(ycbcr_to_rgb(ycc), 0.0, 1.0)


def match_histogram(
    style: ImageLike,
    content: ImageLike,
    *,
    method: str = "eigen",
    clip: bool = True,
    eps: float = 1e-7,
) -> np.ndarray:
    """The style image with its colour mean and covariance mapped to the content's.

    ``x' = A·(x − μ_s) + μ_c`` per pixel, ``A·Σ_s·Aᵀ = Σ_c``; ``method="eigen"`` (default,
    the image-analogies variant ``Σ_c^½·Σ_s^−½``) or ``"cholesky"`` (``L_c·L_s⁻¹``).  ``eps``
    is added to both covariances' diagonals (grey images have singular ones); ``clip=False``
    keeps values outside [0, 1] (the exact linear map; the network sees the clipped image).
    """
    if method not in HISTOGRAM_METHODS:
        raise UserError(f"histogram method {method!r}: use one of {', '.join(HISTOGRAM_METHODS)}")
    s = as_array(style, "style image").reshape(-1, 3).astype(np.float64)
    c = as_array(content, "content image").reshape(-1, 3).astype(np.float64)
    mu_s, mu_c = s.mean(0), c.mean(0)
    cov_s = np.cov(s, rowvar=False, bias=True) + eps * np.eye(3)
    cov_c = np.cov(c, rowvar=False, bias=True) + eps * np.eye(3)
    if method == "cholesky":
        a = np.linalg.cholesky(cov_c) @ np.linalg.inv(np.linalg.cholesky(cov_s))
    else:
        a = _sym_power(cov_c, 0.5) @ _sym_power(cov_s, -0.5)
    out = ((s - mu_s) @ a.T + mu_c).reshape(as_array(style, "style image").shape)
    return (np.clip(out, 0.0, 1.0) if clip else out).astype(np.float32)


def _sym_power(cov: np.ndarray, p: float) -> np.ndarray:
    vals, vecs = np.linalg.eigh(cov)
    return (vecs * np.maximum(vals, 1e-12) ** p) @ vecs.T


def color_inputs(
    content: ImageLike, style: ImageLike, mode: str | None, *, method: str = "eigen"
) -> tuple[np.ndarray, np.ndarray]:
    """``(content, style)`` as the transfer sees them under colour preservation ``mode``
    (``None``: unchanged; ``"luminance"``, ``"histogram"``: see the module docstring)."""
    if mode is None or mode == "none":
        return as_array(content, "content image"), as_array(style, "style image")
    if mode == "luminance":
        return luminance_inputs(content, style)
    if mode == "histogram":
        return as_array(content, "content image"), match_histogram(style, content, method=method)
    raise UserError(f"preserve colors {mode!r}: use one of {', '.join(PRESERVE_COLORS)}")
