"""What every gradient-domain method shares: the input rules, the mode table, the results.

* **Images.**  :func:`as_image` is the one image rule: a float (or bool) array ``(H, W)`` grey
  or ``(H, W, C)`` with 3 colour channels, or 1 / 3 plus alpha, finite, at least
  ``min_side`` pixels a side; :func:`split_alpha` takes the alpha channel off.  Each method
  asks only what it needs on top (a colour image, a side of 3 pixels, ...).
* **Regions.**  :func:`region` turns a mask into the ``(H, W)`` bool region (values above
  :data:`MASK_THRESHOLD` are in) and checks its size; :func:`blend_region` is a blend's region
  (the mask, or the source's alpha); :func:`check_region` refuses a region that leaves no
  unknowns or no boundary values; :func:`parse_offset`, :func:`check_placement` and
  :func:`place_mask` place a source on a target.
* **Constants.**  :data:`LUMA` (BT.601, from :mod:`helpers.images`), :data:`MASK_THRESHOLD`,
  and :data:`MODES`, the mode table of ``blend`` (the CLI takes its choices from it).
* **Results.**  :class:`SolvedImage`: what every solved image offers (``clipped``,
  ``max_residual``, the one-line ``summary()``).

Part of :mod:`helpers.gdf`, its lowest layer beside the operators; imports only the plumbing
(errors, images).
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from ..images import LUMA

__all__ = [
    "BLEND_MODES",
    "EDIT_MODES",
    "LUMA",
    "MASK_THRESHOLD",
    "MODES",
    "SolvedImage",
    "as_image",
    "blend_region",
    "check_placement",
    "check_region",
    "mask_levels",
    "parse_offset",
    "place_mask",
    "region",
    "require_region",
    "split_alpha",
]

MASK_THRESHOLD = 0.5
"""A mask pixel belongs to the region when its value is > 0.5 (anti-aliased edges round)."""

MODES = {
    "poisson": "clone",  # the source's gradients (Pérez Eq. 11)
    "mixed": "clone",  # per pair the larger of source and target gradient (Eq. 13)
    "monochrome": "clone",  # the source's luminance gradients (Sec. 3)
    "flatten": "edit",  # texture flattening (Sec. 4)
    "illumination": "edit",  # local illumination change (Sec. 4)
    "color": "edit",  # local colour change (Sec. 4)
}
"""``blend``'s modes: ``"clone"`` modes put a SOURCE's region into a TARGET, ``"edit"`` modes
change one IMAGE inside a MASK."""

BLEND_MODES = ("poisson", "mixed")
"""The guidance fields of :func:`helpers.gdf.blend`."""

EDIT_MODES = tuple(name for name, kind in MODES.items() if kind == "edit")
"""The modes that edit one image in place (OpenCV has each of them too)."""


# ----------------------------------------------------------------------------- images


def as_image(image, what: str = "image", *, min_side: int = 1) -> np.ndarray:
    """``image`` checked as a float image: ``(H, W)`` grey or ``(H, W, C)``, ``C`` = 2 (grey
    and alpha), 3 or 4 (colour and alpha), each side at least ``min_side``, finite.

    A bool image becomes float32 and ``(H, W, 1)`` becomes ``(H, W)``; otherwise the array is
    returned as it is (its own float dtype, not copied).  Anything else is one
    :class:`UserError` line naming ``what``.
    """
    arr = np.asarray(image)
    if arr.dtype == bool:
        arr = arr.astype(np.float32)
    if not np.issubdtype(arr.dtype, np.floating):
        raise UserError(
            f"{what} has dtype {arr.dtype}; pass a float image in [0, 1] "
            "(helpers.images.load_image returns one)"
        )
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    bad_channels = arr.ndim == 3 and arr.shape[2] not in (2, 3, 4)
    if arr.ndim not in (2, 3) or bad_channels or min(arr.shape[:2]) < min_side:
        size = f" of at least {min_side}x{min_side} pixels" if min_side > 1 else ""
        raise UserError(
            f"{what} must be (H, W) grey or (H, W, 3) colour, optionally with alpha{size}; "
            f"got shape {arr.shape}"
        )
    if arr.size and not (np.isfinite(arr.min()) and np.isfinite(arr.max())):  # NaN propagates
        raise UserError(f"{what} contains NaN or infinite values")
    return arr


def split_alpha(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """``(colour, alpha)`` of an :func:`as_image` array: the last channel of a grey+alpha or
    RGBA image is its alpha (grey comes back ``(H, W)``); other images have none."""
    if image.ndim == 3 and image.shape[2] in (2, 4):
        colour = image[..., :-1]
        return (colour[..., 0] if colour.shape[2] == 1 else colour), image[..., -1]
    return image, None


# ----------------------------------------------------------------------------- regions


def mask_levels(mask: np.ndarray) -> tuple[np.ndarray, bool]:
    """A mask read from a file (float in [0, 1]) -> its levels, and whether it is a 0/1 mask.

    A mask saved from NumPy as uint8 0 and 1 reads as 0 and 1/255 (16-bit: 1/65535), all under
    :data:`MASK_THRESHOLD`.  A mask whose largest value is 1 in its file (at most 1/255 here)
    is such a 0/1 mask: its nonzero pixels become 1.0, so it blends exactly like the same mask
    saved as 0/255.  Any other mask comes back unchanged, for the 0.5 threshold.
    """
    arr = np.asarray(mask, dtype=np.float32)
    top = float(arr.max(initial=0.0))
    if 0.0 < top <= 1.0 / 255.0 + 1e-6:
        return (arr > 0).astype(np.float32), True
    return arr, False


def region(
    mask,
    shape: tuple[int, int],
    *,
    what: str = "mask",
    against: str = "image",
    threshold: float = MASK_THRESHOLD,
) -> np.ndarray:
    """``mask`` as the ``(H, W)`` bool region: bool as it is, numbers above ``threshold``.

    ``shape``: the ``(H, W)`` of the image it belongs to (``against`` names that image in the
    error).  A mask that is not single-channel, not numbers, or of another size is one
    :class:`UserError` line naming ``what``.
    """
    m = np.asarray(mask)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[..., 0]
    if m.ndim != 2:
        raise UserError(
            f"{what} must be a single-channel (H, W) image, got shape {m.shape}; "
            "load it in mode 'L'"
        )
    if m.dtype != bool:
        if not (np.issubdtype(m.dtype, np.number) and np.isfinite(m).all()):
            raise UserError(f"{what} must be boolean or numbers (0/1 or values in [0, 1])")
        m = m > threshold
    if m.shape != tuple(shape[:2]):
        raise UserError(
            f"{what} is {m.shape[0]}x{m.shape[1]} but the {against} is {shape[0]}x{shape[1]} "
            "(HxW); they must be the same size"
        )
    return m


def blend_region(
    source, mask=None, *, threshold: float = MASK_THRESHOLD, what: str = "mask"
) -> tuple[np.ndarray, np.ndarray]:
    """``(colour, region)`` of a blend's source: the source without its alpha channel
    (:func:`as_image`, :func:`split_alpha`) and the region in source coordinates, which is
    ``mask`` (:func:`region`, same size as the source) or, without one, the source's alpha
    channel above ``threshold``."""
    src, alpha = split_alpha(as_image(source, "source"))
    if mask is not None:
        return src, region(mask, src.shape, what=what, against="source", threshold=threshold)
    if alpha is None:
        raise UserError(
            "no mask given and the source has no alpha channel: pass a mask image "
            "(white = blend region) or a source with transparency"
        )
    return src, alpha > threshold


def require_region(region: np.ndarray, *, what: str = "the region", action: str = "edit") -> None:
    """Refuse an empty region (no pixel above :data:`MASK_THRESHOLD`): nothing to ``action``."""
    if not region.any():
        raise UserError(
            f"{what} is empty (no pixel above {MASK_THRESHOLD}): nothing to {action}; "
            "white marks the region"
        )


def check_region(
    omega: np.ndarray, *, within: str = "image", offset: tuple[int, int] | None = None
) -> None:
    """Refuse a placed region ``omega`` (``(H, W)`` bool, in the coordinates of the image
    ``within`` names) that leaves no unknowns, or no boundary values to anchor them.

    ``offset``: where the mask was placed from (an empty ``omega`` is then a mask pushed off
    the image); without it an empty region is refused as by :func:`require_region`.
    """
    h, w = omega.shape
    if not omega.any():
        if offset is None:
            require_region(omega)
        raise UserError(
            f"offset {offset} pushes the mask entirely outside the {h}x{w} {within}; "
            "use an offset that keeps part of it inside"
        )
    if omega.all():
        raise UserError(
            f"the mask covers the whole {within}, so no {within} pixels remain to fix the "
            "solution (the Poisson problem then has no boundary values); shrink the mask"
        )


def parse_offset(offset) -> tuple[int, int]:
    """``(dy, dx)`` as two ints; anything but two whole numbers is one :class:`UserError`."""
    try:
        dy, dx = offset
        if int(dy) != dy or int(dx) != dx:
            raise ValueError
        return int(dy), int(dx)
    except (TypeError, ValueError) as exc:
        raise UserError(
            f"offset {offset!r}: give two whole numbers (dy, dx), e.g. (0, 0) or (-20, 35)"
        ) from exc


def check_placement(
    source_shape: tuple[int, ...], target_shape: tuple[int, ...], offset: tuple[int, int]
) -> None:
    """Without an offset the source must have the target's size (with one it may differ)."""
    (hs, ws), (h, w) = source_shape[:2], target_shape[:2]
    if tuple(offset) == (0, 0) and (hs, ws) != (h, w):
        raise UserError(
            f"source is {hs}x{ws} but the target is {h}x{w} (HxW); "
            "use images of the same size, or place the source with an offset (dy, dx)"
        )


