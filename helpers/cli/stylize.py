"""``stylize``: neural style transfer of one content image with one style image.

    python -m helpers stylize CONTENT STYLE -o OUT.png [--size 256] [--steps 300] ...
    python -m helpers stylize CONTENT STYLE_A STYLE_B -o OUT.png [--style-blend 3,1]
        [--style-mask A.png --style-mask B.png] [--preserve-colors luminance|histogram]
        [--scales 256,512 --steps 200,100]

Every setting is checked before any work is done; bad input is one ``error:`` line and exit
code 2 with no output file.  The result is written atomically.  Ctrl-C stops cleanly (exit
130); with ``--save-on-interrupt`` the latest image goes to ``<OUT stem>.interrupted.png``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_RECIPE = "gatys"
RECIPE_HELP = (
    "gatys: the paper as its authors ran it (relu1_1…relu5_1 style, relu4_2 content, avg pooling, "
    "L-BFGS 500 evaluations, 512 px); berkeley: the Berkeley writeup's settings (Adam lr 0.2, "
    "1200 steps, relu4_1 content, MSE losses, 224x224; Caffe weights and alpha/beta 1e-3 are "
    "the project's); "
    "cmu: the CMU writeup's layers (conv2_1+conv2_2 content, conv1_1…conv2_2 style) with the "
    "PyTorch tutorial's L-BFGS and max pooling, our guess at its starter code"
)
"""Kept in step with :data:`helpers.nst.recipes.RECIPES` by a test (no torch import here)."""


def register(sub: argparse._SubParsersAction) -> None:
    # no helpers.nst import here: it imports torch, which would make every command's start slow
    p = sub.add_parser(
        "stylize",
        help="neural style transfer (Gatys et al.): CONTENT in the style of STYLE",
        description="Neural style transfer (Gatys et al.) with VGG-19 (Oxford/Caffe weights). "
        "Steps count forward+backward passes for both optimisers. Every setting defaults to the "
        f"chosen --recipe ({RECIPE_HELP}); any option given explicitly overrides it.",
    )
    p.add_argument("content", metavar="CONTENT", help="content image file")
    p.add_argument(
        "style",
        metavar="STYLE",
        nargs="+",
        help="style image file; several are blended into one output (--style-blend, "
        "default equal weights) or placed by --style-mask",
    )
    p.add_argument(
        "-o", "--output", metavar="OUT", required=True, help="output image (.png, .jpg, ...)"
    )
    p.add_argument(
        "--recipe",
        choices=("gatys", "berkeley", "cmu"),
        default=DEFAULT_RECIPE,
        help=f"named settings (default {DEFAULT_RECIPE}): {RECIPE_HELP}",
    )
    _register_run(p)
    _register_objective(p)
    _register_network(p)
    _register_controls(p)
    p.set_defaults(func=run_stylize)


def _register_run(p: argparse.ArgumentParser) -> None:
    """Sizes, budget, optimiser and init."""
    p.add_argument(
        "--size",
        default=None,
        metavar="N|WxH",
        help="output size: N = longer side in pixels (aspect kept) or WxH exact "
        "(default: the recipe's)",
    )
    p.add_argument(
        "--style-size",
        default=None,
        metavar="N|WxH",
        help="style image size (default: resized to the output size)",
    )
    p.add_argument(
        "--steps",
        type=_steps,
        default=None,
        metavar="N|N1,N2,...",
        help="function evaluations (default: the recipe's); with --scales one value "
        "for every scale or one per scale",
    )
    p.add_argument(
        "--optimizer", choices=("lbfgs", "adam"), default=None, help="default: the recipe's"
    )
    p.add_argument(
        "--lr",
        type=float,
        default=None,
        help="Adam learning rate in [0, 1] pixel units (default: the recipe's; "
        "berkeley 0.2, otherwise the project's 0.045)",
    )
    p.add_argument(
        "--init",
        default=None,
        metavar="content|noise|style|FILE",
        help="starting image (default: the recipe's)",
    )


def _register_objective(p: argparse.ArgumentParser) -> None:
    """alpha/beta, the layers and the regularisers."""
    p.add_argument("--alpha", type=float, default=None, help="content weight (with --beta)")
    p.add_argument("--beta", type=float, default=None, help="style weight (with --alpha)")
    p.add_argument(
        "--ratio",
        type=float,
        default=None,
        help="alpha/beta at this size; not with --alpha/--beta (default: the recipe's "
        "size-free value, carried to the output size as in notebook 03)",
    )
    p.add_argument(
        "--ratio-512",
        type=float,
        default=None,
        dest="ratio_512",
        help="size-free alpha/beta: its value at 512x512, carried to any size",
    )
    p.add_argument(
        "--content-layers",
        default=None,
        metavar="LAYERS",
        help="comma-separated names, optionally name:weight (default: the recipe's, "
        "gatys relu4_2); weights are normalised to sum to 1",
    )
    p.add_argument(
        "--style-layers",
        default=None,
        metavar="LAYERS",
        help="comma-separated names, optionally name:weight (default: the recipe's, "
        "gatys relu1_1,…,relu5_1, equal weights)",
    )
    # one flag per regulariser of helpers.nst.losses.REGULARISERS: --<name>-weight
    p.add_argument(
        "--tv-weight", type=float, default=0.0, help="total-variation weight (default 0)"
    )
    p.add_argument(
        "--edge-tv-weight",
        type=float,
        default=0.0,
        help="edge-preserving (Charbonnier) total-variation weight: smooths speckle but keeps "
        "edges (default 0)",
    )


def _register_network(p: argparse.ArgumentParser) -> None:
    """The network, the device and the run's reporting."""
    p.add_argument(
        "--pooling",
        choices=("avg", "max"),
        default=None,
        help="default: the recipe's (gatys avg, the paper's choice)",
    )
    p.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto)")
    p.add_argument(
        "--weights",
        default=None,
        metavar="FILE|random",
        help="VGG-19 weights file (.h5 or converted .pth), or `random` for "
        "deterministic random weights (tests, demos; no download); default the "
        "cached Caffe weights",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--save-on-interrupt",
        action="store_true",
        help="on Ctrl-C save the latest image as <OUT stem>.interrupted.png",
    )


