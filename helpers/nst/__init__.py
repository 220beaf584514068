"""Neural style transfer (Gatys, Ecker & Bethge): the style-transfer method package.

Everything optimises the **image** (never the network) to minimise, per batch element,

    total = alpha · Σ_l wc_l · ½Σ(F_l − P_l)²  +  beta · Σ_l ws_l · E_l  +  Σ_r w_r · R_r

(:mod:`helpers.nst.losses`; the paper's definitions, the image regularisers ``R_r`` such as
TV named in :data:`helpers.nst.losses.REGULARISERS`) on the activations of a frozen VGG-19
(:mod:`helpers.nst.vgg`).  Layout, bottom up:

* :mod:`~helpers.nst.layers` — layer names; :mod:`~helpers.nst.vgg` — the network and the
  weight sets; :mod:`~helpers.nst.losses` — the loss terms and the regulariser table;
  :mod:`~helpers.nst.objective` — layer-weight specs, :class:`Objective` and the recipes'
  constants; :mod:`~helpers.nst.lbfgs` — the batched L-BFGS; :mod:`~helpers.nst.inputs` and
  :mod:`~helpers.nst.memory` — image preparation and the memory check;
  :mod:`~helpers.nst.results` — :class:`TransferResult` and what callbacks receive;
  :mod:`~helpers.nst.options` — :class:`RunOptions`; :mod:`~helpers.nst.evaluator` — the
  network, the targets and one evaluation of a batch.
* :mod:`~helpers.nst.loop` — :func:`optimize`, the one loop: one :class:`Objective` or a
  batch of them sharing the input images (or one image per element), run together with one
  forward+backward pass per evaluation.  It never prints: progress goes to a callback
  (``progress=``, :class:`Progress`; :func:`helpers.progress.bar` draws one).
* :mod:`~helpers.nst.experiments` — :func:`stylize`, :func:`reconstruct_content`,
  :func:`reconstruct_style` (texture synthesis), :func:`alpha_beta_grid`,
  :func:`content_style_grid` and :func:`run_grid` build objectives and call :func:`optimize`.
* :mod:`~helpers.nst.reading` — rows read from finished runs, as dataclasses:
  :func:`compare_runs`, :func:`layer_losses`, :func:`practice_rows`; :mod:`helpers.tables`
  prints them.
* :mod:`~helpers.nst.controls` (with :mod:`~helpers.nst.color`) — the Gatys et al. 2017
  controls on top of :func:`stylize`: :func:`stylize_controlled` (colour preservation,
  blended and masked styles, coarse-to-fine scales), :func:`blend_row`,
  :func:`multiscale`, :func:`compare_multiscale`.
* :mod:`~helpers.nst.scales` — coarse to fine through :func:`stylize` (``scales=[...]``; one
  scale is the default, and why): the stage loop, :func:`~helpers.nst.scales.schedule_text`.
* :mod:`~helpers.nst.writeups` — the Berkeley and CMU writeups' own runs on top of the
  experiments: :func:`berkeley_grid` (its alpha/beta columns 1e-2 … 1e-10), :func:`timed_inits`,
  :func:`named_transfers`.
* :mod:`~helpers.nst.analysis` — measurements for the notebooks:
  :func:`high_frequency_energy`, :func:`mean_squared_gradient`, :func:`difference`,
  :func:`column_differences`, :func:`budget_check`, :func:`color_check`.

The package imports only the plumbing (:mod:`helpers.errors`, :mod:`helpers.runtime`,
:mod:`helpers.images`, :mod:`helpers.assets`) and returns data; tables, figures and widgets
build on it from above.  Importing it imports torch.

Conventions:

* Images are RGB float in [0, 1]: ``(H, W, 3)`` arrays, ``(1, 3, H, W)``/``(3, H, W)``
  tensors, file paths or sample asset names.  Results are ``(H, W, 3)`` float32 arrays in
  [0, 1].
* ``steps`` counts **function evaluations** (forward+backward passes) for both optimisers,
  L-BFGS line-search trials included, so Adam and L-BFGS budgets compare fairly.
* Per-layer weights are normalised to sum to 1 within the content and within the style
  group (the paper's convention): ``{"relu1_1": 1, "relu2_1": 1}`` means 0.5 each.  Negative
  weights, unknown layer names and all-zero groups are refused.
* Adam's ``lr`` is in the [0, 1] pixel units the image is optimised in.  The Berkeley
  writeup's NormLayer sits inside its network, so its lr 0.2 is already in these units
  (:data:`BERKELEY_LR`); the project's own default is :data:`ADAM_LR` = 0.045.
* Features are the rectified activations (``relu1_1`` … ``relu5_1``, ``relu4_2``), what the
  papers' "conv" layers were; ``conv*`` names are the pre-activation variant.
* alpha/beta can be given size-free (``size_free_ratio``: its value at 512², carried to the
  output size by :func:`ratio_at`); :mod:`~helpers.nst.recipes` names the three methods.
* Each element's objective is divided by its value at the initial image before the gradient
  is taken.  That changes no minimiser and no alpha/beta trade-off, but keeps the Caffe
  weights' large loss scale (1e8–1e11) and the grid's 1e-2…1e-10 spread away from Adam's
  epsilon and float32 limits, and makes every element's step independent of the others'.
* ``weights="random"`` gives a deterministic random VGG-19 (tests and demos without the real
  weights); see :func:`helpers.nst.vgg.random_state_dict`.

Batching and L-BFGS: a shared line search would couple the batch elements, so
:class:`BatchedLBFGS` keeps a separate L-BFGS state (history, step, line search) per element
and evaluates every element at its own trial point in the same pass.  A batched run therefore
follows the same trajectory as the individual runs (up to float rounding), for Adam (which is
elementwise anyway) and for L-BFGS.  The line search is a backtracking Armijo search with
quadratic interpolation; non-finite trial values simply shrink the step.
"""

