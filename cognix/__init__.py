"""cognix: Cog's job on Nix. The package root is the predictor SDK (same API as ``cog``);
the build pipeline lives in submodules: config → compat → lock → to_nix → oci → registry,
and SDK → signature → schema → server.

The SDK names load on first use, so the CLI and the server start without them."""

from typing import Any as _Any

from ._version import __version__

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


def __getattr__(name: str) -> _Any:
    if name in __all__ or name == "emit_metric":  # emit_metric: a deprecated shim, warns on first use
        from . import sdk

        return getattr(sdk, name)
    raise AttributeError(f"module 'cognix' has no attribute {name!r}")
