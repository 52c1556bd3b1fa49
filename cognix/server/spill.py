"""A streaming prediction's output items: in memory while small, then in a file on disk.

A model that yields as fast as it can would otherwise grow the server by every item it makes
(3.3 GB in 10 s): the items are kept for the final response, the GET and the terminal webhook.
Past :data:`MEMORY_BYTES` each further item is appended as JSON to an unlinked temporary file,
which the responses stream from; the disk it takes is freed when the last response that reads
it has been sent and the history lets the prediction go. Past ``max_bytes``
(``COGNIX_MAX_OUTPUT_BYTES``) :meth:`OutputItems.append` raises :class:`OutputTooLarge`, and the
prediction fails saying so.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

MEMORY_BYTES = 8 << 20  # the items a prediction keeps in memory before the rest goes to disk
ITEM_OVERHEAD = 64  # what a Python value costs beyond its text: 4-character tokens are 68 bytes each
READ_CHUNK = 1 << 20
_BUFFER = 1 << 16  # items are written to the file in blocks of about this size


class OutputTooLarge(Exception):
    """The items would pass the prediction's output limit."""


def size_of(value: Any) -> int:
    """Bytes an output value holds, roughly (strings dominate: data URLs, text)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(map(size_of, value))
    if isinstance(value, dict):
        return sum(map(size_of, value.values()))
    if isinstance(value, OutputItems):
        return value.size
    return 8


@dataclass
class Pieces:
    """A JSON body in pieces, read once, and its length in bytes."""

    pieces: Iterator[bytes]
    length: int

    def __iter__(self) -> Iterator[bytes]:
        return self.pieces


class OutputItems:
    """The items in order: the first ones as Python values, the rest as JSON in a file."""

    def __init__(self, dumps: Callable[[Any], bytes], max_bytes: int, memory_bytes: int = MEMORY_BYTES) -> None:
        self.dumps = dumps
        self.max_bytes = max_bytes
        self.memory_bytes = memory_bytes
        self.items: list[Any] = []
        self.count = self.size = self.held = 0  # items, their bytes, the memory those in memory take
        self._fd: int | None = None  # the spill file, unlinked: gone once closed
        self._written = 0
        self._pending: list[Any] = []  # items for the file, written as one JSON block
        self._pending_size = 0

    @property
    def spilled(self) -> bool:
        return self._fd is not None

    def append(self, value: Any) -> None:
        size = size_of(value)
        if self.size + size > self.max_bytes:
            raise OutputTooLarge(f"the output passed {self.max_bytes:,} bytes (COGNIX_MAX_OUTPUT_BYTES)")
        self.count += 1
        self.size += size
        if self._fd is None and self.held + size + ITEM_OVERHEAD <= self.memory_bytes:
            self.items.append(value)
            self.held += size + ITEM_OVERHEAD
            return
        if self._fd is None:
            fd, path = tempfile.mkstemp(prefix="cognix-output-")
            os.unlink(path)
            self._fd = fd
        self._pending.append(value)
        self._pending_size += size
        if self._pending_size >= _BUFFER:
            self._flush()

    def _flush(self) -> None:
        """Write the pending items as one JSON block. One ``dumps`` of many items, not one per
        item: a small bytes object per item, made off the main thread (Starlette streams a
        response from a thread pool), fragments the heap to many times the output's size."""
        assert self._fd is not None
        block = self.dumps(self._pending)[1:-1]  # the items of the array, comma-separated
        if self._written:
            block = b"," + block
        with memoryview(block) as data:  # at the offset: a write that failed half-way is written over
            done = 0
            while done < len(data):
                done += os.pwrite(self._fd, data[done:], self._written + done)
        self._written += len(block)
        self._pending.clear()
        self._pending_size = 0

    def chunks(self) -> Pieces:
        """The items so far as one JSON array, in pieces: the memory part, then the file's.
        Called where items are added (the event loop); the pieces may be read on another thread
        (Starlette streams from a thread pool) while more are added: they change nothing, and
        read only the bytes written before this call. Their length is known now, so a response
        or webhook carries a Content-Length, not a chunked body some receivers refuse."""
        if self._pending:
            self._flush()
        end = self._written
        memory = self.dumps(self.items)[:-1]  # "[" and the items in memory (no more come once spilled)
        comma = b"," if self.items and end else b""
        return Pieces(self._read(memory + comma, end), len(memory) + len(comma) + end + 1)

    def _read(self, memory: bytes, end: int) -> Iterator[bytes]:
        yield memory
        if self._fd is not None:
            for offset in range(0, end, READ_CHUNK):
                yield os.pread(self._fd, min(READ_CHUNK, end - offset), offset)
        yield b"]"

    def __del__(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
