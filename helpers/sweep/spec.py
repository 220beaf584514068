"""A sweep file: which notebook, which base profile, which grid of papermill parameters.

Part of :mod:`helpers.sweep`.  :func:`load_sweep` reads ``sweeps/<name>.yaml``, checks every
name against the notebook's ``parameters`` cell and expands the grid into :class:`Run` records.
A run's id is derived from its parameters only: a readable slug of the values the grid varies
plus a hash of the canonical JSON of everything the notebook runs with, so the same parameters
always map to the same folder ``outputs/sweeps/<sweep>/<run-id>/``.

The format (every key but ``notebook`` and ``grid`` is optional)::

    name: smoke                         # outputs/sweeps/<name>/ (default: the file's stem)
    notebook: 03-alpha-beta-layer-grid  # a stem, its number, or a path to a .ipynb
    profile: smoke                      # base values: configs/<profile>/<stem>.yaml
    parameters: {DEVICE: cpu}           # fixed overrides for every run
    grid:                               # one block, or a list of blocks (their runs joined)
      product:                          # every combination of these values ...
        STYLE: [nst/style/starry_night.jpg, nst/style/the_scream.jpg]
      zip:                              # ... times these lists taken element by element
        CONTENT_LAYERS: [conv4_2, conv4_1]
        INIT: [content, noise]
    image: reconstruction               # the saved image the contact sheet shows
    retries: 1                          # attempts after a failure (default 1)
    timeout: 300                        # seconds per run (default: the profile's limit)
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import itertools
import json
import re
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..report.params import (
    PROFILES,
    TIMEOUTS,
    discover,
    notebook_parameters,
    notebooks_dir,
    profile_parameters,
)

KEYS = ("name", "notebook", "profile", "parameters", "grid", "image", "retries", "timeout")
"""The keys a sweep file may hold."""

HASH_LENGTH = 10
SLUG_LENGTH = 60


@dataclasses.dataclass(frozen=True)
class Run:
    """One papermill execution of the sweep: its id, the values the grid chose, and all the
    parameters the notebook runs with (the profile's values, the fixed ones, the grid's)."""

    id: str
    varied: dict[str, Any]
    parameters: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A parsed sweep file."""

    name: str
    source: Path
    notebook: Path
    profile: str
    fixed: dict[str, Any]
    axes: tuple[str, ...]  # the names the grid varies, in the file's order
    runs: tuple[Run, ...]
    image: str | None = None
    retries: int = 1
    timeout: float | None = None

    @property
    def stem(self) -> str:
        return self.notebook.stem

    @property
    def time_limit(self) -> float:
        return float(self.timeout if self.timeout is not None else TIMEOUTS[self.profile])


# ----------------------------------------------------------------------------- run ids


def canonical_json(value: Any) -> str:
    """The one JSON text of ``value`` (sorted keys, no spaces), so equal parameters hash
    equally."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def run_id(notebook: str, parameters: dict[str, Any], varied: dict[str, Any]) -> str:
    """``<slug>-<hash>``: the slug shows the varied values, the hash covers the notebook's
    stem and every parameter."""
    digest = hashlib.sha256(
        canonical_json({"notebook": notebook, "parameters": parameters}).encode()
    ).hexdigest()[:HASH_LENGTH]
    slug = slugify(varied)
    return f"{slug}-{digest}" if slug else digest


def _slug_value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "+".join(_slug_value(v) for v in value)
    if isinstance(value, str) and ("/" in value or "." in value):
        value = Path(value).stem or value  # a sample or file name: its stem says enough
    return str(value)


def slugify(varied: dict[str, Any]) -> str:
    """``{"STYLE": "nst/style/the_scream.jpg", "INIT": "noise"}`` ->
    ``style=the_scream__init=noise`` (file-name safe, at most 60 characters)."""
    parts = [f"{name.lower()}={_slug_value(value)}" for name, value in varied.items()]
    text = "__".join(re.sub(r"[^A-Za-z0-9=+.,-]+", "_", part) for part in parts).strip("_.")
    return text[:SLUG_LENGTH].rstrip("_.")


# ----------------------------------------------------------------------------- grid


def _values(name: str, values: Any, where: str) -> list:
    if not isinstance(values, list) or not values:
        raise UserError(f"{where}: {name} needs a non-empty list of values, e.g. {name}: [1, 2]")
    return values


def _zip_groups(block: Any, where: str) -> list[dict[str, list]]:
    groups = block if isinstance(block, list) else [block]
    out = []
    for group in groups:
        if not isinstance(group, dict) or not group:
            raise UserError(f"{where}: zip takes NAME: [values] lines (or a list of such groups)")
        lists = {name: _values(name, v, f"{where} zip") for name, v in group.items()}
        lengths = {name: len(v) for name, v in lists.items()}
        if len(set(lengths.values())) > 1:
            sizes = ", ".join(f"{n} has {k}" for n, k in lengths.items())
            raise UserError(f"{where}: the lists of a zip must be equally long ({sizes})")
        out.append(lists)
    return out


def expand_block(block: Any, where: str = "grid") -> list[dict[str, Any]]:
    """One grid block -> its points, in order: the product of the ``product`` axes and of each
    ``zip`` group (a zip group is one axis whose lists advance together)."""
    if block is None:
        return [{}]
    if not isinstance(block, dict) or not set(block) <= {"product", "zip"}:
        raise UserError(f"{where}: a grid block holds 'product:' and/or 'zip:' and nothing else")
    product = block.get("product") or {}
    if not isinstance(product, dict):
        raise UserError(f"{where}: product takes NAME: [values] lines")
    axes: list[list[dict[str, Any]]] = [
        [{name: v} for v in _values(name, values, f"{where} product")]
        for name, values in product.items()
    ]
    for group in _zip_groups(block["zip"], where) if block.get("zip") else []:
        names = list(group)
        axes.append([dict(zip(names, row, strict=True)) for row in zip(*group.values())])
    seen: set[str] = set()
    for axis in axes:
        names = set(axis[0])
        if names & seen:
            raise UserError(f"{where}: {', '.join(sorted(names & seen))} varied twice")
        seen |= names
    return [{k: v for part in combo for k, v in part.items()} for combo in itertools.product(*axes)]


def expand_grid(grid: Any) -> list[dict[str, Any]]:
    """A grid (one block or a list of blocks) -> its points; a point listed twice runs once."""
    blocks = grid if isinstance(grid, list) else [grid]
    points: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        where = "grid" if len(blocks) == 1 else f"grid block {i + 1}"
        for point in expand_block(block, where):
            key = canonical_json(point)
            if key not in seen:
                seen.add(key)
                points.append(point)
    return points


# ----------------------------------------------------------------------------- loading


def _resolve_notebook(value: Any, source: Path, notebooks: Path | None) -> Path:
    if not isinstance(value, str | int) or not str(value).strip():
        raise UserError(f"{source}: 'notebook:' names the notebook to run, e.g. 05 or a path")
    text = str(value).strip()
    if text.endswith(".ipynb"):
        for path in (Path(text), source.parent / text):
            if path.is_file():
                return path.resolve()
        raise UserError(f"{source}: notebook {text} not found")
    return discover(notebooks or notebooks_dir(), [text.zfill(2) if text.isdigit() else text])[0]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text_for_number(default: Any, value: Any) -> bool:
    """Text where the notebook's default is a number (or a list of numbers)."""
    if _is_number(default):
        return isinstance(value, str)
    numbers = isinstance(default, list | tuple) and default and all(map(_is_number, default))
    return bool(numbers and isinstance(value, list) and any(isinstance(v, str) for v in value))


