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