def place_mask(
    mask: np.ndarray, target_shape: tuple[int, int], offset: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """The mask shifted by ``offset = (dy, dx)`` into target coordinates (``(H, W)`` bool).

    Source/mask pixel ``(i, j)`` lands on target pixel ``(i + dy, j + dx)``; the part that falls
    outside the target is cropped.
    """
    mask = np.asarray(mask, dtype=bool)
    h, w = target_shape
    dy, dx = (int(v) for v in offset)
    out = np.zeros((h, w), dtype=bool)
    ys, ye = max(dy, 0), min(dy + mask.shape[0], h)
    xs, xe = max(dx, 0), min(dx + mask.shape[1], w)
    if ys < ye and xs < xe:
        out[ys:ye, xs:xe] = mask[ys - dy : ye - dy, xs - dx : xe - dx]
    return out


# ----------------------------------------------------------------------------- results


class SolvedImage:
    """What every solved image (a blend, an edit, Color2Gray) offers on top of its fields
    ``image`` (not clipped), ``residual`` (per channel, or one number), ``unknowns``,
    ``iterations`` and ``seconds``; ``label`` names it in :meth:`summary`."""

    image: np.ndarray
    residual: np.ndarray

    @property
    def label(self) -> str:
        return getattr(self, "mode", type(self).__name__)

    @property
    def clipped(self) -> np.ndarray:
        """The image clipped to [0, 1] for display or saving."""
        return np.clip(self.image, 0.0, 1.0)

    @property
    def max_residual(self) -> float:
        return float(np.max(self.residual)) if np.size(self.residual) else 0.0

    def summary(self) -> str:
        """One line: label, unknowns, residual, iterations and time."""
        return (
            f"{self.label}: {self.unknowns:,} unknowns, residual {self.max_residual:.1e}, "
            f"{self.iterations} iterations, {self.seconds:.3f} s"
        )
