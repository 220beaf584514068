"""The one optimisation loop for style transfer, content/style reconstruction and their grids.

Everything optimises the **image** (never the network) to minimise, per batch element,

    total = alpha · Σ_l wc_l · ½Σ(F_l − P_l)²  +  beta · Σ_l ws_l · E_l  +  tv_weight · TV

(:mod:`helpers.losses`; the paper's definitions).  Entry points:

* :func:`optimize` — the loop.  Takes one :class:`Objective` or a batch of them that share
  the input images (or give one image per element) and runs them together, one
  forward+backward pass per evaluation.  Returns a :class:`TransferResult`.
* :func:`stylize`, :func:`reconstruct_content`, :func:`reconstruct_style` (texture synthesis),
  :func:`alpha_beta_grid`, :func:`content_style_grid` and :func:`run_grid` build objectives
  and call :func:`optimize`.

Conventions:

* Images are RGB float in [0, 1]: ``(H, W, 3)`` arrays, ``(1, 3, H, W)``/``(3, H, W)``
  tensors, or file paths.  Results are ``(H, W, 3)`` float32 arrays in [0, 1].
* ``steps`` counts **function evaluations** (forward+backward passes) for both optimisers,
  L-BFGS line-search trials included, so Adam and L-BFGS budgets compare fairly.
* Per-layer weights are normalised to sum to 1 within the content and within the style
  group (the paper's convention): ``{"conv1_1": 1, "conv2_1": 1}`` means 0.5 each.  Negative
  weights, unknown layer names and all-zero groups are refused.
* Adam's ``lr`` is in the [0, 1] pixel units the image is optimised in.  The Berkeley recipe's
  lr 0.2 was in ImageNet-normalised units (pixel / std, std ≈ 0.226), so it maps to
  :data:`BERKELEY_LR` = 0.2 · 0.226 ≈ 0.045 here.
* Each element's objective is divided by its value at the initial image before the gradient
  is taken.  That changes no minimiser and no alpha/beta trade-off, but keeps the Caffe
  weights' large loss scale (1e8–1e11) and the grid's 1e-2…1e-10 spread away from Adam's
  epsilon and float32 limits, and makes every element's step independent of the others'.

Batching and L-BFGS: a shared line search would couple the batch elements, so
:class:`_BatchedLBFGS` keeps a separate L-BFGS state (history, step, line search) per element
and evaluates every element at its own trial point in the same pass.  A batched run therefore
follows the same trajectory as the individual runs (up to float rounding), for Adam (which is
elementwise anyway) and for L-BFGS.  The line search is a backtracking Armijo search with
quadratic interpolation; non-finite trial values simply shrink the step.
"""

from __future__ import annotations

import itertools
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from . import losses, vgg
from .errors import UserError

# --- defaults --------------------------------------------------------------------------------

BERKELEY_LR = 0.2 * 0.226
"""The Berkeley recipe's Adam lr 0.2 (ImageNet-normalised units) in [0, 1] pixel units."""
BERKELEY_STEPS = 1200

DEFAULT_RATIO = 1e-2
"""alpha/beta chosen in notebook 03 with the Caffe weights, the paper layers and 128-px images."""
DEFAULT_CONTENT_LAYERS: dict[str, float] = {vgg.CONTENT_LAYER_PAPER: 1.0}
DEFAULT_STYLE_LAYERS: dict[str, float] = {name: 0.2 for name in vgg.STYLE_LAYERS}

GROWING_SUBSETS: tuple[tuple[float, ...], ...] = (
    (1, 0, 0, 0, 0),
    (0.5, 0.5, 0, 0, 0),
    (1 / 3, 1 / 3, 1 / 3, 0, 0),
    (0.25, 0.25, 0.25, 0.25, 0),
    (0.2, 0.2, 0.2, 0.2, 0.2),
)
"""Berkeley's rows: weights over :data:`helpers.vgg.STYLE_LAYERS` (conv1_1 … conv5_1)."""
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

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise", "style")

LayerSpec = str | Sequence[str] | Sequence[float] | Mapping[str, float]
"""Per-layer weights: ``"conv4_2"``, ``"conv1_1:1,conv2_1:2"``, ``["conv1_1", "conv2_1"]``
(equal weights), ``[1, 0, 0, 0, 0]`` (over the default layers), or ``{"conv1_1": 0.5, …}``."""
ImageLike = str | os.PathLike | np.ndarray | Tensor


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
            raise UserError(f"{what} weight {weight.strip()!r} for {name} is not a number; write name:weight, e.g. conv1_1:0.5") from exc
        if name in out:
            raise UserError(f"{what} {name} is listed twice; give each layer once")
        out[name] = value
    if not out:
        raise UserError(f"no {what}s given; name at least one, e.g. conv4_2")
    return out


def layer_weights(spec: LayerSpec, *, default_layers: Sequence[str] = vgg.STYLE_LAYERS, what: str = "layer") -> dict[str, float]:
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
        elif all(isinstance(v, int | float | np.floating | np.integer) and not isinstance(v, bool) for v in items):
            if len(items) != len(default_layers):
                raise UserError(
                    f"{what} weight vector {items} has {len(items)} entries; it needs one per layer of "
                    f"{', '.join(default_layers)}"
                )
            raw = dict(zip(default_layers, items))
        else:
            raise UserError(f"{what} weights {spec!r}: give layer names, name:weight pairs or a weight vector")
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
    """Short label of a layer spec for figures: ``[.5, .5, 0, 0, 0]``, ``conv4_2``, ``conv1_1+conv1_2``."""
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


@dataclass(frozen=True)
class Objective:
    """One configuration of the loss (one batch element).

    ``total = alpha·content + beta·style + tv_weight·TV``.  ``content_layers`` and
    ``style_layers`` take any :data:`LayerSpec`; after construction they are dicts whose
    weights sum to 1.  ``alpha = beta = 0`` is refused; a group whose factor is 0 is ignored.
    """

    content_layers: LayerSpec = field(default_factory=lambda: dict(DEFAULT_CONTENT_LAYERS))
    style_layers: LayerSpec = field(default_factory=lambda: dict(DEFAULT_STYLE_LAYERS))
    alpha: float = DEFAULT_RATIO
    beta: float = 1.0
    tv_weight: float = 0.0
    label: str = ""

    def __post_init__(self) -> None:
        alpha = _check_weight("alpha", self.alpha)
        beta = _check_weight("beta", self.beta)
        tv = _check_weight("tv_weight", self.tv_weight)
        if alpha == 0 and beta == 0:
            raise UserError("alpha and beta are both 0: nothing to optimise; make at least one positive")
        content = layer_weights(self.content_layers, default_layers=vgg.STYLE_LAYERS, what="content layer") if alpha > 0 else {}
        style = layer_weights(self.style_layers, default_layers=vgg.STYLE_LAYERS, what="style layer") if beta > 0 else {}
        object.__setattr__(self, "alpha", alpha)
        object.__setattr__(self, "beta", beta)
        object.__setattr__(self, "tv_weight", tv)
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


# --- results ---------------------------------------------------------------------------------


