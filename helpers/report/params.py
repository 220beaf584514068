"""Where the series lives and what it runs with: notebook discovery and parameter profiles.

Part of :mod:`helpers.report` (report pipeline layer, above the plumbing).  **Profiles** are
papermill parameter files ``configs/<profile>/<notebook-stem>.yaml`` (``smoke``: seconds, for
tests; ``quick``: the CPU default; ``full``: paper scale, for a GPU; ``auto`` = ``full`` when
CUDA is present, else ``quick``).  Each file holds only names from that notebook's
``parameters`` cell; papermill writes them into an ``injected-parameters`` cell.

``HELPERS_NOTEBOOKS`` / ``HELPERS_CONFIGS`` move the notebook and profile folders (tests use a
tiny fake series).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..runtime import ROOT

PROFILES = ("smoke", "quick", "full")
"""The parameter profiles: one folder each under ``configs/``."""

NOTEBOOK_GLOB = "[0-9][0-9]-*.ipynb"

TIMEOUTS = {"smoke": 300, "quick": 1800, "full": 3600}
"""Time limit per notebook (seconds, kernel start included), by profile: generous, to stop a
hung notebook, not to enforce the series budgets (smoke <= 5 min, quick <= 20 min in all)."""


# ----------------------------------------------------------------------------- locations


def notebooks_dir() -> Path:
    """``notebooks/`` (``$HELPERS_NOTEBOOKS`` overrides)."""
    return Path(os.environ.get("HELPERS_NOTEBOOKS", ROOT / "notebooks"))


def configs_dir() -> Path:
    """``configs/`` holding ``<profile>/<stem>.yaml`` (``$HELPERS_CONFIGS`` overrides)."""
    return Path(os.environ.get("HELPERS_CONFIGS", ROOT / "configs"))


def resolve_profile(profile: str = "auto") -> str:
    """``auto`` -> ``full`` when CUDA is available, else ``quick``; others are checked."""
    if profile == "auto":
        import torch

        return "full" if torch.cuda.is_available() else "quick"
    if profile not in PROFILES:
        raise UserError(f"unknown profile {profile!r}: use one of auto, {', '.join(PROFILES)}")
    return profile


def discover(folder: Path | None = None, only: Sequence[str] | None = None) -> list[Path]:
    """The series' notebooks ``NN-name.ipynb`` in order, optionally only some (``"03"`` or a
    stem)."""
    folder = Path(folder) if folder is not None else notebooks_dir()
    found = sorted(folder.glob(NOTEBOOK_GLOB))
    if not found:
        raise UserError(f"no notebooks matching {NOTEBOOK_GLOB} in {folder}; check --notebooks")
    if not only:
        return found
    chosen = []
    for key in only:
        key = key.strip().removesuffix(".ipynb")
        match = [p for p in found if p.stem == key or p.stem.split("-", 1)[0] == key]
        if not match:
            names = ", ".join(p.stem for p in found)
            raise UserError(f"--only {key}: no such notebook in {folder}; choose from {names}")
        chosen += [p for p in match if p not in chosen]
    return sorted(chosen)


def parse_only(text: str | None) -> list[str] | None:
    """``"01,03"`` -> ``["01", "03"]``."""
    if not text:
        return None
    return [part for part in (p.strip() for p in text.split(",")) if part]


# ----------------------------------------------------------------------------- profiles


def _parameters_source(notebook: Path) -> str:
    """The source of the notebook's cell tagged ``parameters``."""
    import nbformat

    try:
        nb = nbformat.read(str(notebook), as_version=4)
    except Exception as exc:  # unreadable JSON etc.
        raise UserError(
            f"{notebook}: cannot read the notebook ({exc}); is it valid .ipynb JSON?"
        ) from exc
    tagged = (c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", []))
    cell = next(tagged, None)
    if cell is None:
        raise UserError(
            f"{notebook}: no cell tagged 'parameters'; tag the first code cell 'parameters'"
        )
    return cell.source


def notebook_parameters(notebook: Path) -> dict[str, dict]:
    """The notebook's ``parameters`` cell: ``{name: {"default": source text, "type": ...,
    "help": ...}}``.

    Every top-level ``NAME = literal`` assignment counts, also one spanning several lines.  Its
    comment gives the type and the help, in the format ``papermill --help-notebook`` also reads
    (see :data:`PARAMETER_LINE`).
    """
    # ast, not papermill.inspect_notebook: papermill 2.7 still skips lines with a second '='.
    import ast
    import io
    import tokenize

    source = _parameters_source(notebook)
    try:
        tree = ast.parse(source)
        comments = {
            tok.start[0]: tok.string.lstrip("#").strip()
            for tok in tokenize.generate_tokens(io.StringIO(source).readline)
            if tok.type == tokenize.COMMENT
        }
    except (SyntaxError, tokenize.TokenError) as exc:
        raise UserError(f"{notebook}: the parameters cell is not valid Python ({exc})") from exc
    params: dict[str, dict] = {}
    for node in tree.body:
        for target in _assigned_names(node):
            kind, help_text = split_comment(comments.get(node.end_lineno, ""))
            if isinstance(node, ast.AnnAssign):
                kind = ast.get_source_segment(source, node.annotation) or kind
            params[target.id] = {
                "name": target.id,
                "default": ast.get_source_segment(source, node.value) or "",
                "type": kind,
                "help": help_text,
            }
    if not params:
        raise UserError(
            f"{notebook}: the parameters cell assigns no names; write NAME = value lines"
        )
    return params


PARAMETER_LINE = "SIZE = 128  # type: int  longer side of the images in pixels"
"""The format of a parameters-cell line that both this parser and papermill 2.7's
``--help-notebook`` read: ``NAME = literal  # type: TYPE  help``, all on one line, with no
other ``=`` on the line (papermill skips a line holding two) and no space inside ``TYPE``
(``list[str]``, not ``list[str, int]``).  Any other comment is all help, for papermill as
here."""

_TYPE_COMMENT = re.compile(r"^type:\s*(?P<type>\S+)\s*(?P<help>.*)$")


def split_comment(comment: str) -> tuple[str, str]:
    """``"type: int  longer side"`` -> ``("int", "longer side")``; a comment without
    ``type:`` -> ``("", comment)``, as papermill reads it."""
    comment = comment.strip()
    match = _TYPE_COMMENT.match(comment)
    if match is None:
        return "", comment
    return match["type"], match["help"].strip()


def _assigned_names(node) -> list:
    """The ``ast.Name`` targets a top-level statement assigns a value to (none for others)."""
    import ast

    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign):
        targets = [node.target]
    else:
        return []
    return [t for t in targets if isinstance(t, ast.Name) and node.value is not None]


def profile_parameters(notebook: Path, profile: str, configs: Path | None = None) -> dict[str, Any]:
    """Load ``configs/<profile>/<stem>.yaml`` and check its keys against the parameters cell."""
    import yaml

    configs = Path(configs) if configs is not None else configs_dir()
    path = configs / profile / f"{notebook.stem}.yaml"
    if not path.is_file():
        raise UserError(
            f"no parameter file {path} for notebook {notebook.name} (profile {profile}); "
            "create it with values for names in the notebook's parameters cell"
        )
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise UserError(
            f"{path}: not valid YAML ({str(exc).splitlines()[0]}); fix the file"
        ) from exc
    if not isinstance(values, dict):
        raise UserError(f"{path}: expected 'NAME: value' lines, got {type(values).__name__}")
    known = notebook_parameters(notebook)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise UserError(
            f"{path}: {', '.join(unknown)} not in the parameters cell of {notebook.name}; "
            f"valid names: {', '.join(known)}"
        )
    return values