from __future__ import annotations

from . import analysis, color, controls, losses, memory, scales, vgg, writeups
from .analysis import (
    BudgetCheck,
    ColorCheck,
    Difference,
    budget_check,
    color_check,
    column_differences,
    difference,
    high_frequency_energy,
    mean_squared_gradient,
)
from .controls import (
    ScaledResult,
    blend_row,
    compare_multiscale,
    multiscale,
    stylize_controlled,
)
from .evaluator import build_network
from .experiments import (
    alpha_beta_grid,
    balance_point,
    carried_ratio,
    content_style_grid,
    output_pixels,
    paper_vs_practice,
    reconstruct_content,
    reconstruct_style,
    run_grid,
    stylize,
)
from .inputs import ImageLike
from .lbfgs import BatchedLBFGS
from .loop import optimize
from .memory import available_memory, estimate_memory
from .objective import (
    ADAM_LR,
    ALPHA_BETA_RATIOS,
    BERKELEY_LR,
    BERKELEY_STEPS,
    CMU_GROUPS,
    DEFAULT_CONTENT_LAYERS,
    DEFAULT_RATIO,
    DEFAULT_RATIO_512,
    DEFAULT_REGULARISERS,
    DEFAULT_STYLE_LAYERS,
    GROWING_SUBSETS,
    INITS,
    OPTIMIZERS,
    REFERENCE_PIXELS,
    SINGLE_LAYERS,
    LayerSpec,
    Objective,
    layer_weights,
    parse_layer_spec,
    ratio_at,
    size_free_ratio,
    spec_label,
)
from .options import RunOptions
from .reading import (
    LayerLoss,
    PracticeRow,
    RunComparison,
    RunRow,
    compare_runs,
    evaluations_to_reach,
    layer_losses,
    practice_rows,
)
from .recipes import RECIPE_NAMES, RECIPES, Recipe, get_recipe
from .results import History, Interrupted, Progress, Step, TransferResult
from .writeups import berkeley_grid, named_transfers, square, timed_inits

__all__ = [
    # submodules
    "analysis",
    "color",
    "controls",
    "losses",
    "memory",
    "vgg",
    "writeups",
    "scales",
    # the loop and the experiments
    "optimize",
    "RunOptions",
    "stylize",
    # the Gatys et al. 2017 controls (helpers.nst.controls)
    "stylize_controlled",
    "blend_row",
    "multiscale",
    "compare_multiscale",
    "ScaledResult",
    "reconstruct_content",
    "reconstruct_style",
    "alpha_beta_grid",
    "content_style_grid",
    "run_grid",
    "carried_ratio",
    "output_pixels",
    "balance_point",
    "paper_vs_practice",
    # the writeups' own runs (helpers.nst.writeups)
    "berkeley_grid",
    "timed_inits",
    "named_transfers",
    "square",
    "practice_rows",
    "PracticeRow",
    "build_network",
    # recipes
    "Recipe",
    "RECIPES",
    "RECIPE_NAMES",
    "get_recipe",
    "BatchedLBFGS",
    # objectives
    "Objective",
    "LayerSpec",
    "ImageLike",
    "layer_weights",
    "parse_layer_spec",
    "spec_label",
    "ratio_at",
    "size_free_ratio",
    # results and reading them
    "TransferResult",
    "History",
    "Step",
    "Progress",
    "Interrupted",
    "compare_runs",
    "RunComparison",
    "RunRow",
    "layer_losses",
    "LayerLoss",
    "evaluations_to_reach",
    # measurements (helpers.nst.analysis)
    "high_frequency_energy",
    "mean_squared_gradient",
    "budget_check",
    "BudgetCheck",
    "color_check",
    "ColorCheck",
    "difference",
    "Difference",
    "column_differences",
    # memory
    "estimate_memory",
    "available_memory",
    # constants
    "ADAM_LR",
    "ALPHA_BETA_RATIOS",
    "BERKELEY_LR",
    "BERKELEY_STEPS",
    "CMU_GROUPS",
    "DEFAULT_CONTENT_LAYERS",
    "DEFAULT_RATIO",
    "DEFAULT_RATIO_512",
    "DEFAULT_REGULARISERS",
    "DEFAULT_STYLE_LAYERS",
    "GROWING_SUBSETS",
    "INITS",
    "OPTIMIZERS",
    "REFERENCE_PIXELS",
    "SINGLE_LAYERS",
]
