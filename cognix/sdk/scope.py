"""Per-prediction scope: metrics and request context, reached through ``current_scope()``."""

from __future__ import annotations

import contextvars
import re
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

_SEGMENT = re.compile(r"^[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?$")
MODES = ("replace", "incr", "append")


def check_metric_key(key: str) -> list[str]:
    """Split a dotted metric key, enforcing Cog's naming rules."""
    if not isinstance(key, str) or not key:
        raise ValueError("metric name must be a non-empty string")
    if len(key) > 128:
        raise ValueError(f"metric name {key!r} is longer than 128 characters")
    if key == "predict_time" or key.startswith("cog."):
        raise ValueError(f"metric name {key!r} is reserved")
    parts = key.split(".")
    if len(parts) > 4:
        raise ValueError(f"metric name {key!r} has more than 4 segments")
    for part in parts:
        if not _SEGMENT.match(part) or "__" in part:
            raise ValueError(
                f"invalid metric name {key!r}: each segment must start with a letter, end with a "
                "letter or digit, and use only letters, digits and single underscores"
            )
    return parts


MetricHook = Callable[[str, Any, str], None]


class Metrics(MutableMapping[str, Any]):
    """Metrics of one prediction; dotted keys build nested objects."""

    def __init__(self, on_record: MetricHook | None = None) -> None:
        self._flat: dict[str, Any] = {}
        self._on_record = on_record  # the server streams each metric as it is recorded

    def record(self, key: str, value: Any, mode: str = "replace") -> None:
        check_metric_key(key)
        if mode not in MODES:
            raise ValueError(f"invalid metric mode {mode!r}: use one of {', '.join(MODES)}")
        if value is None:
            self._flat.pop(key, None)
            self._notify(key, None, mode)
            return
        if not isinstance(value, (bool, int, float, str, list, dict)):
            raise TypeError(f"metric {key!r}: unsupported value type {type(value).__name__}")
        raw, old = value, self._flat.get(key)
        if mode == "incr":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return
            value = value + (old if isinstance(old, (int, float)) and not isinstance(old, bool) else 0)
        elif mode == "append":
            value = ([] if old is None else old if isinstance(old, list) else [old]) + [value]
        elif old is not None and type(old) is not type(value):
            raise TypeError(
                f"metric {key!r} is a {type(old).__name__}; delete it before setting a {type(value).__name__}"
            )
        self._flat[key] = value
        self._notify(key, raw, mode)

    def _notify(self, key: str, value: Any, mode: str) -> None:
        if self._on_record is not None:
            self._on_record(key, value, mode)

    def __setitem__(self, key: str, value: Any) -> None:
        self.record(key, value)

    def __getitem__(self, key: str) -> Any:
        return self._flat[key]

    def __delitem__(self, key: str) -> None:
        del self._flat[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._flat)

    def __len__(self) -> int:
        return len(self._flat)

    def as_dict(self) -> dict[str, Any]:
        """Nested form, as sent in responses: ``a.b=1`` becomes ``{"a": {"b": 1}}``."""
        out: dict[str, Any] = {}
        for key, value in self._flat.items():
            *parents, leaf = key.split(".")
            node = out
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = value
        return out


class Scope:
    """What a running prediction can reach: its metrics and the request's ``context``."""

    def __init__(self, context: dict[str, str] | None = None, on_metric: MetricHook | None = None) -> None:
        self.metrics = Metrics(on_metric)
        self.context: dict[str, str] = dict(context or {})

    def record_metric(self, key: str, value: Any, mode: str = "replace") -> None:
        self.metrics.record(key, value, mode)


class _NoopMetrics(Metrics):
    def record(self, key: str, value: Any, mode: str = "replace") -> None:
        """Outside a prediction, metrics are silently dropped."""


class _NoopScope(Scope):
    def __init__(self) -> None:
        self.metrics = _NoopMetrics()
        self.context = {}


_NOOP = _NoopScope()
_current: contextvars.ContextVar[Scope] = contextvars.ContextVar("cognix_scope", default=_NOOP)


def current_scope() -> Scope:
    """The running prediction's scope, or a silent no-op scope outside one."""
    return _current.get()


@contextmanager
def prediction_scope(context: dict[str, str] | None = None, on_metric: MetricHook | None = None) -> Iterator[Scope]:
    """Enter a fresh scope for one prediction (used by the runtime, not by models)."""
    scope = Scope(context, on_metric)
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)
