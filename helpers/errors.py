"""The one exception type that reaches users as a single clear line (plumbing: imports nothing)."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or environment that the user can fix.

    The message is one line: what is wrong, with which file or parameter, and what to do.
    The CLI prints it as ``error: <message>`` and exits with code 2; notebooks show it as is.
    """

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))