@dataclass
class History:
    """Losses recorded every few evaluations, per batch element.

    ``evaluations``: ``(T,)`` evaluation numbers; ``seconds``: ``(T, B)`` since each element's
    run began; ``total``, ``content``, ``style``, ``tv``: ``(T, B)`` (content and style without
    alpha/beta, total with them); ``layers``: ``{"content:conv4_2" | "style:conv1_1": (T, B)}``
    unweighted per-layer losses.  For L-BFGS the values are those of the accepted iterate.
    """

    evaluations: np.ndarray
    seconds: np.ndarray
    total: np.ndarray
    content: np.ndarray
    style: np.ndarray
    tv: np.ndarray
    layers: dict[str, np.ndarray]

    def series(self, key: str) -> np.ndarray:
        """``(T, B)`` values of ``total``/``content``/``style``/``tv`` or a ``layers`` key."""
        if key in ("total", "content", "style", "tv"):
            return getattr(self, key)
        if key in self.layers:
            return self.layers[key]
        raise KeyError(f"no series {key!r}; have total, content, style, tv, {', '.join(self.layers)}")

    @staticmethod
    def concat(histories: Sequence[History]) -> History:
        """Join histories of separate runs along the batch axis (aligned on evaluation numbers)."""
        if len(histories) == 1:
            return histories[0]
        evals = np.unique(np.concatenate([h.evaluations for h in histories]))

        def aligned(h: History, arr: np.ndarray) -> np.ndarray:
            idx = np.clip(np.searchsorted(h.evaluations, evals, side="right") - 1, 0, len(h.evaluations) - 1)
            return arr[idx]

        def cat(get) -> np.ndarray:
            return np.concatenate([aligned(h, get(h)) for h in histories], axis=1)

        keys = list(dict.fromkeys(k for h in histories for k in h.layers))
        layers = {}
        for key in keys:
            layers[key] = np.concatenate(
                [aligned(h, h.layers[key]) if key in h.layers else np.full((len(evals), h.total.shape[1]), np.nan) for h in histories],
                axis=1,
            )
        return History(evals, cat(lambda h: h.seconds), cat(lambda h: h.total), cat(lambda h: h.content),
                       cat(lambda h: h.style), cat(lambda h: h.tv), layers)


@dataclass
class TransferResult:
    """What :func:`optimize` returns.

    ``images``: one ``(H, W, 3)`` float32 array in [0, 1] per batch element (clipped, finite).
    ``losses``: final losses of those images, ``{"total"|"content"|"style"|"tv"|"content:<layer>"
    |"style:<layer>": (B,) array}``.  ``seconds``: wall time of the whole call;
    ``loop_seconds``: of the evaluations only.  ``evaluations``: forward+backward passes run.
    ``rows``/``cols``: labels when the batch is a grid (row-major).
    """

    images: list[np.ndarray]
    history: History
    losses: dict[str, np.ndarray]
    seconds: float
    loop_seconds: float
    evaluations: int
    device: str
    optimizer: str
    objectives: list[Objective]
    rows: list[str] | None = None
    cols: list[str] | None = None

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image(self) -> np.ndarray:
        """The image of a batch of one."""
        if len(self.images) != 1:
            raise ValueError(f"batch of {len(self.images)}: use .images[i] or .grid()")
        return self.images[0]

    @property
    def seconds_per_evaluation(self) -> float:
        return self.loop_seconds / max(self.evaluations, 1)

    def final(self, key: str = "total") -> np.ndarray:
        """``(B,)`` final loss ``key``."""
        return self.losses[key]

    def grid(self) -> list[list[np.ndarray]]:
        """Images as rows × cols (row-major) for :func:`helpers.figures.image_grid`."""
        n_cols = len(self.cols) if self.cols else len(self.images)
        return [self.images[i : i + n_cols] for i in range(0, len(self.images), n_cols)]

    def labels(self) -> list[str]:
        if self.rows and self.cols:
            return [f"{r} | {c}" for r, c in itertools.product(self.rows, self.cols)]
        return [o.label or f"#{i}" for i, o in enumerate(self.objectives)]

    def table(self) -> list[dict]:
        """One row per element: labels, alpha, beta, ratio and every final loss."""
        out = []
        rc = list(itertools.product(self.rows, self.cols)) if self.rows and self.cols else None
        for i, obj in enumerate(self.objectives):
            row: dict = {}
            if rc:
                row["row"], row["col"] = rc[i]
            else:
                row["label"] = obj.label or f"#{i}"
            row.update(alpha=obj.alpha, beta=obj.beta, ratio=obj.ratio, tv_weight=obj.tv_weight)
            row.update({key: float(v[i]) for key, v in self.losses.items()})
            row["evaluations"] = self.evaluations
            out.append(row)
        return out

    def table_text(self, keys: Sequence[str] = ("total", "content", "style")) -> str:
        """:meth:`table` as aligned text (labels, alpha/beta and the given final losses)."""
        rows = self.table()
        head = ["row", "col"] if "row" in rows[0] else ["label"]
        width = max(len(str(r[h])) for r in rows for h in head)
        lines = [" ".join(f"{h:<{width}}" for h in head) + f" {'alpha/beta':>10} " + " ".join(f"{k:>11}" for k in keys)]
        for r in rows:
            lines.append(" ".join(f"{r[h]!s:<{width}}" for h in head) + f" {r['ratio']:10.0e} " + " ".join(f"{r[k]:11.4g}" for k in keys))
        return "\n".join(lines)

    def save_csv(self, path: str | os.PathLike) -> Path:
        """Write :meth:`table` as CSV (atomically)."""
        import csv
        import io

        from .runtime import atomic_write_text

        rows = self.table()
        keys = list(dict.fromkeys(k for r in rows for k in r))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return atomic_write_text(path, buf.getvalue())

    def summary(self) -> str:
        """One line: final losses (element 0 / range), evaluations, seconds, device."""
        tot, con, sty = self.losses["total"], self.losses["content"], self.losses["style"]
        if len(self) == 1:
            losses_text = f"total {tot[0]:.4g} (content {con[0]:.4g}, style {sty[0]:.4g})"
        else:
            losses_text = f"{len(self)} images, total {tot.min():.4g}…{tot.max():.4g}"
        return (f"{losses_text}; {self.evaluations} evaluations ({self.optimizer}) in {self.seconds:.1f} s "
                f"({self.seconds_per_evaluation:.3f} s/eval) on {self.device}")

    def take(self, indices: Sequence[int], *, rows: list[str] | None = None, cols: list[str] | None = None) -> TransferResult:
        """A result holding only the elements ``indices`` (in that order)."""
        idx = [int(i) % len(self) for i in indices]
        h = self.history
        history = History(h.evaluations, h.seconds[:, idx], h.total[:, idx], h.content[:, idx], h.style[:, idx], h.tv[:, idx],
                          {k: v[:, idx] for k, v in h.layers.items()})
        return TransferResult(
            images=[self.images[i] for i in idx], history=history, losses={k: v[idx] for k, v in self.losses.items()},
            seconds=self.seconds, loop_seconds=self.loop_seconds, evaluations=self.evaluations, device=self.device,
            optimizer=self.optimizer, objectives=[self.objectives[i] for i in idx], rows=rows, cols=cols,
        )

    def select(self, *, rows: Sequence[str] | None = None, cols: Sequence[str] | None = None) -> TransferResult:
        """The sub-grid of the named rows and columns (all of them where ``None``)."""
        if not (self.rows and self.cols):
            raise ValueError("select() needs a grid result (rows and cols)")
        rows = list(self.rows if rows is None else rows)
        cols = list(self.cols if cols is None else cols)
        missing = [r for r in rows if r not in self.rows] + [c for c in cols if c not in self.cols]
        if missing:
            raise KeyError(f"no row/column {missing}; rows {self.rows}, cols {self.cols}")
        n = len(self.cols)
        idx = [self.rows.index(r) * n + self.cols.index(c) for r in rows for c in cols]
        return self.take(idx, rows=rows, cols=cols)

    def cell(self, row: int, col: int) -> TransferResult:
        """Grid cell (``row``, ``col``) by position (negative counts from the end) as a batch of one."""
        n_rows, n_cols = len(self.rows or [0]), len(self.cols or self.images)
        return self.take([(row % n_rows) * n_cols + col % n_cols])

    @staticmethod
    def hstack(results: Sequence[TransferResult], *, cols: list[str] | None = None) -> TransferResult:
        """Grids with the same rows side by side (columns of the first, then the second, ...)."""
        rows = results[0].rows
        if any(r.rows != rows for r in results):
            raise ValueError("hstack needs results with the same rows")
        joined = TransferResult.concat(results)
        offsets = np.cumsum([0] + [len(r) for r in results])
        widths = [len(r.cols) for r in results]
        idx = [offsets[k] + i * widths[k] + j for i in range(len(rows)) for k in range(len(results)) for j in range(widths[k])]
        out = joined.take(idx, rows=list(rows), cols=cols or [c for r in results for c in r.cols])
        return out

    @staticmethod
    def concat(results: Sequence[TransferResult], *, rows: list[str] | None = None, cols: list[str] | None = None) -> TransferResult:
        """Join results of separate runs along the batch axis."""
        first = results[0]
        keys = list(dict.fromkeys(k for r in results for k in r.losses))
        losses_ = {k: np.concatenate([r.losses.get(k, np.full(len(r), np.nan)) for r in results]) for k in keys}
        return TransferResult(
            images=[im for r in results for im in r.images],
            history=History.concat([r.history for r in results]),
            losses=losses_,
            seconds=sum(r.seconds for r in results),
            loop_seconds=sum(r.loop_seconds for r in results),
            evaluations=max(r.evaluations for r in results),
            device=first.device,
            optimizer=first.optimizer,
            objectives=[o for r in results for o in r.objectives],
            rows=rows,
            cols=cols,
        )


