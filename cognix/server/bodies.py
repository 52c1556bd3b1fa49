"""JSON bodies of responses and webhooks: one encoder, and the pieces of a spilled output.

orjson writes them (responses carry whole files as data URLs, and JSON is much of the hot path's
work), with the json module as fallback for what orjson refuses (integers beyond 64 bits). Both
write NaN and infinities as null: a bare NaN is not JSON, and clients' parsers reject the whole
body. A body whose output is on disk (:mod:`cognix.server.spill`) is written in pieces.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import orjson

from cognix.server.spill import OutputItems, Pieces

_MARK = "\0cognix-spilled-output-" + os.urandom(8).hex()  # stands in for the items; never in a body


def dumps(body: Any, *, sort_keys: bool = False) -> bytes:
    """Compact JSON; ``sort_keys`` orders every object's keys, as coglet's SSE events are."""
    try:
        return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS | (orjson.OPT_SORT_KEYS if sort_keys else 0))
    except TypeError:  # e.g. integers beyond 64 bits, which orjson refuses
        return json.dumps(
            _finite(body), ensure_ascii=False, separators=(",", ":"), allow_nan=False, sort_keys=sort_keys
        ).encode()


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def encode(body: Any, *, sort_keys: bool = False) -> bytes | Pieces:
    """``body`` as JSON: bytes, or pieces when its ``output`` is items partly on disk (those
    items are written as they were spilled, whatever ``sort_keys`` says)."""
    output = body.get("output") if isinstance(body, dict) else None
    if not isinstance(output, OutputItems):
        return dumps(body, sort_keys=sort_keys)
    if not output.spilled:
        return dumps({**body, "output": output.items}, sort_keys=sort_keys)
    head, tail = dumps({**body, "output": _MARK}, sort_keys=sort_keys).split(dumps(_MARK), 1)
    items = output.chunks()  # the items as they are now, whoever reads them later
    return Pieces(_joined(head, items, tail), len(head) + items.length + len(tail))


def _joined(head: bytes, items: Iterable[bytes], tail: bytes) -> Iterator[bytes]:
    yield head
    yield from items
    yield tail


async def stream(body: Pieces) -> AsyncIterator[bytes]:
    """An encoded body as an async stream, for the HTTP clients that take one."""
    for piece in body:
        yield piece
