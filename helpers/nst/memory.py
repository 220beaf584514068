"""Memory of a style-transfer run: a rough estimate, what is free, and the refusal up front.

Part of :mod:`helpers.nst`, below the loop: :func:`check_memory` runs before any big array is
made, so a run that cannot fit fails with a suggested size instead of swapping or crashing.
Free memory is the GPU's free memory, or ``MemAvailable`` from ``/proc/meminfo`` on a CPU.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import torch

from ..errors import UserError
from . import vgg


def estimate_memory(
    height: int,
    width: int,
    *,
    batch: int = 1,
    layers: Sequence[str] = vgg.STYLE_LAYERS,
    optimizer: str = "lbfgs",
    history_size: int = 20,
) -> int:
    """Rough peak bytes of :func:`helpers.nst.optimize` for ``batch`` images of ``height × width``.

    Counts the activations autograd keeps for the backward pass (every module's output up to
    the deepest layer, about twice over with the gradients), the optimiser's image-sized
    buffers (L-BFGS: 2·history + 8 per element; Adam: 6) and the weights.
    """
    last = max(vgg.LAYER_INDEX[n] for n in layers)
    h, w, total = height, width, 0
    channels = 3
    for name in vgg.LAYER_NAMES[: last + 1]:
        if name.startswith("pool"):
            h, w = h // 2, w // 2
        else:
            channels = vgg.CHANNELS[name]
        total += channels * h * w
    pixels = 3 * height * width
    buffers = (2 * history_size + 8) if optimizer == "lbfgs" else 6
    weights = 80_000_000
    return int(4 * batch * (2.5 * total + buffers * pixels) + weights)


def available_memory(device: torch.device) -> int | None:
    """Free bytes on ``device`` (GPU: free device memory; CPU: MemAvailable), None if unknown."""
    if device.type == "cuda":
        try:
            return int(torch.cuda.mem_get_info(device)[0])
        except Exception:
            return None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(
    shape: tuple[int, int],
    batch: int,
    layers: Sequence[str],
    optimizer: str,
    history_size: int,
    device: torch.device,
) -> None:
    """Refuse (:class:`UserError` with a ``--size`` that fits) a run of ``batch`` images of
    ``shape`` (H, W) whose estimate exceeds 90% of the free memory."""
    need = estimate_memory(
        *shape, batch=batch, layers=layers, optimizer=optimizer, history_size=history_size
    )
    free = available_memory(device)
    if free is None or need <= 0.9 * free:
        return
    h, w = shape
    scale = math.sqrt(max(0.8 * free - 80e6, 1.0) / max(need - 80e6, 1.0))
    suggest = max(16, int(max(h, w) * scale) // 16 * 16)
    raise UserError(
        f"a {w}x{h} run (batch {batch}) needs about {need / 2**30:.1f} GiB but only "
        f"{free / 2**30:.1f} GiB is free on {device.type}; use --size {suggest} (or smaller) or a "
        "smaller batch"
    )
