"""``blend`` (Poisson / mixed-gradient seamless cloning) and ``toy`` (the gradient toy problem).

    python -m helpers blend SOURCE TARGET [MASK] -o OUT.png [--mode poisson|mixed] [--offset DY DX]
    python -m helpers toy IMAGE -o OUT.png

``--mode monochrome`` clones the source's luminance gradients only; ``--mode flatten``,
``illumination`` and ``color`` edit one image in place (``blend IMAGE MASK ...``): see
:mod:`helpers.cli.edit` for them and for ``tile`` and ``color2gray``.

Without MASK the source's alpha channel is the mask.  A mask pixel is in the region when its
value is above 0.5 (white = blend); a mask whose largest value is 1 (saved from NumPy as 0/1) is
read as a 0/1 mask, with one note line.  With ``--offset DY DX`` source pixel (i, j) lands on target
pixel (i + DY, j + DX); the part of the mask pushed off the target is cropped.  Each command
prints one summary line.  Bad input is one ``error:`` line and exit code 2; the output path is
checked before any work, written atomically, and inputs are never modified.

The ``--mode`` choices are gdf's mode table (:data:`helpers.gdf.MODES`) and the mask rules are
gdf's (:mod:`helpers.gdf.common`); this module only reads files and prints.  It uses
:mod:`helpers.cli.edit` for the editing modes (which imports nothing from here).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ..gdf import (
    MODES,
    blend,
    blend_region,
    mask_levels,
    monochrome_transfer,
    require_region,
    toy_reconstruct,
)
from ..images import check_output, load_image, save_image
from .common import add_output, run_single_image
from .edit import add_edit_options, check_mode_options, run_in_place


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "blend",
        help="seamless cloning (Pérez et al. 2003): SOURCE's masked region into TARGET",
        description="Solve the masked Poisson problem exactly (relative residual <= 1e-6): "
        "unknowns are the mask pixels, the target gives the boundary values, the guidance is the "
        "source gradient (poisson) or per pixel pair the larger of source and target gradient "
        "(mixed).",
    )
    p.add_argument(
        "source",
        metavar="SOURCE",
        help="source image (its alpha channel is the mask when MASK is omitted)",
    )
    p.add_argument("target", metavar="TARGET", help="target image")
    p.add_argument(
        "mask",
        metavar="MASK",
        nargs="?",
        default=None,
        help="mask image, same size as SOURCE; white (> 0.5) = blend region",
    )
    add_output(p)
    p.add_argument(
        "--mode",
        default="poisson",
        choices=tuple(MODES),
        help="guidance field (default poisson); monochrome: the source's luminance "
        "gradients only; flatten / illumination / color edit one image in place: "
        "give IMAGE MASK instead of SOURCE TARGET [MASK]",
    )
    p.add_argument(
        "--offset",
        nargs=2,
        type=int,
        metavar=("DY", "DX"),
        default=(0, 0),
        help="place source pixel (i, j) at target pixel (i + DY, j + DX) (default 0 0; "
        "SOURCE and TARGET must then have the same size)",
    )
    add_edit_options(p)
    p.set_defaults(func=run_blend)

    t = sub.add_parser(
        "toy",
        help="rebuild a grey image from its x/y gradients and one pinned pixel (the toy problem)",
        description="Least squares: match every x and y forward difference of IMAGE (as grey) "
        "and pin the top-left pixel; prints the maximum absolute error of the reconstruction.",
    )
    t.add_argument("image", metavar="IMAGE", help="input image (converted to grey)")
    add_output(t)
    t.set_defaults(func=run_toy)


def _read_mask(args: argparse.Namespace) -> tuple[np.ndarray | None, str]:
    """``(mask levels or None, what it is called in errors)``: MASK, or without it the alpha
    channel of SOURCE; a 0/1 mask gets one note line."""
    if args.mask is None:
        return None, f"the alpha channel of {args.source}"
    mask, zero_one = mask_levels(load_image(args.mask, mode="L"))
    if zero_one:  # saved from NumPy as 0/1: blends like the same mask saved as 0/255
        print(
            f"note: mask {args.mask} holds only 0 and 1; read as a 0/1 mask (1 = blend)",
            file=sys.stderr,
        )
    return mask, f"mask {args.mask}"


def run_blend(args: argparse.Namespace) -> int:
    check_mode_options(args)
    output = check_output(args.output, inputs=[args.source, args.target, args.mask])
    if MODES[args.mode] == "edit":
        return run_in_place(args, output)
    source = load_image(args.source, mode="keep")
    target = load_image(args.target, mode="keep")
    mask, what = _read_mask(args)
    # the library's rules (size, alpha); an empty region is refused here: blend() would
    # return the target unchanged
    _, region = blend_region(source, mask, what=what)
    require_region(region, what=what, action="blend")
    offset = tuple(args.offset)
    if args.mode == "monochrome":
        result = monochrome_transfer(source, target, region, offset=offset)
    else:
        result = blend(source, target, mask, mode=args.mode, offset=offset)
    save_image(output, result.clipped)
    cropped = int(np.count_nonzero(region)) - result.unknowns
    note = f" (mask cropped by {cropped:,} pixels outside the target)" if cropped else ""
    print(f"{output}: {result.summary()}{note}")
    return 0


def run_toy(args: argparse.Namespace) -> int:
    return run_single_image(args, toy_reconstruct, mode="L", picture=lambda result: result.image)
