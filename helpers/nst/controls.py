"""Style-transfer controls of Gatys et al. 2017, *Controlling Perceptual Factors in Neural Style
Transfer*: colour preservation, several styles with blend weights, spatial (masked) styles and
coarse-to-fine scales.

Part of :mod:`helpers.nst`, above :mod:`helpers.nst.experiments`: every control runs through
:func:`helpers.nst.stylize` and so through the one loop (:func:`helpers.nst.optimize`) and the
one objective.  The loop's ``style_mix`` hook swaps the single style image's Gram matrices for a
:class:`helpers.nst.losses.StyleMix` target, ``Σ_s w_s·E(style_s)``, each term optionally inside
its mask (guided Gram matrices, :func:`helpers.nst.losses.guided_gram_matrix`).

* **Colour** (:mod:`helpers.nst.color`): ``"luminance"`` transfers the luma only and takes
  the chroma back from the content; ``"histogram"`` first maps the style's colour mean and
  covariance onto the content's (image-analogies variant by default, Cholesky as an option).
* **Blends**: the style loss is ``Σ_s w_s·E(style_s)`` over the style images for one output,
  the weights normalised to sum to 1 so the loss stays on one style's scale.  Batches of
  different blends run together (:func:`blend_row`).
* **Masks** (spatial control): one mask per style, white where that style applies; masks are
  averaged down to each layer's resolution and multiply the features before the Gram matrix,
  which is then normalised by the mask's area.  The masks must cover the image.
* **Scales**: :func:`multiscale` runs the same objective at increasing sizes, each scale
  starting from the upsampled previous result, with an evaluation budget per scale;
  :func:`compare_multiscale` sets it against one run at the final size in the same time.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from ..errors import UserError
from . import losses, vgg
from .color import (
    HISTOGRAM_METHODS,
    PRESERVE_COLORS,
    color_inputs,
    luminance_inputs,
    match_histogram,
    recombine_luminance,
    rgb_to_ycbcr,
    ycbcr_to_rgb,
)
from .evaluator import build_network, style_targets
from .experiments import stylize
from .inputs import ImageLike, Prepared, as_array
from .results import TransferResult, stages_text

BLEND_ROW = ((1, 0), (3, 1), (1, 1), (1, 3), (0, 1))
"""The blend figure's weights A:B, from style A alone to style B alone."""
MASK_WHITE = 0.5
"""A mask pixel is white (its style applies there) at or above this value."""

# --- several styles: blends and masks -----------------------------------------------------------


def blend_weights(weights: Sequence[float] | None, n_styles: int) -> np.ndarray:
    """Blend weights, one per style, checked and normalised to sum to 1 (``None``: equal)."""
    if weights is None:
        return np.full(n_styles, 1.0 / n_styles)
    w = np.asarray([float(v) for v in weights], dtype=np.float64)
    if len(w) != n_styles:
        raise UserError(
            f"{len(w)} blend weights for {n_styles} style images; give one weight per style"
        )
    if not np.isfinite(w).all() or (w < 0).any():
        raise UserError(f"blend weights {list(weights)} must be finite and >= 0")
    if w.sum() <= 0:
        raise UserError("all blend weights are zero; give at least one style a positive weight")
    return w / w.sum()


def load_mask(mask: ImageLike, what: str = "mask") -> np.ndarray:
    """A mask (path, sample name or array) as ``(H, W)`` float32 in [0, 1]; an 8-bit 0/1 mask
    (largest value 1/255) is read as 0/1."""
    from ..images import load_image, resolve

    if isinstance(mask, np.ndarray | torch.Tensor):
        arr = np.asarray(
            mask.detach().cpu() if isinstance(mask, torch.Tensor) else mask, dtype=np.float32
        )
        arr = arr.squeeze()
        arr = arr.mean(axis=-1) if arr.ndim == 3 else arr
    else:
        arr = load_image(resolve(mask, what=what), mode="L")
    if arr.ndim != 2 or not np.isfinite(arr).all():
        raise UserError(f"{what}: expected a finite (H, W) grey image, got shape {arr.shape}")
    if 0 < arr.max() <= 1.5 / 255:
        arr = arr / arr.max()
    return np.clip(arr, 0.0, 1.0).astype(np.float32)


