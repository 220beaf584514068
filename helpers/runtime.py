"""Runtime plumbing: devices, seeds, project paths and atomic file output."""

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
    """Resolve ``"auto" | "cpu" | "cuda" | "cuda:N"`` to a ``torch.device``; refuse a missing GPU."""
    import torch

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise UserError(f"unknown device {device!r}: use auto, cpu or cuda") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {device}: no CUDA GPU is available here; use --device cpu or auto")
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
    np.random.seed(seed % 2**32)
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
            raise UserError(f"cannot write {path} ({exc.strerror}); free some space or choose another output path") from exc
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
        raise UserError(f"output {path} is a directory; give a file name such as {path / 'out.png'}")
    if not parent.is_dir():
        raise UserError(f"output folder {parent} does not exist; create it first or choose another -o path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"output folder {parent} is not writable; choose another -o path")
    return path


class NotebookRun:
    """What a notebook's runtime cell sets up: device, seeds, output folder, clock, metrics.

    >>> run = NotebookRun("05-gradient-toy-problem", seed=0, device="auto", profile="quick")
    >>> run.save_image("reconstruction", image)      # outputs/05-gradient-toy-problem/reconstruction.png
    >>> run.save_figure(fig, "strip")                # outputs/05-gradient-toy-problem/strip.png
    >>> run.save_metrics(max_abs_error=1e-9)          # outputs/05-gradient-toy-problem/metrics.json

    Every file is written atomically.  Result images saved with :meth:`save_image` are listed
    in ``metrics.json`` so the regression check (``python -m helpers report --check``)
    compares them against a reference run.
    """

    def __init__(self, name: str, *, seed: int = 0, device: str = "auto", profile: str = "quick") -> None:
        import time

        self.name = name
        self.seed = int(seed)
        self.profile = profile
        self.device = get_device(device)  # a refused device must not leave an output folder behind
        self.out = outputs_dir(name)
        self.device_name = device_name(self.device)
        self.images: list[str] = []
        self.figures: list[str] = []
        self._t0 = time.perf_counter()
        seed_everything(self.seed)

    @property
    def seconds(self) -> float:
        import time

        return time.perf_counter() - self._t0

    def path(self, filename: str) -> Path:
        return self.out / filename

    def save_image(self, name: str, image) -> Path:
        """Save a result image (float in [0, 1], array or (1, 3, H, W) tensor) as ``<name>.png``."""
        from .images import save_image, to_numpy

        arr = image if isinstance(image, np.ndarray) else to_numpy(image)
        path = save_image(self.out / f"{name}.png", arr)
        if name not in self.images:
            self.images.append(name)
        return path

    def save_figure(self, fig, name: str, *, dpi: int = 110) -> Path:
        """Save a matplotlib figure as ``<name>.png`` (atomically) and return the path."""
        from .figures import save_figure

        path = save_figure(fig, self.out / f"{name}.png", dpi=dpi)
        if name not in self.figures:
            self.figures.append(name)
        return path

    def save_metrics(self, **metrics) -> Path:
        """Write ``metrics.json``: the given numbers plus seconds, device, profile, seed, images."""
        import json
        import platform

        import torch

        record = {
            "notebook": self.name,
            "profile": self.profile,
            "seed": self.seed,
            "device": self.device_name,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "seconds": round(self.seconds, 3),
            "images": list(self.images),
            "figures": list(self.figures),
            "metrics": _jsonable(metrics),
        }
        return atomic_write_text(self.out / "metrics.json", json.dumps(record, indent=2, sort_keys=True) + "\n")


def _jsonable(value):
    """numpy / torch scalars and arrays -> plain Python for json."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    return str(value)
