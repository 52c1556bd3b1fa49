"""cognix: Cog's job on Nix. The package root is the predictor SDK (same API as ``cog``);
the build pipeline lives in submodules: config → compat → lock → to_nix → oci → registry,
and SDK → signature → schema → server."""

from typing import Any as _Any

from . import sdk as _sdk
from .sdk import *  # noqa: F403
from .sdk import __all__, __version__  # noqa: F401


def __getattr__(name: str) -> _Any:
    if name == "emit_metric":  # deprecated shim, created (with its warning) on first use
        return _sdk.emit_metric
    raise AttributeError(f"module 'cognix' has no attribute {name!r}")
