"""Figures: labelled image grids, loss curves and atomic saving. Functions return Figures/Axes.

Presentation layer: it draws results of :mod:`helpers.nst` and :mod:`helpers.gdf` and sits
above them; no method package imports it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .runtime import atomic_path


def _as_array(image) -> np.ndarray:
    if isinstance(image, np.ndarray):
        return image
    from .images import to_numpy

    return to_numpy(image)


def image_grid(
    images: Sequence[Sequence],
    *,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    titles: Sequence[Sequence[str]] | None = None,
    cell_size: float = 2.2,
    suptitle: str | None = None,
) -> Figure:
    """A rows x cols grid of images (arrays in [0, 1] or (1, 3, H, W) tensors; ``None`` = blank).

    Row labels go on the left, column labels on top, per-cell titles above each image.
    """
    rows = len(images)
    cols = max(len(r) for r in images)
    fig, axes = plt.subplots(
        rows, cols, figsize=(cell_size * cols, cell_size * rows), squeeze=False
    )
    for r in range(rows):
        for c in range(cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            img = images[r][c] if c < len(images[r]) else None
            if img is not None:
                arr = _as_array(img)
                ax.imshow(
                    arr,
                    cmap="gray" if arr.ndim == 2 else None,
                    vmin=0,
                    vmax=1,
                    interpolation="lanczos",
                )
            if titles is not None and c < len(titles[r]) and titles[r][c]:
                ax.set_title(titles[r][c], fontsize=8)
            if col_labels is not None and r == 0 and c < len(col_labels):
                ax.set_title(
                    (col_labels[c] + ("\n" + titles[r][c] if titles and titles[r][c] else "")),
                    fontsize=9,
                )
            if row_labels is not None and c == 0 and r < len(row_labels):
                ax.set_ylabel(row_labels[r], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: str | os.PathLike, *, dpi: int = 110) -> Path:
    """Save ``fig`` to ``path`` atomically (temp file + rename)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=path.suffix.lstrip(".") or "png")
    return path


