"""Server-Sent Events for streaming predictions: live events, replay for reconnecting clients.

Each event's ``data:`` is compact JSON with its keys sorted, the bytes coglet writes (its
serde_json maps are ordered by key): ``{"chunk":"t0","index":0}``, ``{"data":"…","source":"stdout"}``,
``{"mode":"increment","name":"count","value":1}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

from cognix.server import bodies
from cognix.server.predictions import Ended, Prediction

KEEPALIVE = 15.0  # seconds between comment lines on an idle stream
Event = tuple[int, str, Any]


def events(prediction: Prediction | Ended) -> AsyncIterator[bytes]:
    """The prediction's events as SSE. Subscribes now, not at the first read, so nothing
    emitted between this call and the response starting is lost. Of an :class:`Ended` one,
    whose events the history dropped, or a finished one that kept none
    (``COG_STREAM_HISTORY_CAPACITY=0``), only the terminal event is left to send."""
    if isinstance(prediction, Ended) or (prediction.terminal and not prediction.history_capacity):
        return _ended(prediction)
    return _stream(prediction, *prediction.subscribe())


async def _ended(prediction: Prediction | Ended) -> AsyncIterator[bytes]:
    for piece in _format("completed", prediction.response(with_input=False)):
        yield piece


async def _stream(
    prediction: Prediction, queue: asyncio.Queue[Event], replay: list[Event], skipped: int
) -> AsyncIterator[bytes]:
    try:
        if skipped:  # the replay buffer no longer holds the first events: Cog says so, and stops
            truncated = {"error": "SSE stream replay truncated; events were dropped", "skipped": skipped}
            for piece in _format("error", truncated):
                yield piece
            return
        last = 0
        for seq, event, data in replay:
            last = seq
            for piece in _format(event, data):
                yield piece
            if event == "completed":
                return
        while True:
            try:
                seq, event, data = await asyncio.wait_for(queue.get(), KEEPALIVE)
            except asyncio.TimeoutError:  # not the builtin TimeoutError on Python 3.10
                yield b": keep-alive\n\n"
                continue
            if seq <= last:
                continue
            for piece in _format(event, data):
                yield piece
            if event in ("completed", "error"):  # error: this client was let go (Prediction.shed_lagging)
                return
    finally:
        prediction.subscribers.discard(queue)


def _format(event: str, data: Any) -> Iterator[bytes]:
    """One event, in pieces when its data holds an output spilled to disk. JSON has no newline,
    so the data is one line."""
    encoded = bodies.encode(data, sort_keys=True)
    yield b"event: " + event.encode() + b"\ndata: "
    yield from [encoded] if isinstance(encoded, bytes) else encoded
    yield b"\n\n"
