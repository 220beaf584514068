"""Image I/O at the edges: files <-> float arrays in [0, 1] <-> torch tensors.

All maths in this package works on float images in [0, 1]; only this module deals in 0-255.
Arrays are ``(H, W)`` (grey) or ``(H, W, C)``; tensors are ``(B, 3, H, W)``.

Plumbing: :func:`load` is the one loader every notebook, method and command uses (a path or a
sample-asset name from :mod:`helpers.assets`, optionally resized).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .assets import asset_path, is_asset_name
from .errors import UserError
from .runtime import atomic_path, check_writable

ImageFile.LOAD_TRUNCATED_IMAGES = False
Image.MAX_IMAGE_PIXELS = 200_000_000  # refuse decompression bombs, allow large photos

MODES = ("RGB", "L", "RGBA", "keep")
SAVE_SUFFIXES = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise UserError(f"{path}: file not found; check the path")
    if path.is_dir():
        raise UserError(f"{path}: is a directory, not an image file")
    if not os.access(path, os.R_OK):
        raise UserError(f"{path}: permission denied; make the file readable (chmod +r)")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: file is empty; re-export or re-download the image")


def _open(path: Path) -> Image.Image:
    _check_readable(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path)
            img.load()
    except UnidentifiedImageError as exc:
        raise UserError(f"{path}: not a readable image (unknown format); use PNG or JPEG") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UserError(f"{path}: image is too large to open safely; downscale it first") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        reason = str(exc).split("\n")[0] or type(exc).__name__
        raise UserError(f"{path}: image is damaged or truncated ({reason}); re-export it") from exc
    return img


def _to_float(img: Image.Image) -> np.ndarray:
    """Convert a PIL image (any depth) to float32 in [0, 1], keeping its channels."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float64)
        scale = 65535.0 if arr.max(initial=0) > 255 or img.mode.startswith("I;16") else 255.0
        return np.clip(arr / scale, 0, 1).astype(np.float32)
    if img.mode == "F":
        return np.clip(np.asarray(img, dtype=np.float32), 0, 1)
    if img.mode == "1":
        img = img.convert("L")
    return np.asarray(img, dtype=np.float32) / 255.0


def load_image(path: str | os.PathLike, mode: str = "RGB") -> np.ndarray:
    """Read an image file as a float32 array in [0, 1].

    Args:
        path: any format Pillow reads (PNG incl. palette and 16-bit, JPEG incl. CMYK, ...).
        mode: ``"RGB"`` -> (H, W, 3); ``"L"`` -> (H, W) luminance; ``"RGBA"`` -> (H, W, 4)
            with opaque alpha where the file has none; ``"keep"`` -> the file's own channels
            ((H, W) grey, (H, W, 2) grey+alpha, (H, W, 3) or (H, W, 4)).

    EXIF orientation is applied, so a phone photo comes out the way it is displayed.
    Errors (missing, empty, truncated, not an image, unreadable) raise :class:`UserError`.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    path = Path(path)
    img = _open(path)
    with contextlib.suppress(Exception):  # a broken EXIF block must not stop a good image
        img = ImageOps.exif_transpose(img)
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif img.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        img = img.convert("RGB")
    elif img.mode in ("PA", "RGBa"):
        img = img.convert("RGBA")
    if mode == "keep":
        return _to_float(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F", "1", "L", "LA"):
        grey = _to_float(img)
        alpha = None
        if grey.ndim == 3:  # LA
            grey, alpha = grey[..., 0], grey[..., 1]
        if mode == "L":
            return grey
        rgb = np.repeat(grey[..., None], 3, axis=2)
        if mode == "RGBA":
            a = np.ones_like(grey) if alpha is None else alpha
            return np.concatenate([rgb, a[..., None]], axis=2)
        return rgb
    target = {"RGB": "RGB", "RGBA": "RGBA", "L": "L"}[mode]
    if mode == "L":
        return rgb_to_luminance(_to_float(img.convert("RGB")))
    return _to_float(img.convert(target))


def resolve(name_or_path: str | os.PathLike, *, what: str = "image") -> Path:
    """A file path, or a sample asset name such as ``"nst/content/tubingen.jpg"`` -> its path.

    An existing path wins; a relative name that is not a file is looked up in
    ``data/assets.toml``.  Neither gives one :class:`UserError` line saying which.
    """
    path = Path(name_or_path).expanduser()
    if path.exists() or path.is_absolute() or not isinstance(name_or_path, str):
        return path
    if is_asset_name(name_or_path):
        return asset_path(name_or_path)  # says how to fetch it when it is missing
    raise UserError(
        f"{what} {name_or_path}: file not found (neither a path nor a sample asset name)"
    )


def load(
    name_or_path: str | os.PathLike,
    *,
    size: int | str | tuple[int, int] | None = None,
    mode: str = "RGB",
) -> np.ndarray:
    """The one image loader: a path or sample asset name -> float32 array in [0, 1].

    ``size``: ``None`` (as stored), ``N`` (longer side, aspect kept) or ``"WxH"`` / ``(W, H)``
    (exact); see :func:`resize`.  ``mode`` as in :func:`load_image`.
    """
    image = load_image(resolve(name_or_path), mode=mode)
    return resize(image, size) if size is not None else image


LUMA = np.array([0.299, 0.587, 0.114])
"""ITU-R BT.601 luma weights (R, G, B), float64, read-only: Pillow's mode ``L`` and every grey
conversion of the series (:func:`rgb_to_luminance`, :mod:`helpers.gdf`)."""
LUMA.flags.writeable = False


def rgb_to_luminance(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma (:data:`LUMA`) of an (H, W, 3) float image, as (H, W)."""
    return (rgb[..., :3] @ LUMA.astype(rgb.dtype)).astype(np.float32)


