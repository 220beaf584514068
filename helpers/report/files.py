"""Files of a run that the runner, the renderer and the regression check all touch.

Part of :mod:`helpers.report`: reading a notebook's ``outputs/<notebook>/metrics.json``
(written by :meth:`helpers.notebook.NotebookRun.save_metrics`) and giving finished files the
usual permissions.  Imports only the plumbing (:mod:`helpers.runtime`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..runtime import outputs_dir


def read_metrics(stem: str) -> dict | None:
    """``outputs/<stem>/metrics.json`` as a dict; ``None`` when missing or not valid JSON."""
    path = outputs_dir() / stem / "metrics.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None


def publish_modes(*paths: Path) -> None:
    """Temporary files are created private (0600/0700); give finished ones the usual umask
    modes."""
    umask = os.umask(0)
    os.umask(umask)
    for path in paths:
        if path.is_dir():
            path.chmod(0o777 & ~umask)
            for child in path.iterdir():
                if child.is_file():
                    child.chmod(0o666 & ~umask)
        elif path.is_file():
            path.chmod(0o666 & ~umask)
