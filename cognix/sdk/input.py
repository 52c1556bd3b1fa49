"""``Input(...)``: per-parameter metadata and constraints."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class _NoDefault:
    """``Input()`` without ``default=``: unlike ``default=None``, the input is required."""

    def __repr__(self) -> str:
        return "NO_DEFAULT"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "NO_DEFAULT"  # unpickles as the same singleton (the server gets signatures by pickle)


NO_DEFAULT: Any = _NoDefault()


@dataclass(frozen=True)
class FieldInfo:
    default: Any = NO_DEFAULT
    description: str | None = None
    ge: float | None = None
    le: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    regex: str | None = None
    choices: list[str | int] | None = None
    deprecated: bool | None = None
    accept: str | None = None


def Input(  # capitalised: Cog's public name
    default: Any = NO_DEFAULT,
    *,
    default_factory: Callable[..., Any] | None = None,
    description: str | None = None,
    ge: float | None = None,
    le: float | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    regex: str | None = None,
    choices: list[str | int] | None = None,
    deprecated: bool | None = None,
    accept: str | None = None,
) -> Any:
    """Describe a predictor input: default, description and constraints."""
    if default_factory is not None:
        raise TypeError(
            "default_factory is not supported in Input(). Use a literal default value instead: Input(default=...)."
        )
    return FieldInfo(
        default=default,
        description=description,
        ge=ge,
        le=le,
        min_length=min_length,
        max_length=max_length,
        regex=regex,
        choices=list(choices) if choices is not None else None,
        deprecated=deprecated,
        accept=accept,
    )
