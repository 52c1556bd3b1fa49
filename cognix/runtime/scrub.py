"""Secret values kept out of what leaves a prediction: its logs and its error.

A model may print a ``Secret``'s value, or put it in an exception, through
``get_secret_value()``. Cog lets that through. cognix replaces every value of the running
predictions' Secret inputs with the mask before the text leaves the worker (or ``cognix
predict``), so it reaches no log line, response, webhook or ``--json`` output. Outputs are the
model's answer and are not changed. Values shorter than :data:`MIN_LENGTH` are not scrubbed:
masking every "ab" would garble the logs and hide nothing.
"""

from __future__ import annotations

import threading
from typing import Any, AnyStr

from cognix.sdk.types import Secret

MASK = "**********"  # what str(Secret) shows
MIN_LENGTH = 4


def secret_values(arguments: dict[str, Any]) -> list[str]:
    """The values of the Secret inputs among ``run()``'s arguments (lists of them included)."""
    found: list[str] = []
    for value in arguments.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, Secret) and (text := item.get_secret_value()) and len(text) >= MIN_LENGTH:
                found.append(text)
    return found


class Scrubber:
    """The secret values to mask, by the prediction they came with. Predictions add and remove
    theirs while the threads that forward fd-level output read them: each change makes new
    tuples, so a reader never sees a half-made one."""

    def __init__(self) -> None:
        self._by_owner: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._values: tuple[str, ...] = ()  # longest first: a value inside another is masked with it
        self._encoded: tuple[bytes, ...] = ()

    def add(self, owner: str, values: list[str]) -> None:
        if values:
            with self._lock:
                self._by_owner[owner] = values
                self._rebuild()

    def remove(self, owner: str) -> None:
        with self._lock:
            if self._by_owner.pop(owner, None) is not None:
                self._rebuild()

    def _rebuild(self) -> None:
        values = sorted({v for vs in self._by_owner.values() for v in vs}, key=lambda v: (-len(v), v))
        self._values, self._encoded = tuple(values), tuple(v.encode() for v in values)

    def scrub(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def unfinished(self, data: bytes | str) -> int:
        """How many bytes (or characters) at the end of ``data`` could begin a secret value,
        whose rest is not written yet: held back until it is, so a value split across two
        reads, or two flushes, is still masked."""
        if isinstance(data, bytes):
            return max((begun(data, value) for value in self._encoded), default=0)
        return max((begun(data, value) for value in self._values), default=0)


def begun(data: AnyStr, value: AnyStr) -> int:
    """How long the end of ``data`` is a beginning of ``value`` (never all of it): what a
    reader of a stream holds back until it knows whether ``value`` follows."""
    return next((n for n in range(min(len(value) - 1, len(data)), 0, -1) if data.endswith(value[:n])), 0)
