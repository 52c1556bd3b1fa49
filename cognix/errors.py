"""User-facing errors: a message naming the problem, a hint naming the fix, no traceback."""

from __future__ import annotations


class CognixError(Exception):
    """An error the user can fix. The CLI prints it and exits with ``exit_code``."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, details: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details  # e.g. the user's own traceback, shown below the message


class UsageError(CognixError):
    """Bad command-line input."""

    exit_code = 2
