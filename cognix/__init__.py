"""cognix: Cog's job on Nix. The package root is the predictor SDK (same API as ``cog``).

Folders say where code runs. In the image: ``sdk`` (what model code imports), ``runtime``
(signature, schema, inputs, outputs, predictor loading) and ``server``. On the host: ``project``
(cog.yaml, compat, lock), ``build`` (Nix generation and builds, verify, SBOM), ``image`` (archives,
inspect/diff, registry, load) and ``cli``. ``nix`` is the self-contained Nix library. See
ARCHITECTURE.md.

The SDK names load on first use, so the CLI and the server start without them."""

from typing import Any as _Any

from cognix._version import __version__

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
        from cognix import sdk

        return getattr(sdk, name)
    raise AttributeError(f"module 'cognix' has no attribute {name!r}")