@dataclass
class Step:
    """Passed to ``callback`` at every recorded evaluation."""

    evaluation: int
    seconds: float
    total: np.ndarray
    image: Tensor
    """``(B, 3, H, W)`` current iterate (not clipped; do not modify)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`optimize`; ``partial`` holds the latest finite result (or None)."""

    def __init__(self, partial: TransferResult | None) -> None:
        super().__init__("interrupted")
        self.partial = partial


# --- images, network, memory -----------------------------------------------------------------


def _as_array(image: ImageLike, what: str) -> np.ndarray:
    from .images import load_image, to_numpy

    if isinstance(image, str | os.PathLike):
        path = Path(image)
        if not path.exists() and isinstance(image, str) and not path.is_absolute():
            from .assets import asset_path

            try:  # a sample asset name such as "nst/content/tubingen.jpg"
                path = asset_path(image)
            except UserError:
                raise UserError(f"{what} {image}: file not found (neither a path nor a sample asset name)") from None
        return load_image(path)
    if isinstance(image, Tensor):
        t = image.detach()
        if t.dim() == 4 and t.shape[0] == 1:
            t = t[0]
        if t.dim() != 3 or t.shape[0] != 3:
            raise UserError(f"{what} tensor has shape {tuple(image.shape)}; expected (3, H, W) or (1, 3, H, W)")
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


def _per_element(value, n: int, what: str) -> list:
    if isinstance(value, list | tuple):
        if len(value) != n:
            raise UserError(f"{what}: got {len(value)} values for a batch of {n}")
        return list(value)
    return [value] * n


@lru_cache(maxsize=2)
def _state_dict(weights: str) -> dict[str, Tensor]:
    if weights == "torchvision":
        return vgg.load_torchvision_state_dict()
    return vgg.load_caffe_state_dict(None if weights == "caffe" else weights, log=lambda *a: print(*a, file=sys.stderr))


def build_network(layers: Sequence[str], *, weights: str | os.PathLike = "caffe", pooling: str = "avg", device="cpu") -> vgg.VGGFeatures:
    """A :class:`helpers.vgg.VGGFeatures` for ``layers``; the weights are loaded once per process."""
    key = str(weights)
    if key not in ("caffe", "torchvision"):
        key = str(Path(weights).expanduser().resolve()) if Path(weights).exists() else key
    return vgg.VGGFeatures(layers, weights=weights, pooling=pooling, device=device, state_dict=_state_dict(key))


def estimate_memory(height: int, width: int, *, batch: int = 1, layers: Sequence[str] = vgg.STYLE_LAYERS,
                    optimizer: str = "lbfgs", history_size: int = 20) -> int:
    """Rough peak bytes of :func:`optimize` for a ``batch`` of ``height × width`` images.

    Counts the activations autograd keeps for the backward pass (every module's output up to
    the deepest layer, about twice over with the gradients), the optimiser's image-sized
    buffers (L-BFGS: 2·history + 8 per element; Adam: 6) and the weights.
    """
    last = max(vgg.LAYER_INDEX[n] for n in layers)
    h, w, total = height, width, 0
    channels = 3
    for name in vgg.LAYER_NAMES[: last + 1]:
        if name.startswith("pool"):
            h, w = h // 2, w // 2
        else:
            channels = vgg.CHANNELS[name]
        total += channels * h * w
    pixels = 3 * height * width
    buffers = (2 * history_size + 8) if optimizer == "lbfgs" else 6
    weights = 80_000_000
    return int(4 * batch * (2.5 * total + buffers * pixels) + weights)


