"""Pérez et al.'s Sec. 4 edits on the command line: ``blend``'s editing modes, ``tile`` and
``color2gray``.

    python -m helpers blend SOURCE TARGET [MASK] -o OUT.png --mode monochrome [--offset DY DX]
    python -m helpers blend IMAGE MASK -o OUT.png --mode flatten [--edges canny|threshold]
        [--edge-threshold T] [--canny LOW HIGH]
    python -m helpers blend IMAGE MASK -o OUT.png --mode illumination [--alpha A] [--beta B]
        [--alpha-units relative|unit|8bit]
    python -m helpers blend IMAGE MASK -o OUT.png --mode color --color-gain R,G,B
    python -m helpers tile IMAGE -o OUT.png [--repeat ROWS COLS]
    python -m helpers color2gray IMAGE -o OUT.png [--mu MU] [--theta DEG]

``monochrome`` clones like ``poisson`` but with the source's luminance gradients only; the
in-place modes (``flatten``, ``illumination``, ``color``) edit IMAGE inside MASK.  Each command
prints one summary line; bad input is one ``error:`` line, exit code 2, nothing written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError
from ..gdf import (
    EDGE_METHODS,
    EDIT_MODES,
    ILLUMINATION_UNITS,
    color_change,
    color_to_gray,
    colour_edges,
    contrast_kept,
    illumination_change,
    seam_difference,
    seamless_tile,
    texture_flatten,
    tile,
)
from ..images import load_image, save_image
from .common import add_output, run_single_image

# option -> (the modes it belongs to, its default)
_OPTIONS = {
    "edges": (("flatten",), "threshold"),
    "edge_threshold": (("flatten",), 0.1),
    "canny": (("flatten",), (30.0, 45.0)),
    "alpha": (("illumination",), 0.2),
    "beta": (("illumination",), 0.2),
    "alpha_units": (("illumination",), "relative"),
    "color_gain": (("color",), None),
}


def add_edit_options(p: argparse.ArgumentParser) -> None:
    """The options of ``blend``'s editing modes (each refused with the other modes)."""
    g = p.add_argument_group("editing modes (Pérez et al. Sec. 4)")
    g.add_argument(
        "--edges",
        choices=EDGE_METHODS,
        default=None,
        help="flatten: edge map, Canny (needs OpenCV) or a luma gradient threshold "
        "(default threshold)",
    )
    g.add_argument(
        "--edge-threshold",
        type=float,
        metavar="T",
        default=None,
        help="flatten: keep gradients next to pixels whose luma gradient exceeds T "
        "(in [0, 1] units; default 0.1)",
    )
    g.add_argument(
        "--canny",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        default=None,
        help="flatten --edges canny: hysteresis thresholds in 8-bit levels "
        "(default 30 45, OpenCV's)",
    )
    g.add_argument(
        "--alpha",
        type=float,
        default=None,
        help="illumination: v = alpha^beta |grad f|^-beta grad f (default 0.2)",
    )
    g.add_argument(
        "--beta",
        type=float,
        default=None,
        help="illumination: > 0 flattens the lighting, < 0 strengthens it (default 0.2)",
    )
    g.add_argument(
        "--alpha-units",
        choices=ILLUMINATION_UNITS,
        default=None,
        help="illumination: alpha times the mean gradient norm in the region (relative, "
        "Pérez's choice, default), in [0, 1] units, or in 8-bit levels (OpenCV's)",
    )
    g.add_argument(
        "--color-gain",
        metavar="R,G,B",
        default=None,
        help="color: per-channel gains of the region's gradients, e.g. 1.5,0.5,0.5",
    )


def check_mode_options(args: argparse.Namespace) -> None:
    """Refuse an editing option given with a mode that does not use it; fill in defaults."""
    for name, (modes, default) in _OPTIONS.items():
        value = getattr(args, name, None)
        if value is not None and args.mode not in modes:
            flag = "--" + name.replace("_", "-")
            raise UserError(f"{flag} applies to --mode {' / '.join(modes)}, not {args.mode}")
        if value is None:
            setattr(args, name, default)
    if args.mode in EDIT_MODES:
        if args.mask is not None:
            raise UserError(
                f"--mode {args.mode} edits one image: give IMAGE MASK, not SOURCE TARGET MASK"
            )
        if tuple(args.offset) != (0, 0):
            raise UserError(f"--offset applies to cloning modes, not --mode {args.mode}")
    if args.mode == "color" and args.color_gain is None:
        raise UserError("--mode color needs --color-gain R,G,B, e.g. --color-gain 1.5,0.5,0.5")


