"""``python -m helpers``: see :mod:`helpers.cli`."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
