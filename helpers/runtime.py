"""Runtime plumbing: devices, seeds, project paths and atomic file output.

The bottom layer with :mod:`helpers.errors`: it imports nothing else of the package, and knows
nothing of images or figures (:class:`helpers.notebook.NotebookRun` builds on it).
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .errors import UserError

ROOT = Path(__file__).resolve().parent.parent
"""The project checkout (the folder holding ``helpers/``, ``notebooks/`` and ``data/``)."""


def data_dir() -> Path:
    """Folder the sample images are fetched into (``data/`` unless ``HELPERS_DATA`` is set)."""
    return Path(os.environ.get("HELPERS_DATA", ROOT / "data"))


def outputs_dir(name: str | None = None) -> Path:
    """``outputs/`` (or ``outputs/<name>/``), created on demand; ``HELPERS_OUTPUTS`` overrides."""
    base = Path(os.environ.get("HELPERS_OUTPUTS", ROOT / "outputs"))
    path = base / name if name else base
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """Per-user cache for converted weights (``$HELPERS_CACHE`` or ``$XDG_CACHE_HOME/helpers``)."""
    if "HELPERS_CACHE" in os.environ:
        path = Path(os.environ["HELPERS_CACHE"])
    else:
        xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        path = Path(xdg) / "helpers"
    path.mkdir(parents=True, exist_ok=True)
    return path


def get_device(device: str = "auto"):
    """``"auto" | "cpu" | "cuda" | "cuda:N"`` -> a ``torch.device``; refuses a missing GPU."""
    import torch

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise UserError(f"unknown device {device!r}: use auto, cpu or cuda") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(
            f"--device {device}: no CUDA GPU is available here; use --device cpu or auto"
        )
    if dev.type not in ("cpu", "cuda"):
        raise UserError(f"unsupported device {device!r}: use auto, cpu or cuda")
    return dev


def device_name(device=None) -> str:
    """Human-readable device name, e.g. ``"NVIDIA H100 80GB HBM3"`` or ``"cpu (2 threads)"``."""
    import torch

    dev = get_device("auto") if device is None else torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"cpu ({torch.get_num_threads()} threads)"


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) generators."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 -- seeds the legacy global RNG notebooks may use
    torch.manual_seed(seed)


_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    A killed or failing writer therefore never leaves a partial file under the final name.
    """
    path = Path(path)
    check_writable(path)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=suffix or path.suffix + ".part"
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except OSError as exc:
        if exc.errno in _STORAGE_ERRNOS:  # the disk, not the code: one clear line, not a traceback
            raise UserError(
                f"cannot write {path} ({exc.strerror}); "
                "free some space or choose another output path"
            ) from exc
        raise
    finally:
        tmp_path.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def check_writable(path: str | os.PathLike) -> Path:
    """Refuse an output path whose folder is missing or not writable, before any work is done."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UserError(
            f"output {path} is a directory; give a file name such as {path / 'out.png'}"
        )
    if not parent.is_dir():
        raise UserError(
            f"output folder {parent} does not exist; create it first or choose another -o path"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"output folder {parent} is not writable; choose another -o path")
    return path
