"""What the image commands share: the ``-o`` argument and the body of a one-image command.

``toy``, ``tile`` and ``color2gray`` each read one image, solve, write one image and print one
summary line; :func:`run_single_image` is that body, so a new one-image command is its parser
and one call.  The output path is checked by :func:`helpers.images.check_output` before any
work.  Not a command itself (no ``register``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..images import check_output, load_image, save_image


def add_output(p: argparse.ArgumentParser) -> None:
    """The required ``-o/--output`` image argument."""
    p.add_argument(
        "-o", "--output", metavar="OUT", required=True, help="output image (.png, .jpg, ...)"
    )


def run_single_image(
    args: argparse.Namespace,
    solve: Callable[[np.ndarray], Any],
    *,
    mode: str = "RGB",
    picture: Callable[[Any], np.ndarray] | None = None,
    note: Callable[[np.ndarray, Any], str] | None = None,
) -> int:
    """Check ``args.output`` (not ``args.image``), load ``args.image`` in ``mode``, ``solve``
    it, save ``picture(result)`` (default ``result.clipped``) and print
    ``OUT: <result.summary()><note(image, result)>``.  Returns the exit code, 0."""
    output = check_output(Path(args.output), inputs=[args.image])
    image = load_image(args.image, mode=mode)
    result = solve(image)
    save_image(output, picture(result) if picture is not None else result.clipped)
    print(f"{output}: {result.summary()}{note(image, result) if note is not None else ''}")
    return 0
