"""Named recipes: everything one published method needs, in one frozen record.

Part of :mod:`helpers.nst`, above :mod:`helpers.nst.objective` and below the experiments and
the CLI.  A :class:`Recipe` holds the network settings (weights, pooling, layers and layer
weights), the loss normalisation and alpha/beta, the optimiser settings (optimiser, lr,
evaluations) and the input settings (image size rule, init).  Three are provided:

* ``gatys`` — the paper as its authors ran it (Gatys, Ecker & Bethge, CVPR 2016, and Gatys'
  own PyTorch code): rectified features relu1_1 … relu5_1 at 0.2 each for style, relu4_2 for
  content, average pooling, the raw Gram ``/(4N²M²)`` and ``½·Σ`` content loss, L-BFGS from the
  content photo.
* ``berkeley`` — the Berkeley writeup's settings: Adam lr 0.2 on the [0, 1] image, 1200 steps,
  content relu4_1 (its [0, 0, 0, 1, 0]), the same five style layers at 0.2, MSE content loss and
  Gram MSE ``/(4N²M²)``, 224 × 224 squares, init from the content image.  Two departures, both
  the project's: the Caffe weights (the writeup: "a pretrained VGG-19" with inputs normalised to
  ImageNet's mean and std, torchvision's convention) and alpha/beta 1e-3 where the writeup used
  1e-8 (:data:`BERKELEY_RATIO`).
* ``cmu`` — the CMU writeup's layers: content at conv_3 + conv_4 (conv2_1 + conv2_2 in VGG's
  names), style at conv_1 … conv_4 (conv1_1 … conv2_2), the style image resized to the content's
  size.  The writeup names no optimiser, pooling or Gram normalisation: it says the starter
  code's default hyperparameters worked best.  The rest is the PyTorch neural-style tutorial's
  settings, which we take to be that starter code (our inference): L-BFGS, pre-activation
  features (the tutorial swaps the in-place ReLUs for out-of-place ones, so its loss modules see
  the conv outputs), max pooling, its mean-normalised Gram and MSE content loss.

alpha/beta is stored size-free (:func:`helpers.nst.objective.ratio_at`): the value at 512²
for the paper's summed content loss, or the ratio itself for a mean content loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..errors import UserError
from . import vgg
from .objective import (
    ADAM_LR,
    BERKELEY_LR,
    BERKELEY_STEPS,
    DEFAULT_RATIO_512,
    ratio_at,
    spec_label,
)

BALANCE_FRACTION = 0.1
"""Every recipe's alpha/beta sits at this fraction of its measured balance point (notebook 03's
rule: style dominates, the photo's layout stays), rounded to one significant figure."""
BERKELEY_RATIO = 1e-3
"""The ``berkeley`` recipe's alpha/beta with the Caffe weights: the project's rule
(:data:`BALANCE_FRACTION`), not a conversion of the writeup's value.  The writeup used 1e-8 with
"a pretrained VGG-19" whose inputs it normalised to ImageNet's mean and std; it names no weight
file.  With its losses (MSE content, Gram MSE / (4N²M²)) and the Caffe weights the balance point
(style loss of the photo / content loss of a fully stylised image, Tübingen × Starry Night)
measured 0.0167, 0.0147 and 0.0141 at 64, 128 and 224 px: size-free, as both losses are means.
A tenth of it is 1.5e-3 → 1e-3.  That 1e-3 here does what 1e-8 did there is our assumption:
the balance point was never measured with torchvision's weights."""
CMU_RATIO = 8e-2
"""The ``cmu`` recipe's alpha/beta with the Caffe weights, found by the same rule: its balance
point measured 0.81, 0.78 and 0.78 at 64, 128 and 224 px (size-free: mean losses)."""

