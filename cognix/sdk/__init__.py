"""The Cog-compatible SDK. Importable as ``cognix`` and, when the real ``cog`` package is
not installed, as ``cog`` (see ``_cognix_cog_alias``)."""

from __future__ import annotations

import sys as _sys
from typing import Any as _Any

from cognix._version import __version__ as __version__
from cognix.sdk.decorators import concurrent as concurrent
from cognix.sdk.decorators import streaming as streaming
from cognix.sdk.input import FieldInfo as FieldInfo
from cognix.sdk.input import Input as Input
from cognix.sdk.model import BaseModel as BaseModel
from cognix.sdk.opaque import Opaque as Opaque
from cognix.sdk.predictor import BasePredictor as BasePredictor
from cognix.sdk.predictor import BaseRunner as BaseRunner
from cognix.sdk.scope import current_scope as current_scope
from cognix.sdk.types import AsyncConcatenateIterator as AsyncConcatenateIterator
from cognix.sdk.types import ConcatenateIterator as ConcatenateIterator
from cognix.sdk.types import File as File
from cognix.sdk.types import Path as Path
from cognix.sdk.types import Secret as Secret
from cognix.sdk.types import URLFile as URLFile
from cognix.sdk.types import URLPath as URLPath


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


from cognix import __all__ as __all__  # noqa: E402 - one list of public names, kept at the package root
