"""Staging: a notebook's new outputs replace its previous ones only when it succeeds.

Part of :mod:`helpers.report` (used by :mod:`.run`).  While notebook ``NN-x`` runs, everything
it writes to ``outputs/NN-x/`` goes to a staging folder ``outputs/.NN-x.staging-*`` (the kernel
inherits :data:`helpers.runtime.STAGING_ENV`) and papermill writes the executed copy to a
temporary ``outputs/notebooks/.NN-x.ipynb.*.part.ipynb``.  Then:

* success: the staging folder replaces ``outputs/NN-x/`` (rename the old one aside, rename the
  new one in, remove the old; SIGINT/SIGTERM are held back for those few microseconds) and the
  copy is renamed onto ``outputs/notebooks/NN-x.ipynb``;
* failure or interrupt: the previous folder and copy stay as they were; the attempt is kept as
  ``outputs/NN-x.failed/`` and ``outputs/notebooks/NN-x.failed.ipynb`` for inspection, until the
  notebook's next run replaces (failure) or removes (success) them.

:func:`recover` tidies up after a run killed with SIGKILL: it puts back a folder moved aside
mid-swap and removes staging folders and temporary files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..runtime import STAGING_ENV, file_mode, make_temp_dir, outputs_dir

FAILED = ".failed"
"""Suffix of a failed or interrupted attempt kept beside the previous result."""


def failed_folder(stem: str) -> Path:
    """``outputs/<stem>.failed/``: the outputs of the notebook's last failed attempt."""
    return outputs_dir() / f"{stem}{FAILED}"


def failed_copy(out_dir: Path, stem: str) -> Path:
    """``outputs/notebooks/<stem>.failed.ipynb``: the executed copy of that attempt."""
    return Path(out_dir) / f"{stem}{FAILED}.ipynb"


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back (delivered on exit) so a swap is never cut in half."""
    held = {signal.SIGINT, signal.SIGTERM}
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (AttributeError, ValueError, OSError):  # no pthread_sigmask here
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _aside(final: Path) -> Path:
    return final.parent / f".{final.name}.old-{os.getpid()}"


def swap_dir(new: Path, final: Path) -> None:
    """Replace folder ``final`` by folder ``new`` (two renames, signals held in between)."""
    with _signals_held():
        old = _aside(final)
        if final.exists():
            os.rename(final, old)
        os.rename(new, final)
    shutil.rmtree(old, ignore_errors=True)


def _replace_dir(new: Path, final: Path) -> None:
    """Put folder ``new`` at ``final``, removing whatever was there."""
    if final.exists():
        shutil.rmtree(final)
    os.rename(new, final)


def recover(out_dir: Path) -> None:
    """After a run killed with SIGKILL: put back a folder moved aside mid-swap, remove staging
    folders and temporary files (``outputs/`` and ``out_dir``)."""
    base = outputs_dir()
    for old in sorted(base.glob(".*.old-*")):
        final = base / old.name[1:].rsplit(".old-", 1)[0]
        if old.is_dir() and not final.exists():
            os.rename(old, final)
        else:
            shutil.rmtree(old, ignore_errors=True)
    for staging in base.glob(".*.staging-*"):
        shutil.rmtree(staging, ignore_errors=True)
    for folder in {base, Path(out_dir)}:
        for path in folder.glob(".*.part*"):
            if path.is_file():
                path.unlink(missing_ok=True)


class Stage:
    """One notebook's staging folder and temporary executed copy (see the module docstring)."""

    def __init__(self, stem: str, out_dir: Path) -> None:
        self.stem = stem
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        base = outputs_dir()
        self.final_dir = base / stem
        self.final_copy = self.out_dir / f"{stem}.ipynb"
        self.folder = make_temp_dir(base, f".{stem}.staging-")
        fd, tmp = tempfile.mkstemp(dir=self.out_dir, prefix=f".{stem}.ipynb.", suffix=".part.ipynb")
        os.close(fd)
        self.copy = Path(tmp)

    @contextlib.contextmanager
    def environment(self) -> Iterator[Path]:
        """Point ``outputs_dir(stem)`` (here and in kernels started inside) at the staging
        folder."""
        previous = os.environ.get(STAGING_ENV)
        os.environ[STAGING_ENV] = f"{self.stem}={self.folder}"
        try:
            yield self.folder
        finally:
            if previous is None:
                os.environ.pop(STAGING_ENV, None)
            else:
                os.environ[STAGING_ENV] = previous

    def commit(self) -> Path:
        """Success: the new folder and copy replace the previous ones; returns the copy's path."""
        self.copy.chmod(file_mode())
        with _signals_held():
            swap_dir(self.folder, self.final_dir)
            os.replace(self.copy, self.final_copy)
        shutil.rmtree(failed_folder(self.stem), ignore_errors=True)
        failed_copy(self.out_dir, self.stem).unlink(missing_ok=True)
        return self.final_copy

    def keep_failed(self) -> Path | None:
        """Failure or interrupt: keep the attempt beside the untouched previous result; returns
        the failed executed copy (``None`` when papermill wrote nothing)."""
        with _signals_held():
            if self.folder.is_dir():
                _replace_dir(self.folder, failed_folder(self.stem))
            target = failed_copy(self.out_dir, self.stem)
            if self.copy.is_file() and self.copy.stat().st_size:
                self.copy.chmod(file_mode())
                os.replace(self.copy, target)
                return target
            self.copy.unlink(missing_ok=True)
            target.unlink(missing_ok=True)
        return None
