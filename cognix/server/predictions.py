"""A prediction's state as the server tracks it, and its event stream (SSE, webhooks)."""

from __future__ import annotations

import asyncio
import collections
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cognix.runtime.signature import Kind, Signature
from cognix.server import bodies
from cognix.server.spill import OutputItems, size_of
from cognix.server.states import TERMINAL, Status

MASK = "**********"
BACKLOG = 1024  # events a live SSE client may fall behind before the model is made to wait
LAGGED = (
    "this client fell behind while other predictions share the model's process, which cannot wait for it; "
    "reconnect (PUT the same id with Accept: text/event-stream) to replay what the server keeps"
)


def now() -> str:
    return _rfc3339(time.time())


def rfc3339(timestamp: float | None) -> str | None:
    return None if timestamp is None else _rfc3339(timestamp)


def _rfc3339(timestamp: float) -> str:
    seconds = int(timestamp)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int((timestamp - seconds) * 1e6):06d}Z"


def _with_ending(
    body: dict[str, Any], error: str | None, created: float, started: float | None, completed: float | None
) -> dict[str, Any]:
    """What every prediction response ends with: its error, if any, then its three times."""
    if error is not None:
        body["error"] = error
    body.update(created_at=rfc3339(created), started_at=rfc3339(started), completed_at=rfc3339(completed))
    return body


_sequence = itertools.count()


def new_id() -> str:
    """Unique within the server: nanoseconds plus a sequence number, as hex."""
    return f"pred_{time.time_ns():x}{next(_sequence) & 0xFFF:03x}"


def masked_input(signature: Signature | None, values: dict[str, Any]) -> dict[str, Any]:
    """The request's input as it may be shown back: Secret values replaced by the mask."""
    if signature is None:
        return values
    secret = {f.name for f in signature.inputs if f.type.kind is Kind.SECRET}
    return {k: (MASK if k in secret and v is not None else v) for k, v in values.items()}


@dataclass
class Prediction:
    id: str
    input: dict[str, Any]  # validated JSON values
    shown_input: dict[str, Any]  # the same, secrets masked
    context: dict[str, str] = field(default_factory=dict)
    webhook: str | None = None
    events_filter: frozenset[str] = frozenset({"start", "output", "logs", "completed"})
    history_capacity: int = 1024
    max_output_bytes: int = 1 << 30  # an iterator's items, past which the prediction fails
    status: Status = Status.STARTING
    output: Any = None
    logs: list[str] = field(default_factory=list)
    error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    completed_at: float | None = None
    _started: float = 0.0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    history: collections.deque[tuple[int, str, Any]] = field(init=False)
    subscribers: set[asyncio.Queue[tuple[int, str, Any]]] = field(default_factory=set)
    listeners: list[Callable[[Prediction, str], None]] = field(default_factory=list)
    dropped: int = 0  # events the full history has let go: a replay's "skipped", as Cog counts them
    _seq: int = 0

    def __post_init__(self) -> None:
        self.history = collections.deque(maxlen=max(self.history_capacity, 1))

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    # --- transitions ------------------------------------------------------------------

    def start(self) -> None:
        self.status = Status.PROCESSING
        self.started_at = time.time()
        self._started = time.monotonic()
        self._emit("start", {"id": self.id, "status": Status.PROCESSING})

    def add_log(self, stream: str, text: str) -> None:
        self.logs.append(text)
        self._emit("log", {"source": stream, "data": text}, webhook="logs")

    def add_output(self, value: Any) -> None:
        """One item of an iterator's output; :class:`OutputTooLarge` past ``max_output_bytes``."""
        if self.terminal:  # e.g. failed for its size while the model was still yielding
            return
        if not isinstance(self.output, OutputItems):
            self.output = OutputItems(bodies.dumps, self.max_output_bytes)
        self.output.append(value)
        self._emit("output", {"chunk": value, "index": self.output.count - 1})

    def add_metric(self, name: str, value: Any, mode: str) -> None:
        self._emit("metric", {"name": name, "value": value, "mode": mode}, webhook=None)

    def finish(self, status: Status, *, output: Any = None, error: str | None = None, metrics: Any = None) -> None:
        if self.terminal:
            return
        self.status = status
        if status == Status.SUCCEEDED:
            self.output = output
        self.error = error
        self.metrics = dict(metrics or {})
        if self._started:
            self.metrics["predict_time"] = round(time.monotonic() - self._started, 6)
        self.completed_at = time.time()
        self._emit("completed", self.response(with_input=False), webhook="completed")  # Cog's has no input
        self.done.set()

    # --- views ------------------------------------------------------------------------

    def approx_size(self) -> int:
        """Bytes held by output and logs (strings dominate: data URLs, text)."""
        return size_of(self.output) + sum(map(len, self.logs))

    @property
    def log_text(self) -> str:
        return "".join(self.logs)

    def response(self, *, with_input: bool = True) -> dict[str, Any]:
        """The prediction as Cog's API returns it (a superset of coglet's fields)."""
        body: dict[str, Any] = {"id": self.id}
        if with_input:
            body["input"] = self.shown_input
        body.update(output=self.output, logs=self.log_text, status=self.status, metrics=self.metrics)
        return _with_ending(body, self.error, self.created_at, self.started_at, self.completed_at)

    # --- events -----------------------------------------------------------------------

    def _emit(self, event: str, data: Any, webhook: str | None = "") -> None:
        self._seq += 1
        item = (self._seq, event, data)
        if self.history_capacity:  # 0: no replay at all, and so nothing counted as dropped
            if len(self.history) == self.history.maxlen:
                self.dropped += 1
            self.history.append(item)
        for queue in self.subscribers:
            queue.put_nowait(item)
        hook = event if webhook == "" else webhook
        if hook:
            for listener in self.listeners:
                listener(self, hook)

    def congested(self) -> bool:
        """A live SSE client is :data:`BACKLOG` events behind: the worker should wait for it."""
        return any(queue.qsize() >= BACKLOG for queue in self.subscribers)

    def shed_lagging(self) -> None:
        """End the streams of the SSE clients :data:`BACKLOG` events behind, when the model
        cannot be made to wait for them: each gets, after what it has, an error event saying
        to reconnect (which replays what the history keeps), and nothing more is queued for it."""
        for queue in [q for q in self.subscribers if q.qsize() >= BACKLOG]:
            self.subscribers.discard(queue)
            queue.put_nowait((self._seq + 1, "error", {"error": LAGGED, "behind": queue.qsize()}))

    def subscribe(self) -> tuple[asyncio.Queue[tuple[int, str, Any]], list[tuple[int, str, Any]], int]:
        """A live queue, the replayed events, and how many earlier events the history dropped."""
        queue: asyncio.Queue[tuple[int, str, Any]] = asyncio.Queue()
        self.subscribers.add(queue)
        return queue, list(self.history), self.dropped


