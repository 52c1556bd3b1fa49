"""Typed messages between the HTTP server and its worker process, and their framing.

One frame is a 4-byte big-endian length and a pickle of one message object; both ends are
trusted parts of cognix. The server side is asyncio, the worker side blocking.
"""

from __future__ import annotations

import asyncio
import pickle
import socket
import struct
import threading
from dataclasses import dataclass
from typing import Any

from cognix.runtime.signature import Signature

_HEADER = struct.Struct(">I")


class _Message:
    """Base of every message. Pickled as its class and field values: the default for slotted
    dataclasses builds a state list and sets each field apart, on every message of the hot path."""

    __slots__: tuple[str, ...] = ()  # each subclass's: its field names, in order

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        return type(self), tuple([getattr(self, name) for name in self.__slots__])


# --- server → worker ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Predict(_Message):
    """Run a prediction; file inputs are local paths by now."""

    prediction_id: str
    inputs: dict[str, Any]
    context: dict[str, str]


@dataclass(frozen=True, slots=True)
class Cancel(_Message):
    """Cancel a running prediction (ignored once it has finished)."""

    prediction_id: str


@dataclass(frozen=True, slots=True)
class Healthcheck(_Message):
    """Run the model's ``healthcheck()``; answered by a :class:`HealthcheckResult` of the same id."""

    request_id: int


# --- worker → server ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignatureReport(_Message):
    """The model is imported: what it takes and returns; its ``setup()`` runs next."""

    signature: Signature
    has_healthcheck: bool


@dataclass(frozen=True, slots=True)
class SetupDone(_Message):
    """``setup()`` finished (or importing the model failed); ``error`` is shown in the setup logs."""

    succeeded: bool
    error: str | None


@dataclass(frozen=True, slots=True)
class Log(_Message):
    """Output the model wrote: to a prediction, or to setup when ``prediction_id`` is None."""

    prediction_id: str | None
    stream: str  # stdout | stderr
    text: str


@dataclass(frozen=True, slots=True)
class Output(_Message):
    """One item of an iterator's output, sent as soon as the model yields it."""

    prediction_id: str
    value: Any


@dataclass(frozen=True, slots=True)
class Metric(_Message):
    """A metric the model recorded, with how it combines with earlier values."""

    prediction_id: str
    name: str
    value: Any
    mode: str


@dataclass(frozen=True, slots=True)
class Done(_Message):
    """A prediction succeeded. When ``streamed``, its items came as :class:`Output` messages and
    ``output`` is None: the server already holds them, resolved."""

    prediction_id: str
    output: Any
    metrics: dict[str, Any]
    streamed: bool = False


@dataclass(frozen=True, slots=True)
class Failed(_Message):
    """A prediction raised (or called ``sys.exit()``)."""

    prediction_id: str
    error: str
    metrics: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Canceled(_Message):
    """A prediction stopped after a :class:`Cancel`."""

    prediction_id: str
    metrics: dict[str, Any]


@dataclass(frozen=True, slots=True)
class HealthcheckResult(_Message):
    """The answer to a :class:`Healthcheck`: the error text, or None when healthy."""

    request_id: int
    error: str | None


ServerMessage = Predict | Cancel | Healthcheck
WorkerMessage = SignatureReport | SetupDone | Log | Output | Metric | Done | Failed | Canceled | HealthcheckResult


class FileRef(str):
    """An output file path the server must turn into a URL (data: or uploaded)."""


class TemporaryFileRef(FileRef):
    """A FileRef to a copy cognix made (of a file-like output): deleted once read."""


def file_ref(path: object, temporary: bool = False) -> FileRef:
    """The worker's file sink for :func:`cognix.runtime.outputs.encode`."""
    return (TemporaryFileRef if temporary else FileRef)(str(path))


def encode(message: ServerMessage | WorkerMessage) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


class BlockingChannel:
    """Worker end: thread-safe sends, blocking receives."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._lock = threading.Lock()
        self._file = sock.makefile("rb")

    def send(self, message: WorkerMessage) -> None:
        data = encode(message)
        with self._lock:
            self.sock.sendall(data)

    def recv(self) -> ServerMessage | None:
        header = self._file.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return None
        (size,) = _HEADER.unpack(header)
        message: ServerMessage = pickle.loads(self._file.read(size))  # trusted: our own server
        return message


async def read_message(reader: asyncio.StreamReader) -> WorkerMessage | None:
    """Server end: the next message, or None once the worker has gone."""
    try:
        header = await reader.readexactly(_HEADER.size)
        (size,) = _HEADER.unpack(header)
        message: WorkerMessage = pickle.loads(await reader.readexactly(size))  # trusted: our own worker
        return message
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
