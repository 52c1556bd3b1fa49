"""Webhooks: ``start`` and ``completed`` at once, ``output``/``logs`` throttled, the terminal
one retried on 429/5xx with exponential backoff (12 tries over ~111 s). Delivery never blocks or
fails the server; at shutdown it gets a bounded time to finish, and what it leaves is named."""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

from cognix._version import __version__
from cognix.server import bodies
from cognix.server.http_client import LazyClient
from cognix.server.predictions import Prediction

log = logging.getLogger("cognix.server")
RETRY_STATUSES = {429, 500, 502, 503, 504}
TERMINAL_ATTEMPTS = 12
BACKOFF_BASE = 0.1
BACKOFF_MAX = 30.0
TIMEOUT = 30.0
MAX_REDIRECTS = 5


class Webhooks:
    """One per server; :meth:`watch` attaches a prediction's webhook."""

    def __init__(self, client: LazyClient, throttle: float, token: str | None = None) -> None:
        self.client = client
        self.throttle = throttle
        self.headers = {"User-Agent": f"cognix/{__version__}", "Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.pending: dict[asyncio.Task[Any], _Delivery] = {}
        self.deadline: float | None = None  # the loop time at which a drain gives up

    def watch(self, prediction: Prediction, trace_headers: dict[str, str]) -> None:
        if prediction.webhook:
            prediction.listeners.append(_Delivery(self, prediction, prediction.webhook, trace_headers).on_event)

    def spawn(self, coro: Any, delivery: _Delivery) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.pending[task] = delivery
        task.add_done_callback(lambda done: self.pending.pop(done, None))

    def hurry(self, timeout: float) -> None:
        """Give the deliveries at most ``timeout`` more seconds, a drain under way included."""
        deadline = asyncio.get_running_loop().time() + timeout
        self.deadline = deadline if self.deadline is None else min(self.deadline, deadline)

    async def drain(self, timeout: float) -> int:
        """Shutting down: wait up to ``timeout`` seconds for the deliveries in flight, then give
        up on the rest, naming each in the log. Returns for how many predictions one was given up."""
        loop = asyncio.get_running_loop()
        self.hurry(timeout)
        if self.pending:
            log.info("shutting down: waiting up to %gs for %s", timeout, _described(self.pending.values()))
        while self.pending and self.deadline is not None and (left := self.deadline - loop.time()) > 0:
            await asyncio.wait(list(self.pending), timeout=min(left, 0.1))  # 0.1: a hurry is seen
        abandoned = dict(self.pending)
        for task, delivery in abandoned.items():
            task.cancel()
            failure = f": {delivery.failure}" if delivery.failure else " (no answer yet)"
            log.error(
                "gave up on the webhook to %s for %s at shutdown%s", delivery.url, delivery.prediction.id, failure
            )
        await asyncio.gather(*abandoned, return_exceptions=True)
        return len({delivery.prediction.id for delivery in abandoned.values()})


def _described(deliveries: Any) -> str:
    names = sorted({f"{d.prediction.id} -> {d.url}" for d in deliveries})
    return f"{len(names)} webhook deliver{'y' if len(names) == 1 else 'ies'} ({', '.join(names)})"


class _Delivery:
    """Webhook state of one prediction: sends in order, coalesces throttled events."""

    def __init__(self, hooks: Webhooks, prediction: Prediction, url: str, trace_headers: dict[str, str]) -> None:
        self.hooks = hooks
        self.prediction = prediction
        self.url = url
        self.headers = {**hooks.headers, **trace_headers}
        self.lock = asyncio.Lock()
        self.last_sent = 0.0
        self.flush_scheduled = False
        self.failure: str | None = None  # why the last try failed, for the shutdown log

    def on_event(self, prediction: Prediction, event: str) -> None:
        if event not in prediction.events_filter:
            return
        if event in ("start", "completed"):
            self.hooks.spawn(self.send(terminal=event == "completed"), self)
            return
        if not self.flush_scheduled:
            self.flush_scheduled = True
            wait = max(0.0, self.last_sent + self.hooks.throttle - asyncio.get_running_loop().time())
            self.hooks.spawn(self.flush_after(wait), self)

    async def flush_after(self, wait: float) -> None:
        await asyncio.sleep(wait)
        self.flush_scheduled = False
        if not self.prediction.terminal:  # the terminal webhook carries everything anyway
            await self.send(terminal=False)

    async def _post(self, body: Any) -> Any:
        """POST ``body``, following 307 and 308, which carry the POST to the new URL, with the
        body encoded anew each time (a spilled output is a stream, read once). Any other
        redirect is returned as it is, for the caller to call a failure."""
        url = self.url
        for _ in range(MAX_REDIRECTS):
            encoded = bodies.encode(body)  # a spilled output is read from disk as it is sent
            content: bytes | AsyncIterator[bytes]
            if isinstance(encoded, bytes):
                content, headers = encoded, self.headers
            else:
                content, headers = bodies.stream(encoded), {**self.headers, "Content-Length": str(encoded.length)}
            resp = await self.hooks.client.get().post(url, content=content, headers=headers, timeout=TIMEOUT)
            if resp.status_code not in (307, 308) or "location" not in resp.headers:
                return resp
            url = urllib.parse.urljoin(str(resp.url), resp.headers["location"])
        return resp

    async def send(self, *, terminal: bool) -> None:
        import httpx

        async with self.lock:  # one at a time, in order; the snapshot is taken when it is sent
            body = self.prediction.response()
            self.last_sent = asyncio.get_running_loop().time()
            attempts = TERMINAL_ATTEMPTS if terminal else 1
            for attempt in range(attempts):
                try:
                    resp = await self._post(body)
                    if resp.is_redirect:  # 301-303 would turn the POST into a GET without the body
                        reason = f"redirected with HTTP {resp.status_code}, which drops the body"
                        break
                    if resp.status_code not in RETRY_STATUSES:
                        return
                    reason = f"HTTP {resp.status_code}"
                except (httpx.HTTPError, httpx.StreamError, OSError) as e:  # OSError: a spilled output unread
                    reason = f"{type(e).__name__}: {e}"
                self.failure = reason
                if attempt + 1 < attempts:
                    if attempt == 0:  # said at once, not only when the retries are spent
                        log.warning(
                            "webhook %s for %s failed: %s; retrying %d times",
                            self.url,
                            self.prediction.id,
                            reason,
                            attempts - 1,
                        )
                    await asyncio.sleep(min(BACKOFF_BASE * 2**attempt, BACKOFF_MAX))
            log.warning("webhook %s for %s failed: %s", self.url, self.prediction.id, reason)
