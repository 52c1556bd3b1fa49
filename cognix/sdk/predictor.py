"""``BaseRunner`` (and its legacy name ``BasePredictor``)."""

from __future__ import annotations

from typing import Any

from cognix.sdk.scope import Scope, current_scope
from cognix.sdk.types import Path


class BaseRunner:
    """Subclass and define ``setup()`` (optional) and ``run(**inputs)``."""

    def setup(self, weights: Path | str | None = None) -> None:
        """Load the model once, before the first prediction."""

    @property
    def scope(self) -> Scope:
        return current_scope()

    def record_metric(self, key: str, value: Any, mode: str = "replace") -> None:
        self.scope.record_metric(key, value, mode)


class BasePredictor(BaseRunner):
    """Legacy name of :class:`BaseRunner`; define ``predict(**inputs)``."""