def _levels(image: np.ndarray) -> np.ndarray:
    """The one 8-bit rounding rule: clamp to [0, 1], scale to 0-255, round half up.

    Whole levels 0..255, in the dtype of ``image`` (float32 stays float32).
    """
    return np.floor(np.clip(image, 0.0, 1.0) * 255.0 + 0.5)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] -> uint8 (rounded, clipped). Refuses non-finite values."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    if not np.isfinite(image).all():
        raise UserError("image contains NaN or infinite values; refusing to save it")
    return _levels(image).astype(np.uint8)


def quantize(image: np.ndarray) -> np.ndarray:
    """``image`` as its 8-bit file holds it: rounded as :func:`to_uint8` does, back in [0, 1]
    as float32 (the arithmetic in float32)."""
    arr = np.asarray(image, dtype=np.float32)
    return (_levels(arr) / 255.0).astype(np.float32)


def image_format(path: str | os.PathLike) -> str:
    """The Pillow format an output path's suffix names (:data:`SAVE_SUFFIXES`).

    Any other suffix is one :class:`UserError` line.
    """
    path = Path(path)
    fmt = SAVE_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise UserError(
            f"output {path}: unknown image suffix; use one of {', '.join(SAVE_SUFFIXES)}"
        )
    return fmt


def check_output(
    path: str | os.PathLike, *, inputs: Sequence[str | os.PathLike | None] = ()
) -> Path:
    """The one output-path check, before any work: a known image suffix, a folder that takes
    the file (:func:`helpers.runtime.check_writable`), and not one of ``inputs`` (an input is
    never overwritten).  Returns the path; bad ones are one :class:`UserError` line."""
    path = Path(path)
    image_format(path)
    check_writable(path)
    for name in inputs:
        if not (name and Path(name).exists() and path.exists()):
            continue
        if path.resolve() == Path(name).resolve():
            raise UserError(f"output {path} is an input image; choose another -o path")
    return path


def save_image(path: str | os.PathLike, image: np.ndarray, *, quality: int = 95) -> Path:
    """Write a float image in [0, 1] ((H, W) or (H, W, C)) atomically.

    The format follows the suffix (:func:`image_format`).
    """
    path = Path(path)
    fmt = image_format(path)
    arr = to_uint8(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    pil = Image.fromarray(arr)
    if fmt == "JPEG" and pil.mode == "RGBA":
        pil = pil.convert("RGB")
    with atomic_path(path) as tmp:
        kwargs = {"quality": quality} if fmt == "JPEG" else {}
        pil.save(tmp, format=fmt, **kwargs)
    return path


def parse_size(size: int | str | tuple[int, int] | None) -> int | tuple[int, int] | None:
    """``None`` | ``N`` (longer side) | ``"WxH"`` / ``(W, H)`` (exact) -> normalised size."""
    if size is None:
        return None
    if isinstance(size, tuple | list):
        w, h = (int(v) for v in size)
        out: int | tuple[int, int] = (w, h)
    elif isinstance(size, int) or (isinstance(size, str) and size.strip().lstrip("-").isdigit()):
        out = int(size)
    elif isinstance(size, str) and "x" in size.lower():
        try:
            w, h = (int(v) for v in size.lower().split("x"))
        except ValueError as exc:
            raise UserError(
                f"size {size!r}: use N (longer side) or WxH, e.g. 512 or 224x224"
            ) from exc
        out = (w, h)
    else:
        raise UserError(f"size {size!r}: use N (longer side) or WxH, e.g. 512 or 224x224")
    values = out if isinstance(out, tuple) else (out,)
    if any(v <= 0 for v in values):
        raise UserError(f"size {size!r}: must be positive, e.g. 512 or 224x224")
    return out


def target_shape(shape: tuple[int, int], size: int | tuple[int, int] | None) -> tuple[int, int]:
    """(H, W) of an image of ``shape`` (H, W) resized to ``size`` (see :func:`parse_size`)."""
    size = parse_size(size)
    h, w = shape
    if size is None:
        return h, w
    if isinstance(size, tuple):
        return size[1], size[0]
    scale = size / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def resize(image: np.ndarray, size: int | tuple[int, int] | str | None) -> np.ndarray:
    """Resize a float image: ``N`` = longer side (aspect kept), ``(W, H)`` or ``"WxH"`` = exact."""
    h, w = target_shape(image.shape[:2], size)
    if (h, w) == image.shape[:2]:
        return image.astype(np.float32, copy=False)
    channels = [image] if image.ndim == 2 else [image[..., c] for c in range(image.shape[2])]
    out = [
        np.asarray(
            Image.fromarray(ch.astype(np.float32), mode="F").resize(
                (w, h), Image.Resampling.LANCZOS
            )
        )
        for ch in channels
    ]
    res = out[0] if image.ndim == 2 else np.stack(out, axis=2)
    return np.clip(res, 0.0, 1.0).astype(np.float32)


def to_tensor(image: np.ndarray, device=None):
    """(H, W, 3) float array in [0, 1] -> (1, 3, H, W) float32 tensor."""
    import torch

    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    t = torch.from_numpy(np.ascontiguousarray(arr[..., :3].transpose(2, 0, 1))).unsqueeze(0)
    return t.to(device) if device is not None else t


def to_numpy(tensor) -> np.ndarray:
    """(3, H, W) or (1, 3, H, W) tensor -> (H, W, 3) float32 array clipped to [0, 1]."""
    t = tensor.detach()
    if t.dim() == 4:
        if t.shape[0] != 1:
            raise ValueError(f"expected a batch of one, got shape {tuple(t.shape)}")
        t = t[0]
    return np.clip(t.float().cpu().numpy().transpose(1, 2, 0), 0.0, 1.0)
