"""The Cog-compatible SDK. Importable as ``cognix`` and, when the real ``cog`` package is
not installed, as ``cog`` (see ``_cognix_cog_alias``)."""

from __future__ import annotations

import sys as _sys
from typing import Any as _Any

from .._version import __version__
from .decorators import concurrent, streaming
from .input import FieldInfo, Input
from .model import BaseModel
from .opaque import Opaque
from .predictor import BasePredictor, BaseRunner
from .scope import current_scope
from .types import (
    AsyncConcatenateIterator,
    ConcatenateIterator,
    File,
    Path,
    Secret,
    URLFile,
    URLPath,
)


class CancelationException(BaseException):
    """Raised inside a sync ``run()`` when its prediction is canceled; re-raise it."""


class ExperimentalFeatureWarning(FutureWarning):
    """Deprecated; kept so that old ``warnings.filterwarnings`` calls still import."""


def __getattr__(name: str) -> _Any:
    if name == "emit_metric":
        print("cog: emit_metric() is deprecated; use current_scope().record_metric(name, value).", file=_sys.stderr)

        def emit_metric(key: str, value: float) -> None:
            current_scope().record_metric(key, value)

        globals()["emit_metric"] = emit_metric
        return emit_metric
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AsyncConcatenateIterator",
    "BaseModel",
    "BasePredictor",
    "BaseRunner",
    "CancelationException",
    "ConcatenateIterator",
    "ExperimentalFeatureWarning",
    "FieldInfo",
    "File",
    "Input",
    "Opaque",
    "Path",
    "Secret",
    "URLFile",
    "URLPath",
    "__version__",
    "concurrent",
    "current_scope",
    "streaming",
]