def _gains(text: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or any(not (v >= 0 and v < float("inf")) for v in values):
        raise UserError(f"--color-gain {text!r}: give three numbers >= 0 as R,G,B, e.g. 1.5,0.5,1")
    return values  # type: ignore[return-value]


def run_in_place(args: argparse.Namespace, output: Path) -> int:
    """``blend IMAGE MASK --mode flatten|illumination|color``: edit IMAGE inside MASK (the
    edit checks the mask: same size as IMAGE, not empty, not all of it)."""
    gains = _gains(args.color_gain) if args.mode == "color" else None
    image = load_image(args.source, mode="RGB")
    mask = load_image(args.target, mode="L")
    if args.mode == "flatten":
        low, high = args.canny
        result = texture_flatten(
            image, mask, edges=args.edges, threshold=args.edge_threshold, low=low, high=high
        )
    elif args.mode == "illumination":
        result = illumination_change(
            image, mask, alpha=args.alpha, beta=args.beta, alpha_units=args.alpha_units
        )
    else:
        result = color_change(image, mask, gains)
    save_image(output, result.clipped)
    print(f"{output}: {result.summary()}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser(
        "tile",
        help="make IMAGE tile seamlessly (Pérez et al. 2003, seamless tiling)",
        description="Solve for IMAGE's gradients inside with the average of opposite borders as "
        "boundary values, so that copies placed side by side meet without a seam.",
    )
    t.add_argument("image", metavar="IMAGE", help="the texture to make tileable")
    add_output(t)
    t.add_argument(
        "--repeat",
        nargs=2,
        type=int,
        metavar=("ROWS", "COLS"),
        default=(1, 1),
        help="write the tile repeated ROWS x COLS times (default 1 1: the tile)",
    )
    t.set_defaults(func=run_tile)

    c = sub.add_parser(
        "color2gray",
        help="grey conversion that keeps colour contrast (Color2Gray, solved as the toy problem)",
        description="Least squares on the pixel pairs: each pair's grey difference is its "
        "luminance difference, or where the colours differ more than that, their (crunched) "
        "CIELAB chroma difference; one pinned pixel, then shifted to the luminance mean.",
    )
    c.add_argument("image", metavar="IMAGE", help="colour input image")
    add_output(c)
    c.add_argument(
        "--mu",
        type=float,
        default=15.0,
        help="chroma crunch in CIELAB units: a colour jump counts at most this (default 15)",
    )
    c.add_argument(
        "--theta",
        type=float,
        default=45.0,
        help="colour axis in degrees that orders hues (default 45: red-yellow above green-blue)",
    )
    c.set_defaults(func=run_color2gray)


def run_tile(args: argparse.Namespace) -> int:
    rows, cols = args.repeat
    if not (1 <= rows <= 16 and 1 <= cols <= 16):
        raise UserError(f"--repeat {rows} {cols}: use 1 to 16 copies each way")

    def seams(image, result) -> str:
        before, after = seam_difference(image) * 255, seam_difference(result.image) * 255
        return f"; seam {before:.1f} -> {after:.2f} levels"

    return run_single_image(
        args, seamless_tile, picture=lambda result: tile(result.clipped, (rows, cols)), note=seams
    )


def run_color2gray(args: argparse.Namespace) -> int:
    def contrast(image, result) -> str:
        edges = colour_edges(image)
        kept, plain = contrast_kept(result.clipped, edges), contrast_kept(result.luminance, edges)
        if kept != kept:  # NaN: no colour edges
            return "; no colour edges"
        return f"; contrast across colour edges {kept:.3f} vs luminance {plain:.3f}"

    return run_single_image(
        args, lambda image: color_to_gray(image, mu=args.mu, theta=args.theta), note=contrast
    )
