"""The experiments the notebooks run, built on :func:`helpers.nst.optimize`.

Part of :mod:`helpers.nst`, above the loop: :func:`stylize`, :func:`reconstruct_content`,
:func:`reconstruct_style` (texture synthesis), :func:`alpha_beta_grid`,
:func:`content_style_grid` and the general :func:`run_grid` turn rows × columns of settings
into one batch of :class:`Objective` s; :func:`paper_vs_practice` and :func:`balance_point`
run the notebooks' comparisons.  They return :class:`TransferResult` s and plain data;
:mod:`helpers.nst.reading` reads them into rows and :mod:`helpers.tables` prints those.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import UserError
from . import vgg
from .inputs import ImageLike
from .loop import optimize
from .losses import REGULARISERS
from .objective import (
    ALPHA_BETA_RATIOS,
    DEFAULT_CONTENT_LAYERS,
    DEFAULT_RATIO,
    DEFAULT_RATIO_512,
    DEFAULT_STYLE_LAYERS,
    GROWING_SUBSETS,
    LayerSpec,
    Objective,
    pop_regularisers,
    ratio_at,
    spec_label,
    weight_key,
)
from .options import RunOptions
from .results import TransferResult

# --- grids ------------------------------------------------------------------------------------

_OBJECTIVE_KEYS = (
    "content_layers",
    "style_layers",
    "alpha",
    "beta",
    "ratio",
    "regularisers",
    *(weight_key(name) for name in REGULARISERS),
)
_ELEMENT_KEYS = ("content", "style", "seed", "init")


def _objective(spec: Mapping, label: str) -> Objective:
    spec = dict(spec)
    kwargs = {k: spec[k] for k in ("content_layers", "style_layers") if k in spec}
    kwargs["regularisers"] = pop_regularisers(spec)
    if "ratio" in spec:
        return Objective.from_ratio(spec["ratio"], label=label, **kwargs)
    return Objective(
        alpha=spec.get("alpha", DEFAULT_RATIO), beta=spec.get("beta", 1.0), label=label, **kwargs
    )


def run_grid(
    rows: Mapping[str, Mapping],
    cols: Mapping[str, Mapping],
    *,
    base: Mapping | None = None,
    **options,
) -> TransferResult:
    """Run every (row, col) combination as one batch (row-major) and keep the labels.

    Each row and column is ``{key: value}`` with keys from :class:`Objective`
    (``content_layers``, ``style_layers``, ``alpha``, ``beta``, ``ratio``, ``regularisers`` or
    a regulariser's ``<name>_weight`` such as ``tv_weight``) and per-element inputs
    (``content``, ``style``, ``seed``, ``init``); an element's settings are ``base | row |
    col``.  ``options`` go to :func:`helpers.nst.optimize`.
    """
    base = dict(base or {})
    allowed = set(_OBJECTIVE_KEYS) | set(_ELEMENT_KEYS)
    objs, per = [], {k: [] for k in _ELEMENT_KEYS}
    for (r_label, r_spec), (c_label, c_spec) in itertools.product(rows.items(), cols.items()):
        spec = {**base, **r_spec, **c_spec}
        unknown = set(spec) - allowed
        if unknown:
            raise UserError(
                f"unknown grid setting(s) {', '.join(sorted(unknown))}; "
                f"use {', '.join(sorted(allowed))}"
            )
        objective_spec = {k: v for k, v in spec.items() if k in _OBJECTIVE_KEYS}
        objs.append(_objective(objective_spec, f"{r_label} | {c_label}"))
        for key in _ELEMENT_KEYS:
            per[key].append(spec.get(key))
    for key in ("content", "style"):
        if all(v is None for v in per[key]):
            options.setdefault(key, None)
        elif key not in options:
            options[key] = per[key]
    if any(v is not None for v in per["seed"]):
        options["seed"] = [v if v is not None else options.get("seed", 0) for v in per["seed"]]
    if any(v is not None for v in per["init"]):
        inits = {id(v) if not isinstance(v, str) else v for v in per["init"]}
        if len(inits) > 1:
            raise UserError("one init per grid: put init in base or pass it as an option")
        options["init"] = per["init"][0]
    result = optimize(objs, **options)
    result.rows, result.cols = list(rows), list(cols)
    return result


def _named(images) -> dict:
    """An image, a list of images or ``{name: image}`` -> ``{name: image}``."""
    if isinstance(images, Mapping):
        return dict(images)
    if isinstance(images, list | tuple):
        return {
            Path(i).stem if isinstance(i, str | os.PathLike) else f"image {k}": i
            for k, i in enumerate(images)
        }
    name = Path(images).stem if isinstance(images, str | os.PathLike) else "image"
    return {name: images}


def _seeds(seeds) -> list[int]:
    return [int(s) for s in seeds] if isinstance(seeds, list | tuple) else [int(seeds)]


def _spec_list(layers) -> list:
    """One spec or a list of specs -> list of specs.

    A string or mapping is one spec; a vector of numbers is one spec; a list of strings is a
    list of single-layer specs (pass ``[("conv1_1", "conv1_2")]`` or ``"conv1_1,conv1_2"`` for
    one spec of several layers).
    """
    if isinstance(layers, str | Mapping):
        return [layers]
    items = list(layers)
    if items and all(isinstance(v, int | float) and not isinstance(v, bool) for v in items):
        return [items]
    return items


# --- the experiments ----------------------------------------------------------------------------

Images = ImageLike | Sequence[ImageLike] | Mapping[str, ImageLike]
"""One image, a list of images (named by file stem) or ``{name: image}``."""


def reconstruct_content(
    content: ImageLike,
    layers: LayerSpec | Sequence[LayerSpec] = vgg.CONTENT_LAYER_PAPER,
    *,
    seeds: int | Sequence[int] = 0,
    init: str | ImageLike = "noise",
    **options,
) -> TransferResult:
    """Content reconstruction: match ``content``'s features at ``layers`` starting from noise.

    ``layers`` is one :data:`LayerSpec` or a list of them (the rows); ``seeds`` one or several
    noise seeds (the columns).  Every row × seed runs in one batch.
    """
    specs = _spec_list(layers)
    rows = {spec_label(s): {"content_layers": s} for s in specs}
    cols = {f"seed {s}": {"seed": s} for s in _seeds(seeds)}
    return run_grid(
        rows, cols, base={"alpha": 1.0, "beta": 0.0}, content=content, init=init, **options
    )


def reconstruct_style(
    style: Images,
    layers: LayerSpec | Sequence[LayerSpec] = DEFAULT_STYLE_LAYERS,
    *,
    seeds: int | Sequence[int] = 0,
    init: str | ImageLike = "noise",
    **options,
) -> TransferResult:
    """Texture synthesis: match the Gram matrices of ``style`` at ``layers``, starting from noise.

    Rows are the layer specs; columns are the styles (``{name: image}`` or a list) × seeds.
    Pass ``size`` (``N`` or ``"WxH"``) for the output; each style is resized to it.
    """
    specs = _spec_list(layers)
    styles = _named(style)
    seed_list = _seeds(seeds)
    rows = {spec_label(s): {"style_layers": s} for s in specs}
    cols = {}
    for (name, img), s in itertools.product(styles.items(), seed_list):
        if len(seed_list) == 1:
            label = name
        else:
            label = f"seed {s}" if len(styles) == 1 else f"{name}, seed {s}"
        cols[label] = {"style": img, "seed": s}
    return run_grid(rows, cols, base={"alpha": 0.0, "beta": 1.0}, init=init, **options)


def output_pixels(content: ImageLike, size=None) -> int:
    """H·W of the output for ``content`` at ``size`` (the rule of :func:`optimize`)."""
    from ..images import target_shape
    from .inputs import as_array

    h, w = target_shape(as_array(content, "content image").shape[:2], size)
    return int(h) * int(w)


def carried_ratio(
    size_free: float, content: ImageLike, size=None, *, content_norm: str = "sum"
) -> float:
    """alpha/beta for ``content`` at ``size`` from a size-free (512²) ratio, see
    :func:`helpers.nst.objective.ratio_at`."""
    return ratio_at(size_free, output_pixels(content, size), content_norm=content_norm)


def stylize(
    content: ImageLike,
    style: Images,
    *,
    ratio: float | None = None,
    alpha: float | None = None,
    beta: float | None = None,
    size_free_ratio: float | None = None,
    content_layers: LayerSpec = DEFAULT_CONTENT_LAYERS,
    style_layers: LayerSpec = DEFAULT_STYLE_LAYERS,
    init: str | ImageLike = "content",
    scales: Sequence[int] | str | None = None,
    **options,
) -> TransferResult:
    """Neural style transfer of ``content`` with ``style`` (one style, or several as one batch).

    Give one of ``ratio`` (alpha/beta at this size; alpha = ratio, beta = 1), ``alpha`` and
    ``beta``, or ``size_free_ratio`` (the 512² value, carried to the output's size by
    :func:`carried_ratio`; default :data:`DEFAULT_RATIO_512`).  Several styles (``{name:
    image}`` or a list) run as one batch, one column each.  Regularisers are weighed by name:
    ``tv_weight=1e-3`` (any ``<name>_weight`` of :data:`helpers.nst.losses.REGULARISERS`) or
    ``regularisers={"tv": 1e-3}``.  The other ``options`` go to :func:`helpers.nst.optimize`
    (a recipe's: ``**recipe.options(...)``).

    ``scales``: None (default) runs one scale, as the paper; increasing sizes (longer sides)
    run coarse to fine (:mod:`helpers.nst.scales`), replacing ``size``, with ``steps`` one
    count per scale or one for all.
    """
    from . import scales as _scales

    stages = _scales.plan(
        scales, options.get("steps", RunOptions.steps), batch=_scales.is_batch(style)
    )
    if stages is not None:
        options = {k: v for k, v in options.items() if k not in ("size", "steps")}
        return _scales.stylize_scaled(
            stages,
            content,
            style,
            ratio=ratio,
            alpha=alpha,
            beta=beta,
            size_free_ratio=size_free_ratio,
            content_layers=content_layers,
            style_layers=style_layers,
            init=init,
            **options,
        )
    given = [ratio is not None, alpha is not None or beta is not None, size_free_ratio is not None]
    if sum(given) > 1:
        raise UserError("give one of ratio, alpha/beta or size_free_ratio, not several")
    if not any(given):
        size_free_ratio = DEFAULT_RATIO_512
    if size_free_ratio is not None:
        ratio = carried_ratio(
            size_free_ratio,
            content,
            options.get("size"),
            content_norm=options.get("content_norm", "sum"),
        )
    if ratio is not None:
        weights = {"ratio": ratio}
    else:
        weights = {"alpha": 1.0 if alpha is None else alpha, "beta": 1.0 if beta is None else beta}
    base = {
        "content_layers": content_layers,
        "style_layers": style_layers,
        "regularisers": pop_regularisers(options),
        **weights,
    }
    styles = _named(style)
    if len(styles) == 1 and not isinstance(style, Mapping | list | tuple):
        obj = _objective(base, "")
        return optimize(obj, content=content, style=style, init=init, **options)
    cols = {name: {"style": img} for name, img in styles.items()}
    return run_grid({"": {}}, cols, base=base, content=content, init=init, **options)


def alpha_beta_grid(
    content: ImageLike,
    style: ImageLike,
    *,
    ratios: Sequence[float] = ALPHA_BETA_RATIOS,
    style_layer_sets: Sequence[LayerSpec] = GROWING_SUBSETS,
    content_layers: LayerSpec = DEFAULT_CONTENT_LAYERS,
    **options,
) -> TransferResult:
    """Berkeley's grid: rows = style-layer sets, columns = alpha/beta ratios, all in one batch."""
    rows = {spec_label(s): {"style_layers": s} for s in _spec_list(style_layer_sets)}
    cols = {f"α/β = {r:.0e}": {"ratio": r} for r in ratios}
    return run_grid(
        rows, cols, base={"content_layers": content_layers}, content=content, style=style, **options
    )


def content_style_grid(
    contents: Images,
    styles: Images,
    *,
    ratio: float | None = None,
    size_free_ratio: float | None = None,
    content_layers: LayerSpec = DEFAULT_CONTENT_LAYERS,
    style_layers: LayerSpec = DEFAULT_STYLE_LAYERS,
    **options,
) -> TransferResult:
    """Every content × every style (a grid of the project's; the CMU writeup shows none): one batch
    per content image (they may differ in shape), the styles of a row batched together.  ``ratio``
    is used as given; else ``size_free_ratio`` (default :data:`DEFAULT_RATIO_512`) is carried to
    each photo's size."""
    if ratio is not None and size_free_ratio is not None:
        raise UserError("give ratio or size_free_ratio, not both")
    contents, styles = _named(contents), _named(styles)
    cols = {name: {"style": img} for name, img in styles.items()}
    parts = []
    for name, img in contents.items():
        r = (
            ratio
            if ratio is not None
            else carried_ratio(
                DEFAULT_RATIO_512 if size_free_ratio is None else size_free_ratio,
                img,
                options.get("size"),
                content_norm=options.get("content_norm", "sum"),
            )
        )
        base = {"ratio": r, "content_layers": content_layers, "style_layers": style_layers}
        parts.append(run_grid({name: {}}, cols, base=base, content=img, **options))
    return TransferResult.concat(parts, rows=list(contents), cols=list(styles))


# --- paper against common practice -----------------------------------------------------------

PRACTICE_ROWS = ("pooling", "features", "init", "Gram", "optimizer")
"""The rows of :func:`paper_vs_practice`: each the paper's setting beside the common one."""


INIT_SOURCES = {"content": "Gatys' code", "noise": "the paper's figures"}
"""Where the ``gatys`` recipe's two inits come from: Gatys et al.'s figures start from white
noise, the authors' code from the content photo."""


def _init_label(recipe, init: str, *, default: str | None = None) -> str:
    from .recipes import get_recipe

    source = INIT_SOURCES.get(init) if get_recipe(recipe).name == "gatys" else default
    return f"{init} init ({source})" if source else f"{init} init"


def paper_vs_practice(
    content: ImageLike, style: ImageLike, *, size, steps: int, recipe="gatys", **options
) -> dict[str, dict[str, TransferResult]]:
    """One run per choice at the same evaluation budget: ``{row: {label: result}}``.

    The first entry of every row is the recipe itself (one shared run); the others change one
    setting: max pooling, pre-activation ``conv`` features, noise init, the mean-normalised
    Gram, and Adam at Berkeley's lr 0.2 and at the project's :data:`ADAM_LR`.  Each run's loss
    is its own objective's, so only the optimiser and init rows compare losses directly.
    Under ``gatys`` the init row names both sources (:data:`INIT_SOURCES`): the paper's figures
    start from white noise, its authors' code from the photo.
    """
    from .objective import ADAM_LR, BERKELEY_LR
    from .recipes import get_recipe

    base = get_recipe(recipe).options(size=size, steps=steps, **options)

    def run(**change) -> TransferResult:
        return stylize(content, style, **{**base, **change})

    paper = run()
    conv = {
        k: dict(zip(vgg.as_kind(base[k], "conv"), base[k].values()))
        for k in ("content_layers", "style_layers")
    }
    alt_init = "noise" if base["init"] != "noise" else "content"
    alt_optimizer = "adam" if base["optimizer"] == "lbfgs" else "lbfgs"
    optimizer_row = {f"{base['optimizer']} (paper)": paper}
    if alt_optimizer == "adam":
        optimizer_row |= {
            f"adam lr {BERKELEY_LR:g} (Berkeley)": run(optimizer="adam", lr=BERKELEY_LR),
            f"adam lr {ADAM_LR:g} (project)": run(optimizer="adam", lr=ADAM_LR),
        }
    else:
        optimizer_row[alt_optimizer] = run(optimizer=alt_optimizer)
    return {
        "pooling": {
            f"{base['pooling']} pooling (paper)": paper,
            "max pooling" if base["pooling"] == "avg" else "avg pooling": run(
                pooling="max" if base["pooling"] == "avg" else "avg"
            ),
        },
        "features": {"relu features (paper)": paper, "conv (pre-activation)": run(**conv)},
        "init": {
            _init_label(recipe, base["init"], default="paper"): paper,
            _init_label(recipe, alt_init): run(init=alt_init),
        },
        "Gram": {
            f"{base['gram']} Gram (paper)": paper,
            "mean Gram" if base["gram"] != "mean" else "raw Gram": run(
                gram="mean" if base["gram"] != "mean" else "raw"
            ),
        },
        "optimizer": optimizer_row,
    }


# --- the alpha/beta balance point ------------------------------------------------------------


def balance_point(
    content: ImageLike, style: ImageLike, *, steps: int = 40, recipe="gatys", size=None, **options
) -> dict[str, float]:
    """Where content and style balance: ``L_style(photo) / L_content(stylised)``.

    The style loss of the content photo (where a transfer starts) over the content loss of a
    fully stylised image (a pure-style run of ``steps`` evaluations from the photo): at
    alpha/beta equal to this, both terms weigh the same.  Returns the balance, its size-free
    (512²) value under the recipe's normalisation, the pixels and the two losses.
    """
    from .objective import size_free_ratio
    from .recipes import get_recipe

    rec = get_recipe(recipe)
    opts = rec.options(steps=steps, **options)
    opts["size"] = size  # None: the content's own size, not the recipe's
    for key in ("size_free_ratio", "content_layers", "style_layers", "init"):
        opts.pop(key)
    styled = optimize(
        Objective(alpha=0.0, beta=1.0, style_layers=rec.style_layers),
        content=content,
        style=style,
        init="content",
        **opts,
    )
    probe = optimize(
        Objective(alpha=1.0, beta=0.0, content_layers=rec.content_layers),
        content=content,
        init=styled.image,
        **{**opts, "steps": 1},
    )
    style_of_photo = float(styled.history.style[0, 0])
    content_of_stylised = float(probe.history.content[0, 0])
    balance = style_of_photo / content_of_stylised
    h, w = styled.image.shape[:2]
    return {
        "balance": balance,
        "pixels": h * w,
        "balance_512": size_free_ratio(balance, h * w, content_norm=rec.content_norm),
        "style_of_photo": style_of_photo,
        "content_of_stylised": content_of_stylised,
    }
