"""Figures: labelled image grids, loss curves and atomic saving. Functions return Figures/Axes."""

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
    fig, axes = plt.subplots(rows, cols, figsize=(cell_size * cols, cell_size * rows), squeeze=False)
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
                ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=1, interpolation="lanczos")
            if titles is not None and c < len(titles[r]) and titles[r][c]:
                ax.set_title(titles[r][c], fontsize=8)
            if col_labels is not None and r == 0 and c < len(col_labels):
                ax.set_title((col_labels[c] + ("\n" + titles[r][c] if titles and titles[r][c] else "")), fontsize=9)
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
    """First-layer filters ``(out, 3, k, k)`` (RGB input order) as colour patches, each rescaled to [0, 1]."""
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


def feature_maps(features: dict, *, channels: int = 6, cell_size: float = 1.6, title: str | None = None) -> Figure:
    """A row per layer showing its ``channels`` most active maps of the first batch element."""
    names = list(features)
    fig, axes = plt.subplots(len(names), channels, figsize=(channels * cell_size, len(names) * cell_size), squeeze=False)
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
