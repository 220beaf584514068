"""Gradient-domain fusion (Pérez, Gangnet & Blake 2003): the toy problem, Poisson & mixed blending.

The method package of notebooks 05 and 06 and of the CLI's ``blend`` and ``toy`` commands.
Layers, bottom up:

* :mod:`~helpers.gdf.operators`: forward differences, grid and masked Laplacians, the guidance
  divergence (sparse matrices and whole-array passes; the oracle of the tests);
* :mod:`~helpers.gdf.box`, :mod:`~helpers.gdf.coarse`: the solver's two preconditioner levels
  (spectral box solve, Galerkin coarse space);
* :mod:`~helpers.gdf.solver`: :class:`PoissonSystem` and :func:`solve`, THE solve path;
* :mod:`~helpers.gdf.toy`, :mod:`~helpers.gdf.blending`: what the solver is used for;
* :mod:`~helpers.gdf.examples`: the sample examples, OpenCV and comparisons for the notebooks.

Imports only the plumbing (errors, assets, images) and :mod:`helpers.tables`; never torch.
"""

from . import blending, box, coarse, examples, operators, solver, toy
from .blending import MASK_THRESHOLD, BlendResult, blend, naive_paste, place_mask, relative_residual
from .coarse import CoarseSpace
from .examples import (
    COLUMNS,
    Comparison,
    ComparisonSummary,
    Example,
    compare_example,
    compare_examples,
    comparison_table,
    list_examples,
    load_example,
    mask_crop,
    opencv_available,
    opencv_clone,
    pick,
    save_comparisons,
    summarize,
)
from .solver import PoissonSystem, SolveInfo, solve
from .toy import (
    ToyResult,
    ToyTiming,
    single_threaded_blas,
    toy_reconstruct,
    toy_reconstruct_naive,
    toy_timing,
)

__all__ = [
    # submodules
    "blending",
    "box",
    "coarse",
    "examples",
    "operators",
    "solver",
    "toy",
    # the solver
    "CoarseSpace",
    "PoissonSystem",
    "SolveInfo",
    "solve",
    # the toy problem
    "ToyResult",
    "ToyTiming",
    "single_threaded_blas",
    "toy_reconstruct",
    "toy_reconstruct_naive",
    "toy_timing",
    # blending
    "MASK_THRESHOLD",
    "BlendResult",
    "blend",
    "naive_paste",
    "place_mask",
    "relative_residual",
    # examples and comparisons (notebook 06)
    "COLUMNS",
    "Comparison",
    "ComparisonSummary",
    "Example",
    "compare_example",
    "compare_examples",
    "comparison_table",
    "list_examples",
    "load_example",
    "mask_crop",
    "opencv_available",
    "opencv_clone",
    "pick",
    "save_comparisons",
    "summarize",
]