CMU_CONTENT_LAYERS = ("conv2_1", "conv2_2")
"""CMU's content layers conv_3 + conv_4 (its numbering of VGG's 16 conv layers)."""
CMU_STYLE_LAYERS = ("conv1_1", "conv1_2", "conv2_1", "conv2_2")
"""CMU's style layers conv_1 … conv_4."""


def _names(layers) -> str:
    names = list(layers)
    return "+".join(names) if len(names) <= 2 else f"{names[0]} … {names[-1]} ({len(names)})"


def _equal(names) -> dict[str, float]:
    return {name: 1.0 / len(names) for name in names}


@dataclass(frozen=True)
class Recipe:
    """One method's settings; :meth:`options` turns them into :func:`helpers.nst.stylize`
    keyword arguments, overridden by any explicit value."""

    name: str
    source: str
    content_layers: dict[str, float]
    style_layers: dict[str, float]
    ratio: float
    """Size-free alpha/beta: the value at 512² when ``content_norm == "sum"``, else the ratio."""
    weights: str = "caffe"
    pooling: str = "avg"
    content_norm: str = "sum"
    gram: str = "raw"
    optimizer: str = "lbfgs"
    lr: float = ADAM_LR
    steps: int = 500
    size: str = "512"
    """Image size rule: ``N`` = longer side (aspect kept) or ``WxH``."""
    style_size: str | None = None
    """``None``: the style image is resized to the output's size."""
    init: str = "content"
    noise: float = 0.05
    notes: tuple[str, ...] = field(default=())

    def ratio_at(self, pixels: int) -> float:
        """alpha/beta for an output of ``pixels`` (H·W) under this recipe's normalisation."""
        return ratio_at(self.ratio, pixels, content_norm=self.content_norm)

    def options(self, **overrides) -> dict:
        """Keyword arguments of :func:`helpers.nst.stylize`; ``overrides`` win (``None`` values
        are ignored, so unset CLI options keep the recipe's)."""
        opts = dict(
            content_layers=dict(self.content_layers),
            style_layers=dict(self.style_layers),
            size_free_ratio=self.ratio,
            weights=self.weights,
            pooling=self.pooling,
            content_norm=self.content_norm,
            gram=self.gram,
            optimizer=self.optimizer,
            lr=self.lr,
            steps=self.steps,
            size=self.size,
            style_size=self.style_size,
            init=self.init,
            noise=self.noise,
        )
        given = {k: v for k, v in overrides.items() if v is not None}
        if {"ratio", "alpha", "beta"} & set(given):
            opts.pop("size_free_ratio")
        opts.update(given)
        return opts

    def run_options(self, **overrides) -> dict:
        """:meth:`options` without the objective's settings (layers and alpha/beta): the
        keyword arguments of :func:`helpers.nst.optimize` for a run that sets those itself
        (a reconstruction, a grid)."""
        opts = self.options(**overrides)
        for key in ("content_layers", "style_layers", "size_free_ratio", "ratio", "alpha", "beta"):
            opts.pop(key, None)
        return opts

    def with_(self, **changes) -> Recipe:
        """A copy with some settings changed (a named variant)."""
        return replace(self, **changes)

    def settings(self) -> dict[str, str]:
        """Every setting as display text, in a fixed order (:func:`helpers.tables.recipes_table`
        sets recipes side by side)."""
        scale = (
            f"{self.ratio:g} at 512² (× 512²/pixels)"
            if self.content_norm == "sum"
            else f"{self.ratio:g} at any size"
        )
        return {
            "weights": self.weights,
            "pooling": self.pooling,
            "content layers": spec_label(self.content_layers),
            "style layers": _names(self.style_layers),
            "layer weights": ", ".join(f"{w:.2g}" for w in self.style_layers.values()),
            "content loss": "½·Σ(F−P)²" if self.content_norm == "sum" else "mean (F−P)² (MSE)",
            "style loss": {
                "raw": "Σ(G−A)²/(4N²M²)",
                "berkeley": "mean (G−A)²/(4N²M²)",
                "mean": "mean (G/NM − A/NM)²",
            }[self.gram],
            "alpha/beta": scale,
            "optimizer": (f"adam, lr {self.lr:g}" if self.optimizer == "adam" else self.optimizer),
            "evaluations": str(self.steps),
            "size": self.size,
            "style size": self.style_size or "the output's",
            "init": self.init,
        }