def available_memory(device: torch.device) -> int | None:
    """Free bytes on ``device`` (GPU: free device memory; CPU: MemAvailable), None if unknown."""
    if device.type == "cuda":
        try:
            return int(torch.cuda.mem_get_info(device)[0])
        except Exception:
            return None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _check_memory(shape: tuple[int, int], batch: int, layers: Sequence[str], optimizer: str, history_size: int, device: torch.device) -> None:
    need = estimate_memory(*shape, batch=batch, layers=layers, optimizer=optimizer, history_size=history_size)
    free = available_memory(device)
    if free is None or need <= 0.9 * free:
        return
    h, w = shape
    scale = math.sqrt(max(0.8 * free - 80e6, 1.0) / max(need - 80e6, 1.0))
    suggest = max(16, int(max(h, w) * scale) // 16 * 16)
    raise UserError(
        f"a {w}x{h} run (batch {batch}) needs about {need / 2**30:.1f} GiB but only {free / 2**30:.1f} GiB "
        f"is free on {device.type}; use --size {suggest} (or smaller) or a smaller batch"
    )


# --- L-BFGS, batched -------------------------------------------------------------------------


def _dot(a: Tensor, b: Tensor) -> Tensor:
    """Row-wise dot products of two ``(B, D)`` tensors -> ``(B,)`` without a ``(B, D)`` temporary."""
    return torch.bmm(a.unsqueeze(1), b.unsqueeze(2)).view(-1)


class _BatchedLBFGS:
    """L-BFGS with one independent state per batch element, driven one evaluation at a time.

    ``tell(f, g)`` takes the values and gradients at the current trial points (the
    ``(B, D)`` tensor ``trial``, updated in place with the next trial points) and returns the
    ``(B,)`` mask of elements whose trial was accepted.  Line search: backtracking until the
    Armijo condition ``f(x + t·d) <= f(x) + c1·t·gᵀd`` holds, with a safeguarded quadratic
    interpolation step; the first step of a fresh history moves the largest pixel by
    ``first_step``.  Curvature pairs with ``sᵀy <= 0`` are skipped, which keeps the inverse
    Hessian approximation positive definite without a Wolfe curvature check.
    """

    def __init__(self, trial: Tensor, *, history_size: int = 20, c1: float = 1e-4, first_step: float = 0.05,
                 max_backtracks: int = 20) -> None:
        b, d = trial.shape
        self.trial = trial
        self.m = history_size
        self.c1 = c1
        self.first_step = first_step
        self.max_backtracks = max_backtracks
        self.x = trial.detach().clone()
        self.g = torch.zeros_like(self.x)
        self.d = torch.zeros_like(self.x)
        self.f = torch.full((b,), math.inf, dtype=trial.dtype, device=trial.device)
        self.t = torch.ones(b, dtype=trial.dtype, device=trial.device)
        self.gd = torch.zeros(b, dtype=trial.dtype, device=trial.device)
        self.gamma = torch.ones(b, dtype=trial.dtype, device=trial.device)
        self.S = trial.new_zeros(self.m, b, d)
        self.Y = trial.new_zeros(self.m, b, d)
        self.rho = trial.new_zeros(self.m, b)
        self._s = torch.empty_like(self.x)
        self._y = torch.empty_like(self.x)
        self._q = torch.empty_like(self.x)
        self._rows = torch.arange(b, device=trial.device)
        self.ptr = [0] * b
        self.count = [0] * b
        self.backtracks = [0] * b
        self.active = [True] * b
        self.started = False

    @property
    def done(self) -> bool:
        return not any(self.active)

    def _slots(self) -> list[tuple[Tensor, Tensor, Tensor]]:
        """(s, y, rho) for ages 1 … depth, newest first; rho is 0 where an element has none.

        Views into the ring buffers when every element's ring is aligned (always for a batch
        of one), gathered copies otherwise.
        """
        depth = max(self.count)
        if depth == 0:
            return []
        ages = torch.arange(1, depth + 1, device=self.rho.device).unsqueeze(1)
        valid = (ages <= torch.tensor(self.count, device=self.rho.device)).to(self.rho.dtype)
        out = []
        aligned = all(p == self.ptr[0] for p in self.ptr)
        for age in range(1, depth + 1):
            if aligned:
                k = (self.ptr[0] - age) % self.m
                out.append((self.S[k], self.Y[k], self.rho[k] * valid[age - 1]))
            else:
                idx = torch.tensor([(p - age) % self.m for p in self.ptr], device=self.S.device)
                out.append((self.S[idx, self._rows], self.Y[idx, self._rows], self.rho[idx, self._rows] * valid[age - 1]))
        return out

    def _direction(self) -> None:
        """d = −H·g by the two-loop recursion (Nocedal & Wright, Alg. 7.4), per element."""
        q = self._q.copy_(self.g)
        pairs = self._slots()
        alphas = []
        for s, y, rho in pairs:
            a = rho * _dot(s, q)
            q.addcmul_(y, a.unsqueeze(1), value=-1.0)
            alphas.append(a)
        fresh = torch.tensor([c == 0 for c in self.count], device=q.device)
        scale = torch.where(fresh, self.first_step / self.g.abs().amax(dim=1).clamp_min(1e-30), self.gamma)
        q.mul_(scale.unsqueeze(1))
        for (s, y, rho), a in zip(reversed(pairs), reversed(alphas)):
            b = rho * _dot(y, q)
            q.addcmul_(s, (a - b).unsqueeze(1))
        torch.neg(q, out=self.d)

    def _reset(self, i: int) -> None:
        self.count[i] = 0
        self.rho[:, i] = 0

    def tell(self, f: Tensor, g: Tensor) -> Tensor:
        finite = torch.isfinite(f) & torch.isfinite(g).all(dim=1)
        if not self.started:
            if not bool(finite.all()):
                raise FloatingPointError("the loss or its gradient is not finite at the initial image")
            accept = torch.ones_like(finite)
        else:
            armijo = f <= self.f + self.c1 * self.t * self.gd
            accept = finite & armijo
        acc = accept.tolist()
        # curvature pairs of the accepted steps
        if self.started and any(acc):
            torch.sub(self.trial, self.x, out=self._s)
            torch.sub(g, self.g, out=self._y)
            sy, yy = _dot(self._s, self._y), _dot(self._y, self._y)
            good = (accept & (sy > 1e-10 * yy) & (yy > 0)).tolist()
            gamma = sy / yy.clamp_min(1e-30)
            inv = 1.0 / sy.where(sy > 0, torch.ones_like(sy))
            if all(good) and all(p == self.ptr[0] for p in self.ptr):
                k = self.ptr[0]
                self.S[k].copy_(self._s)
                self.Y[k].copy_(self._y)
                self.rho[k].copy_(inv)
            else:
                for i in (i for i, ok in enumerate(good) if ok):
                    k = self.ptr[i]
                    self.S[k, i] = self._s[i]
                    self.Y[k, i] = self._y[i]
                    self.rho[k, i] = inv[i]
            for i, ok in enumerate(good):
                if ok:
                    self.ptr[i] = (self.ptr[i] + 1) % self.m
                    self.count[i] = min(self.count[i] + 1, self.m)
            self.gamma = torch.where(accept & (sy > 1e-10 * yy) & (yy > 0), gamma, self.gamma)
        if all(acc):
            self.x.copy_(self.trial)
            self.g.copy_(g)
            self.f.copy_(f)
        elif any(acc):
            mask = accept.unsqueeze(1)
            self.x.copy_(torch.where(mask, self.trial, self.x))
            self.g.copy_(torch.where(mask, g, self.g))
            self.f.copy_(torch.where(accept, f, self.f))
        # step sizes: 1 after an accepted step, interpolated backtracking after a rejected one
        recompute = any(acc)
        if self.started and not all(acc):
            dec = f - self.f - self.t * self.gd
            t_quad = -self.gd * self.t.square() / (2.0 * dec.clamp_min(1e-30))
            t_new = torch.minimum(torch.maximum(t_quad, 0.1 * self.t), 0.5 * self.t)
            t_new = torch.where(torch.isfinite(f), t_new, 0.1 * self.t)
            self.t = torch.where(accept, torch.ones_like(self.t), t_new)
            for i, ok in enumerate(acc):
                if ok or not self.active[i]:
                    continue
                self.backtracks[i] += 1
                if self.backtracks[i] > self.max_backtracks:
                    self.backtracks[i] = 0
                    self.t[i] = 1.0
                    if self.count[i] > 0:  # a stale history: restart from steepest descent
                        self._reset(i)
                        recompute = True
                    else:
                        self.active[i] = False
        else:
            self.t.fill_(1.0)
        for i, ok in enumerate(acc):
            if ok:
                self.backtracks[i] = 0
        self.started = True
        if recompute:
            self._direction()
            self.gd = _dot(self.g, self.d)
            uphill = (self.gd >= 0).tolist()
            if any(u and a for u, a in zip(uphill, self.active)):
                for i, u in enumerate(uphill):
                    if u:
                        self._reset(i)
                self._direction()
                self.gd = _dot(self.g, self.d)
            stationary = ((self.g.abs().amax(dim=1) == 0) | (self.gd >= 0)).tolist()
            for i, s in enumerate(stationary):
                if s:
                    self.active[i] = False
        step = self.t * torch.tensor(self.active, dtype=self.t.dtype, device=self.t.device)
        torch.addcmul(self.x, self.d, step.unsqueeze(1), out=self.trial)
        return accept


# --- the loop ---------------------------------------------------------------------------------


@dataclass
class _Prepared:
    content: list[np.ndarray | None]
    style: list[np.ndarray | None]
    init: list[np.ndarray | None]
    shape: tuple[int, int]
    style_shape: tuple[int, int] | None
    """The smallest style image shape (for the minimum-size check)."""


def _prepare_images(n: int, content, style, init, *, size, style_size, need_content: bool, need_style: bool,
                    check_shape: Callable[[tuple[int, int]], None] | None = None) -> _Prepared:
    """Load, validate and resize the images; ``check_shape(output (H, W))`` runs before any resizing."""
    from .images import parse_size, resize, target_shape

    size = parse_size(size)
    style_size = parse_size(style_size)
    cache: dict = {}

    def load(img, what):
        if img is None:
            return None
        key = str(img) if isinstance(img, str | os.PathLike) else id(img)
        if key not in cache:
            cache[key] = _as_array(img, what)
        return cache[key]

    contents = [load(c, "content image") for c in _per_element(content, n, "content")]
    styles = [load(s, "style image") for s in _per_element(style, n, "style")]
    if need_content and any(c is None for c in contents):
        raise UserError("alpha > 0 needs a content image; pass content=… or set alpha=0")
    if need_style and any(s is None for s in styles):
        raise UserError("beta > 0 needs a style image; pass style=… or set beta=0")
    base = next((c for c in contents if c is not None), None)
    if base is None:
        base = next((s for s in styles if s is not None), None)
    if base is None and not (isinstance(init, str) and init in INITS):
        base = _as_array(init, "init image")
    if base is None:
        if size is None or not isinstance(size, tuple):
            raise UserError("no image to take the size from: give size as WxH")
        shape = (size[1], size[0])
    else:
        shape = target_shape(base.shape[:2], size) if size is not None else base.shape[:2]
    if check_shape is not None:  # e.g. the memory estimate: refuse before making big arrays
        check_shape(shape)

    resized: dict = {}

    def fit(img, target):
        if img is None:
            return None
        key = (id(img), target)
        if key not in resized:
            resized[key] = resize(img, (target[1], target[0])) if img.shape[:2] != target else img
        return resized[key]

    contents_out = []
    for c in contents:
        if c is None:
            contents_out.append(None)
            continue
        out = resize(c, size) if size is not None else c
        if out.shape[:2] != shape:
            raise UserError(
                f"content images of different shapes ({out.shape[1]}x{out.shape[0]} vs {shape[1]}x{shape[0]}) "
                "cannot share a batch; pass size as WxH"
            )
        contents_out.append(out)
    if style_size is None:
        styles_out = [fit(s, shape) for s in styles]
    else:  # each style image keeps its own shape (N = longer side keeps its aspect ratio)
        by_id: dict[int, np.ndarray] = {}
        styles_out = [None if s is None else by_id.setdefault(id(s), resize(s, style_size)) for s in styles]
    style_shapes = sorted({s.shape[:2] for s in styles_out if s is not None}, key=min)

    if isinstance(init, str) and init in INITS:
        inits = [None] * n
    else:
        inits = [fit(_as_array(i, "init image"), shape) for i in _per_element(init, n, "init")]
    return _Prepared(contents_out, styles_out, inits, shape, style_shapes[0] if style_shapes else None)


def _distinct(images: list[np.ndarray | None]) -> tuple[list[np.ndarray], Tensor]:
    """The distinct images (by identity) and the ``(B,)`` index of each element's image."""
    keys: dict[int, int] = {}
    distinct: list[np.ndarray] = []
    index = []
    for img in images:
        if img is None:
            index.append(0)
            continue
        if id(img) not in keys:
            keys[id(img)] = len(distinct)
            distinct.append(img)
        index.append(keys[id(img)])
    return distinct, torch.tensor(index)


def _stack_unique(images: list[np.ndarray | None], device) -> tuple[Tensor | None, Tensor | None]:
    """Distinct images as ``(K, 3, H, W)`` and the ``(B,)`` index of each element's image."""
    from .images import to_tensor

    distinct, index = _distinct(images)
    if not distinct:
        return None, None
    stack = torch.cat([to_tensor(img, device) for img in distinct])
    return stack, index.to(device)


def _gather(target: Tensor, index: Tensor) -> Tensor:
    """Shared target -> ``(1, ...)`` (broadcast); per-element targets -> ``(B, ...)``."""
    if target.shape[0] == 1 or bool((index == index[0]).all()):
        return target[index[0] : index[0] + 1]
    return target.index_select(0, index)


def optimize(
    objectives: Objective | Sequence[Objective],
    *,
    content: ImageLike | Sequence[ImageLike | None] | None = None,
    style: ImageLike | Sequence[ImageLike | None] | None = None,
    size: int | str | tuple[int, int] | None = None,
    style_size: int | str | tuple[int, int] | None = None,
    init: str | ImageLike | Sequence[ImageLike] = "content",
    noise: float = 0.05,
    optimizer: str = "lbfgs",
    steps: int = 300,
    lr: float = BERKELEY_LR,
    history_size: int = 20,
    gram: str = "raw",
    seed: int | Sequence[int] = 0,
    device: str | torch.device = "auto",
    pooling: str = "avg",
    weights: str | os.PathLike = "caffe",
    record_every: int | None = None,
    max_batch: int | None = None,
    progress: bool = True,
    callback: Callable[[Step], None] | None = None,
    desc: str | None = None,
) -> TransferResult:
    """Optimise a batch of images, one per objective, with one forward+backward pass per evaluation.

    Args:
        objectives: one :class:`Objective` or a sequence (the batch).
        content: content image (shared) or one per element (``None`` where alpha is 0).
        style: style image (shared) or one per element.
        size: output size: ``N`` = longer side (aspect kept) or ``"WxH"``/``(W, H)``; default
            the content image's size (texture synthesis: the style image's).
        style_size: style image size; default: resized to the output size (CMU's choice).  Any
            size works: its Gram matrices are rescaled by ``M_out / M_style`` so that the
            paper's per-position normalisation compares like with like.
        init: ``"content"`` | ``"noise"`` (see ``noise``, seeded by ``seed``) | ``"style"`` | an
            image (or one per element).
        noise: half-width of the uniform noise around mid-grey for ``init="noise"``: pixels
            start in ``[0.5 − noise, 0.5 + noise]``.  ``0.5`` gives full-range white noise
            U[0, 1]; the default 0.05 follows Gatys' and jcjohnson's code, which start from
            low-amplitude noise: full-range noise leaves high-frequency patterns that the deep
            layers barely see, so they survive a short optimisation (notebook 02 shows both).
        optimizer: ``"lbfgs"`` (default) | ``"adam"``.
        steps: budget of function evaluations (forward+backward passes), > 0.
        lr: Adam's learning rate in [0, 1] pixel units (default :data:`BERKELEY_LR`).
        history_size: L-BFGS memory (curvature pairs per element).
        gram: ``"raw"`` (paper) | ``"mean"``, see :mod:`helpers.losses`.
        seed: noise seed, shared (every element starts from the same noise) or one per element.
        device, pooling, weights: see :class:`helpers.vgg.VGGFeatures`.
        record_every: history interval in evaluations (default ``max(1, steps // 100)``).
        max_batch: split larger batches into runs of at most this many elements.
        progress: show a tqdm bar (``False`` for none).
        callback: called with a :class:`Step` at every recorded evaluation.

    Returns:
        :class:`TransferResult`.  Raises :class:`UserError` for bad input, a non-finite loss
        (naming the evaluation and the likely cause) and :class:`Interrupted` on Ctrl-C.
    """
    from .runtime import device_name, get_device

    start = time.perf_counter()
    objs = [objectives] if isinstance(objectives, Objective) else list(objectives)
    if not objs:
        raise UserError("no objectives to optimise")
    if not all(isinstance(o, Objective) for o in objs):
        raise UserError("objectives must be helpers.transfer.Objective instances")
    if optimizer not in OPTIMIZERS:
        raise UserError(f"optimizer {optimizer!r}: use one of {', '.join(OPTIMIZERS)}")
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps <= 0:
        raise UserError(f"steps must be a positive whole number of function evaluations, got {steps!r}")
    steps = int(steps)
    if optimizer == "adam" and not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
        raise UserError(f"lr must be a positive number, got {lr!r}")
    if isinstance(history_size, bool) or not isinstance(history_size, int) or history_size < 1:
        raise UserError(f"history_size must be a positive integer, got {history_size!r}")
    if gram not in losses.GRAM_NORMS:
        raise UserError(f"gram must be one of {', '.join(losses.GRAM_NORMS)}, got {gram!r}")
    if pooling not in ("avg", "max"):
        raise UserError(f"pooling must be 'avg' or 'max', got {pooling!r}")
    if isinstance(init, str) and init not in INITS and not Path(init).exists():
        raise UserError(f"init {init!r}: use content, noise, style or an image path")
    if isinstance(noise, bool) or not isinstance(noise, int | float) or not math.isfinite(noise) or noise < 0:
        raise UserError(f"noise must be a number >= 0 (half-width around mid-grey; 0.5 = U[0, 1]), got {noise!r}")
    record_every = record_every or max(1, steps // 100)
    if record_every < 1:
        raise UserError(f"record_every must be >= 1, got {record_every}")
    dev = get_device(device) if isinstance(device, str) else torch.device(device)
    n = len(objs)
    seeds = _per_element(seed, n, "seed")
    init_name = init if isinstance(init, str) and init in INITS else None
    need_content = any(o.alpha > 0 for o in objs) or init_name == "content"
    need_style = any(o.beta > 0 for o in objs) or init_name == "style"
    layers = list(dict.fromkeys(name for o in objs for name in o.layers()))
    deepest = max(layers, key=lambda name: vgg.LAYER_INDEX[name])
    chunk = max_batch or n
    prep = _prepare_images(n, content, style, init, size=size, style_size=style_size,
                           need_content=need_content, need_style=need_style,
                           check_shape=lambda shape: _check_memory(shape, min(chunk, n), [deepest], optimizer, history_size, dev))
    if init_name == "content" and any(c is None for c in prep.content):
        raise UserError("init='content' needs a content image for every element; use init='noise'")
    if init_name == "style" and any(s is None for s in prep.style):
        raise UserError("init='style' needs a style image for every element; use init='noise'")
    smallest = vgg.min_size([deepest])
    shapes = [("output", prep.shape)] + ([("style image", prep.style_shape)] if prep.style_shape else [])
    for what, (h, w) in shapes:
        if min(h, w) < smallest:
            longer = math.ceil(smallest * max(h, w) / min(h, w))
            raise UserError(
                f"{what} size {w}x{h} is too small for layer {deepest} (the network halves the size "
                f"{int(math.log2(smallest))} times before it): each side needs at least {smallest} px; "
                f"use --{'style-size' if what == 'style image' else 'size'} {longer} or larger"
            )
    model = build_network(layers, weights=weights, pooling=pooling, device=dev)

    results = []
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        part = _Prepared(prep.content[lo:hi], prep.style[lo:hi], prep.init[lo:hi], prep.shape, prep.style_shape)
        results.append(_run(objs[lo:hi], part, model, init=init, noise=float(noise), optimizer=optimizer, steps=steps, lr=lr,
                            history_size=history_size, gram=gram, seeds=seeds[lo:hi], record_every=record_every,
                            progress=progress, callback=callback, desc=desc, device_label=device_name(dev)))
    result = TransferResult.concat(results) if len(results) > 1 else results[0]
    result.seconds = time.perf_counter() - start
    return result


def _run(objs: list[Objective], prep: _Prepared, model: vgg.VGGFeatures, *, init, noise, optimizer, steps, lr, history_size,
         gram, seeds, record_every, progress, callback, desc, device_label) -> TransferResult:
    """Optimise one batch: targets once, then ``steps`` evaluations (see :func:`optimize`)."""
    from tqdm import tqdm

    from .images import resize, to_tensor

    start = time.perf_counter()
    dev = model.device
    b = len(objs)
    h, w = prep.shape
    content_layers = list(dict.fromkeys(name for o in objs if o.alpha > 0 for name in o.content_layers))
    style_layers = list(dict.fromkeys(name for o in objs if o.beta > 0 for name in o.style_layers))

    def per_element(values) -> Tensor:
        return torch.tensor(values, dtype=torch.float32, device=dev)

    alpha = per_element([o.alpha for o in objs])
    beta = per_element([o.beta for o in objs])
    tv_w = per_element([o.tv_weight for o in objs])
    use_tv = bool((tv_w > 0).any())
    wc = {name: per_element([o.content_layers.get(name, 0.0) if o.alpha > 0 else 0.0 for o in objs]) for name in content_layers}
    ws = {name: per_element([o.style_layers.get(name, 0.0) if o.beta > 0 else 0.0 for o in objs]) for name in style_layers}

    # targets, once, outside the loop
    with torch.no_grad():
        content_targets: dict[str, Tensor] = {}
        style_targets: dict[str, Tensor] = {}
        if content_layers:
            stack, index = _stack_unique(prep.content, dev)
            feats = model(stack)
            content_targets = {name: _gather(feats[name], index) for name in content_layers}
        if style_layers:
            distinct, index = _distinct(prep.style)
            index = index.to(dev)
            grams: dict[str, list[Tensor]] = {name: [] for name in style_layers}
            for img in distinct:  # one pass per distinct style image (they may differ in shape)
                feats = model(to_tensor(img, dev))
                for name in style_layers:
                    g = losses.gram_matrix(feats[name], gram=gram)
                    if gram == "raw" and img.shape[:2] != (h, w):
                        # departs from the paper, whose formula assumes equal sizes: a raw Gram
                        # grows with the positions M, so rescale the style's to the output's M
                        d = vgg.downsampling(name)
                        g = g * ((h // d) * (w // d) / (feats[name].shape[2] * feats[name].shape[3]))
                    grams[name].append(g)
            style_targets = {name: _gather(torch.cat(grams[name]), index) for name in style_layers}
            del feats, grams

    # the initial images
    if isinstance(init, str) and init in ("content", "style"):
        distinct, index = _distinct(prep.content if init == "content" else prep.style)
        index = index.to(dev)
        stack = torch.cat([to_tensor(img if img.shape[:2] == (h, w) else resize(img, (w, h)), dev) for img in distinct])
        x0 = stack.index_select(0, index)
    elif isinstance(init, str) and init == "noise":
        noises = {}
        for s in seeds:
            if s not in noises:
                u = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(int(s)))
                noises[s] = 0.5 + noise * (2.0 * u - 1.0)
        x0 = torch.cat([noises[s] for s in seeds]).to(dev)
    else:
        stack, index = _stack_unique(prep.init, dev)
        x0 = stack.index_select(0, index)
    x = x0.detach().clone().contiguous().requires_grad_(True)
    flat = x.detach().view(b, -1)

    def evaluate(image: Tensor, *, backward: bool, scale: Tensor | None):
        feats = model(image)
        c_layers = losses.content_losses(feats, content_targets)
        s_layers = losses.style_losses(feats, style_targets, gram=gram)
        zero = image.new_zeros(b)
        content_ = losses.weighted_sum(c_layers, wc) if wc else zero
        style_ = losses.weighted_sum(s_layers, ws) if ws else zero
        tv = losses.total_variation(image) if use_tv else zero
        total = alpha * content_ + beta * style_
        if use_tv:
            total = total + tv_w * tv
        if backward:
            if scale is None:
                scale = total.detach().where(total.detach() > 0, torch.ones_like(total)).clamp_min(1e-30)
            (total / scale).sum().backward()
        parts = {"total": total, "content": content_, "style": style_, "tv": tv}
        parts.update({f"content:{k}": v for k, v in c_layers.items()})
        parts.update({f"style:{k}": v for k, v in s_layers.items()})
        return {k: v.detach() for k, v in parts.items()}, scale

    lbfgs = _BatchedLBFGS(flat, history_size=history_size) if optimizer == "lbfgs" else None
    adam = torch.optim.Adam([x], lr=lr) if optimizer == "adam" else None
    records: list[tuple[int, float, dict[str, np.ndarray]]] = []
    current: dict[str, Tensor] | None = None
    scale: Tensor | None = None
    loop_start = time.perf_counter()
    evaluations = 0
    bar = tqdm(total=steps, disable=not progress, desc=desc or f"{optimizer} ×{b}", unit="eval", leave=False,
               mininterval=0.5, file=sys.stderr, dynamic_ncols=True)

    def record(k: int) -> None:
        assert current is not None
        seconds = time.perf_counter() - loop_start
        row = {key: v.cpu().numpy().copy() for key, v in current.items()}
        records.append((k, seconds, row))
        bar.set_postfix_str(f"loss {row['total'].mean():.4g}", refresh=False)
        if callback is not None:
            callback(Step(k, seconds, row["total"], lbfgs.x.view_as(x) if lbfgs else x.detach()))

    def latest_image() -> Tensor:
        return (lbfgs.x.view_as(x) if lbfgs is not None else x.detach()).clone()

    try:
        for k in range(1, steps + 1):
            x.grad = None
            parts, scale = evaluate(x, backward=True, scale=scale)
            evaluations = k
            if lbfgs is not None:
                try:
                    accept = lbfgs.tell(parts["total"] / scale, x.grad.view(b, -1))
                except FloatingPointError as exc:
                    raise UserError(
                        f"evaluation {k}: {exc}; the initial image or the weights file is probably broken "
                        "(re-fetch the weights with `python -m helpers weights`)"
                    ) from None
                if current is None:
                    current = parts
                elif bool(accept.all()):
                    current = parts
                else:
                    current = {key: torch.where(accept, v, current[key]) for key, v in parts.items()}
            else:
                finite = torch.isfinite(parts["total"]) & torch.isfinite(x.grad).flatten(1).all(dim=1)
                if not bool(finite.all()):
                    bad = [i for i, ok in enumerate(finite.tolist()) if not ok]
                    if k == 1:  # no step taken yet: the learning rate cannot be the cause
                        raise UserError(
                            f"adam: the loss or its gradient is not finite at the initial image (evaluation 1) for "
                            f"batch element(s) {bad}; the initial image or the weights file is probably broken "
                            "(re-fetch the weights with `python -m helpers weights`)"
                        )
                    raise UserError(
                        f"adam: the loss became non-finite (NaN/inf) at evaluation {k} for batch element(s) "
                        f"{bad}; the learning rate lr={lr:g} is probably too high (the Berkeley recipe is "
                        f"{BERKELEY_LR:.3g} in pixel units): lower it and run again"
                    )
                current = parts
                adam.step()
            bar.update(1)
            if k == 1 or k % record_every == 0 or k == steps:
                record(k)
            if lbfgs is not None and lbfgs.done:
                if records[-1][0] != k:
                    record(k)
                break
    except KeyboardInterrupt:
        bar.close()
        partial = None
        if current is not None and records:
            image = latest_image()
            if bool(torch.isfinite(image).all()):
                partial = _finish(objs, image, records, evaluations, start, loop_start, device_label, optimizer,
                                  final=None)
        raise Interrupted(partial) from None
    bar.close()
    loop_seconds = time.perf_counter() - loop_start
    image = latest_image().clamp_(0.0, 1.0)
    if not bool(torch.isfinite(image).all()):
        raise UserError(
            f"{optimizer}: the image became non-finite after {evaluations} evaluations; "
            + (f"the learning rate lr={lr:g} is probably too high" if optimizer == "adam" else "try fewer layers or another init")
        )
    with torch.no_grad():
        final, _ = evaluate(image, backward=False, scale=None)
    return _finish(objs, image, records, evaluations, start, loop_start, device_label, optimizer, final=final,
                   loop_seconds=loop_seconds)


def _finish(objs, image: Tensor, records, evaluations, start, loop_start, device_label, optimizer, *, final,
            loop_seconds: float | None = None) -> TransferResult:
    from .images import to_numpy

    b = len(objs)
    keys = list(records[-1][2])
    history = History(
        evaluations=np.array([r[0] for r in records]),
        seconds=np.repeat(np.array([r[1] for r in records])[:, None], b, axis=1),
        total=np.stack([r[2]["total"] for r in records]),
        content=np.stack([r[2]["content"] for r in records]),
        style=np.stack([r[2]["style"] for r in records]),
        tv=np.stack([r[2]["tv"] for r in records]),
        layers={k: np.stack([r[2][k] for r in records]) for k in keys if ":" in k},
    )
    if final is None:
        final_np = dict(records[-1][2])
    else:
        final_np = {k: v.cpu().numpy() for k, v in final.items()}
    images = [to_numpy(image[i]) for i in range(b)]
    now = time.perf_counter()
    return TransferResult(
        images=images,
        history=history,
        losses=final_np,
        seconds=now - start,
        loop_seconds=loop_seconds if loop_seconds is not None else now - loop_start,
        evaluations=evaluations,
        device=device_label,
        optimizer=optimizer,
        objectives=list(objs),
    )


# --- grids and wrappers -----------------------------------------------------------------------

_OBJECTIVE_KEYS = ("content_layers", "style_layers", "alpha", "beta", "ratio", "tv_weight")
_ELEMENT_KEYS = ("content", "style", "seed", "init")


def _objective(spec: Mapping, label: str) -> Objective:
    spec = dict(spec)
    kwargs = {k: spec[k] for k in ("content_layers", "style_layers", "tv_weight") if k in spec}
    if "ratio" in spec:
        return Objective.from_ratio(spec["ratio"], label=label, **kwargs)
    return Objective(alpha=spec.get("alpha", DEFAULT_RATIO), beta=spec.get("beta", 1.0), label=label, **kwargs)


def run_grid(rows: Mapping[str, Mapping], cols: Mapping[str, Mapping], *, base: Mapping | None = None, **options) -> TransferResult:
    """Run every (row, col) combination as one batch (row-major) and keep the labels.

    Each row and column is ``{key: value}`` with keys from :class:`Objective` (``content_layers``,
    ``style_layers``, ``alpha``, ``beta``, ``ratio``, ``tv_weight``) and per-element inputs
    (``content``, ``style``, ``seed``, ``init``); an element's settings are ``base | row | col``.
    ``options`` go to :func:`optimize`.
    """
    base = dict(base or {})
    allowed = set(_OBJECTIVE_KEYS) | set(_ELEMENT_KEYS)
    objs, per = [], {k: [] for k in _ELEMENT_KEYS}
    for (r_label, r_spec), (c_label, c_spec) in itertools.product(rows.items(), cols.items()):
        spec = {**base, **r_spec, **c_spec}
        unknown = set(spec) - allowed
        if unknown:
            raise UserError(f"unknown grid setting(s) {', '.join(sorted(unknown))}; use {', '.join(sorted(allowed))}")
        objs.append(_objective({k: v for k, v in spec.items() if k in _OBJECTIVE_KEYS}, f"{r_label} | {c_label}"))
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
        return {Path(i).stem if isinstance(i, str | os.PathLike) else f"image {k}": i for k, i in enumerate(images)}
    name = Path(images).stem if isinstance(images, str | os.PathLike) else "image"
    return {name: images}


def _seeds(seeds) -> list[int]:
    return [int(s) for s in seeds] if isinstance(seeds, list | tuple) else [int(seeds)]


def reconstruct_content(content: ImageLike, layers: LayerSpec | Sequence[LayerSpec] = vgg.CONTENT_LAYER_PAPER, *,
                        seeds: int | Sequence[int] = 0, init: str | ImageLike = "noise", **options) -> TransferResult:
    """Content reconstruction: match ``content``'s features at ``layers`` starting from noise.

    ``layers`` is one :data:`LayerSpec` or a list of them (the rows); ``seeds`` one or several
    noise seeds (the columns).  Every row × seed runs in one batch.
    """
    specs = _spec_list(layers)
    rows = {spec_label(s): {"content_layers": s} for s in specs}
    cols = {f"seed {s}": {"seed": s} for s in _seeds(seeds)}
    return run_grid(rows, cols, base={"alpha": 1.0, "beta": 0.0}, content=content, init=init, **options)


def reconstruct_style(style: ImageLike | Sequence[ImageLike] | Mapping[str, ImageLike],
                      layers: LayerSpec | Sequence[LayerSpec] = DEFAULT_STYLE_LAYERS, *,
                      seeds: int | Sequence[int] = 0, init: str | ImageLike = "noise", **options) -> TransferResult:
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
        label = name if len(seed_list) == 1 else (f"seed {s}" if len(styles) == 1 else f"{name}, seed {s}")
        cols[label] = {"style": img, "seed": s}
    return run_grid(rows, cols, base={"alpha": 0.0, "beta": 1.0}, init=init, **options)


def stylize(content: ImageLike, style: ImageLike | Sequence[ImageLike] | Mapping[str, ImageLike], *,
            ratio: float | None = None, alpha: float | None = None, beta: float | None = None,
            content_layers: LayerSpec = DEFAULT_CONTENT_LAYERS, style_layers: LayerSpec = DEFAULT_STYLE_LAYERS,
            tv_weight: float = 0.0, init: str | ImageLike = "content", **options) -> TransferResult:
    """Neural style transfer of ``content`` with ``style`` (one style, or several as one batch).

    Give either ``ratio`` (alpha/beta; alpha = ratio, beta = 1) or ``alpha`` and ``beta``
    (default ratio :data:`DEFAULT_RATIO`).  Several styles (``{name: image}`` or a list) run as
    one batch, one column each.  ``options`` go to :func:`optimize`.
    """
    if ratio is not None and (alpha is not None or beta is not None):
        raise UserError("give either ratio or alpha/beta, not both")
    if ratio is None and alpha is None and beta is None:
        ratio = DEFAULT_RATIO
    weights = {"ratio": ratio} if ratio is not None else {"alpha": 1.0 if alpha is None else alpha, "beta": 1.0 if beta is None else beta}
    base = {"content_layers": content_layers, "style_layers": style_layers, "tv_weight": tv_weight, **weights}
    styles = _named(style)
    if len(styles) == 1 and not isinstance(style, Mapping | list | tuple):
        obj = _objective(base, "")
        return optimize(obj, content=content, style=style, init=init, **options)
    cols = {name: {"style": img} for name, img in styles.items()}
    return run_grid({"": {}}, cols, base=base, content=content, init=init, **options)


def alpha_beta_grid(content: ImageLike, style: ImageLike, *, ratios: Sequence[float] = ALPHA_BETA_RATIOS,
                    style_layer_sets: Sequence[LayerSpec] = GROWING_SUBSETS,
                    content_layers: LayerSpec = DEFAULT_CONTENT_LAYERS, **options) -> TransferResult:
    """Berkeley's grid: rows = style-layer sets, columns = alpha/beta ratios, all in one batch."""
    rows = {spec_label(s): {"style_layers": s} for s in _spec_list(style_layer_sets)}
    cols = {f"α/β = {r:.0e}": {"ratio": r} for r in ratios}
    return run_grid(rows, cols, base={"content_layers": content_layers}, content=content, style=style, **options)


def content_style_grid(contents: Mapping[str, ImageLike] | Sequence[ImageLike], styles: Mapping[str, ImageLike] | Sequence[ImageLike],
                       *, ratio: float = DEFAULT_RATIO, content_layers: LayerSpec = DEFAULT_CONTENT_LAYERS,
                       style_layers: LayerSpec = DEFAULT_STYLE_LAYERS, **options) -> TransferResult:
    """Every content × every style (CMU's grid): one batch per content image (they may differ
    in shape), the styles of a row batched together."""
    contents, styles = _named(contents), _named(styles)
    base = {"ratio": ratio, "content_layers": content_layers, "style_layers": style_layers}
    cols = {name: {"style": img} for name, img in styles.items()}
    parts = [run_grid({name: {}}, cols, base=base, content=img, **options) for name, img in contents.items()]
    return TransferResult.concat(parts, rows=list(contents), cols=list(styles))


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


def load(name: str | os.PathLike, *, size: int | str | tuple[int, int] | None = None) -> np.ndarray:
    """One image (sample asset name or path) as ``(H, W, 3)`` float32 in [0, 1], optionally resized."""
    from .images import resize

    img = _as_array(name, "image")
    return resize(img, size) if size is not None else img


def load_images(names: Sequence[str | os.PathLike] | str, *, size: int | str | tuple[int, int] | None = None) -> dict[str, np.ndarray]:
    """``{stem: (H, W, 3) float32 array}`` for sample asset names or paths, optionally resized."""
    from .images import resize

    items = [names] if isinstance(names, str | os.PathLike) else list(names)
    out = {}
    for name in items:
        img = _as_array(name, "image")
        out[Path(name).stem] = resize(img, size) if size is not None else img
    return out


def comparison(runs: Mapping[str, TransferResult], *, element: int = 0) -> str:
    """A small text table comparing runs: final losses, time, and the evaluations each run
    needed to reach the final total loss of the weakest run (a fair 'time to quality')."""
    level = max(float(r.history.total[-1, element]) for r in runs.values())
    lines = [f"{'run':<16} {'total':>11} {'content':>11} {'style':>11} {'evals':>6} {'seconds':>8} {'s/eval':>7} {'evals to ' + format(level, '.3g'):>16}"]
    for name, r in runs.items():
        reach = evaluations_to_reach(r, level, element=element)
        lines.append(
            f"{name:<16} {r.losses['total'][element]:11.4g} {r.losses['content'][element]:11.4g} {r.losses['style'][element]:11.4g} "
            f"{r.evaluations:6d} {r.loop_seconds:8.1f} {r.seconds_per_evaluation:7.3f} {reach if reach is not None else '-':>16}"
        )
    return "\n".join(lines)


def layer_losses_text(result: TransferResult, *, element: int = 0) -> str:
    """Per-layer (unweighted) losses of one element, first and last recorded, one line per layer,
    with each layer's weight in that element's objective."""
    obj = result.objectives[element]
    lines = [f"{'layer':<16} {'weight':>6} {'first':>11} {'last':>11}"]
    for key, series in result.history.layers.items():
        kind, name = key.split(":", 1)
        w = (obj.style_layers if kind == "style" else obj.content_layers).get(name, 0.0)
        lines.append(f"{key:<16} {w:6.2f} {series[0, element]:11.4g} {series[-1, element]:11.4g}")
    return "\n".join(lines)


def evaluations_to_reach(result: TransferResult, level: float, *, element: int = 0, key: str = "total") -> int | None:
    """First recorded evaluation at which ``key`` of ``element`` is <= ``level`` (None if never)."""
    series = result.history.series(key)[:, element]
    hits = np.nonzero(series <= level)[0]
    return int(result.history.evaluations[hits[0]]) if len(hits) else None


# --- interactive preview ------------------------------------------------------------------------


def preview_panel(content: ImageLike | None, style: ImageLike | None, *, enabled: bool = True, size: int = 64,
                  steps: int = 30, ratio: float = DEFAULT_RATIO, mode: str = "stylize", **options):
    """An ipywidgets panel (alpha/beta, style-layer weights, steps, init) rerunning a small preview.

    ``mode``: ``"stylize"``, ``"content"`` (reconstruction) or ``"style"`` (texture synthesis).
    Returns the widget (display it in a notebook); runs nothing until "Run" is pressed.  With
    ``enabled=False`` (headless runs) it builds nothing and returns None.
    """
    if not enabled:
        print("interactive panel off: set INTERACTIVE = True in the parameters cell to use it")
        return None
    import ipywidgets as widgets
    from IPython.display import display

    from .figures import image_grid

    log_ratio = widgets.FloatSlider(value=math.log10(ratio), min=-12, max=2, step=0.5, description="log10 α/β")
    layer_sliders = [widgets.FloatSlider(value=0.2, min=0, max=1, step=0.05, description=name) for name in vgg.STYLE_LAYERS]
    content_layer = widgets.Dropdown(options=list(vgg.CONV_LAYERS), value=vgg.CONTENT_LAYER_PAPER, description="content")
    steps_w = widgets.IntSlider(value=steps, min=5, max=500, step=5, description="steps")
    init_w = widgets.Dropdown(options=["content", "noise"] if mode == "stylize" else ["noise"], description="init")
    opt_w = widgets.Dropdown(options=list(OPTIMIZERS), description="optimizer")
    button = widgets.Button(description="Run", button_style="primary")
    out = widgets.Output()

    def on_click(_):
        with out:
            out.clear_output(wait=True)
            try:
                weights = {s.description: s.value for s in layer_sliders}
                common = dict(size=size, steps=steps_w.value, optimizer=opt_w.value, progress=False, **options)
                if mode == "content":
                    res = reconstruct_content(content, content_layer.value, init=init_w.value, **common)
                elif mode == "style":
                    res = reconstruct_style(style, weights, init=init_w.value, **common)
                else:
                    res = stylize(content, style, ratio=10 ** log_ratio.value, content_layers=content_layer.value,
                                  style_layers=weights, init=init_w.value, **common)
                display(image_grid([res.images], titles=[[res.summary()[:60]]], cell_size=3.5))
            except UserError as exc:
                print(f"error: {exc}")

    button.on_click(on_click)
    controls = [log_ratio] if mode == "stylize" else []
    controls += layer_sliders if mode != "content" else []
    controls += [content_layer] if mode != "style" else []
    return widgets.VBox([*controls, steps_w, init_w, opt_w, button, out])
