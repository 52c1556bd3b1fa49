"""The prediction server: Cog's HTTP API, with the model in a separate, restartable process.

``serve()`` runs it (``cognix serve`` and the image's entrypoint ``python -m cognix.server``);
``create_app()`` builds the ASGI app. Importing this package is cheap: the web stack loads
only when a server starts.
"""

from __future__ import annotations

from typing import Any

from cognix.server.run import serve
from cognix.server.settings import Settings, settings_from_env

__all__ = ["Settings", "create_app", "serve", "settings_from_env"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from cognix.server.app import create_app

        return create_app
    raise AttributeError(name)
