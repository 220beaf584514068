"""Command-line interface: ``python -m helpers <command> ...``.

Each command lives in its own module under ``helpers/cli/`` exposing ``register(subparsers)``
(adds its parser and sets ``func``); heavy packages (torch, papermill, Dask) are imported only
when a command runs, so ``--help`` stays fast.  :mod:`helpers.cli.common` holds what the image
commands share.
Bad input surfaces as :class:`helpers.errors.UserError`: one ``error:`` line, exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import UserError

COMMANDS = {
    "assets": "helpers.cli.assets",
    "weights": "helpers.cli.assets",
    "stylize": "helpers.cli.stylize",
    "blend": "helpers.cli.blend",
    "toy": "helpers.cli.blend",
    "tile": "helpers.cli.edit",
    "color2gray": "helpers.cli.edit",
    "report": "helpers.cli.report",
    "sweep": "helpers.cli.sweep",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own usage errors: one line, exit 2
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m helpers", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    seen = set()
    for module_name in dict.fromkeys(COMMANDS.values()):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # command not built yet
            raise
        if module_name not in seen:
            module.register(sub)
            seen.add(module_name)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
