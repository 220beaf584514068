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


STAGING_ENV = "HELPERS_STAGING"
"""``NAME=FOLDER``: while the report runs notebook NAME, ``outputs_dir(NAME)`` is its staging
folder FOLDER, renamed onto ``outputs/NAME/`` only when the notebook succeeds."""


def outputs_root() -> Path:
    """``outputs/`` (``HELPERS_OUTPUTS`` overrides), not created: see :func:`outputs_dir`."""
    return Path(os.environ.get("HELPERS_OUTPUTS", ROOT / "outputs"))


def outputs_dir(name: str | None = None) -> Path:
    """``outputs/`` (or ``outputs/<name>/``), created on demand; ``HELPERS_OUTPUTS`` overrides.

    Under the report runner ``outputs/<name>/`` is a staging folder (see :data:`STAGING_ENV`).
    """
    base = outputs_root()
    staged_name, _, staged = os.environ.get(STAGING_ENV, "").partition("=")
    if name and staged and name == staged_name:
        path = Path(staged)
    else:
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


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (``/proc``)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, but brief)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a file written directly would get: ``0o666 & ~umask``."""
    return 0o666 & ~current_umask()


def dir_mode() -> int:
    """The mode a folder made directly would get: ``0o777 & ~umask``."""
    return 0o777 & ~current_umask()


def make_temp_dir(parent: str | os.PathLike, prefix: str) -> Path:
    """A new uniquely named folder in ``parent`` with the umask's usual mode (``mkdtemp``
    makes it 0700), for staging outputs that will be renamed into place."""
    path = Path(tempfile.mkdtemp(dir=parent, prefix=prefix))
    path.chmod(dir_mode())
    return path


def _cannot_write(path: Path, exc: OSError, hint: str) -> UserError:
    reason = exc.strerror or type(exc).__name__
    return UserError(f"cannot write {path} ({reason}); {hint}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    A killed or failing writer therefore never leaves a partial file under the final name.  The
    finished file gets the mode a direct write would give (``0o666 & ~umask``), not
    ``mkstemp``'s private 0600.
    """
    path = Path(path)
    _check_folder(path)
    try:
        fd, tmp = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=suffix or path.suffix + ".part"
        )
    except OSError as exc:
        raise _cannot_write(path, exc, "choose another output path") from exc
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            tmp_path.chmod(file_mode())
        os.replace(tmp_path, path)
    except OSError as exc:
        if exc.errno in _STORAGE_ERRNOS:  # the disk, not the code: one clear line, not a traceback
            raise _cannot_write(path, exc, "free some space or choose another output path") from exc
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


def _check_folder(path: Path) -> Path:
    """The cheap checks: ``path`` is not a folder and its folder exists and looks writable."""
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
    return parent


def check_writable(path: str | os.PathLike) -> Path:
    """Refuse an output file that cannot be written, before any work is done.

    Besides the folder checks it creates and removes the temporary file the write will use, so
    a read-only mount, a pseudo file system (``/sys``, ``/proc``) or a full disk is one
    :class:`UserError` line naming the path and the reason, not a traceback after the work.
    """
    path = Path(path)
    parent = _check_folder(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".probe")
    except OSError as exc:
        raise _cannot_write(path, exc, "choose another output path") from exc
    os.close(fd)
    Path(tmp).unlink(missing_ok=True)
    return path


def check_writable_dir(folder: str | os.PathLike, *, what: str = "output folder") -> Path:
    """Refuse a folder the command will write into that cannot take a file: one
    :class:`UserError` line naming it and the reason, before any work.  A missing folder is
    probed at its nearest existing parent (where it would be created); nothing is left behind."""
    folder = Path(folder)
    probe_in = folder
    while not probe_in.exists() and probe_in != probe_in.parent:
        probe_in = probe_in.parent
    try:
        if not probe_in.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        fd, tmp = tempfile.mkstemp(dir=probe_in, prefix=".write-check.", suffix=".probe")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UserError(f"cannot write into {what} {folder} ({reason}); choose another") from exc
    os.close(fd)
    Path(tmp).unlink(missing_ok=True)
    return folder


def git_commit(root: str | os.PathLike | None = None) -> str:
    """The checkout's short commit (``+dirty`` when tracked files changed), ``"-"`` without git."""
    import subprocess

    def _git(*args: str) -> str:
        out = subprocess.run(
            ["git", *args], cwd=root or ROOT, capture_output=True, text=True, timeout=10
        )
        return out.stdout.strip() if out.returncode == 0 else ""

    try:
        commit = _git("rev-parse", "--short", "HEAD")
        dirty = bool(commit) and bool(_git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return "-"
    return f"{commit}+dirty" if dirty else commit or "-"
