"""The blending examples, each defined from the public originals in ``data/assets.toml``.

An example is a target, a source aligned to the target's canvas, and a mask in target
coordinates.  Where a public original is not already that, its definition below says how it is
derived, and :func:`derive_example` does it, in memory, every time an example is loaded:

* :class:`Placed`: an original (optionally scaled first) pasted onto the target's canvas with its
  top-left corner at ``(x, y)``; the rest of the canvas is black (for a mask: outside the region).
  A mask is taken from one ``channel`` of its file (``"red"``, ``"alpha"``) or, by default, from
  its luminance.
* :class:`Polygon`: a mask drawn as a polygon (vertices in target pixels).
* ``target_size``: the longer side the target original is downscaled to (Lanczos).

A mask file is read as grey levels in [0, 1]; the loader thresholds it at ``MASK_THRESHOLD``
(0.5), so a JPEG mask comes out binary.  The derivations are deterministic (no randomness, no
dependence on the machine) and checked: placed images must fit the canvas, and source, target
and mask must share the canvas size.

Plumbing for :mod:`helpers.gdf.examples` (which loads, resizes and compares the examples): uses
:mod:`helpers.images` and :mod:`helpers.errors` only.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from .. import images
from ..errors import UserError
from ..runtime import data_dir

__all__ = ["EXAMPLES", "ExampleSpec", "Placed", "Polygon", "derive_example", "derive_rgba_source"]

CHANNELS = {"red": 0, "green": 1, "blue": 2, "alpha": 3}


@dataclass(frozen=True)
class Placed:
    """``asset`` scaled by ``scale`` (Lanczos, size rounded to whole pixels) and pasted onto the
    target's canvas with its top-left corner at ``(x, y)``.  For a mask, ``channel`` picks the
    channel that holds it (``None``: the file's luminance)."""

    asset: str
    x: int
    y: int
    scale: float = 1.0
    channel: str | None = None


@dataclass(frozen=True)
class Polygon:
    """A mask drawn as a closed polygon; ``vertices`` are ``(x, y)`` in target pixels.  Pixels
    on the outline count as inside (``PIL.ImageDraw.polygon`` with outline)."""

    vertices: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class ExampleSpec:
    """One blending example: what to load for its target, source and mask, and how."""

    target: str
    source: str | Placed
    mask: str | Placed | Polygon
    target_size: int | None = None
    note: str = ""


EXAMPLES: dict[str, ExampleSpec] = {
    "bear_pool": ExampleSpec(
        target="gdf/bear_pool/target.jpg",
        source="gdf/bear_pool/source.png",
        mask="gdf/bear_pool/mask.png",
        note="LenaDu's aligned source and mask, as published",
    ),
    "bird_sky": ExampleSpec(
        target="gdf/bird_sky/target.png",
        source="gdf/bird_sky/source.png",
        mask="gdf/bird_sky/mask.png",
        note="the CMU student's aligned source and mask, as published",
    ),
    "graffiti_wall": ExampleSpec(
        target="gdf/graffiti_wall/target.png",
        source=Placed("gdf/graffiti_wall/df.png", x=5, y=5),
        # the Berkeley writeup's "mask from the alpha channel", done for real: df_mask.png's
        # colour channels are all zero and its alpha channel holds the strokes
        mask=Placed("gdf/graffiti_wall/df_mask.png", x=5, y=5, channel="alpha"),
        note="drawing pasted 5 px in from the wall's corner; mask = alpha channel of df_mask.png",
    ),
    "jet_valley": ExampleSpec(
        target="gdf/jet_valley/target.jpg",
        source="gdf/jet_valley/source.jpg",
        mask="gdf/jet_valley/mask.jpg",
        note="a JPEG mask, thresholded at 0.5 when loaded",
    ),
    "kitten_library": ExampleSpec(
        target="gdf/kitten_library/target.png",
        source=Placed("gdf/kitten_library/kitten.png", x=280, y=340),
        mask=Placed("gdf/kitten_library/kittenmask.png", x=280, y=340, channel="red"),
        note="kitten at x=280, y=340, the offset Erkaman/poisson_blend's README gives",
    ),
    "moon_gothenburg": ExampleSpec(
        target="gdf/moon_gothenburg/target.png",
        source=Placed("gdf/moon_gothenburg/moon.png", x=350, y=0),
        mask=Placed("gdf/moon_gothenburg/moonmask.png", x=350, y=0, channel="red"),
        note="moon at x=350, y=0: an offset chosen for this series",
    ),
    "penguin_chick_snow": ExampleSpec(
        target="gdf/penguin_chick_snow/im2.jpg",
        target_size=1024,
        source=Placed("gdf/penguin_chick_snow/penguin-chick.jpeg", x=70, y=715, scale=0.44),
        # no published mask exists for this pair: a crude polygon around the chick, drawn for
        # this series (the course says crude masks are fine)
        mask=Polygon(
            (
                (132, 724),
                (122, 763),
                (103, 784),
                (98, 792),
                (91, 846),
                (96, 891),
                (120, 919),
                (209, 919),
                (229, 890),
                (232, 846),
                (228, 826),
                (224, 790),
                (198, 763),
                (188, 724),
            )
        ),
        note="target downscaled to 1024 px; chick scaled x0.44 at x=70, y=715; polygon mask",
    ),
    "penguin_snow": ExampleSpec(
        target="gdf/penguin_snow/im3.jpg",
        target_size=1024,
        source=Placed("gdf/penguin_snow/penguin.png", x=300, y=560),
        mask=Placed("gdf/penguin_snow/penguinmask.png", x=300, y=560, channel="red"),
        note="target downscaled to 1024 px; penguin at x=300, y=560 (offset chosen here)",
    ),
}


def _channel(name: str, channel: str | None) -> np.ndarray:
    """One channel of an image file as (H, W) float in [0, 1] (``None``: its luminance)."""
    if channel is None:
        return images.load(name, mode="L")
    if channel not in CHANNELS:
        raise UserError(f"unknown mask channel {channel!r}; use one of {', '.join(CHANNELS)}")
    return images.load(name, mode="RGBA")[..., CHANNELS[channel]]


def _place(piece: np.ndarray, placed: Placed, canvas: tuple[int, int]) -> np.ndarray:
    """``piece`` (scaled by ``placed.scale``) on a black canvas of ``(H, W)``."""
    if placed.scale != 1.0:
        h, w = piece.shape[:2]
        piece = images.resize(piece, (round(w * placed.scale), round(h * placed.scale)))
    h, w = piece.shape[:2]
    ch, cw = canvas
    if placed.x < 0 or placed.y < 0 or placed.x + w > cw or placed.y + h > ch:
        raise UserError(
            f"{placed.asset} ({w}x{h}) at x={placed.x}, y={placed.y} does not fit the "
            f"{cw}x{ch} canvas of its target"
        )
    out = np.zeros((ch, cw) + piece.shape[2:], dtype=np.float32)
    out[placed.y : placed.y + h, placed.x : placed.x + w] = piece
    return out


def _polygon(polygon: Polygon, canvas: tuple[int, int]) -> np.ndarray:
    h, w = canvas
    img = Image.new("L", (w, h), 0)
    ImageDraw.Draw(img).polygon(list(polygon.vertices), fill=255, outline=255)
    return np.asarray(img, dtype=np.float32) / 255.0


def derive_example(spec: ExampleSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(source, target, mask)`` of one example at full resolution, derived from its originals:
    source and target (H, W, 3), mask (H, W) grey levels, all float32 in [0, 1]."""
    return tuple(a.copy() for a in _derive_cached(spec, str(data_dir())))


@functools.lru_cache(maxsize=16)
def _derive_cached(spec: ExampleSpec, _data: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    target = images.load(spec.target, mode="RGB", size=spec.target_size)
    canvas = target.shape[:2]
    if isinstance(spec.source, Placed):
        source = _place(images.load(spec.source.asset, mode="RGB"), spec.source, canvas)
    else:
        source = images.load(spec.source, mode="RGB")
    if isinstance(spec.mask, Polygon):
        mask = _polygon(spec.mask, canvas)
    elif isinstance(spec.mask, Placed):
        mask = _place(_channel(spec.mask.asset, spec.mask.channel), spec.mask, canvas)
    else:
        mask = _channel(spec.mask, None)
    for what, arr in (("source", source), ("mask", mask)):
        if arr.shape[:2] != canvas:
            raise UserError(
                f"example {what} is {arr.shape[1]}x{arr.shape[0]} but its target is "
                f"{canvas[1]}x{canvas[0]}; an example's images must share the target's canvas"
            )
    for arr in (source, target, mask):
        arr.setflags(write=False)
    return source, target, mask


def derive_rgba_source(spec: ExampleSpec) -> np.ndarray:
    """The Berkeley writeup's 4-channel source (Project 2, Part 2: "the source image ... a 4th
    transparency dimension ... used for the mask"): the example's source original with its mask
    original's channel as alpha, placed on the target's canvas (transparent elsewhere), (H, W, 4)
    float32.  Only for an example whose source and mask are :class:`Placed` at the same spot and
    scale (graffiti_wall: ``df.png`` with the alpha channel of ``df_mask.png``)."""
    src, mask = spec.source, spec.mask
    if not (
        isinstance(src, Placed)
        and isinstance(mask, Placed)
        and (src.x, src.y, src.scale) == (mask.x, mask.y, mask.scale)
    ):
        raise UserError(
            "only an example whose source and mask are placed together has an RGBA form"
        )
    colour = images.load(src.asset, mode="RGB")
    alpha = _channel(mask.asset, mask.channel)
    if alpha.shape != colour.shape[:2]:
        raise UserError(f"{mask.asset} and {src.asset} differ in size; no RGBA source")
    canvas = _derive_cached(spec, str(data_dir()))[1].shape[:2]
    return _place(np.concatenate([colour, alpha[..., None]], axis=2), src, canvas)
