"""The two writeups' own runs, each one call on the experiments (and so on the one loop).

Part of :mod:`helpers.nst`, above :mod:`helpers.nst.experiments` and the recipes: what the
Berkeley and CMU writeups ran that the paper's figures do not cover, with their settings filled
in from :mod:`helpers.nst.recipes`.

* :func:`berkeley_grid` — Berkeley Part 5 (Hyperparameter Search): growing style-layer sets ×
  its own alpha/beta columns 1e-2 … 1e-10, under the ``berkeley`` recipe on square images.
* :func:`timed_inits` — CMU's content against noise initialisation, one separate (timed) run
  each.
* :func:`named_transfers` — named content × style pairs (CMU's three transfers), pairs that
  share a photo run as one batch.

Berkeley's final transfers (Part 7) and CMU's two-seed reconstruction need no helper of their
own: ``stylize(photo, styles, **get_recipe("berkeley").options(size=square(side)))`` and
``reconstruct_content(photo, CMU_CONTENT_LAYERS, seeds=[0, 1], **get_recipe("cmu")
.run_options())``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from ..errors import UserError
from .experiments import alpha_beta_grid, stylize
from .inputs import ImageLike
from .objective import ALPHA_BETA_RATIOS, GROWING_SUBSETS
from .recipes import Recipe, get_recipe
from .results import TransferResult

BERKELEY_SIDE = 224
"""Berkeley's image side: "all style, content, and output images have shape (3, 224, 224)"."""


def square(side: int | None) -> str | None:
    """The size rule ``"SxS"`` of a square image of ``side`` pixels (``None`` stays ``None``:
    the recipe's own size)."""
    if side is None:
        return None
    if isinstance(side, bool) or int(side) != side or side <= 0:
        raise UserError(f"side must be a positive whole number of pixels, got {side!r}")
    return f"{int(side)}x{int(side)}"


def berkeley_grid(
    content: ImageLike,
    style: ImageLike,
    *,
    side: int | None = None,
    steps: int | None = None,
    ratios: Sequence[float] = ALPHA_BETA_RATIOS,
    **options,
) -> TransferResult:
    """Berkeley's 5×5 grid in its own columns: rows the growing style-layer weights ``[1, 0, 0,
    0, 0]`` … ``[.2, .2, .2, .2, .2]``, columns alpha/beta ``ratios`` (its 1e-2 … 1e-10, used as
    given: both of its losses are means, so no size carrying), every other setting the
    ``berkeley`` recipe's (Adam lr 0.2, content relu4_1, init from the photo).  ``side`` and
    ``steps`` override its 224 × 224 and 1200; ``options`` go to the loop (device, seed, ...)."""
    rec = get_recipe("berkeley")
    return alpha_beta_grid(
        content,
        style,
        ratios=list(ratios),
        style_layer_sets=GROWING_SUBSETS,
        content_layers=rec.content_layers,
        **rec.run_options(size=square(side), steps=steps, **options),
    )


def timed_inits(
    content: ImageLike,
    style: ImageLike,
    *,
    recipe: str | Recipe = "cmu",
    inits: Sequence[str] = ("content", "noise"),
    **overrides,
) -> dict[str, TransferResult]:
    """One transfer per initialisation, ``{init: result}``, each a separate run so that its
    :attr:`~helpers.nst.TransferResult.seconds` is the wall time of that run alone (not a share
    of a batch).  ``overrides`` change the recipe's settings (size, steps, noise, device, ...)."""
    rec = get_recipe(recipe)
    return {
        init: stylize(content, style, **rec.options(**{**overrides, "init": init}))
        for init in inits
    }


def named_transfers(
    pairs: Mapping[str, tuple[ImageLike, ImageLike]],
    *,
    recipe: str | Recipe = "cmu",
    **overrides,
) -> dict[str, TransferResult]:
    """``{label: (content, style)}`` -> ``{label: result}`` under ``recipe``; the pairs that
    share a content image (the same path or the same array) run as one batch, one element per
    style.  ``overrides`` change the recipe's settings."""
    if not pairs:
        raise UserError("no content/style pairs given")
    rec = get_recipe(recipe)
    groups: dict[object, tuple[ImageLike, dict[str, ImageLike]]] = {}
    for label, (photo, painting) in pairs.items():
        key = str(photo) if isinstance(photo, str | os.PathLike) else id(photo)
        groups.setdefault(key, (photo, {}))[1][label] = painting
    out: dict[str, TransferResult] = {}
    for photo, styles in groups.values():
        batch = stylize(photo, styles, **rec.options(**overrides))
        out.update({label: batch.at(col=label) for label in styles})
    return {label: out[label] for label in pairs}


__all__ = ["BERKELEY_SIDE", "square", "berkeley_grid", "timed_inits", "named_transfers"]
