"""Runs the model in a worker process, dispatches predictions to it, and restarts it after
a crash. Predictions wait in a bounded queue for a free slot instead of being refused."""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cognix.runtime.signature import Signature
from cognix.server import ipc
from cognix.server.files import OutputFiles, has_files
from cognix.server.predictions import Prediction, now
from cognix.server.settings import Settings
from cognix.server.spawn import spawn_worker
from cognix.server.spill import OutputTooLarge
from cognix.server.states import Health, Status

WorkerHandle = tuple[subprocess.Popen[bytes], socket.socket]

log = logging.getLogger("cognix.server")
CRASH_WINDOW = 60.0  # seconds
MAX_CRASHES = 5  # in CRASH_WINDOW, then DEFUNCT


class AtCapacity(Exception):
    """Every slot is busy and the queue is full."""


class NotReady(Exception):
    """The model is not ready (starting, setup failed, defunct)."""


@dataclass
class SetupInfo:
    started_at: str | None = None
    completed_at: str | None = None
    status: Status | None = None  # starting | succeeded | failed
    logs: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"started_at": self.started_at, "status": self.status}
        if self.completed_at:
            body["completed_at"] = self.completed_at
        body["logs"] = "".join(self.logs)
        return body


class Supervisor:
    """The model side of the server: one worker process and the predictions sent to it."""

    def __init__(self, settings: Settings, ref: str, mode: str, outputs: OutputFiles) -> None:
        self.settings = settings
        self.ref = ref
        self.mode = mode
        self.outputs = outputs
        self.signature: Signature | None = None
        self.has_healthcheck = False
        self.setup = SetupInfo()
        self.state = Health.STARTING
        self.slots = 1
        self.ready = asyncio.Event()
        self.running: dict[str, Prediction] = {}  # sent to the worker
        self._queued: set[str] = set()  # admitted, waiting for a slot
        self._semaphore: asyncio.Semaphore | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._signature_seen = asyncio.Event()
        self._crashes: collections.deque[float] = collections.deque()
        self._health_waiters: dict[int, asyncio.Future[str | None]] = {}
        self._health_ids = itertools.count()
        self._file_locks: dict[str, asyncio.Lock] = {}
        self._canceling: set[str] = set()  # predictions told to cancel: read on, whoever lags
        self._paced = False  # the worker is not read while an SSE client catches up (_keep_pace)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self.restarting = False  # after a crash: new predictions queue until setup is done again

    # --- worker process -----------------------------------------------------------------

    async def start(self, worker: WorkerHandle | None = None) -> None:
        """Start (or adopt) the worker; return once its signature is known (setup may still run)."""
        await self._spawn(worker)
        await self._signature_seen.wait()

    async def _spawn(self, worker: WorkerHandle | None = None) -> None:
        self.state = Health.STARTING
        self.ready.clear()
        self.setup = SetupInfo(started_at=now(), status=Status.STARTING)
        s = self.settings
        self._process, sock = worker or spawn_worker(s.project_dir, self.ref, self.mode, s.weights)
        reader, self._writer = await asyncio.open_unix_connection(sock=sock)
        self._background(self._read(reader, self._process))
        if s.setup_timeout:
            self._background(self._enforce_setup_timeout(self._process, s.setup_timeout))

    async def _enforce_setup_timeout(self, process: subprocess.Popen[bytes], timeout: float) -> None:
        await asyncio.sleep(timeout)
        if process is self._process and self.setup.status == Status.STARTING:
            self._refuse_setup(f"setup did not finish within COG_SETUP_TIMEOUT={timeout:g}s")

    def _refuse_setup(self, reason: str) -> None:
        """Fail setup for ``reason`` and stop the model process, whatever it is doing."""
        self.setup.logs.append(reason + "\n")
        self._setup_failed()
        if self._process is not None:
            self._process.kill()

    def _setup_failed(self) -> None:
        self.setup.status = Status.FAILED
        self.setup.completed_at = now()
        self.state = Health.SETUP_FAILED
        self._signature_seen.set()

    async def _read(self, reader: asyncio.StreamReader, process: subprocess.Popen[bytes]) -> None:
        while (message := await ipc.read_message(reader)) is not None:
            try:
                self._handle(message)
            except Exception as error:  # a server bug: it fails the prediction, never this reader
                self._handling_failed(message, error)
            if type(message) is ipc.Output:
                await self._keep_pace(message.prediction_id)
        await asyncio.get_running_loop().run_in_executor(None, process.wait)
        if not self._stopping:
            await self._worker_exited(process.returncode)

    def _handling_failed(self, message: ipc.WorkerMessage, error: Exception) -> None:
        log.exception("the server failed on the model's %s message", type(message).__name__)
        prediction = self.running.get(getattr(message, "prediction_id", None) or "")
        if prediction is not None:
            self._fail(prediction, f"internal error: {type(error).__name__}: {error}")

    async def _keep_pace(self, prediction_id: str) -> None:
        """Backpressure: while an SSE client is far behind, the worker is not read, so its sends
        block and the model yields no faster than the slowest live client reads. Only while this
        prediction is the worker's one: with others running, pausing would stall them too, so
        the lagging client is let go instead. A cancel, or a new prediction, ends the wait."""
        prediction = self.running.get(prediction_id)
        if prediction is None or not prediction.congested():
            return
        if len(self.running) > 1:
            prediction.shed_lagging()
            return
        self._paced = True
        try:
            while prediction.congested() and not prediction.terminal and len(self.running) == 1:
                if prediction.id in self._canceling:
                    return
                await asyncio.sleep(0.005)
        finally:
            self._paced = False
        if len(self.running) > 1:  # one started meanwhile
            prediction.shed_lagging()

    def _handle(self, message: ipc.WorkerMessage) -> None:
        # the per-prediction messages first: they are the hot path. Class patterns without
        # sub-patterns, as a capture costs an attribute lookup per field on every message.
        match message:
            case ipc.Log():
                self._log(message)
            case ipc.Output():
                self._with_files(message.prediction_id, message.value, self._add_output)
            case ipc.Done():
                self._succeeded(message)
            case ipc.Failed():
                self._with_files(
                    message.prediction_id,
                    None,
                    lambda p, _: self._finish(p, Status.FAILED, error=message.error, metrics=message.metrics),
                )
            case ipc.Canceled():
                self._with_files(
                    message.prediction_id, None, lambda p, _: self._finish(p, Status.CANCELED, metrics=message.metrics)
                )
            case ipc.Metric():
                if prediction := self.running.get(message.prediction_id):
                    prediction.add_metric(message.name, message.value, message.mode)
            case ipc.HealthcheckResult():
                future = self._health_waiters.pop(message.request_id, None)
                if future is not None and not future.done():
                    future.set_result(message.error)
            case ipc.SignatureReport():
                self._loaded(message.signature, message.has_healthcheck)
            case ipc.SetupDone():
                self._setup_done(message.succeeded, message.error)

    def _log(self, message: ipc.Log) -> None:
        prediction = self.running.get(message.prediction_id) if message.prediction_id else None
        if prediction is not None:
            prediction.add_log(message.stream, message.text)
        elif self.setup.status == Status.STARTING:
            self.setup.logs.append(message.text)
        else:
            sys.stderr.write(message.text)

    def _succeeded(self, message: ipc.Done) -> None:
        if message.streamed:  # the items came as Output messages, already resolved
            self._with_files(
                message.prediction_id,
                None,
                lambda p, _: self._finish(p, Status.SUCCEEDED, output=p.output or [], metrics=message.metrics),
            )
        else:
            self._with_files(
                message.prediction_id,
                message.output,
                lambda p, value: self._finish(p, Status.SUCCEEDED, output=value, metrics=message.metrics),
            )

    def _loaded(self, signature: Signature, has_healthcheck: bool) -> None:
        self.signature, self.has_healthcheck = signature, has_healthcheck
        refused = signature.concurrency_error(self.settings.concurrency, "COG_MAX_CONCURRENCY")
        if refused:  # before setup() runs: a synchronous run() must not be called concurrently
            self._refuse_setup(refused)
            return
        self.slots = self._concurrency(signature)
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.slots)
        self._signature_seen.set()

    def _setup_done(self, succeeded: bool, error: str | None) -> None:
        if self.setup.status == Status.FAILED:
            return  # refused already (timed out, or a concurrency the model cannot take)
        if not succeeded:
            if error:
                self.setup.logs.append(error + "\n")
            self._setup_failed()
            return
        self.setup.status = Status.SUCCEEDED
        self.setup.completed_at = now()
        self.state = Health.READY
        self.restarting = False
        self.ready.set()
        if self.settings.kubernetes:
            _mark_k8s_ready()

    def _with_files(self, prediction_id: str, value: Any, apply: Callable[[Prediction, Any], None]) -> None:
        """Apply a worker message in order; outputs holding files wait for their URLs first.
        A file that cannot be read fails its prediction, never the reader of this channel."""
        prediction = self.running.get(prediction_id)
        if prediction is None:
            return
        lock = self._file_locks.get(prediction_id)
        if lock is None:
            try:  # small files now; what is left (uploads, big files) below, without redoing these
                done, value = self.outputs.resolve_now(value) if has_files(value) else (True, value)
            except OSError as e:
                self._fail(prediction, f"cannot read an output file: {e}")
                return
            if done:
                apply(prediction, value)
                return
            lock = self._file_locks[prediction_id] = asyncio.Lock()

        async def resolve_then_apply() -> None:
            async with lock:
                if prediction.terminal:
                    return
                try:
                    resolved = await self.outputs.resolve(value)
                except OSError as e:
                    self._fail(prediction, f"cannot read an output file: {e}")
                    return
                apply(prediction, resolved)

        self._background(resolve_then_apply())

    def _add_output(self, prediction: Prediction, value: Any) -> None:
        try:
            prediction.add_output(value)
        except OutputTooLarge as error:
            self._fail(prediction, f"{error}; return files for large outputs, or raise the limit")

    def _fail(self, prediction: Prediction, error: str) -> None:
        """End a running prediction as failed here, and stop it in the worker, where an
        iterator may still be producing for it."""
        self._send(ipc.Cancel(prediction.id))
        self._finish(prediction, Status.FAILED, error=error)

    def _background(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)  # a reference, so the task is not collected mid-way
        task.add_done_callback(self._tasks.discard)

    def _finish(self, prediction: Prediction, status: Status, **result: Any) -> None:
        self.running.pop(prediction.id, None)
        self._canceling.discard(prediction.id)
        self._file_locks.pop(prediction.id, None)
        prediction.finish(status, **result)

    def _concurrency(self, signature: Signature) -> int:
        """The settings' (``COG_MAX_CONCURRENCY``, then cog.yaml), then ``@concurrent``, then 1.
        (``@concurrent`` itself refuses max > 1 on a synchronous ``run()``; the settings are
        refused when the model loads, as Cog's setup does.)"""
        return self.settings.concurrency or signature.concurrency or 1

    async def _worker_exited(self, returncode: int | None) -> None:
        reason = _exit_reason(returncode)
        for prediction in list(self.running.values()):
            self._finish(prediction, Status.FAILED, error=f"the model process {reason}; the model is being restarted")
        if self.setup.status != Status.SUCCEEDED:
            if self.setup.status == Status.STARTING:
                self.setup.logs.append(f"the model process {reason} during setup\n")
                self._setup_failed()
            self.restarting = False
            self.ready.set()  # wake queued predictions: they fail with the reason
            return
        self._crashes.append(time.monotonic())
        while self._crashes and self._crashes[0] < time.monotonic() - CRASH_WINDOW:
            self._crashes.popleft()
        if len(self._crashes) > MAX_CRASHES:
            log.error("the model process %s %d times in %ds; giving up", reason, len(self._crashes), CRASH_WINDOW)
            self.state = Health.DEFUNCT
            self.ready.set()
            return
        log.warning("the model process %s; restarting it", reason)
        self.restarting = True
        await self._spawn()

    # --- predictions ------------------------------------------------------------------

    def check_ready(self) -> None:
        if self.state != Health.READY and not self.restarting:
            raise NotReady(self._not_ready_reason())

    def _not_ready_reason(self) -> str:
        return {
            Health.STARTING: "Setup has not finished yet",
            Health.SETUP_FAILED: "Setup failed",
            Health.DEFUNCT: "The model process crashed repeatedly and was not restarted",
        }.get(self.state, "Not ready")

    def admit(self, prediction_id: str) -> None:
        """Take a place for a new prediction; refuse only when the slots are busy *and* the
        queue is full. The place is held until the prediction gets a slot or is dropped."""
        self.check_ready()
        if len(self.running) + len(self._queued) >= self.slots + self.settings.queue_depth:
            raise AtCapacity()
        self._queued.add(prediction_id)

    def drop(self, prediction_id: str) -> None:
        """Give back the place of a prediction that will not run (bad input, failed download)."""
        self._queued.discard(prediction_id)

    @property
    def waiting(self) -> int:
        return len(self._queued)

    async def run(self, prediction: Prediction) -> None:
        """Wait for a slot, send to the worker, and wait until the prediction is terminal.
        Whatever fails on the way (encoding the input for the worker, a dead pipe, this task
        being cancelled), the prediction ends in exactly one terminal state and frees its slot."""
        assert self._semaphore is not None
        await self._semaphore.acquire()
        self._queued.discard(prediction.id)
        try:
            await self.ready.wait()  # through a restart, if one is under way
            if prediction.terminal:  # canceled while it waited
                return
            if self.state in (Health.SETUP_FAILED, Health.DEFUNCT):
                prediction.finish(Status.FAILED, error=self._not_ready_reason())
                return
            self.running[prediction.id] = prediction
            prediction.start()
            try:
                self._send(ipc.Predict(prediction.id, prediction.input, prediction.context))
            except Exception as error:  # e.g. RecursionError pickling the input: the worker never got it
                log.error("prediction %s could not be sent to the model: %r", prediction.id, error)
                prediction.finish(Status.FAILED, error=f"the input could not be passed to the model: {error!r}")
                return
            await prediction.done.wait()
        finally:
            if not prediction.terminal:
                prediction.finish(Status.FAILED, error="the prediction was interrupted before it finished")
            self.running.pop(prediction.id, None)
            self._semaphore.release()

    def cancel(self, prediction: Prediction) -> None:
        if prediction.id in self.running:
            self._canceling.add(prediction.id)  # read on, so the worker can answer it
            self._send(ipc.Cancel(prediction.id))
        else:  # still queued: it never reaches the model, and its place is free at once
            self._queued.discard(prediction.id)
            prediction.finish(Status.CANCELED)

    def _send(self, message: ipc.ServerMessage) -> None:
        assert self._writer is not None
        self._writer.write(ipc.encode(message))

    @property
    def busy(self) -> bool:
        return len(self.running) >= self.slots

    async def user_healthcheck(self, timeout: float = 10.0) -> str | None:
        """Run the model's ``healthcheck()``; the error text, or None when healthy. The worker
        gives it 5 s and says so; ``timeout`` is for a worker that does not answer (as
        coglet's orchestrator waits 10 s, with its message)."""
        if not self.has_healthcheck or self.state != Health.READY:
            return None
        if self._paced:  # alive: it is waiting to send output; its answer could not be read now
            return None
        request_id = next(self._health_ids)
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._health_waiters[request_id] = future
        self._send(ipc.Healthcheck(request_id))
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:  # not the builtin TimeoutError on Python 3.10
            self._health_waiters.pop(request_id, None)
            return "healthcheck timed out"

    async def stop(self) -> None:
        self._stopping = True
        if self._writer is not None:
            self._writer.close()
        if self._process is not None and self._process.poll() is None:
            try:
                await asyncio.get_running_loop().run_in_executor(None, self._process.wait, 5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


def _mark_k8s_ready() -> None:
    """Cog's readiness file, which its Kubernetes probes look for."""
    try:
        Path("/var/run/cog").mkdir(parents=True, exist_ok=True)
        Path("/var/run/cog/ready").touch()
    except OSError as e:
        log.warning("cannot write /var/run/cog/ready: %s", e)


def _exit_reason(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"
