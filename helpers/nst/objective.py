"""What a style-transfer run optimises: layer-weight specs, :class:`Objective` and the defaults.

Part of :mod:`helpers.nst`, above :mod:`helpers.nst.layers` and :mod:`helpers.nst.losses` and
below the loop: ``total = alpha·content + beta·style + Σ_r w_r·R_r(image)`` per batch element,
the regularisers ``R_r`` named in :data:`helpers.nst.losses.REGULARISERS`, with per-layer
weights normalised to sum to 1 within the content and within the style group (the paper's
convention).  The constants are the recipes the notebooks compare (Gatys, Berkeley, CMU).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import UserError
from . import vgg
from .losses import REGULARISERS

# --- defaults --------------------------------------------------------------------------------

BERKELEY_LR = 0.2
"""The Berkeley writeup's Adam lr.  Its NormLayer sits *inside* the network, so Adam steps the
[0, 1] image and 0.2 is already in pixel units (an earlier ``0.2 · 0.226`` conversion was wrong)."""
ADAM_LR = 0.045
"""The project's own Adam default (pixel units), not Berkeley's: measured at 128², relu
features, 300 steps, lr 0.045 reached a lower delivered loss (5.7e7) than lr 0.2 (7.0e7)."""
BERKELEY_STEPS = 1200

REFERENCE_PIXELS = 512 * 512
"""The image area a size-free alpha/beta is quoted at (paper scale, 512 × 512)."""
DEFAULT_RATIO_512 = 3e-4
"""Size-free alpha/beta (:func:`ratio_at`): the value at 512 × 512 px, chosen in notebook 03
(Caffe weights, relu features, paper losses).  At ``P`` pixels the ratio is
``DEFAULT_RATIO_512 · 512² / P``: the paper's content loss sums over positions and its style
loss does not, so the balance point scales like ``1/P``.  Measured (Tübingen × Starry Night,
relu features): balance · pixels = 920, 946, 856, 913, 892 at 64, 96, 128, 192, 256 px, a
log-log slope of −1.01; the balance at 512² is ≈ 3.4e-3 and a tenth of it 3e-4."""


def ratio_at(size_free: float, pixels: int, *, content_norm: str = "sum") -> float:
    """The alpha/beta at an image of ``pixels`` (H·W) for a size-free ratio (its 512² value).

    With the paper's content loss ``½·Σ`` over positions (``content_norm="sum"``) the balance
    point scales like ``1/pixels`` (notebook 03 measures the law), so the ratio is
    ``size_free · 512² / pixels``; with a mean content loss (``"mean"``: Berkeley's MSE, and the
    tutorial's in the ``cmu`` recipe) both terms are size-free and the ratio is ``size_free`` at
    every size.
    """
    size_free = _check_weight("size-free alpha/beta", size_free)
    if int(pixels) <= 0:
        raise UserError(f"pixels must be positive, got {pixels}")
    return size_free * REFERENCE_PIXELS / int(pixels) if content_norm == "sum" else size_free


def size_free_ratio(ratio: float, pixels: int, *, content_norm: str = "sum") -> float:
    """Inverse of :func:`ratio_at`: the 512²-equivalent of ``ratio`` used at ``pixels``."""
    return ratio / ratio_at(1.0, pixels, content_norm=content_norm)


DEFAULT_RATIO = DEFAULT_RATIO_512 * REFERENCE_PIXELS / (128 * 128)
"""alpha/beta at 128 × 128 px (:data:`DEFAULT_RATIO_512` carried to that size)."""
DEFAULT_CONTENT_LAYERS: dict[str, float] = {vgg.CONTENT_LAYER_PAPER: 1.0}
DEFAULT_STYLE_LAYERS: dict[str, float] = {name: 0.2 for name in vgg.STYLE_LAYERS}

GROWING_SUBSETS: tuple[tuple[float, ...], ...] = (
    (1, 0, 0, 0, 0),
    (0.5, 0.5, 0, 0, 0),
    (1 / 3, 1 / 3, 1 / 3, 0, 0),
    (0.25, 0.25, 0.25, 0.25, 0),
    (0.2, 0.2, 0.2, 0.2, 0.2),
)
"""Berkeley's rows: weights over :data:`helpers.nst.vgg.STYLE_LAYERS` (conv1_1 … conv5_1)."""
SINGLE_LAYERS: tuple[str, ...] = vgg.STYLE_LAYERS
"""Berkeley's content-reconstruction rows: conv1_1, conv2_1, conv3_1, conv4_1, conv5_1."""
CMU_GROUPS: tuple[tuple[str, ...], ...] = (
    ("conv1_1", "conv1_2"),
    ("conv2_1", "conv2_2"),
    ("conv3_1", "conv3_2", "conv3_3"),
    ("conv3_4", "conv4_1", "conv4_2"),
    ("conv4_3", "conv4_4", "conv5_1"),
    ("conv5_2", "conv5_3", "conv5_4"),
)
"""The CMU writeup's groups of VGG's 16 conv layers (its conv_1+conv_2, conv_3+conv_4, …)."""
ALPHA_BETA_RATIOS: tuple[float, ...] = (1e-2, 1e-4, 1e-6, 1e-8, 1e-10)
"""Berkeley's grid columns (alpha/beta)."""

DEFAULT_REGULARISERS: dict[str, float] = {"tv": 0.0}
"""Every objective's regularisers unless given: TV at weight 0 (not optimised, but its
unweighted value is recorded in every run's history and final losses, for comparison)."""

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise", "style")

LayerSpec = str | Sequence[str] | Sequence[float] | Mapping[str, float]
"""Per-layer weights: ``"conv4_2"``, ``"conv1_1:1,conv2_1:2"``, ``["conv1_1", "conv2_1"]``
(equal weights), ``[1, 0, 0, 0, 0]`` (over the default layers), or ``{"conv1_1": 0.5, …}``."""


# --- layer weights and objectives ------------------------------------------------------------


def parse_layer_spec(text: str, *, what: str = "layer") -> dict[str, float]:
    """``"conv1_1,conv2_1:2"`` -> ``{"conv1_1": 1.0, "conv2_1": 2.0}`` (not yet normalised)."""
    out: dict[str, float] = {}
    for item in (part.strip() for part in str(text).split(",")):
        if not item:
            continue
        name, _, weight = item.partition(":")
        name = name.strip()
        try:
            value = float(weight) if weight.strip() else 1.0
        except ValueError as exc:
            raise UserError(
                f"{what} weight {weight.strip()!r} for {name} is not a number; write name:weight, "
                "e.g. conv1_1:0.5"
            ) from exc
        if name in out:
            raise UserError(f"{what} {name} is listed twice; give each layer once")
        out[name] = value
    if not out:
        raise UserError(f"no {what}s given; name at least one, e.g. conv4_2")
    return out


def layer_weights(
    spec: LayerSpec, *, default_layers: Sequence[str] = vgg.STYLE_LAYERS, what: str = "layer"
) -> dict[str, float]:
    """Validate a :data:`LayerSpec` and normalise its weights to sum to 1 (zero weights dropped).

    Raises :class:`UserError` for unknown names (listing the valid ones), negative or
    non-finite weights, a vector whose length does not match ``default_layers``, or all zeros.
    """
    if isinstance(spec, str):
        raw = parse_layer_spec(spec, what=what)
    elif isinstance(spec, Mapping):
        raw = {str(k): v for k, v in spec.items()}
    else:
        items = list(spec)
        if items and all(isinstance(v, str) for v in items):
            raw = {}
            for name in items:
                if name in raw:
                    raise UserError(f"{what} {name} is listed twice; give each layer once")
                raw[name] = 1.0
        elif all(
            isinstance(v, int | float | np.floating | np.integer) and not isinstance(v, bool)
            for v in items
        ):
            if len(items) != len(default_layers):
                raise UserError(
                    f"{what} weight vector {items} has {len(items)} entries; it needs one per "
                    "layer of "
                    f"{', '.join(default_layers)}"
                )
            raw = dict(zip(default_layers, items))
        else:
            raise UserError(
                f"{what} weights {spec!r}: give layer names, name:weight pairs or a weight vector"
            )
    vgg.check_layers(raw, what=what)
    weights = {}
    for name, value in raw.items():
        try:
            value = float(value)
        except (TypeError, ValueError) as exc:
            raise UserError(f"{what} weight for {name} is not a number ({value!r})") from exc
        if not math.isfinite(value) or value < 0:
            raise UserError(f"{what} weight for {name} is {value}; weights must be finite and >= 0")
        weights[name] = value
    total = sum(weights.values())
    if total <= 0:
        raise UserError(f"all {what} weights are zero; give at least one layer a positive weight")
    return {name: value / total for name, value in weights.items() if value > 0}


def spec_label(spec: LayerSpec) -> str:
    """Short label of a layer spec for figures.

    ``[.5, .5, 0, 0, 0]``, ``conv4_2``, ``conv1_1+conv1_2``.
    """
    if isinstance(spec, str):
        return spec.replace(",", "+")
    if isinstance(spec, Mapping):
        values = set(spec.values())
        if len(values) == 1:
            return "+".join(spec)
        return "+".join(f"{k}:{v:g}" for k, v in spec.items())
    items = list(spec)
    if items and all(isinstance(v, str) for v in items):
        return "+".join(items)
    return "[" + ", ".join(_short(float(v)) for v in items) + "]"


def _short(v: float) -> str:
    if v == 0:
        return "0"
    if v == 1:
        return "1"
    text = f"{v:.2g}"
    return text[1:] if text.startswith("0.") else text


def _check_weight(name: str, value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{name} must be a number, got {value!r}") from exc
    if not math.isfinite(value) or value < 0:
        raise UserError(f"{name} must be finite and >= 0, got {value}")
    return value


def weight_key(name: str) -> str:
    """The keyword of regulariser ``name``'s weight: ``"tv"`` -> ``"tv_weight"``."""
    return f"{name}_weight"


def regulariser_weights(regularisers: Mapping[str, float] | None) -> dict[str, float]:
    """:data:`DEFAULT_REGULARISERS` updated with ``regularisers``, checked: every name in
    :data:`helpers.nst.losses.REGULARISERS`, every weight finite and >= 0."""
    out = dict(DEFAULT_REGULARISERS)
    for name, weight in (regularisers or {}).items():
        if name not in REGULARISERS:
            raise UserError(f"unknown regulariser {name!r}; use one of {', '.join(REGULARISERS)}")
        out[name] = _check_weight(weight_key(name), weight)
    return out


def pop_regularisers(options: dict) -> dict[str, float]:
    """Remove the regulariser weights from keyword ``options`` and return them by name: a
    ``regularisers`` mapping and any ``<name>_weight`` keyword (``tv_weight=1e-3``), the
    keyword winning."""
    given = dict(options.pop("regularisers", None) or {})
    for name in REGULARISERS:
        if weight_key(name) in options:
            given[name] = options.pop(weight_key(name))
    return given


@dataclass(frozen=True)
class Objective:
    """One configuration of the loss (one batch element).

    ``total = alpha·content + beta·style + Σ_r w_r·R_r``.  ``content_layers`` and
    ``style_layers`` take any :data:`LayerSpec`; after construction they are dicts whose
    weights sum to 1.  ``regularisers`` weighs the image regularisers by name
    (:data:`helpers.nst.losses.REGULARISERS`, e.g. ``{"tv": 1e-3}``); after construction it
    holds :data:`DEFAULT_REGULARISERS` updated with them.  ``alpha = beta = 0`` is refused; a
    group whose factor is 0 is ignored.
    """

    content_layers: LayerSpec = field(default_factory=lambda: dict(DEFAULT_CONTENT_LAYERS))
    style_layers: LayerSpec = field(default_factory=lambda: dict(DEFAULT_STYLE_LAYERS))
    alpha: float = DEFAULT_RATIO
    beta: float = 1.0
    regularisers: Mapping[str, float] = field(default_factory=dict)
    label: str = ""

    def __post_init__(self) -> None:
        alpha = _check_weight("alpha", self.alpha)
        beta = _check_weight("beta", self.beta)
        regularisers = regulariser_weights(self.regularisers)
        if alpha == 0 and beta == 0:
            raise UserError(
                "alpha and beta are both 0: nothing to optimise; make at least one positive"
            )
        content: dict[str, float] = {}
        style: dict[str, float] = {}
        if alpha > 0:
            content = layer_weights(
                self.content_layers, default_layers=vgg.STYLE_LAYERS, what="content layer"
            )
        if beta > 0:
            style = layer_weights(
                self.style_layers, default_layers=vgg.STYLE_LAYERS, what="style layer"
            )
        object.__setattr__(self, "alpha", alpha)
        object.__setattr__(self, "beta", beta)
        object.__setattr__(self, "regularisers", regularisers)
        object.__setattr__(self, "content_layers", content)
        object.__setattr__(self, "style_layers", style)

    @classmethod
    def from_ratio(cls, ratio: float, **kwargs) -> Objective:
        """``alpha = ratio``, ``beta = 1`` (the loss stays on the style loss's scale)."""
        return cls(alpha=_check_weight("ratio (alpha/beta)", ratio), beta=1.0, **kwargs)

    @property
    def ratio(self) -> float:
        """alpha / beta (``inf`` for a pure content objective)."""
        return self.alpha / self.beta if self.beta else math.inf

    def layers(self) -> list[str]:
        return list(dict.fromkeys([*self.content_layers, *self.style_layers]))