def filter_grid(weight, *, columns: int = 8, title: str | None = None) -> Figure:
    """First-layer filters ``(out, 3, k, k)`` (RGB input order) as colour patches, each
    rescaled to [0, 1]."""
    w = weight.detach().cpu().float().numpy()
    n = w.shape[0]
    rows = -(-n // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 0.8, rows * 0.8), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < n:
            patch = w[i].transpose(1, 2, 0)
            patch = (patch - patch.min()) / (patch.max() - patch.min() + 1e-12)
            ax.imshow(patch, interpolation="nearest")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def feature_maps(
    features: dict, *, channels: int = 6, cell_size: float = 1.6, title: str | None = None
) -> Figure:
    """A row per layer showing its ``channels`` most active maps of the first batch element."""
    names = list(features)
    fig, axes = plt.subplots(
        len(names), channels, figsize=(channels * cell_size, len(names) * cell_size), squeeze=False
    )
    for r, name in enumerate(names):
        act = features[name][0].detach().cpu().float()
        order = act.flatten(1).mean(1).argsort(descending=True)[:channels]
        for c, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(order):
                ax.imshow(act[order[c]].numpy(), cmap="magma")
                ax.set_title(f"#{int(order[c])}", fontsize=7)
        axes[r][0].set_ylabel(f"{name}\n{tuple(act.shape)}", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# --- style transfer: result grids with their inputs, loss curves (helpers.nst results) ----------


def transfer_grid(
    result,
    *,
    row_inputs: Sequence | None = None,
    col_inputs: Sequence | None = None,
    corner=None,
    cell_size: float = 2.0,
    suptitle: str | None = None,
) -> Figure:
    """A :class:`helpers.nst.TransferResult` as its rows × cols grid, labelled.

    ``row_inputs`` adds a first column (e.g. the content images), ``col_inputs`` a first row
    (e.g. the style images), ``corner`` the image in the top-left cell when both are given.
    """
    rows = [list(r) for r in result.grid()]
    row_labels = (
        [lab.replace("+", "+\n") if len(lab) > 18 else lab for lab in result.rows]
        if result.rows
        else [""] * len(rows)
    )
    col_labels = (
        list(result.cols) if result.cols else [o.label for o in result.objectives[: len(rows[0])]]
    )
    if row_inputs is not None:
        rows = [[inp, *r] for inp, r in zip(row_inputs, rows)]
        col_labels = ["input", *col_labels]
    if col_inputs is not None:
        top = ([corner] if row_inputs is not None else []) + list(col_inputs)
        rows = [top, *rows]
        row_labels = ["input", *row_labels]
    return image_grid(
        rows, row_labels=row_labels, col_labels=col_labels, cell_size=cell_size, suptitle=suptitle
    )


def loss_curves(
    runs,
    *,
    key: str = "total",
    elements: Sequence[int] | None = None,
    labels: Sequence[str] | None = None,
    ax=None,
    title: str | None = None,
    logy: bool = True,
    relative: bool = False,
) -> Figure:
    """Loss ``key`` against function evaluations: one curve per run and batch element.

    ``runs``: a ``TransferResult`` or ``{name: TransferResult}``.  ``key``: ``total``,
    ``content``, ``style``, ``tv`` or a per-layer key such as ``style:conv1_1``.
    ``relative=True`` divides each curve by its first value (compares different scales).
    """
    named = runs if isinstance(runs, dict) else {"": runs}
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
    else:
        fig = ax.figure
    k = 0
    for name, res in named.items():
        series = res.history.series(key)
        idx = range(series.shape[1]) if elements is None else elements
        element_labels = res.labels()
        for i in idx:
            y = series[:, i] / (series[0, i] if relative and series[0, i] else 1.0)
            if labels is not None:
                label = labels[k]
            else:
                label = " ".join(
                    p for p in (name, element_labels[i] if series.shape[1] > 1 else "") if p
                )
            ax.plot(res.history.evaluations, y, label=label or None, lw=1.4)
            k += 1
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("function evaluations (forward + backward passes)")
    ax.set_ylabel(f"{key} loss" + (" / initial" if relative else ""))
    if title:
        ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, ncol=2 if k > 6 else 1)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def layer_loss_curves(
    result, *, element: int = 0, kind: str = "style", ax=None, title: str | None = None
) -> Figure:
    """Per-layer (unweighted) losses of one batch element against evaluations (log scale)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
    else:
        fig = ax.figure
    obj = result.objectives[element]
    weighted = obj.style_layers if kind == "style" else obj.content_layers
    for key, series in result.history.layers.items():
        if (
            key.startswith(kind + ":")
            and key.split(":", 1)[1] in weighted
            and np.isfinite(series[:, element]).all()
        ):
            ax.plot(
                result.history.evaluations, series[:, element], label=key.split(":", 1)[1], lw=1.4
            )
    ax.set_yscale("log")
    ax.set_xlabel("function evaluations (forward + backward passes)")
    ax.set_ylabel(f"{kind} loss per layer (unweighted)")
    ax.set_title(title or f"{kind} losses per layer: {result.labels()[element]}", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def grid_heatmaps(
    result, *, keys: Sequence[str] = ("content", "style"), cell_size: float = 0.9
) -> Figure:
    """log10 of the final losses ``keys`` of a grid result, one heatmap per key (rows × cols)."""
    n_rows, n_cols = len(result.rows), len(result.cols)
    fig, axes = plt.subplots(
        1,
        len(keys),
        figsize=(len(keys) * (n_cols * cell_size + 2.6), n_rows * cell_size + 1.4),
        squeeze=False,
    )
    for ax, key in zip(axes[0], keys):
        values = np.log10(np.maximum(np.asarray(result.losses[key], dtype=float), 1e-30)).reshape(
            n_rows, n_cols
        )
        im = ax.imshow(values, cmap="viridis")
        for (r, c), v in np.ndenumerate(values):
            ax.text(
                c,
                r,
                f"{v:.1f}",
                ha="center",
                va="center",
                fontsize=7,
                color="w" if v < values.mean() else "k",
            )
        ax.set_xticks(range(n_cols), result.cols, rotation=30, ha="right", fontsize=7)
        ax.set_yticks(range(n_rows), result.rows, fontsize=7)
        ax.set_title(f"log10 final {key} loss", fontsize=9)
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig


def blend_strips(
    comparisons,
    *,
    cell_size: float = 1.9,
    columns: Sequence[str] | None = None,
    max_side: int = 320,
) -> Figure:
    """One row per :class:`helpers.gdf.Comparison`: mask | source | target | naive paste |
    Poisson | mixed | OpenCV normal | OpenCV mixed, captions with residuals and times.
    Panels are downscaled to ``max_side`` pixels for drawing (the results themselves are not)."""
    from .gdf import COLUMNS
    from .images import resize

    def shown(img):
        if img is None:
            return None
        img = np.asarray(img, dtype=np.float32)
        return resize(img, max_side) if max(img.shape[:2]) > max_side else img

    columns = list(columns or COLUMNS)
    images = [[shown(c.images.get(col)) for col in columns] for c in comparisons]
    titles = [[c.caption(col) for col in columns] for c in comparisons]
    rows = [f"{c.name}\n{c.shape[1]}x{c.shape[0]}" for c in comparisons]
    fig = image_grid(images, row_labels=rows, titles=titles, cell_size=cell_size)
    for r, c in enumerate(comparisons):
        for k, col in enumerate(columns):
            if c.images.get(col) is None:
                ax = fig.axes[r * len(columns) + k]
                ax.text(
                    0.5,
                    0.5,
                    "OpenCV\nnot installed",
                    ha="center",
                    va="center",
                    fontsize=8,
                    transform=ax.transAxes,
                )
    return fig


def toy_panels(image: np.ndarray, result, *, cell_size: float = 2.6) -> Figure:
    """The toy problem: input, x and y gradients (signed), reconstruction, and |error| (log10)."""
    gx, gy = result.gradients
    err = np.abs(result.image - image)
    panels = [
        (image, "input", "gray", 0, 1),
        (gx, "x gradient (forward difference)", "RdBu_r", -np.abs(gx).max(), np.abs(gx).max()),
        (gy, "y gradient (forward difference)", "RdBu_r", -np.abs(gy).max(), np.abs(gy).max()),
        (result.image, "reconstruction", "gray", 0, 1),
        (np.log10(np.maximum(err, 1e-18)), f"log10 |error|, max {err.max():.1e}", "magma", -18, -6),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(cell_size * len(panels), cell_size * 1.1))
    for ax, (arr, title, cmap, lo, hi) in zip(axes, panels):
        im = ax.imshow(arr, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        if cmap != "gray":
            fig.colorbar(im, ax=ax, shrink=0.7)
    fig.tight_layout()
    return fig


def timing_bars(seconds: dict, *, title: str | None = None) -> Figure:
    """Horizontal bars of wall times (log scale), labelled with the value."""
    names = list(seconds)
    values = [seconds[n] for n in names]
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * len(names)))
    ax.barh(names, values, color="tab:blue")
    ax.set_xscale("log")
    for y, v in enumerate(values):
        ax.text(v, y, f" {v * 1e3:.1f} ms" if v < 1 else f" {v:.2f} s", va="center", fontsize=8)
    ax.set_xlabel("seconds (log scale)")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def blend_crops(
    comparisons,
    *,
    columns: Sequence[str] = ("naive paste", "Poisson", "mixed"),
    margin: float = 0.25,
    cell_size: float = 2.6,
) -> Figure:
    """Close-ups around each mask (bounding box grown by ``margin``) for the failure cases."""
    from .gdf import mask_crop

    def crop(c, col):
        if c.images.get(col) is None:
            return None
        return mask_crop(c.images[col], c.images["mask"] > 0, margin=margin)

    images = [[crop(c, col) for col in columns] for c in comparisons]
    titles = [[c.caption(col) for col in columns] for c in comparisons]
    row_labels = [c.name for c in comparisons]
    return image_grid(images, row_labels=row_labels, titles=titles, cell_size=cell_size)


def _outline(image: np.ndarray, mask: np.ndarray, colour=(1.0, 0.85, 0.0)) -> np.ndarray:
    """``image`` (grey or RGB) as RGB with the border pixels of ``mask`` drawn in ``colour``."""
    rgb = np.asarray(image, dtype=np.float32)
    rgb = np.repeat(rgb[..., None], 3, axis=2) if rgb.ndim == 2 else rgb[..., :3].copy()
    m = np.asarray(mask, dtype=bool)
    inner = m.copy()
    inner[1:-1, 1:-1] = m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
    rgb[m & ~inner] = colour
    return rgb


def monochrome_panels(source, target, mask, poisson, monochrome, *, cell_size=2.6) -> Figure:
    """Close-ups around the mask: source | target | Poisson | monochrome transfer (the
    results are :class:`helpers.gdf.BlendResult` / :class:`helpers.gdf.EditResult`)."""
    from .gdf import mask_crop

    panels = [source, _outline(target, mask), poisson.clipped, monochrome.clipped]

    def solved(name, r):
        return f"{name}\n{r.seconds * 1e3:.0f} ms, residual {r.max_residual:.0e}"

    titles = [
        [
            "source",
            "target (region outlined)",
            solved("Poisson (source colours)", poisson),
            solved("monochrome transfer", monochrome),
        ]
    ]
    images = [[mask_crop(np.asarray(p), mask, margin=0.2) for p in panels]]
    return image_grid(images, titles=titles, cell_size=cell_size)


def edit_comparisons(comparisons, paper_results, *, cell_size=2.3, gain: float = 4.0) -> Figure:
    """One row per :class:`helpers.gdf.EditComparison`: input (region outlined) | ours with the
    paper's settings (``paper_results``, same order) | ours with OpenCV's settings | OpenCV |
    ``gain`` x |ours - OpenCV|, titles with times and the mean difference inside the region."""
    images, titles, rows = [], [], []
    for c, paper in zip(comparisons, paper_results):
        ours = c.ours.clipped
        theirs = c.opencv
        diff = None if theirs is None else np.clip(np.abs(ours - theirs).mean(axis=2) * gain, 0, 1)
        images.append([_outline(c.image, c.mask), paper.clipped, ours, theirs, diff])
        cv = "not installed" if theirs is None else f"{c.opencv_seconds * 1e3:.0f} ms"
        titles.append(
            [
                "input",
                f"ours, paper's settings\n{paper.seconds * 1e3:.0f} ms",
                f"ours, OpenCV's settings\n{c.ours.seconds * 1e3:.0f} ms",
                f"OpenCV\n{cv}",
                f"{gain:g} x |ours - OpenCV|\nmean {c.difference:.1f} levels inside",
            ]
        )
        rows.append(c.kind)
    return image_grid(images, row_labels=rows, titles=titles, cell_size=cell_size)


def tiling_panels(plain, seamless, *, reps=(2, 2), cell_size=3.4) -> Figure:
    """The texture tiled ``reps`` times before and after seamless tiling, with the seam
    difference (mean jump across the tile borders, 8-bit levels) in the titles."""
    from .gdf import seam_difference, tile

    before = tile(np.clip(plain, 0, 1), reps)
    after = tile(seamless.clipped, reps)
    titles = [
        [
            f"plain tile, {reps[0]}x{reps[1]}\nseam {seam_difference(plain) * 255:.1f} levels",
            f"seamless tile, {reps[0]}x{reps[1]}\n"
            f"seam {seam_difference(seamless.image) * 255:.2f} levels, "
            f"{seamless.seconds * 1e3:.0f} ms",
        ]
    ]
    return image_grid([[before, after]], titles=titles, cell_size=cell_size)


def color2gray_panels(reports, *, cell_size=2.6) -> Figure:
    """One row per :class:`helpers.gdf.ContrastReport`: colour | plain luminance | Color2Gray,
    each grey image titled with its mean |grad| across the colour edges."""
    images = [[r.rgb, r.result.luminance, r.result.clipped] for r in reports]
    titles = [
        [
            "colour",
            f"plain luminance\ncontrast {r.plain:.3f}",
            f"Color2Gray, {r.result.seconds * 1e3:.0f} ms\n"
            f"contrast {r.kept:.3f} ({r.kept / r.plain:.1f}x)",
        ]
        for r in reports
    ]
    return image_grid(
        images, row_labels=[r.name for r in reports], titles=titles, cell_size=cell_size
    )


def panel_row(panels: dict, *, cell_size: float = 2.6) -> Figure:
    """One row of images titled by their keys (``panels``: title -> array in [0, 1]; the
    ``panels()`` of :mod:`helpers.gdf.writeup`'s results)."""
    return image_grid([list(panels.values())], titles=[list(panels)], cell_size=cell_size)