def prepare_masks(
    masks: Sequence[ImageLike],
    n_styles: int,
    shape: tuple[int, int],
    *,
    names: Sequence[str] | None = None,
) -> tuple[list[np.ndarray], list[str]]:
    """Masks at the output ``shape`` (H, W), checked: one per style, none empty, together
    covering every pixel.  Returns the masks and notes (one line per resized mask)."""
    from ..images import resize

    if len(masks) != n_styles:
        raise UserError(
            f"{len(masks)} style mask(s) for {n_styles} style image(s); give one mask "
            "per style image (white where that style applies)"
        )
    names = list(names) if names is not None else [f"mask {k + 1}" for k in range(n_styles)]
    h, w = shape
    out, notes = [], []
    for name, mask in zip(names, masks, strict=True):
        m = load_mask(mask, what=f"style mask {name}")
        if m.shape != (h, w):
            if abs(m.shape[1] / m.shape[0] - w / h) > 0.02:
                notes.append(
                    f"note: style mask {name} is {m.shape[1]}x{m.shape[0]}, a different "
                    f"aspect ratio from the {w}x{h} output; stretched to fit"
                )
            else:
                notes.append(
                    f"note: style mask {name} is {m.shape[1]}x{m.shape[0]}; resized to "
                    f"the {w}x{h} output"
                )
            m = np.clip(resize(m, (w, h)), 0.0, 1.0)
        if not (m >= MASK_WHITE).any():
            raise UserError(
                f"style mask {name} is empty: no pixel is white (>= {MASK_WHITE}); "
                "paint its style's region white"
            )
        out.append(m)
    uncovered = np.max(np.stack(out), axis=0) < MASK_WHITE
    if uncovered.any():
        ys, xs = np.nonzero(uncovered)
        raise UserError(
            f"{int(uncovered.sum())} of {h * w} output pixels ({100 * uncovered.mean():.1f}%) "
            f"have no style: no mask is white there (x {xs.min()}-{xs.max()}, y {ys.min()}-"
            f"{ys.max()} at {w}x{h}); make the masks cover the whole image"
        )
    return out, notes


class StyleMixTargets:
    """The loop's ``style_mix`` hook: :class:`helpers.nst.losses.StyleMix` targets for several
    style images, each with blend weights (``(S,)`` shared or ``(S, B)`` per batch element)
    and an optional mask (``(H, W)``, resized to each run's output size)."""

    def __init__(self, styles: Sequence[ImageLike], weights, masks=None, *, style_size=None):
        self.styles = [as_array(s, "style image") for s in styles]
        w = np.asarray(weights, dtype=np.float32)
        self.weights = w[:, None] if w.ndim == 1 else w
        if self.weights.shape[0] != len(self.styles):
            raise UserError(
                f"{self.weights.shape[0]} blend weights for {len(self.styles)} style images"
            )
        self.masks = list(masks) if masks is not None else [None] * len(self.styles)
        self.style_size = style_size

    def __call__(self, objs, model: vgg.VGGFeatures, prep: Prepared, style_layers, gram):
        from ..images import resize

        h, w = prep.shape
        b = self.weights.shape[1]
        if b not in (1, len(objs)):
            raise ValueError(
                f"blend weights for {b} elements, batch of {len(objs)} (max_batch "
                "cannot split a blend batch)"
            )
        sized = [
            resize(s, self.style_size)
            if self.style_size is not None
            else (s if s.shape[:2] == (h, w) else resize(s, (w, h)))
            for s in self.styles
        ]
        n = len(sized)
        part = Prepared([None] * n, sized, [None] * n, prep.shape, None)
        grams = style_targets(model, part, list(style_layers), gram)
        dev = model.device
        masks = tuple(
            None
            if m is None
            else torch.from_numpy(m if m.shape == (h, w) else resize(m, (w, h)))[None, None].to(dev)
            for m in self.masks
        )
        weights = torch.from_numpy(self.weights).to(dev)
        return {
            name: losses.StyleMix(
                tuple(g[k : k + 1] if g.shape[0] == n else g[:1] for k in range(n)), weights, masks
            )
            for name, g in grams.items()
        }


