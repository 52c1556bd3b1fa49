"""What every doctor check speaks: findings, the rewrites that fix them, and the files they edit.

A :class:`Finding` is one problem at a file and line, with Cog's severity and a remediation. A
finding that ``--fix`` can repair carries a :data:`Rewrite`; findings that one rewrite repairs
together (every ``File`` of a file) share the same one, so it runs once. A rewrite edits a
:class:`Workspace`, never the disk: it reads what earlier rewrites left, and raises :class:`Unsafe`
when it cannot keep what the user meant, which leaves the files as they were. The workspace is
written once every rewrite has run.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path


class Severity(enum.IntEnum):
    """Cog's order: a smaller value is worse. Errors make ``doctor`` exit 1; warnings do not."""

    ERROR = 0
    WARNING = 1


class Unsafe(Exception):
    """A rewrite that cannot be done without guessing; the message says why and what to do."""


@dataclass(frozen=True)
class Finding:
    """One problem: what is wrong (Cog's words), how to fix it, where, and the rewrite if any."""

    severity: Severity
    message: str
    remediation: str
    file: str  # relative to the project, as the user sees it
    line: int | None = None
    rewrite: Rewrite | None = None  # compared by identity: one object per fix

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class Workspace:
    """The project's text files as the rewrites leave them, written only by :meth:`save`."""

    dir: Path
    _before: dict[str, str | None] = field(default_factory=dict)  # None: the file is new
    _after: dict[str, str] = field(default_factory=dict)

    def read(self, name: str) -> str:
        if name not in self._after:
            text = (self.dir / name).read_bytes().decode()  # as it is: "\r\n" stays
            self._before[name], self._after[name] = text, text
        return self._after[name]

    def write(self, name: str, text: str) -> None:
        self.read(name)
        self._after[name] = text

    def create(self, name: str, text: str) -> None:
        """A new file; one that already exists with other content is :class:`Unsafe`."""
        if name not in self._after and (self.dir / name).exists():
            if self.read(name) == text:
                return
            raise Unsafe(f"{name} already exists")
        self._before.setdefault(name, None)
        self._after[name] = text

    def snapshot(self) -> dict[str, str]:
        return dict(self._after)

    def restore(self, snapshot: dict[str, str]) -> None:
        """Undo what a rewrite did since :meth:`snapshot` (it raised :class:`Unsafe` half-way)."""
        for name in [n for n in self._after if n not in snapshot]:
            del self._after[name]
            if self._before.get(name) is None:
                self._before.pop(name, None)
        self._after.update(snapshot)

    def changed(self) -> list[str]:
        return sorted(name for name, text in self._after.items() if text != self._before[name])

    def save(self) -> None:
        for name in self.changed():
            (self.dir / name).write_bytes(self._after[name].encode())

    def diff(self) -> Iterator[str]:
        """Each changed file as a unified diff (``/dev/null`` for a new one), line by line."""
        for name in self.changed():
            before = self._before[name]
            yield from difflib.unified_diff(
                (before or "").splitlines(),
                self._after[name].splitlines(),
                "/dev/null" if before is None else f"a/{name}",
                f"b/{name}",
                lineterm="",
            )


Rewrite = Callable[[Workspace], None]
