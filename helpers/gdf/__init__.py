"""Gradient-domain fusion (Pérez, Gangnet & Blake 2003): the toy problem, Poisson & mixed blending.

The method package of notebooks 05 and 06 and of the CLI's ``blend`` and ``toy`` commands.
Layers, bottom up:

* :mod:`~helpers.gdf.operators`: forward differences, grid and masked Laplacians, the guidance
  divergence (sparse matrices and whole-array passes; the oracle of the tests);
* :mod:`~helpers.gdf.box`, :mod:`~helpers.gdf.coarse`: the solver's two preconditioner levels
  (spectral box solve, Galerkin coarse space);
* :mod:`~helpers.gdf.solver`: :class:`PoissonSystem` and :func:`solve`, THE solve path;
* :mod:`~helpers.gdf.toy`, :mod:`~helpers.gdf.blending`: what the solver is used for;
* :mod:`~helpers.gdf.examples`: the sample examples, OpenCV and comparisons for the notebooks;
* :mod:`~helpers.gdf.editing`, :mod:`~helpers.gdf.color2gray`: Pérez et al.'s Sec. 4 edits
  (each a guidance field plus a region through the one solver) and Color2Gray (the toy
  problem with colour-contrast gradients); :mod:`~helpers.gdf.edit_examples`: OpenCV's
  versions and comparisons (notebook 08).

Imports only the plumbing (errors, assets, images) and :mod:`helpers.tables`; never torch.
"""

from . import (
    blending,
    box,
    coarse,
    color2gray,
    edit_examples,
    editing,
    examples,
    operators,
    solver,
    toy,
)
from .blending import MASK_THRESHOLD, BlendResult, blend, naive_paste, place_mask, relative_residual
from .coarse import CoarseSpace
from .color2gray import (
    Color2GrayResult,
    colour_edges,
    contrast_kept,
    contrast_report,
    isoluminant_pattern,
)
from .color2gray import color2gray as color_to_gray
from .edit_examples import (
    EDITS,
    EditComparison,
    closing_table,
    compare_edit,
    load_region,
    opencv_edit,
)
from .editing import (
    EditResult,
    color_change,
    edge_map,
    guided_solve,
    illumination_change,
    monochrome_transfer,
    seam_difference,
    seamless_tile,
    texture_flatten,
    tile,
)
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
    "editing",
    "edit_examples",
    "color2gray",
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
    # Sec. 4 edits and Color2Gray (notebook 08)
    "EDITS",
    "Color2GrayResult",
    "EditComparison",
    "EditResult",
    "color_change",
    "color_to_gray",
    "colour_edges",
    "closing_table",
    "compare_edit",
    "contrast_kept",
    "contrast_report",
    "edge_map",
    "guided_solve",
    "illumination_change",
    "isoluminant_pattern",
    "load_region",
    "monochrome_transfer",
    "opencv_edit",
    "seam_difference",
    "seamless_tile",
    "texture_flatten",
    "tile",
]
