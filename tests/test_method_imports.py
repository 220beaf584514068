"""The method packages return data and presentation formats it: no module of helpers.nst or
helpers.gdf imports helpers.tables, helpers.figures, helpers.widgets or helpers.progress, at
the top or inside a function (read from the source with ``ast``, nothing is imported)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
METHOD_PACKAGES = ("helpers/nst", "helpers/gdf")
PRESENTATION = ("helpers.tables", "helpers.figures", "helpers.widgets", "helpers.progress")
MODULES = sorted(p for d in METHOD_PACKAGES for p in (ROOT / d).rglob("*.py"))


def imported_modules(source: str, package: str) -> set[str]:
    """Every module an import statement anywhere in ``source`` names, made absolute against
    ``package`` (the module's own package); ``from m import n`` names both ``m`` and ``m.n``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                module = ".".join([*parts, node.module] if node.module else parts)
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def presentation_imports(source: str, package: str) -> list[str]:
    return sorted(
        name
        for name in imported_modules(source, package)
        if any(name == p or name.startswith(p + ".") for p in PRESENTATION)
    )


def _package(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).parent.parts)


def test_the_scan_sees_every_form_of_import():
    source = (
        "from ..tables import format_table\n"
        "import numpy as np\n"
        "def f():\n"
        "    from .. import figures\n"
        "    import helpers.widgets as w\n"
        "    from helpers.progress import bar\n"
        "    from . import vgg\n"
        "    from ..images import to_numpy\n"
    )
    assert presentation_imports(source, "helpers.nst") == [
        "helpers.figures",
        "helpers.progress",
        "helpers.progress.bar",
        "helpers.tables",
        "helpers.tables.format_table",
        "helpers.widgets",
    ]
    assert presentation_imports("from .nst import vgg\nfrom . import images\n", "helpers") == []


def test_the_method_packages_are_all_scanned():
    assert len(MODULES) > 20
    assert {p.parent.name for p in MODULES} == {"nst", "gdf"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_method_modules_do_not_import_presentation(path):
    found = presentation_imports(path.read_text(encoding="utf-8"), _package(path))
    assert not found, f"{path.relative_to(ROOT)} imports {', '.join(found)}: return data instead"
