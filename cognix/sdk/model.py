"""``BaseModel``: structured outputs, declared like a dataclass."""

from __future__ import annotations

from dataclasses import dataclass, is_dataclass
from typing import Any


class BaseModel:
    """Subclasses become dataclasses, so ``Output(text="hi", score=1.0)`` just works."""

    def __init_subclass__(cls, *, auto_dataclass: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__()
        for base in cls.__bases__[1:]:
            if is_dataclass(base):
                raise TypeError(f'Cannot mixin dataclass "{base.__name__}" while inheriting from `BaseModel`')
        if auto_dataclass:
            dataclass(**kwargs)(cls)
