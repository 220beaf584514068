"""The runtime cell of every notebook: :class:`NotebookRun` (device, seeds, output folder, clock).

Presentation layer: it saves images through :mod:`helpers.images` and figures through
:mod:`helpers.figures`, so it sits above the plumbing (:mod:`helpers.runtime` knows nothing
about either).
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np

from .figures import save_figure
from .images import save_image, to_numpy
from .runtime import (
    atomic_write_text,
    device_name,
    get_device,
    git_commit,
    outputs_dir,
    seed_everything,
)


class NotebookRun:
    """What a notebook's runtime cell sets up: device, seeds, output folder, clock, metrics.

    >>> run = NotebookRun("05-gradient-toy-problem", seed=0, device="auto", profile="quick")
    >>> run.save_image("reconstruction", image)  # outputs/05-.../reconstruction.png
    >>> run.save_figure(fig, "strip", caption="The strip.")  # outputs/05-.../strip.png
    >>> run.save_metrics(max_abs_error=1e-9)     # outputs/05-.../metrics.json

    Every file is written atomically.  Result images saved with :meth:`save_image` are listed
    in ``metrics.json`` so the regression check (``python -m helpers report --check``)
    compares them against a reference run.
    """

    def __init__(
        self, name: str, *, seed: int = 0, device: str = "auto", profile: str = "quick"
    ) -> None:
        self.name = name
        self.seed = int(seed)
        self.profile = profile
        self.device = get_device(device)  # a refused device must not leave an output folder behind
        self.out = outputs_dir(name)
        self.device_name = device_name(self.device)
        self.images: list[str] = []
        self.figures: list[str] = []
        self.captions: dict[str, str] = {}
        self.regions: dict[str, list[int]] = {}
        self.key_figure: str | None = None
        self._t0 = time.perf_counter()
        seed_everything(self.seed)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self._t0

    def path(self, filename: str) -> Path:
        return self.out / filename

    def save_image(self, name: str, image, *, region=None) -> None:
        """Save a result image (float in [0, 1], array or (1, 3, H, W) tensor) as ``<name>.png``.

        Returns nothing, so a cell ending with this call displays no path; the file is
        ``run.path(f"{name}.png")``.  ``region`` ``(top, left, bottom, right)``: where the result
        changes (e.g. a blend's mask box); the regression check compares the image there at full
        resolution (recorded in ``metrics.json`` under ``regions``; default: the whole image).
        """
        if name in self.figures:
            raise ValueError(f"{name!r} is already a figure's name; give the image another one")
        arr = image if isinstance(image, np.ndarray) else to_numpy(image)
        save_image(self.out / f"{name}.png", arr)
        if name not in self.images:
            self.images.append(name)
        if region is not None:
            self.regions[name] = [int(v) for v in region]

    @property
    def chapter(self) -> int:
        """The chapter number: the notebook name's leading digits (``"04-style-transfer"`` -> 4)."""
        digits = self.name.split("-", 1)[0]
        return int(digits) if digits.isdigit() else 0

    def save_figure(
        self,
        fig,
        name: str,
        *,
        caption: str,
        cf: str | None = None,
        key: bool = False,
        dpi: int = 110,
    ) -> None:
        """Save a figure as ``<name>.png`` (atomically), show it with its numbered caption.

        Figures are numbered per chapter in the order they are first saved ("Figure 4.2").
        ``caption`` is one sentence; ``cf`` names the paper's or a writeup's figure this one
        reproduces ("Gatys et al. Fig. 3", "Berkeley Part 5").  The caption is displayed under
        the figure and recorded in ``metrics.json`` (``captions``).  Returns nothing, so no
        path is ever displayed on a page.  ``key=True`` makes this the chapter's key figure,
        the thumbnail on the report's index page (default: the first figure saved).
        """
        if not caption or not caption.strip():
            raise ValueError(f"figure {name!r} needs a caption")
        if name in self.images:
            raise ValueError(f"{name!r} is already a result image's name; give the figure another")
        save_figure(fig, self.out / f"{name}.png", dpi=dpi)
        if name not in self.figures:
            self.figures.append(name)
        if key:
            self.key_figure = name
        label = f"Figure {self.chapter}.{self.figures.index(name) + 1}"
        text = caption.strip()
        if cf:
            text = f"{text} (cf. {cf})"
        self.captions[name] = f"{label}. {text}"
        _show_with_caption(fig, label, text)

    def save_metrics(self, **metrics) -> None:
        """Write ``metrics.json``: the given numbers plus seconds, device, profile, seed, images,
        figures, their captions and the key figure.  Returns nothing (no path on the page)."""
        import torch

        record = {
            "notebook": self.name,
            "profile": self.profile,
            "seed": self.seed,
            "device": self.device_name,
            "commit": git_commit(),  # with profile, seed, device: where these outputs came from
            "torch": torch.__version__,
            "python": platform.python_version(),
            "seconds": round(self.seconds, 3),
            "images": list(self.images),
            "figures": list(self.figures),
            "captions": dict(self.captions),
            "regions": dict(self.regions),
            "key_figure": self.key_figure or (self.figures[0] if self.figures else None),
            "metrics": _jsonable(metrics),
        }
        atomic_write_text(
            self.out / "metrics.json", json.dumps(record, indent=2, sort_keys=True) + "\n"
        )


def _show_with_caption(fig, label: str, text: str) -> None:
    """Display ``fig`` then its caption (inside IPython only), and close the figure so the
    inline backend does not show it a second time."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:  # pragma: no cover - IPython ships with the dev/notebook extras
        return
    if get_ipython() is None:
        return
    import matplotlib.pyplot as plt

    display(fig)
    display(Markdown(f'<p class="caption"><b>{label}.</b> {text}</p>'))
    plt.close(fig)


def _jsonable(value):
    """numpy / torch scalars and arrays -> plain Python for json."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    return str(value)
