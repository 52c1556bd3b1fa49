"""Framed messages between the HTTP server and its worker process.

One frame is a 4-byte big-endian length and a pickle of a tuple ``(kind, *fields)``;
both ends are trusted parts of cognix. The server side is asyncio, the worker side blocking.
"""

from __future__ import annotations

import asyncio
import pickle
import socket
import struct
import threading
from typing import Any

_HEADER = struct.Struct(">I")

# server → worker
PREDICT = "predict"  # (id, inputs, context)
CANCEL = "cancel"  # (id,)
HEALTHCHECK = "healthcheck"  # (request id,)
# worker → server
SIGNATURE = "signature"  # (Signature, has_healthcheck)
SETUP = "setup"  # (ok, logs)
LOG = "log"  # (prediction id or None, stream, text)
OUTPUT = "output"  # (id, value) for each item of an iterator output
METRIC = "metric"  # (id, name, value, mode)
DONE = "done"  # (id, output or STREAMED, metrics)
STREAMED = "\0streamed"  # DONE's output for iterators: the items were sent one by one
FAILED = "failed"  # (id, error, metrics)
CANCELED = "canceled"  # (id, metrics)
HEALTH = "health"  # (request id, error or None)


class FileRef(str):
    """An output file path the server must turn into a URL (data: or uploaded)."""


class TemporaryFileRef(FileRef):
    """A FileRef to a copy cognix made (of a file-like output): deleted once read."""


def file_ref(path: object, temporary: bool = False) -> FileRef:
    """The worker's file sink for :func:`cognix.runtime.outputs.encode`."""
    return (TemporaryFileRef if temporary else FileRef)(str(path))


def encode(message: tuple[Any, ...]) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


class BlockingChannel:
    """Worker end: thread-safe sends, blocking receives."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._lock = threading.Lock()
        self._file = sock.makefile("rb")

    def send(self, *message: Any) -> None:
        data = encode(message)
        with self._lock:
            self.sock.sendall(data)

    def recv(self) -> tuple[Any, ...] | None:
        header = self._file.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return None
        (size,) = _HEADER.unpack(header)
        return pickle.loads(self._file.read(size))  # noqa: S301 - our own worker


async def read_message(reader: asyncio.StreamReader) -> tuple[Any, ...] | None:
    """Server end: the next message, or None once the worker has gone."""
    try:
        header = await reader.readexactly(_HEADER.size)
        (size,) = _HEADER.unpack(header)
        return pickle.loads(await reader.readexactly(size))  # noqa: S301 - our own worker
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
