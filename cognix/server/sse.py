"""Server-Sent Events for streaming predictions: live events, replay for reconnecting clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from cognix.server.predictions import Ended, Prediction

KEEPALIVE = 15.0  # seconds between comment lines on an idle stream
Event = tuple[int, str, Any]


def events(prediction: Prediction | Ended) -> AsyncIterator[str]:
    """The prediction's events as SSE. Subscribes now, not at the first read, so nothing
    emitted between this call and the response starting is lost. Of an :class:`Ended` one,
    whose events the history dropped, only the terminal event is left to send."""
    if isinstance(prediction, Ended):
        return _ended(prediction)
    return _stream(prediction, *prediction.subscribe())


async def _ended(prediction: Ended) -> AsyncIterator[str]:
    yield _format("completed", prediction.response())


async def _stream(
    prediction: Prediction, queue: asyncio.Queue[Event], replay: list[Event], skipped: int
) -> AsyncIterator[str]:
    try:
        if skipped:  # a reconnecting client asked for more than the replay buffer holds
            yield _format(
                "error", {"error": "SSE stream replay truncated: earlier events were dropped", "skipped": skipped}
            )
            return
        last = 0
        for seq, event, data in replay:
            last = seq
            yield _format(event, data)
            if event == "completed":
                return
        while True:
            try:
                seq, event, data = await asyncio.wait_for(queue.get(), KEEPALIVE)
            except asyncio.TimeoutError:  # not the builtin TimeoutError on Python 3.10
                yield ": keep-alive\n\n"
                continue
            if seq <= last:
                continue
            yield _format(event, data)
            if event == "completed":
                return
    finally:
        prediction.subscribers.discard(queue)


def _format(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
