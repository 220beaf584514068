"""The images of a style-transfer run: loading, validation, resizing and de-duplication.

Part of :mod:`helpers.nst`, below the loop: turns what the caller passed (arrays, tensors,
paths or sample asset names, shared or one per batch element) into float32 ``(H, W, 3)``
arrays in [0, 1] of the right sizes, and stacks the distinct ones into tensors.  File and
asset-name lookups go through :mod:`helpers.images`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..errors import UserError
from .objective import INITS

ImageLike = str | os.PathLike | np.ndarray | Tensor
"""An image: a path or sample asset name, an ``(H, W, 3)`` array or a ``(1, 3, H, W)`` tensor."""


def as_array(image: ImageLike, what: str) -> np.ndarray:
    """``image`` as an ``(H, W, 3)`` float32 array in [0, 1]; ``what`` names it in errors."""
    from ..images import load_image, resolve, to_numpy

    if isinstance(image, str | os.PathLike):
        # a path, or a sample asset name such as "nst/content/tubingen.jpg"; resolve's error
        # is the one message (a missing sample says how to fetch it)
        return load_image(resolve(image, what=what))
    if isinstance(image, Tensor):
        t = image.detach()
        if t.dim() == 4 and t.shape[0] == 1:
            t = t[0]
        if t.dim() != 3 or t.shape[0] != 3:
            raise UserError(
                f"{what} tensor has shape {tuple(image.shape)}; expected (3, H, W) or (1, 3, H, W)"
            )
        arr = to_numpy(t)
    else:
        arr = np.asarray(image, dtype=np.float32)
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise UserError(f"{what} array has shape {arr.shape}; expected (H, W, 3)")
        arr = arr[..., :3]
    if not np.isfinite(arr).all():
        raise UserError(f"{what} contains NaN or infinite values")
    return np.clip(arr, 0.0, 1.0).astype(np.float32, copy=False)


def per_element(value, n: int, what: str) -> list:
    """A shared value -> ``[value] * n``; a list or tuple must have ``n`` entries."""
    if isinstance(value, list | tuple):
        if len(value) != n:
            raise UserError(f"{what}: got {len(value)} values for a batch of {n}")
        return list(value)
    return [value] * n


@dataclass
class Prepared:
    """The images of a batch, one entry per element (``None`` where an element has none)."""

    content: list[np.ndarray | None]
    style: list[np.ndarray | None]
    init: list[np.ndarray | None]
    shape: tuple[int, int]
    style_shape: tuple[int, int] | None
    """The smallest style image shape (for the minimum-size check)."""


def prepare_images(
    n: int,
    content,
    style,
    init,
    *,
    size,
    style_size,
    need_content: bool,
    need_style: bool,
    check_shape: Callable[[tuple[int, int]], None] | None = None,
) -> Prepared:
    """Load, validate and resize the images; ``check_shape(output (H, W))`` runs before any
    resizing."""
    from ..images import parse_size, resize

    size = parse_size(size)
    style_size = parse_size(style_size)
    contents, styles = _load_inputs(n, content, style)
    if need_content and any(c is None for c in contents):
        raise UserError("alpha > 0 needs a content image; pass content=… or set alpha=0")
    if need_style and any(s is None for s in styles):
        raise UserError("beta > 0 needs a style image; pass style=… or set beta=0")
    shape = _output_shape(contents, styles, init, size)
    if check_shape is not None:  # e.g. the memory estimate: refuse before making big arrays
        check_shape(shape)

    fit = _Fit()
    contents_out = _sized_contents(contents, size, shape)
    if style_size is None:
        styles_out = [fit(s, shape) for s in styles]
    else:  # each style image keeps its own shape (N = longer side keeps its aspect ratio)
        by_id: dict[int, np.ndarray] = {}
        styles_out = [
            None if s is None else by_id.setdefault(id(s), resize(s, style_size)) for s in styles
        ]
    style_shapes = sorted({s.shape[:2] for s in styles_out if s is not None}, key=min)

    if isinstance(init, str) and init in INITS:
        inits = [None] * n
    else:
        inits = [fit(as_array(i, "init image"), shape) for i in per_element(init, n, "init")]
    return Prepared(
        contents_out, styles_out, inits, shape, style_shapes[0] if style_shapes else None
    )


def _load_inputs(n: int, content, style) -> tuple[list, list]:
    """The content and style images per element, each distinct input loaded once."""
    cache: dict = {}

    def load(img, what):
        if img is None:
            return None
        key = str(img) if isinstance(img, str | os.PathLike) else id(img)
        if key not in cache:
            cache[key] = as_array(img, what)
        return cache[key]

    contents = [load(c, "content image") for c in per_element(content, n, "content")]
    styles = [load(s, "style image") for s in per_element(style, n, "style")]
    return contents, styles


def _output_shape(contents: list, styles: list, init, size) -> tuple[int, int]:
    """(H, W) of the output: the first content image's (else style's, else init's) at ``size``."""
    from ..images import target_shape

    base = next((c for c in contents if c is not None), None)
    if base is None:
        base = next((s for s in styles if s is not None), None)
    if base is None and not (isinstance(init, str) and init in INITS):
        base = as_array(init, "init image")
    if base is None:
        if size is None or not isinstance(size, tuple):
            raise UserError("no image to take the size from: give size as WxH")
        return (size[1], size[0])
    return target_shape(base.shape[:2], size) if size is not None else base.shape[:2]


class _Fit:
    """Resize to an (H, W) shape, once per (image, shape)."""

    def __init__(self) -> None:
        self.resized: dict = {}

    def __call__(self, img, target):
        from ..images import resize

        if img is None:
            return None
        key = (id(img), target)
        if key not in self.resized:
            self.resized[key] = (
                resize(img, (target[1], target[0])) if img.shape[:2] != target else img
            )
        return self.resized[key]


def _sized_contents(contents: list, size, shape: tuple[int, int]) -> list:
    """The content images at ``size``; they must all come out at ``shape``."""
    from ..images import resize

    out_list = []
    for c in contents:
        if c is None:
            out_list.append(None)
            continue
        out = resize(c, size) if size is not None else c
        if out.shape[:2] != shape:
            raise UserError(
                f"content images of different shapes ({out.shape[1]}x{out.shape[0]} vs "
                f"{shape[1]}x{shape[0]}) cannot share a batch; pass size as WxH"
            )
        out_list.append(out)
    return out_list


def distinct(images: list[np.ndarray | None]) -> tuple[list[np.ndarray], Tensor]:
    """The distinct images (by identity) and the ``(B,)`` index of each element's image."""
    keys: dict[int, int] = {}
    unique: list[np.ndarray] = []
    index = []
    for img in images:
        if img is None:
            index.append(0)
            continue
        if id(img) not in keys:
            keys[id(img)] = len(unique)
            unique.append(img)
        index.append(keys[id(img)])
    return unique, torch.tensor(index)


def stack_unique(images: list[np.ndarray | None], device) -> tuple[Tensor | None, Tensor | None]:
    """Distinct images as ``(K, 3, H, W)`` and the ``(B,)`` index of each element's image."""
    from ..images import to_tensor

    unique, index = distinct(images)
    if not unique:
        return None, None
    stack = torch.cat([to_tensor(img, device) for img in unique])
    return stack, index.to(device)


def gather(target: Tensor, index: Tensor) -> Tensor:
    """Shared target -> ``(1, ...)`` (broadcast); per-element targets -> ``(B, ...)``."""
    if target.shape[0] == 1 or bool((index == index[0]).all()):
        return target[index[0] : index[0] + 1]
    return target.index_select(0, index)
