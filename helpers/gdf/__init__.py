"""Gradient-domain fusion (Pérez, Gangnet & Blake 2003): the toy problem, Poisson & mixed blending.

The method package of notebooks 05 and 06 and of the CLI's ``blend`` and ``toy`` commands.
Layers, bottom up:

* :mod:`~helpers.gdf.common`: what every method shares: the image and region rules,
  :data:`LUMA`, :data:`MASK_THRESHOLD`, the mode table :data:`MODES`, :class:`SolvedImage`;
* :mod:`~helpers.gdf.operators`: forward differences, grid and masked Laplacians, the guidance
  divergence and the mixed-gradient rule (sparse matrices and whole-array passes; the oracle
  of the tests);
* :mod:`~helpers.gdf.box`, :mod:`~helpers.gdf.coarse`: the solver's two preconditioner levels
  (spectral box solve, Galerkin coarse space);
* :mod:`~helpers.gdf.system`: :class:`PoissonSystem`, the operator and its preconditioner;
* :mod:`~helpers.gdf.solver`: :func:`solve`, THE solve path;
* :mod:`~helpers.gdf.toy`, :mod:`~helpers.gdf.blending`: what the solver is used for;
* :mod:`~helpers.gdf.examples`: the sample examples, OpenCV and comparisons for the notebooks;
* :mod:`~helpers.gdf.berkeley`: the Berkeley writeup's Poisson equations (``blend``'s
  ``equations="berkeley"``); :mod:`~helpers.gdf.writeup`: the writeup's Project 2 as written
  beside the series' choices (toy pin, equations, RGBA source; notebooks 05 and 06);
* :mod:`~helpers.gdf.editing`, :mod:`~helpers.gdf.color2gray`: Pérez et al.'s Sec. 4 edits
  (each a guidance field plus a region through the one solver) and Color2Gray (the toy
  problem with colour-contrast gradients); :mod:`~helpers.gdf.edit_examples`: OpenCV's
  versions and comparisons (notebook 08).

Imports only the plumbing (errors, assets, images); never torch.  Results are data: the
text tables of its comparisons are laid out by :mod:`helpers.tables`.
"""

from . import (
    berkeley,
    blending,
    box,
    coarse,
    color2gray,
    common,
    edit_examples,
    editing,
    examples,
    operators,
    solver,
    system,
    toy,
    writeup,
)
from .berkeley import EQUATIONS, SeamSteps, seam_steps
from .blending import BlendResult, blend, naive_paste, relative_residual
from .coarse import CoarseSpace
from .color2gray import (
    Color2GrayResult,
    ContrastReport,
    colour_edges,
    contrast_kept,
    contrast_report,
    isoluminant_pattern,
)
from .color2gray import color2gray as color_to_gray
from .common import (
    BLEND_MODES,
    EDIT_MODES,
    LUMA,
    MASK_THRESHOLD,
    MODES,
    SolvedImage,
    as_image,
    blend_region,
    check_region,
    mask_levels,
    place_mask,
    region,
    require_region,
)
from .edit_examples import (
    EDITS,
    EditComparison,
    compare_edit,
    load_region,
    opencv_edit,
)
from .editing import (
    EDGE_METHODS,
    ILLUMINATION_UNITS,
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
    list_examples,
    load_example,
    load_rgba_source,
    mask_crop,
    opencv_available,
    opencv_clone,
    pick,
    save_comparisons,
    summarize,
)
from .operators import mixed_gradient
from .solver import SolveInfo, solve
from .system import PoissonSystem
from .toy import (
    PINS,
    ToyResult,
    ToyTiming,
    single_threaded_blas,
    toy_lsqr,
    toy_reconstruct,
    toy_reconstruct_naive,
    toy_system,
    toy_timing,
)
from .writeup import (
    AlphaSourceBlend,
    EquationsComparison,
    ToyPins,
    alpha_source_blend,
    compare_equations,
    toy_pins,
)

__all__ = [
    # submodules
    "berkeley",
    "blending",
    "box",
    "coarse",
    "common",
    "examples",
    "operators",
    "solver",
    "system",
    "toy",
    "editing",
    "edit_examples",
    "color2gray",
    "writeup",
    # shared rules, constants and results
    "BLEND_MODES",
    "EDIT_MODES",
    "LUMA",
    "MASK_THRESHOLD",
    "MODES",
    "SolvedImage",
    "as_image",
    "blend_region",
    "check_region",
    "mask_levels",
    "mixed_gradient",
    "place_mask",
    "region",
    "require_region",
    # the solver
    "CoarseSpace",
    "PoissonSystem",
    "SolveInfo",
    "solve",
    # the toy problem
    "PINS",
    "ToyResult",
    "ToyTiming",
    "single_threaded_blas",
    "toy_lsqr",
    "toy_reconstruct",
    "toy_reconstruct_naive",
    "toy_system",
    "toy_timing",
    # blending
    "BlendResult",
    "blend",
    "naive_paste",
    "relative_residual",
    # examples and comparisons (notebook 06)
    "COLUMNS",
    "Comparison",
    "ComparisonSummary",
    "Example",
    "compare_example",
    "compare_examples",
    "list_examples",
    "load_example",
    "load_rgba_source",
    "mask_crop",
    "opencv_available",
    "opencv_clone",
    "pick",
    "save_comparisons",
    "summarize",
    # the Berkeley writeup's Project 2 as written (notebooks 05, 06)
    "EQUATIONS",
    "AlphaSourceBlend",
    "EquationsComparison",
    "SeamSteps",
    "ToyPins",
    "alpha_source_blend",
    "compare_equations",
    "seam_steps",
    "toy_pins",
    # Sec. 4 edits and Color2Gray (notebook 08)
    "EDGE_METHODS",
    "EDITS",
    "ILLUMINATION_UNITS",
    "Color2GrayResult",
    "EditComparison",
    "EditResult",
    "color_change",
    "color_to_gray",
    "colour_edges",
    "compare_edit",
    "contrast_kept",
    "ContrastReport",
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
