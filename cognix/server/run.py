"""``serve()``: start the model workers, then the web stack, then uvicorn."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from cognix.server.settings import Settings
from cognix.server.spawn import spawn_worker

log = logging.getLogger("cognix.server")


FORCED = "the server was stopped (Ctrl-C twice) before this prediction finished"


def serve(settings: Settings, *, host: str, await_explicit_shutdown: bool = False) -> int:
    """Serve on ``host`` and ``settings.port`` until stopped (SIGINT, SIGTERM, or POST /shutdown).
    A stop drains in-flight work; a second Ctrl-C ends it as failed. Returns the exit status:
    1 when a stop left work unfinished (a prediction, or a webhook it gave up on), else 0."""
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(message)s")
    # the model starts loading now, while FastAPI and uvicorn are imported below
    workers = {
        mode: spawn_worker(settings.project_dir, ref, mode, settings.weights) for mode, ref in settings.refs.items()
    }

    import uvicorn

    from cognix.server.app import create_app

    class Server(uvicorn.Server):
        forced: asyncio.Task[None] | None = None
        forcing = False

        def handle_exit(self, sig: int, frame: Any) -> None:
            if await_explicit_shutdown and sig == signal.SIGTERM:
                log.info("SIGTERM ignored: waiting for POST /shutdown (--await-explicit-shutdown)")
                return
            super().handle_exit(sig, frame)  # stop accepting, drain in-flight predictions, exit
            # uvicorn re-raises captured signals after shutdown; the exit status says what was lost
            getattr(self, "_captured_signals", []).clear()
            if self.force_exit and not self.forcing:  # uvicorn stops waiting; the work ends now
                self.forcing = True  # at once: a third Ctrl-C must not abandon it twice
                loop = asyncio.get_running_loop()
                loop.call_soon_threadsafe(lambda: setattr(self, "forced", loop.create_task(app.api.abandon(FORCED))))

        async def shutdown(self, sockets: Any = None) -> None:
            await super().shutdown(sockets)
            if self.forced is not None:  # uvicorn skips the app's shutdown when forced
                await self.forced

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
    if settings.playground:
        log.info("playground on http://%s:%d/playground/", host, settings.port)
    server.run()
    return 1 if app.api.lost else 0
