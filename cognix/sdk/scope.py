"""Per-prediction scope: metrics and request context, reached through ``current_scope()``."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

MAX_NAME_LENGTH = 128  # bytes, as Cog counts them
MAX_NAME_SEGMENTS = 4
MODES = {"replace": "replace", "incr": "increment", "increment": "increment", "append": "append"}
_VALUE_TYPES = (bool, int, float, str, list, dict)  # bool first: it is an int too


def metric_mode(mode: str | None) -> str:
    """The mode's name on the wire (``incr`` is ``increment``); Cog's TypeError for any other."""
    if mode is None:
        return "replace"
    if mode not in MODES:
        raise TypeError(f"Invalid metric mode: '{mode}'. Expected 'replace', 'incr', or 'append'.")
    return MODES[mode]


def check_metric_name(key: str, *, reserved: bool = True) -> None:
    """Cog's naming rules and messages (coglet's ``validate_metric_name``): dot-separated
    segments of ASCII letters, digits and single underscores, each starting with a letter and
    ending with a letter or digit; at most 128 bytes and 4 segments. ``predict_time`` and
    ``cog.*`` are reserved, except when deleting (``reserved=False``)."""
    if not isinstance(key, str):
        raise TypeError(f"metric name must be a str, not {type(key).__name__}")
    if reserved and key == "predict_time":
        raise ValueError("'predict_time' is reserved by the runtime")
    if reserved and key.startswith("cog."):
        raise ValueError("the 'cog.' prefix is reserved for system metrics")
    if not key:
        raise ValueError("metric name must not be empty")
    length = len(key.encode("utf-8", "surrogatepass"))
    if length > MAX_NAME_LENGTH:
        raise ValueError(f"metric name must be {MAX_NAME_LENGTH} characters or fewer (got {length} characters)")
    segments = key.split(".")
    if len(segments) > MAX_NAME_SEGMENTS:
        raise ValueError(
            f"metric name must have at most {MAX_NAME_SEGMENTS} dot-separated segments (got {len(segments)})"
        )
    for i, segment in enumerate(segments):
        if not segment:
            if i == 0:
                raise ValueError("metric name must not start with a dot")
            if i == len(segments) - 1:
                raise ValueError("metric name must not end with a dot")
            raise ValueError("metric name must not contain empty segments (consecutive dots)")
        if not (segment[0].isascii() and segment[0].isalpha()):
            raise ValueError(f"metric name segment '{segment}' must start with a letter")
        underscore = False
        for ch in segment[1:]:
            if ch == "_":
                if underscore:
                    raise ValueError(f"metric name segment '{segment}' must not contain consecutive underscores")
                underscore = True
            elif ch.isascii() and ch.isalnum():
                underscore = False
            else:
                raise ValueError(f"metric name segment '{segment}' contains invalid character '{ch}'")
        if underscore:
            raise ValueError(f"metric name segment '{segment}' must end with a letter or digit")


def _value_type(value: Any) -> str:
    """The type a metric keeps until it is deleted: bool, int, float, str, list or dict."""
    for tpe in _VALUE_TYPES:
        if isinstance(value, tpe):
            return tpe.__name__
    raise TypeError(
        f"Unsupported metric value type: {type(value).__name__}. Expected bool, int, float, str, list, or dict."
    )


MetricHook = Callable[[str, Any, str], None]


class Metrics(MutableMapping[str, Any]):
    """Metrics of one prediction; dotted keys build nested objects. Each is checked as Cog's
    ``MetricRecorder`` checks it, and handed to ``on_record`` with its mode's wire name."""

    def __init__(self, on_record: MetricHook | None = None) -> None:
        self._flat: dict[str, Any] = {}
        self._types: dict[str, str] = {}  # a key's type cannot change until it is deleted
        self._on_record = on_record  # the server streams each metric as it is recorded

    def record(self, key: str, value: Any, mode: str | None = "replace") -> None:
        mode = metric_mode(mode)
        if value is None:  # as Cog's docs say: setting None deletes the metric
            self.delete(key)
            return
        check_metric_name(key)
        kind = _value_type(value)
        if self._types.get(key, kind) != kind:
            raise TypeError(f"Metric '{key}' has type {self._types[key]}, cannot set to {kind} without deleting first")
        if mode == "increment" and kind not in ("int", "float"):
            raise TypeError(f"Increment mode requires int or float, got {kind}")
        self._types[key] = kind
        old = self._flat.pop(key, None)  # set again at the end: the keys stay in the order last written
        if mode == "increment":
            self._flat[key] = value + (old or 0)  # old is of value's type, or absent
        elif mode == "append":
            self._flat[key] = ([] if old is None else old if isinstance(old, list) else [old]) + [value]
        else:
            self._flat[key] = value
        self._notify(key, value, mode)

    def delete(self, key: str) -> None:
        """Remove ``key`` (a missing one too, as Cog allows); needed before changing its type."""
        check_metric_name(key, reserved=False)
        self._types.pop(key, None)
        self._flat.pop(key, None)
        self._notify(key, None, "replace")

    def _notify(self, key: str, value: Any, mode: str) -> None:
        if self._on_record is not None:
            self._on_record(key, value, mode)

    def __setitem__(self, key: str, value: Any) -> None:
        self.record(key, value)

    def __getitem__(self, key: str) -> Any:
        return self._flat[key]

    def __delitem__(self, key: str) -> None:
        self.delete(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._flat)

    def __len__(self) -> int:
        return len(self._flat)

    def as_dict(self) -> dict[str, Any]:
        """Nested form, as sent in responses: ``a.b=1`` becomes ``{"a": {"b": 1}}``. Where keys
        overlap (``a`` and ``a.b``) the one written last wins, as in Cog's metrics."""
        out: dict[str, Any] = {}
        for key, value in self._flat.items():
            *parents, leaf = key.split(".")
            node = out
            for p in parents:
                if not isinstance(node.get(p), dict):
                    node[p] = {}
                node = node[p]
            node[leaf] = value
        return out


class Scope:
    """What a running prediction can reach: its metrics and the request's ``context``."""

    def __init__(self, context: dict[str, str] | None = None, on_metric: MetricHook | None = None) -> None:
        self.metrics = Metrics(on_metric)
        self.context: dict[str, str] = dict(context or {})

    def record_metric(self, key: str, value: Any, mode: str | None = "replace") -> None:
        self.metrics.record(key, value, mode)


class _NoopMetrics(Metrics):
    """Outside a prediction, metrics are dropped unchecked; only a bad mode is an error, as in Cog."""

    def record(self, key: str, value: Any, mode: str | None = "replace") -> None:
        metric_mode(mode)

    def delete(self, key: str) -> None:
        pass


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