@dataclass(frozen=True, slots=True)
class Ended:
    """A finished prediction whose input, output and logs the history dropped: its id, terminal
    status, error and times, ~0.5 KB. It answers GET and a retried PUT, so an id whose payload
    outgrew the history's budget still never runs twice."""

    id: str
    status: Status
    error: str | None
    metrics: dict[str, Any]
    created_at: float
    started_at: float | None
    completed_at: float | None
    terminal = True
    DROPPED = ("input", "output", "logs")

    @classmethod
    def of(cls, prediction: Prediction) -> Ended:
        return cls(
            prediction.id,
            prediction.status,
            prediction.error,
            prediction.metrics,
            prediction.created_at,
            prediction.started_at,
            prediction.completed_at,
        )

    def response(self, *, with_input: bool = True) -> dict[str, Any]:
        """As :meth:`Prediction.response`, with ``dropped`` naming what is no longer held."""
        body: dict[str, Any] = {"id": self.id, "output": None, "logs": "", "status": self.status}
        body.update(metrics=self.metrics, dropped=list(self.DROPPED))
        return _with_ending(body, self.error, self.created_at, self.started_at, self.completed_at)


class History:
    """Recent predictions by id: active ones always; finished ones up to ``capacity`` of
    them and ``max_bytes`` of outputs and logs, the oldest forgotten first. A forgotten one is
    kept as an :class:`Ended` record for as long as it is among the last ``ended`` finished."""

    def __init__(self, capacity: int = 1000, max_bytes: int = 256 << 20, ended: int = 10_000) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.bytes = 0
        self.active: dict[str, Prediction] = {}
        self.finished: collections.OrderedDict[str, tuple[Prediction, int]] = collections.OrderedDict()
        self.ended_capacity = ended
        self.ended: collections.OrderedDict[str, Ended] = collections.OrderedDict()

    def get(self, prediction_id: str) -> Prediction | Ended | None:
        if prediction_id in self.active:
            return self.active[prediction_id]
        entry = self.finished.get(prediction_id)
        return entry[0] if entry else self.ended.get(prediction_id)

    def add(self, prediction: Prediction) -> None:
        self.active[prediction.id] = prediction

    def retire(self, prediction: Prediction) -> None:
        self.active.pop(prediction.id, None)
        prediction.subscribers.clear()
        prediction.listeners.clear()
        size = prediction.approx_size()
        if size > self.max_bytes:  # kept, it would push out every other: only its record stays
            self._end(prediction)
            return
        self.finished[prediction.id] = (prediction, size)
        self.bytes += size
        while self.finished and (len(self.finished) > self.capacity or self.bytes > self.max_bytes):
            _, (oldest, dropped) = self.finished.popitem(last=False)
            self.bytes -= dropped
            self._end(oldest)

    def _end(self, prediction: Prediction) -> None:
        self.ended[prediction.id] = Ended.of(prediction)
        while len(self.ended) > self.ended_capacity:
            self.ended.popitem(last=False)
