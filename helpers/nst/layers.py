"""VGG-19's layer names, channels and strides (``helpers.nst.layers``): no torch, no weights.

The bottom of :mod:`helpers.nst`: the network (:mod:`helpers.nst.vgg`, which re-exports these
names, so ``vgg.STYLE_LAYERS`` and ``layers.STYLE_LAYERS`` are the same object), the objective
and the memory estimate name layers through this table.  Layer names follow the papers
(``conv1_1`` ... ``conv5_4``, ``relu1_1`` ..., ``pool1`` ...) and map onto torchvision's
``vgg19().features`` indices.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import UserError

# --- layer names -----------------------------------------------------------------------------

_BLOCKS = (2, 2, 4, 4, 4)  # conv layers per block in VGG-19


def _layer_names() -> list[str]:
    names = []
    for block, n_conv in enumerate(_BLOCKS, start=1):
        for i in range(1, n_conv + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return names


LAYER_NAMES: tuple[str, ...] = tuple(_layer_names())
"""All 37 layer names in network order; ``LAYER_NAMES[i]`` is torchvision ``features[i]``."""
LAYER_INDEX: dict[str, int] = {name: i for i, name in enumerate(LAYER_NAMES)}
CONV_LAYERS: tuple[str, ...] = tuple(n for n in LAYER_NAMES if n.startswith("conv"))

# The paper's "conv1_1" is the *rectified* activation: Caffe runs its ReLU in place on the conv
# blob, Gatys' own PyTorch code names the layers r11 … r51 and r42, and Berkeley's hooks on
# torchvision's conv modules [0, 5, 10, 19, 28] see the blob after the in-place ReLU.  Here the
# ReLUs are not in place, so ``relu1_1`` is that rectified activation and ``conv1_1`` the
# pre-activation response: a named variant (CONV_STYLE_LAYERS), a different objective.
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
"""Gatys et al.'s style layers, rectified (after torchvision indices 0, 5, 10, 19, 28)."""
CONTENT_LAYER_PAPER = "relu4_2"
CONTENT_LAYER_BERKELEY = "relu4_1"
CONV_STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
"""The pre-activation variant of :data:`STYLE_LAYERS` (the conv outputs before the ReLU)."""
CONV_CONTENT_LAYER = "conv4_2"
"""The pre-activation variant of :data:`CONTENT_LAYER_PAPER`."""
FEATURE_KINDS = ("relu", "conv")
"""``"relu"``: rectified activations (the papers' features); ``"conv"``: pre-activation."""


def as_kind(layers: Iterable[str], kind: str) -> list[str]:
    """``layers`` renamed to their ``relu`` (rectified) or ``conv`` (pre-activation) variant.

    ``as_kind(["conv1_1", "pool1"], "relu") == ["relu1_1", "pool1"]``; pooling layers stay.
    """
    if kind not in FEATURE_KINDS:
        raise UserError(f"feature kind must be one of {', '.join(FEATURE_KINDS)}, got {kind!r}")
    out = []
    for name in check_layers(layers):
        if name.startswith(("conv", "relu")):
            name = kind + name[4:]
        out.append(name)
    return out


CHANNELS = {
    f"conv{b}_{i}": c
    for b, (n, c) in enumerate(zip(_BLOCKS, (64, 128, 256, 512, 512)), 1)
    for i in range(1, n + 1)
}
for _n in LAYER_NAMES:
    if _n.startswith("relu"):
        CHANNELS[_n] = CHANNELS["conv" + _n[4:]]
    elif _n.startswith("pool"):
        CHANNELS[_n] = CHANNELS[f"conv{_n[4:]}_1"]


def check_layers(layers: Iterable[str], what: str = "layer") -> list[str]:
    """Validate layer names; raise a :class:`UserError` listing the valid ones."""
    layers = list(layers)
    bad = [name for name in layers if name not in LAYER_INDEX]
    if bad:
        raise UserError(
            f"unknown {what} name(s) {', '.join(map(repr, bad))}; valid names are "
            f"relu1_1 … relu5_4 (rectified, the papers' features), conv1_1 … conv5_4 "
            f"(pre-activation), pool1 … pool5 ({', '.join(CONV_LAYERS)})"
        )
    return layers


def downsampling(layer: str) -> int:
    """Spatial stride of ``layer``'s output relative to the input (1, 2, 4, 8 or 16)."""
    return 2 ** sum(1 for n in LAYER_NAMES[: LAYER_INDEX[layer] + 1] if n.startswith("pool"))


def min_size(layers: Iterable[str]) -> int:
    """Smallest input side (pixels) for which every requested layer has at least a 1x1 output."""
    return max(downsampling(name) for name in check_layers(layers))