def blend_row(
    content: ImageLike,
    styles: Sequence[ImageLike],
    *,
    blends: Sequence[Sequence[float]] = BLEND_ROW,
    **options,
) -> TransferResult:
    """One output per blend in ``blends`` (e.g. A:B = 3:1), all in one batch; columns are
    labelled ``"3:1"``.  ``options`` as for :func:`helpers.nst.stylize`."""
    table = np.stack([blend_weights(w, len(styles)) for w in blends], axis=1)
    hook = StyleMixTargets(styles, table, style_size=options.pop("style_size", None))
    labels = [":".join(f"{v:g}" for v in w) for w in blends]
    first = as_array(styles[0], "style image")  # the loop's checks see it; the hook replaces it
    return stylize(content, dict.fromkeys(labels, first), style_mix=hook, **options)


# --- scales ------------------------------------------------------------------------------------


@dataclass
class ScaledResult:
    """A coarse-to-fine run: one :class:`TransferResult` per scale and the total wall time."""

    stages: list[TransferResult]
    scales: list[int]
    seconds: float

    @property
    def result(self) -> TransferResult:
        return self.stages[-1]

    @property
    def image(self) -> np.ndarray:
        return self.result.image

    @property
    def evaluations(self) -> int:
        return sum(s.evaluations for s in self.stages)

    def final(self, key: str = "total") -> np.ndarray:
        return self.result.final(key)

    def summary(self) -> str:
        if len(self.stages) == 1:
            return self.result.summary()
        steps = stages_text([(s.evaluations, n) for s, n in zip(self.stages, self.scales)])
        return (
            f"total {self.final()[0]:.4g} at {self.scales[-1]} px; coarse to fine, {steps} in "
            f"{self.seconds:.1f} s on {self.result.device}"
        )


def check_scales(scales: Sequence[int], steps: int | Sequence[int]) -> tuple[list, list]:
    """Scales (longer sides, strictly increasing) and one evaluation budget per scale."""
    sizes = [int(s) for s in scales]
    if not sizes or any(s <= 0 for s in sizes):
        raise UserError(f"scales {list(scales)}: give positive sizes, e.g. 256,512")
    if any(b <= a for a, b in zip(sizes, sizes[1:])):
        raise UserError(
            f"scales {','.join(map(str, sizes))} must increase (coarse to fine), e.g. 256,512"
        )
    budgets = [int(steps)] * len(sizes) if isinstance(steps, int | np.integer) else list(steps)
    if len(budgets) != len(sizes):
        raise UserError(
            f"{len(budgets)} step counts for {len(sizes)} scales; give one per scale or one for all"
        )
    if any(int(b) <= 0 for b in budgets):
        raise UserError(f"steps {budgets}: each scale needs a positive number of evaluations")
    return sizes, [int(b) for b in budgets]


def multiscale(
    content: ImageLike,
    style,
    *,
    scales: Sequence[int],
    steps: int | Sequence[int],
    init: str | ImageLike = "content",
    **options,
) -> ScaledResult:
    """Coarse-to-fine: :func:`helpers.nst.stylize` at each size in ``scales`` (longer side),
    each scale from the previous result upsampled (the first from ``init``)."""
    from .scales import run_stages

    sizes, budgets = check_scales(scales, steps)
    start = time.perf_counter()
    stages = run_stages(
        list(zip(sizes, budgets)), content, style, init=init, run=stylize, **options
    )
    return ScaledResult(stages, sizes, time.perf_counter() - start)


