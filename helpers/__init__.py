"""Helpers for the neural-style-transfer and Poisson-image-editing notebook series.

Layout (imports point down only; nothing here is imported eagerly, so ``python -m helpers``
starts fast and only what a notebook or command uses gets loaded):

* plumbing: :mod:`~helpers.errors`, :mod:`~helpers.runtime`, :mod:`~helpers.assets`,
  :mod:`~helpers.images` (the one loader, ``images.load``), :mod:`~helpers.tables`;
* methods: :mod:`helpers.nst` (style transfer: the one optimisation loop),
  :mod:`helpers.gdf` (gradient-domain fusion: the one solve path), :mod:`helpers.report`
  (papermill runner, HTML pages, regression check);
* presentation: :mod:`~helpers.figures`, :mod:`~helpers.widgets`, :mod:`~helpers.notebook`
  (``NotebookRun``), and :mod:`helpers.cli` (``python -m helpers ...``).
"""

__version__ = "0.1.0"