def _steps(text: str) -> int | list[int]:
    """``--steps``: one whole number, or one per scale (``200,100``)."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid int value: {text!r}; give a whole number of evaluations, or one per scale "
            "(e.g. 200,100)"
        ) from None
    return values[0] if len(values) == 1 else values


def _register_controls(p: argparse.ArgumentParser) -> None:
    """The Gatys et al. 2017 controls (:mod:`helpers.nst.controls`)."""
    g = p.add_argument_group("controls (Gatys et al. 2017)")
    g.add_argument(
        "--preserve-colors",
        choices=("luminance", "histogram"),
        default=None,
        help="keep the content's colours: luminance = transfer the luma only and take "
        "the content's chroma; histogram = match the style's colour mean and "
        "covariance to the content's first",
    )
    g.add_argument(
        "--histogram-method",
        choices=("eigen", "cholesky"),
        default="eigen",
        help="the linear colour map of --preserve-colors histogram: eigen = the "
        "image-analogies variant (default) or cholesky",
    )
    g.add_argument(
        "--style-blend",
        default=None,
        metavar="W1,W2,...",
        help="one weight per STYLE (normalised to sum to 1): the style loss is "
        "sum_s w_s E(style_s) for one output",
    )
    g.add_argument(
        "--style-mask",
        action="append",
        default=None,
        metavar="MASK",
        help="one per STYLE, in order: white where that style applies; together the "
        "masks must cover the image (resized to the output size, with a note)",
    )
    g.add_argument(
        "--scales",
        default=None,
        metavar="N1,N2,...|none",
        help="coarse to fine: increasing output sizes (longer side), each scale "
        "starting from the previous result upsampled; replaces --size. Default none: one "
        "scale, as the paper. Coarse to fine is not the default: at 512 px no schedule tried "
        "reached the loss of 500 single-scale evaluations in a quarter of their time "
        "(python -m benchmarks scales, benchmarks/SCALES.md)",
    )


def interrupted_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}.interrupted.png")


def _check_args(args: argparse.Namespace, output: Path) -> tuple[dict, dict]:
    """Everything that can be checked cheaply, before the network loads; returns the
    normalised content and style layer weights."""
    from .. import nst
    from ..errors import UserError
    from ..images import check_output, parse_size
    from ..runtime import check_writable, get_device

    check_output(output, inputs=[args.content, *args.style, *(args.style_mask or [])])
    if args.save_on_interrupt:
        check_writable(interrupted_path(output))
    if (
        args.steps is not None
        and min([args.steps] if isinstance(args.steps, int) else args.steps) <= 0
    ):
        raise UserError(
            f"--steps must be a positive number of function evaluations, got {args.steps}"
        )
    parse_size(args.size)
    parse_size(args.style_size)
    given = [
        args.ratio is not None,
        args.alpha is not None or args.beta is not None,
        args.ratio_512 is not None,
    ]
    if sum(given) > 1:
        raise UserError("give either --ratio or --alpha/--beta or --ratio-512, only one")
    recipe = nst.get_recipe(args.recipe)
    content_spec = recipe.content_layers if args.content_layers is None else args.content_layers
    content_layers = nst.layer_weights(content_spec, what="content layer")
    style_spec = recipe.style_layers if args.style_layers is None else args.style_layers
    style_layers = nst.layer_weights(style_spec, what="style layer")
    get_device(args.device)
    named = args.weights == "random"
    if args.weights is not None and not named and not Path(args.weights).is_file():
        raise UserError(f"--weights {args.weights}: file not found")
    if args.init is not None and args.init not in nst.INITS and not Path(args.init).exists():
        raise UserError(
            f"--init {args.init}: image file not found and not one of {', '.join(nst.INITS)}; "
            "give an existing image path or one of those words"
        )
    return content_layers, style_layers


def _options(args: argparse.Namespace, content_layers: dict, style_layers: dict) -> dict:
    """The keyword arguments of :func:`helpers.nst.stylize` for ``args`` (a progress bar on
    stderr unless ``--no-progress``)."""
    from .. import nst
    from ..images import load_image
    from ..nst.losses import REGULARISERS
    from ..nst.objective import weight_key
    from ..progress import bar

    init = args.init
    if init is not None and init not in nst.INITS:
        init = load_image(init)
    explicit = dict(
        size=args.size,
        style_size=args.style_size,
        steps=args.steps,
        optimizer=args.optimizer,
        init=init,
        content_layers=content_layers,
        style_layers=style_layers,
        pooling=args.pooling,
        weights=args.weights,
        lr=args.lr,
        ratio=args.ratio,
        size_free_ratio=args.ratio_512,
    )
    if args.alpha is not None or args.beta is not None:
        explicit["alpha"] = 1.0 if args.alpha is None else args.alpha
        explicit["beta"] = 1.0 if args.beta is None else args.beta
    options = nst.get_recipe(args.recipe).options(**explicit)
    for name in REGULARISERS:  # --tv-weight -> tv_weight=...
        key = weight_key(name)
        if getattr(args, key, None) is not None:
            options[key] = getattr(args, key)
    options.update(
        seed=args.seed,
        device=args.device,
        progress=not args.no_progress and bar(desc="stylize"),
    )
    return options


def _floats(text: str, what: str, example: str) -> list[float]:
    from ..errors import UserError

    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise UserError(f"{what} {text!r}: give comma-separated numbers, e.g. {example}") from None


def _controls(args: argparse.Namespace, content) -> dict:
    """The controls' keyword arguments of :func:`helpers.nst.stylize_controlled` (empty when
    none is used), checked before any work; notes (a resized mask) go to stdout."""
    from .. import nst
    from ..errors import UserError
    from ..images import target_shape

    n = len(args.style)
    out: dict = {}
    if args.preserve_colors:
        out.update(preserve_colors=args.preserve_colors, histogram_method=args.histogram_method)
    if args.style_blend is not None:
        weights = _floats(args.style_blend, "--style-blend", "3,1")
        if len(weights) != n:
            raise UserError(
                f"--style-blend has {len(weights)} weight(s) for {n} STYLE image(s); "
                "give one weight per style image"
            )
        out["blend"] = nst.controls.blend_weights(weights, n)
    if args.scales is not None and args.scales.strip().lower() == "none":
        if isinstance(args.steps, list):
            raise UserError("--steps has several values but --scales is none; give one value")
        out["scales"] = None
    elif args.scales is not None:
        values = _floats(args.scales, "--scales", "256,512")
        sizes = [int(v) for v in values if float(v).is_integer()]
        if len(sizes) != len(args.scales.split(",")):
            raise UserError(f"--scales {args.scales}: give whole sizes in pixels, e.g. 256,512")
        if args.size is not None:
            raise UserError("give either --size or --scales (the last scale is the output size)")
        steps = args.steps if args.steps is not None else nst.get_recipe(args.recipe).steps
        nst.controls.check_scales(sizes, steps)
        out["scales"] = sizes
    elif isinstance(args.steps, list):
        raise UserError("--steps has several values but there is no --scales; give one value")
    if args.style_mask is not None:
        final = (
            out["scales"][-1]
            if out.get("scales")
            else (args.size or nst.get_recipe(args.recipe).size)
        )
        shape = target_shape(content.shape[:2], final)
        masks, notes = nst.controls.prepare_masks(args.style_mask, n, shape, names=args.style_mask)
        for note in notes:
            print(note)
        out["masks"] = masks
    if n > 1 and "blend" not in out and "masks" not in out:
        out["blend"] = nst.controls.blend_weights(None, n)
    return out


def _report_interrupt(stop, args: argparse.Namespace, output: Path) -> int:
    """Ctrl-C: say how far it got, keep the latest image if asked; exit code 130."""
    from ..images import save_image

    partial = stop.partial
    done = (
        f"after {partial.evaluations} evaluations"
        if partial is not None
        else "before the first evaluation"
    )
    if args.save_on_interrupt and partial is not None:
        path = save_image(interrupted_path(output), partial.image)
        print(f"interrupted {done}; latest image saved to {path}", file=sys.stderr)
    else:
        hint = (
            "" if args.save_on_interrupt else " (use --save-on-interrupt to keep the latest image)"
        )
        print(f"interrupted {done}; nothing written{hint}", file=sys.stderr)
    return 130


def run_stylize(args: argparse.Namespace) -> int:
    from .. import nst
    from ..images import load_image, save_image

    output = Path(args.output)
    content_layers, style_layers = _check_args(args, output)
    content = load_image(args.content)
    styles = [load_image(name) for name in args.style]
    controls = _controls(args, content)
    options = _options(args, content_layers, style_layers)
    scales = controls.pop("scales", None)  # None: one scale (the default)
    try:
        if controls or scales:
            if scales:
                options.pop("size", None)  # the last scale is the output size
            result = nst.stylize_controlled(content, styles, scales=scales, **controls, **options)
        else:
            result = nst.stylize(content, styles[0], **options)
    except nst.Interrupted as stop:
        return _report_interrupt(stop, args, output)
    save_image(output, result.image)
    height, width = result.image.shape[:2]
    print(f"wrote {output} ({width}x{height}): {result.summary()}")
    return 0