def compare_multiscale(
    content: ImageLike, style, *, scales: Sequence[int], steps: int | Sequence[int], **options
) -> dict:
    """A coarse-to-fine run against a single-scale run at the final size given the same wall
    time: the single run's budget is the multi-scale time over the measured time per
    evaluation at the final size (the last stage's).  Returns both results and the numbers."""
    multi = multiscale(content, style, scales=scales, steps=steps, **options)
    last = multi.result
    overhead = last.seconds - last.loop_seconds
    budget = max(1, round((multi.seconds - overhead) / max(last.seconds_per_evaluation, 1e-9)))
    single = stylize(content, style, size=multi.scales[-1], steps=budget, **options)
    return {
        "multi": multi,
        "single": single,
        "single_steps": budget,
        "multi_seconds": multi.seconds,
        "single_seconds": single.seconds,
        "multi_loss": float(multi.final()[0]),
        "single_loss": float(single.final("total")[0]),
    }


# --- one call for every control ------------------------------------------------------------------


def _listed(scales) -> bool:
    """``scales`` names sizes (not ``"none"`` or ``None``)."""
    return scales is not None and not isinstance(scales, str) and len(scales) > 0


def stylize_controlled(
    content: ImageLike,
    styles: ImageLike | Sequence[ImageLike],
    *,
    blend: Sequence[float] | None = None,
    masks: Sequence[ImageLike] | None = None,
    preserve_colors: str | None = None,
    histogram_method: str = "eigen",
    scales: Sequence[int] | str | None = None,
    steps: int | Sequence[int] = 300,
    style_size=None,
    **options,
) -> ScaledResult:
    """:func:`helpers.nst.stylize` with every control: several ``styles`` with ``blend``
    weights, one mask per style (white where it applies), colour preservation
    (``"luminance"`` | ``"histogram"``) and coarse-to-fine ``scales`` with ``steps`` per
    scale (one value for all); ``scales`` None or ``"none"``: one scale.  Masks
    are checked at the final output size (see :func:`prepare_masks`; call it first to get its
    notes).  ``options`` as for stylize."""
    from ..images import target_shape

    style_list = list(styles) if isinstance(styles, list | tuple) else [styles]
    c_img = as_array(content, "content image")
    pairs = [color_inputs(c_img, s, preserve_colors, method=histogram_method) for s in style_list]
    c_in, s_in = pairs[0][0], [p[1] for p in pairs]
    weights = blend_weights(blend, len(s_in))
    mask_list = None
    if masks is not None:
        final = scales[-1] if _listed(scales) else options.get("size")
        shape = target_shape(c_img.shape[:2], final)
        mask_list, _ = prepare_masks(masks, len(s_in), shape)
    if len(s_in) > 1 or mask_list is not None:
        options["style_mix"] = StyleMixTargets(s_in, weights, mask_list, style_size=style_size)
    elif style_size is not None:
        options["style_size"] = style_size
    if _listed(scales):
        out = multiscale(c_in, s_in[0], scales=scales, steps=steps, **options)
    else:
        start = time.perf_counter()
        one = stylize(c_in, s_in[0], steps=steps, scales=scales, **options)
        out = ScaledResult([one], [max(one.image.shape[:2])], time.perf_counter() - start)
    if preserve_colors == "luminance":
        last = out.result
        out.stages[-1] = replace(
            last, images=[recombine_luminance(im, c_img) for im in last.images]
        )
    return out


# --- measuring ---------------------------------------------------------------------------------


