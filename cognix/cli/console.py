"""Where the CLI writes for people: rich on stderr, made on first use.

rich costs ~20 ms to import, and most commands print only when they end (``cognix lock`` after
uv has run), so the console is created the first time something is printed, or when a long
step reports progress. A spinner is shown only on a terminal: in a CI log or a pipe its frames
are noise.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rich.console import Console


class _LazyConsole:
    """A ``rich.console.Console(stderr=True)`` that is built on first attribute access."""

    def __init__(self) -> None:
        self._console: Console | None = None

    def get(self) -> Console:
        """The console itself, for what takes a ``Console`` (``rich.progress.Progress``)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True, highlight=False)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


err: Any = _LazyConsole()


class Status(Protocol):
    def update(self, text: Any) -> None: ...


class _Quiet:
    def update(self, text: Any) -> None:
        """Not a terminal: progress is not drawn. The console is made now, while the work runs
        (``cognix lock``: while uv resolves), not after it, where it would delay the result."""
        err.get()


@contextlib.contextmanager
def status(text: str) -> Iterator[Status]:
    """A spinner with ``text`` on a terminal; elsewhere nothing (``update`` is a no-op)."""
    if not sys.stderr.isatty():
        yield _Quiet()
        return
    with err.status(text) as spinner:
        yield spinner


def styled(*parts: str | tuple[str, str]) -> Any:
    """``rich.text.Text.assemble``: plain text and (text, style) pairs, never read as markup."""
    from rich.text import Text

    return Text.assemble(*parts)