def _check_types(notebook: Path, values: dict[str, Any], source: Path) -> None:
    """Catch YAML's classic trap before a run fails on it: ``1e-3`` is a string in YAML 1.1."""
    known = notebook_parameters(notebook)
    for name, value in values.items():
        if name not in known:
            raise UserError(
                f"{source}: {name} is not in the parameters cell of {notebook.name}; "
                f"valid names: {', '.join(known)}"
            )
        try:
            default = ast.literal_eval(known[name]["default"])
        except (ValueError, SyntaxError):
            continue
        if _text_for_number(default, value):
            raise UserError(
                f"{source}: {name} = {value!r} holds text but the notebook expects "
                f"numbers; YAML reads 1e-3 as text, write 1.0e-3"
            )


def load_sweep(
    path: str | Path, *, notebooks: Path | None = None, configs: Path | None = None
) -> Sweep:
    """Read and check a sweep file; every run's parameters are known before anything runs."""
    import yaml

    source = Path(path)
    if not source.is_file():
        raise UserError(f"sweep file {source} not found; see sweeps/smoke.yaml for the format")
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise UserError(f"{source}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(data, dict):
        raise UserError(f"{source}: expected 'key: value' lines (notebook, profile, grid, ...)")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise UserError(f"{source}: unknown key(s) {', '.join(unknown)}; use {', '.join(KEYS)}")
    if "grid" not in data:
        raise UserError(f"{source}: no 'grid:'; give the parameters to vary")
    name = str(data.get("name") or source.stem)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise UserError(f"{source}: name {name!r} must be a plain folder name")
    profile = str(data.get("profile", "smoke"))
    if profile not in PROFILES:
        raise UserError(f"{source}: profile {profile!r}: use one of {', '.join(PROFILES)}")
    notebook = _resolve_notebook(data.get("notebook"), source, notebooks)
    fixed = data.get("parameters") or {}
    if not isinstance(fixed, dict):
        raise UserError(f"{source}: 'parameters:' takes NAME: value lines")
    points = expand_grid(data["grid"])
    base = profile_parameters(notebook, profile, configs)
    _check_types(notebook, {**fixed, **{k: v for p in points for k, v in p.items()}}, source)
    runs = []
    for point in points:
        parameters = {**base, **fixed, **point}
        runs.append(Run(run_id(notebook.stem, parameters, point), dict(point), parameters))
    retries = data.get("retries", 1)
    if not isinstance(retries, int) or retries < 0:
        raise UserError(f"{source}: retries must be a whole number >= 0")
    timeout = data.get("timeout")
    if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
        raise UserError(f"{source}: timeout must be a positive number of seconds")
    return Sweep(
        name=name,
        source=source,
        notebook=notebook,
        profile=profile,
        fixed=dict(fixed),
        axes=tuple(dict.fromkeys(k for p in points for k in p)),
        runs=tuple(runs),
        image=str(data["image"]) if data.get("image") else None,
        retries=retries,
        timeout=timeout,
    )