def region_style_losses(
    image: np.ndarray,
    styles: Sequence[ImageLike],
    masks: Sequence[np.ndarray],
    *,
    style_layers=None,
    gram: str = "raw",
    weights: str = "caffe",
    device="cpu",
) -> np.ndarray:
    """``L[r, s]``: the style loss of ``image`` inside mask ``r`` against style ``s`` (the
    layer-weighted guided Gram loss, styles resized to the image).  A masked transfer that
    worked has each region closer to its own style: ``L[r, r] < L[r, s]``."""
    from ..images import resize, to_tensor
    from .objective import DEFAULT_STYLE_LAYERS, layer_weights

    layer_w = layer_weights(
        style_layers if style_layers is not None else DEFAULT_STYLE_LAYERS, what="style layer"
    )
    model = build_network(list(layer_w), weights=weights, device=device)
    h, w = image.shape[:2]
    with torch.no_grad():
        feats = model(to_tensor(image, device))
        grams = []
        for s in styles:
            arr = as_array(s, "style image")
            f_s = model(to_tensor(arr if arr.shape[:2] == (h, w) else resize(arr, (w, h)), device))
            grams.append({k: losses.gram_matrix(f_s[k], gram=gram) for k in layer_w})
        out = np.zeros((len(masks), len(styles)))
        for r, m in enumerate(masks):
            mt = torch.from_numpy(np.asarray(m, np.float32))[None, None].to(device)
            for s, g in enumerate(grams):
                out[r, s] = sum(
                    wl * float(losses.guided_style_layer_loss(feats[k], g[k], mt, gram=gram)[0])
                    for k, wl in layer_w.items()
                )
    return out


def sky_mask(image: np.ndarray, *, margin: float = 0.02, brightness: float = 0.45) -> np.ndarray:
    """A rough sky mask for the spatial-control demo: bright bluish pixels (blue > red + margin,
    luma > brightness) connected to the top edge, holes filled; ``(H, W)`` float32 0/1."""
    from scipy import ndimage

    img = as_array(image, "image")
    luma = rgb_to_ycbcr(img)[..., 0]
    candidates = (img[..., 2] > img[..., 0] + margin) & (luma > brightness)
    labels, _ = ndimage.label(candidates)
    top = [v for v in np.unique(labels[:2]) if v != 0]
    return ndimage.binary_fill_holes(np.isin(labels, top)).astype(np.float32)


def tv_row(
    content: ImageLike, style: ImageLike, tv_weights: Sequence[float], **options
) -> TransferResult:
    """One output per TV weight (``0`` = none); columns ``"TV 0"``, ``"TV 1e-3"``…"""
    runs = [stylize(content, style, tv_weight=float(w), **options) for w in tv_weights]
    return TransferResult.concat(runs, rows=[""], cols=[f"TV {w:g}" for w in tv_weights])


def color_grid(
    content: ImageLike, styles: Mapping[str, ImageLike], *, method: str = "eigen", **options
) -> TransferResult:
    """Rows = styles, columns = plain | luminance-only | histogram-matched, in two batches (the
    luminance-only one has the grey content); its images are recombined with the content's
    chroma."""
    from ..images import resize

    c_img = as_array(content, "content image")
    if options.get("size") is not None:
        c_img = resize(c_img, options["size"])
    names = list(styles)
    colored = {}
    for name in names:
        colored[f"{name} plain"] = as_array(styles[name], "style image")
        colored[f"{name} histogram"] = match_histogram(styles[name], c_img, method=method)
    grey = luminance_inputs(c_img, c_img)[0]
    lum = {name: luminance_inputs(c_img, styles[name])[1] for name in names}
    both = TransferResult.concat(
        [stylize(c_img, colored, **options), stylize(grey, lum, **options)]
    )
    n = len(names)
    order = [k for r in range(n) for k in (2 * r, 2 * n + r, 2 * r + 1)]
    out = both.take(order, rows=names, cols=["plain", "luminance-only", "histogram-matched"])
    images = [
        recombine_luminance(im, c_img) if k % 3 == 1 else im for k, im in enumerate(out.images)
    ]
    return replace(out, images=images)


__all__ = [
    "BLEND_ROW",
    "HISTOGRAM_METHODS",
    "MASK_WHITE",
    "PRESERVE_COLORS",
    "ScaledResult",
    "StyleMixTargets",
    "blend_row",
    "blend_weights",
    "check_scales",
    "color_grid",
    "color_inputs",
    "compare_multiscale",
    "load_mask",
    "luminance_inputs",
    "match_histogram",
    "multiscale",
    "prepare_masks",
    "recombine_luminance",
    "region_style_losses",
    "rgb_to_ycbcr",
    "sky_mask",
    "stylize_controlled",
    "tv_row",
    "ycbcr_to_rgb",
]
