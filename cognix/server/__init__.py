"""The prediction server: Cog's HTTP API, with the model in a separate, restartable process.

``serve()`` runs it (``cognix serve`` and the image's entrypoint); ``create_app()`` builds
the ASGI app for tests and embedding.
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

import uvicorn

from .app import Settings, create_app

__all__ = ["Settings", "create_app", "serve", "settings_from_env"]

log = logging.getLogger("cognix.server")


def _env_float(name: str, default: float | None) -> float | None:
    try:
        value = float(os.environ[name])
    except (KeyError, ValueError):
        return default
    return value if value > 0 else default


def settings_from_env(**settings: Any) -> Settings:
    """Settings with Cog's runtime environment variables applied (§4.9 of Cog's API)."""
    settings.setdefault("setup_timeout", _env_float("COG_SETUP_TIMEOUT", None))
    settings.setdefault("throttle", _env_float("COG_THROTTLE_RESPONSE_INTERVAL", 0.5))
    try:
        settings.setdefault("stream_history", max(0, int(os.environ.get("COG_STREAM_HISTORY_CAPACITY", 1024))))
    except ValueError:
        settings.setdefault("stream_history", 1024)
    if "COGNIX_QUEUE_DEPTH" in os.environ:
        settings.setdefault("queue_depth", max(0, int(os.environ["COGNIX_QUEUE_DEPTH"])))
    return Settings(**settings)


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, await_explicit_shutdown: bool) -> None:
        super().__init__(config)
        self.await_explicit_shutdown = await_explicit_shutdown

    def handle_exit(self, sig: int, frame: Any) -> None:
        if self.await_explicit_shutdown and sig == signal.SIGTERM:
            log.info("SIGTERM ignored: waiting for POST /shutdown (--await-explicit-shutdown)")
            return
        super().handle_exit(sig, frame)  # stop accepting, drain in-flight predictions, exit
        # uvicorn re-raises captured signals after shutdown; a drained stop exits 0 instead
        getattr(self, "_captured_signals", []).clear()


def serve(settings: Settings, *, host: str, port: int, await_explicit_shutdown: bool = False) -> None:
    logging.basicConfig(level=os.environ.get("COG_LOG_LEVEL", "info").upper(), format="%(levelname)s %(message)s")
    holder: dict[str, _Server] = {}

    def request_shutdown() -> None:
        holder["server"].should_exit = True

    app = create_app(settings, request_shutdown)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        lifespan="on",
    )
    server = holder["server"] = _Server(config, await_explicit_shutdown)
    log.info("serving %s on http://%s:%d", settings.predict_ref or settings.train_ref, host, port)
    server.run()
