"""``serve()``: start the model workers, then the web stack, then uvicorn."""

from __future__ import annotations

import logging
import signal
from typing import Any

from cognix.server.settings import Settings
from cognix.server.spawn import spawn_worker

log = logging.getLogger("cognix.server")


def serve(settings: Settings, *, host: str, await_explicit_shutdown: bool = False) -> None:
    """Serve on ``host`` and ``settings.port`` until stopped (SIGINT, SIGTERM, or POST /shutdown)."""
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(message)s")
    # the model starts loading now, while FastAPI and uvicorn are imported below
    workers = {
        mode: spawn_worker(settings.project_dir, ref, mode, settings.weights) for mode, ref in settings.refs.items()
    }

    import uvicorn

    from cognix.server.app import create_app

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            if await_explicit_shutdown and sig == signal.SIGTERM:
                log.info("SIGTERM ignored: waiting for POST /shutdown (--await-explicit-shutdown)")
                return
            super().handle_exit(sig, frame)  # stop accepting, drain in-flight predictions, exit
            # uvicorn re-raises captured signals after shutdown; a drained stop exits 0 instead
            getattr(self, "_captured_signals", []).clear()

    server: Server | None = None

    def request_shutdown() -> None:
        assert server is not None
        server.should_exit = True

    app = create_app(settings, request_shutdown, workers)
    config = uvicorn.Config(
        app,
        host=host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        lifespan="on",
    )
    server = Server(config)
    log.info("serving %s on http://%s:%d", ", ".join(settings.refs.values()), host, settings.port)
    server.run()
