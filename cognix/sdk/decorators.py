"""``@streaming`` and ``@concurrent``: opt-ins read by the schema and the server."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])


@overload
def streaming(fn: F) -> F: ...
@overload
def streaming(fn: None = None) -> Callable[[F], F]: ...
def streaming(fn: F | None = None) -> F | Callable[[F], F]:
    """Let clients receive the prediction as Server-Sent Events (needs an iterator output)."""

    def mark(inner: F) -> F:
        inner.__cog_streaming__ = True  # type: ignore[attr-defined]
        return inner

    return mark if fn is None else mark(fn)


@overload
def concurrent(fn: F) -> F: ...
@overload
def concurrent(fn: None = None, *, max: int = 1) -> Callable[[F], F]: ...
def concurrent(fn: F | None = None, *, max: int = 1) -> F | Callable[[F], F]:
    """Allow up to ``max`` predictions at once; values above 1 need an async ``run``."""
    if isinstance(max, bool) or not isinstance(max, int):
        raise TypeError("concurrent max must be an integer")
    if max < 1:
        raise ValueError("concurrent max must be at least 1")

    def mark(inner: F) -> F:
        if max > 1 and not (inspect.iscoroutinefunction(inner) or inspect.isasyncgenfunction(inner)):
            raise TypeError("concurrent max greater than 1 requires an async function")
        inner.__cog_concurrent_max__ = max  # type: ignore[attr-defined]
        return inner

    if fn is None:
        return mark
    if not callable(fn):
        raise TypeError("concurrent must be used as @concurrent or @concurrent(max=...)")
    return mark(fn)
