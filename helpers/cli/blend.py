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
"""

from __future__ import annotations

import argparse
from pathlib import Path


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
    p.add_argument(
        "-o", "--output", metavar="OUT", required=True, help="output image (.png, .jpg, ...)"
    )
    p.add_argument(
        "--mode",
        default="poisson",
        choices=("poisson", "mixed", "monochrome", "flatten", "illumination", "color"),
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
    from .edit import add_edit_options

    add_edit_options(p)
    p.set_defaults(func=run_blend)

    t = sub.add_parser(
        "toy",
        help="rebuild a grey image from its x/y gradients and one pinned pixel (the toy problem)",
        description="Least squares: match every x and y forward difference of IMAGE (as grey) "
        "and pin the top-left pixel; prints the maximum absolute error of the reconstruction.",
    )
    t.add_argument("image", metavar="IMAGE", help="input image (converted to grey)")
    t.add_argument(
        "-o", "--output", metavar="OUT", required=True, help="output image (.png, .jpg, ...)"
    )
    t.set_defaults(func=run_toy)


def _check_output(output: Path, inputs: list[str | None]) -> None:
    from ..errors import UserError
    from ..images import SAVE_SUFFIXES
    from ..runtime import check_writable

    if output.suffix.lower() not in SAVE_SUFFIXES:
        raise UserError(
            f"output {output}: unknown image suffix; use one of {', '.join(SAVE_SUFFIXES)}"
        )
    check_writable(output)
    for name in inputs:
        if not (name and Path(name).exists() and output.exists()):
            continue
        if output.resolve() == Path(name).resolve():
            raise UserError(f"output {output} is an input image; choose another -o path")


def run_blend(args: argparse.Namespace) -> int:
    import sys

    import numpy as np

    from ..errors import UserError
    from ..gdf import MASK_THRESHOLD, blend
    from ..gdf.blending import mask_levels
    from ..images import load_image, save_image
    from .edit import IN_PLACE, check_mode_options, run_in_place

    output = Path(args.output)
    check_mode_options(args)
    _check_output(output, [args.source, args.target, args.mask])
    if args.mode in IN_PLACE:
        return run_in_place(args, output)
    source = load_image(args.source, mode="keep")
    target = load_image(args.target, mode="keep")
    if args.mask is not None:
        mask, zero_one = mask_levels(load_image(args.mask, mode="L"))
        if zero_one:  # saved from NumPy as 0/1: blends like the same mask saved as 0/255
            print(
                f"note: mask {args.mask} holds only 0 and 1; read as a 0/1 mask (1 = blend)",
                file=sys.stderr,
            )
        if mask.shape != source.shape[:2]:
            raise UserError(
                f"mask {args.mask} is {mask.shape[0]}x{mask.shape[1]} but source {args.source} is "
                f"{source.shape[0]}x{source.shape[1]} (HxW); they must be the same size"
            )
        region = mask > MASK_THRESHOLD
        what = f"mask {args.mask}"
    else:
        if source.ndim != 3 or source.shape[2] not in (2, 4):
            raise UserError(
                f"no MASK given and source {args.source} has no alpha channel; "
                "pass a mask image (white = blend region) or a source with transparency"
            )
        mask = None
        region = source[..., -1] > MASK_THRESHOLD
        what = f"the alpha channel of {args.source}"
    if not region.any():
        raise UserError(
            f"{what} is empty (no pixel above {MASK_THRESHOLD}): nothing to blend; "
            "white marks the region"
        )
    offset = tuple(args.offset)
    if offset == (0, 0) and source.shape[:2] != target.shape[:2]:
        raise UserError(
            f"source {args.source} is {source.shape[0]}x{source.shape[1]} but target "
            f"{args.target} is {target.shape[0]}x{target.shape[1]} (HxW); use images of the "
            "same size or place the source with --offset DY DX"
        )
    if args.mode == "monochrome":
        from ..gdf import monochrome_transfer

        result = monochrome_transfer(source, target, region, offset=offset)
    else:
        result = blend(source, target, mask, mode=args.mode, offset=offset)
    save_image(output, result.clipped)
    cropped = int(np.count_nonzero(region)) - result.unknowns
    note = f" (mask cropped by {cropped:,} pixels outside the target)" if cropped else ""
    print(f"{output}: {result.summary()}{note}")
    return 0


def run_toy(args: argparse.Namespace) -> int:
    from ..gdf import toy_reconstruct
    from ..images import load_image, save_image

    output = Path(args.output)
    _check_output(output, [args.image])
    image = load_image(args.image, mode="L")
    result = toy_reconstruct(image)
    save_image(output, result.image)
    print(f"{output}: {result.summary()}")
    return 0