RECIPES: dict[str, Recipe] = {
    "gatys": Recipe(
        name="gatys",
        source="Gatys, Ecker & Bethge (CVPR 2016) and Gatys' PyTorch code",
        content_layers={vgg.CONTENT_LAYER_PAPER: 1.0},
        style_layers=_equal(vgg.STYLE_LAYERS),
        ratio=DEFAULT_RATIO_512,
        notes=(
            "init from the content photo as in Gatys' code (the paper's figures start from "
            "white noise)",
            "500 L-BFGS evaluations (Gatys' code: max_iter 500)",
        ),
    ),
    "berkeley": Recipe(
        name="berkeley",
        source="the Berkeley writeup, on the Caffe weights",
        content_layers={vgg.CONTENT_LAYER_BERKELEY: 1.0},
        style_layers=_equal(vgg.STYLE_LAYERS),
        ratio=BERKELEY_RATIO,
        content_norm="mean",
        gram="berkeley",
        optimizer="adam",
        lr=BERKELEY_LR,
        steps=BERKELEY_STEPS,
        size="224x224",
        init="content",
        noise=0.5,
        notes=(
            "Adam lr 0.2 on the [0, 1] image (its NormLayer is inside the network)",
            "white noise U[0, 1] (noise 0.5) for reconstructions",
            "alpha/beta 1e-3 by the project's rule (a tenth of the balance point measured with the "
            "Caffe weights), where the writeup used 1e-8 with its pretrained VGG-19; never "
            "measured with torchvision's weights",
            "the Caffe weights, where the writeup normalised inputs to ImageNet's mean and std",
        ),
    ),
    "cmu": Recipe(
        name="cmu",
        source="the CMU writeup's layers, the PyTorch tutorial's settings (our guess at its "
        "starter code)",
        content_layers=_equal(CMU_CONTENT_LAYERS),
        style_layers=_equal(CMU_STYLE_LAYERS),
        ratio=CMU_RATIO,
        pooling="max",
        content_norm="mean",
        gram="mean",
        steps=300,
        size="512",
        notes=(
            "L-BFGS, pre-activation conv features, max pooling, mean-normalised Gram: the PyTorch "
            "tutorial's settings, taken as the likely starter code (the writeup names none of "
            "them; it says the starter code's defaults worked best)",
            "512 px and 300 evaluations: the tutorial's image size on a GPU and num_steps (the "
            "writeup gives neither)",
        ),
    ),
}
"""The named recipes, by name."""
RECIPE_NAMES: tuple[str, ...] = tuple(RECIPES)


def get_recipe(recipe: str | Recipe) -> Recipe:
    """A :class:`Recipe` by name (or the recipe itself); unknown names list the valid ones."""
    if isinstance(recipe, Recipe):
        return recipe
    try:
        return RECIPES[str(recipe)]
    except KeyError:
        raise UserError(
            f"unknown recipe {recipe!r}; use one of {', '.join(RECIPE_NAMES)}"
        ) from None


def recipe_help() -> str:
    """One line per recipe for ``--help``."""
    return "; ".join(
        f"{r.name}: {r.source} ({r.settings()['optimizer']}, {r.settings()['content layers']})"
        for r in RECIPES.values()
    )


__all__ = [
    "Recipe",
    "RECIPES",
    "RECIPE_NAMES",
    "get_recipe",
    "recipe_help",
    "CMU_CONTENT_LAYERS",
    "CMU_STYLE_LAYERS",
    "BERKELEY_RATIO",
    "CMU_RATIO",
]
