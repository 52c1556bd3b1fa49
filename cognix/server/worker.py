"""The worker process: imports the model, runs ``setup()`` and predictions, reports back.

Model code runs only here, so a segfault, ``os._exit`` or OOM kill ends this process and
never the HTTP server, which restarts it. Started by the supervisor as
``python -m cognix.server.worker FD PROJECT_DIR REF MODE``; the weights for ``setup()`` come as ``COG_WEIGHTS``.
"""

from __future__ import annotations

import array
import asyncio
import concurrent.futures
import contextvars
import ctypes
import dataclasses
import faulthandler
import fcntl
import gc
import inspect
import io
import os
import queue
import select
import signal
import socket
import sys
import tempfile
import termios
import threading
import time
import traceback
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from cognix.runtime import inputs, outputs, predictor
from cognix.runtime.scrub import Scrubber, begun, secret_values
from cognix.sdk import CancelationException
from cognix.sdk.scope import prediction_scope
from cognix.server import ipc
from cognix.server.spawn import WEIGHTS_VARIABLE

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("cognix_prediction", default=None)
HEALTHCHECK_TIMEOUT = 5.0
DRAIN_TIMEOUT = 2.0  # a model that keeps writing from a background thread must not hold a report back
_DRAIN_MARKER = b"\0cognix-drain-" + os.urandom(8).hex().encode() + b"\0"  # random: never in model output
_libc = ctypes.CDLL(None)
# a prediction's outcome, decided when it ends; its metrics are added once its output is drained
_Report = Callable[..., ipc.Done | ipc.Failed | ipc.Canceled]


class WorkerChannel(ipc.BlockingChannel):
    """The channel to the server. It masks the running predictions' secret values in what they
    wrote and raised (:mod:`cognix.runtime.scrub`), so nothing sent from here can leak one; and
    a cancel (SIGUSR1) waits while a message is being sent: a server that reads slowly (a slow
    SSE client holds it back) blocks the send, and the cancel's exception must not cut a frame."""

    def __init__(self, sock: socket.socket, scrubber: Scrubber) -> None:
        super().__init__(sock)
        self.scrubber = scrubber

    def send(self, message: ipc.WorkerMessage) -> None:
        if isinstance(message, ipc.Log):
            message = dataclasses.replace(message, text=self.scrubber.scrub(message.text))
        elif isinstance(message, ipc.Failed):
            message = dataclasses.replace(message, error=self.scrubber.scrub(message.error))
        elif isinstance(message, ipc.Metric) and isinstance(message.value, str):
            message = dataclasses.replace(message, value=self.scrubber.scrub(message.value))
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        try:
            super().send(message)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class _LogStream(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` replacement: each write goes to the prediction running
    in this context (per task or thread), so logs stay separate under concurrency."""

    def __init__(self, channel: WorkerChannel, name: str, fallback: Callable[[], str | None]) -> None:
        self.channel = channel
        self.name = name
        self.fallback = fallback
        self.partial: dict[str | None, str] = {}  # per prediction: text after the last newline

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if text:
            owner = _current.get() or self.fallback()
            buffered = self.partial.pop(owner, "") + text
            complete, newline, rest = buffered.rpartition("\n")
            if newline:
                self.channel.send(ipc.Log(owner, self.name, complete + newline))
            if rest:
                self.partial[owner] = rest
        return len(text)

    def flush(self, final: bool = False) -> None:
        """Send the partial line, but for an end that could begin a secret value, kept until
        more is written or, ``final``, the prediction reports."""
        owner = _current.get() or self.fallback()
        rest = self.partial.pop(owner, "")
        if not final and (keep := self.channel.scrubber.unfinished(rest)):
            rest, self.partial[owner] = rest[:-keep], rest[-keep:]
        if rest:
            self.channel.send(ipc.Log(owner, self.name, rest))

    def fileno(self) -> int:
        return 1 if self.name == "stdout" else 2


def _marker_start(data: bytes) -> int:
    """How many bytes at the end of ``data`` could begin a marker (the rest of it not read yet)."""
    return begun(data, _DRAIN_MARKER)


class _Pump:
    """Forwards what is written to fd 1 or 2 as log messages, from a thread.

    That thread runs behind the writer, so a prediction is reported finished only once the pump
    has sent everything written before it: :meth:`idle` says so at once in the usual case (the
    pipe is empty and no chunk is on its way), else :meth:`mark` and :meth:`wait` wait for the
    pump to read past a marker."""

    def __init__(
        self, fd: int, name: str, send: Callable[[str, str], None], unfinished: Callable[[bytes], int]
    ) -> None:
        read_end, write_end = os.pipe()
        os.dup2(write_end, fd)
        os.close(write_end)
        self.fd, self.read_end, self.name, self.send = fd, read_end, name, send
        self.unfinished = unfinished  # how much of a read's end may begin a secret: held back
        self.marked = self.seen = 0  # markers written into the pipe, and read back out of it
        self.held = b""  # the start of a marker split across two reads
        self.forwarding = threading.Lock()  # held from reading a chunk until it is sent
        self.changed = threading.Condition()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            select.select([self.read_end], [], [])
            with self.forwarding:
                chunk = os.read(self.read_end, 65536)
                if not chunk:
                    break
                *parts, rest = (self.held + chunk).split(_DRAIN_MARKER)
                cut = len(rest) - max(_marker_start(rest), self.unfinished(rest))
                self.held, text = rest[cut:], b"".join((*parts, rest[:cut]))
                if text:
                    try:
                        self.send(self.name, text.decode(errors="replace"))
                    except OSError:  # the server has gone; keep reading, or the model blocks on a full pipe
                        pass
            if parts:  # after the send: what preceded a marker is on the channel first
                with self.changed:
                    self.seen += len(parts)
                    self.changed.notify_all()
        os.close(self.read_end)

    def idle(self) -> bool:
        """Everything written so far is sent: nothing in the pipe, nothing being forwarded."""
        with self.forwarding:
            unread = array.array("i", [0])
            try:
                fcntl.ioctl(self.read_end, termios.FIONREAD, unread)
            except OSError:
                return False
            return unread[0] == 0 and not self.held

    def mark(self) -> bool:
        """Write a marker behind the output so far; False if the model took the fd for itself."""
        try:
            if not os.path.sameopenfile(self.fd, self.read_end):
                return False
            os.write(self.fd, _DRAIN_MARKER)
        except OSError:
            return False
        self.marked += 1
        return True

    def wait(self, deadline: float) -> None:
        with self.changed:
            self.changed.wait_for(lambda: self.seen >= self.marked, max(0.0, deadline - time.monotonic()))


class Worker:
    def __init__(self, channel: WorkerChannel, project_dir: Path, ref: str, mode: str, weights: str | None) -> None:
        self.channel = channel
        self.scrubber = channel.scrubber
        self.project_dir = project_dir
        self.ref = ref
        self.mode = mode
        self.weights = weights
        self.running: dict[str, Any] = {}  # id → thread ident (sync) or asyncio.Task (async)
        self.cancel_requested: set[str] = set()
        self.predictor: predictor.Predictor | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.jobs: queue.SimpleQueue[ipc.Predict] = queue.SimpleQueue()
        self.pumps: list[_Pump] = []

    # --- logs -----------------------------------------------------------------------

    def only_running(self) -> str | None:
        """Output written at the file-descriptor level (C code, subprocesses) carries no
        context; it belongs to the one running prediction, or to setup."""
        running = tuple(self.running)  # a snapshot: the prediction thread may pop it meanwhile
        return running[0] if len(running) == 1 else None

    def capture_output(self) -> None:
        unfinished = self.scrubber.unfinished
        self.pumps = [
            _Pump(1, "stdout", self._send_fd_log, unfinished),
            _Pump(2, "stderr", self._send_fd_log, unfinished),
        ]
        sys.stdout = _LogStream(self.channel, "stdout", self.only_running)
        sys.stderr = _LogStream(self.channel, "stderr", self.only_running)

    def _send_fd_log(self, name: str, text: str) -> None:
        self.channel.send(ipc.Log(self.only_running(), name, text))

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        try:
            self.predictor = predictor.load(self.project_dir, self.ref, mode=self.mode)
        except Exception as e:  # every failure is reported as setup failure
            details = getattr(e, "details", None) or "".join(traceback.format_exception(e))
            self._flush()
            self.channel.send(ipc.SetupDone(False, f"{getattr(e, 'message', e)}\n{details}".strip()))
            return
        p = self.predictor
        self.channel.send(ipc.SignatureReport(p.signature, p.healthcheck_fn is not None))
        if p.signature.is_async:
            self.loop = asyncio.new_event_loop()
            p._loop = self.loop  # setup() and run() share one event loop
        try:
            p.setup(weights=self.weights)
        except BaseException as e:  # SystemExit in setup fails setup too
            traceback.print_exception(e)
            self._flush()
            self.channel.send(ipc.SetupDone(False, exception_text(e)))
            return
        gc.freeze()  # the loaded model is long-lived: collections need not walk it again
        self._flush()
        self.channel.send(ipc.SetupDone(True, None))
        threading.Thread(target=self.read_commands, daemon=True).start()
        if self.loop is not None:
            self.loop.run_until_complete(self.serve_async())
        else:
            self.serve_sync()

    def read_commands(self) -> None:
        while (message := self.channel.recv()) is not None:
            match message:
                case ipc.Predict() if self.loop is not None:
                    self.loop.call_soon_threadsafe(self._start_task, message)
                case ipc.Predict():
                    self.jobs.put(message)
                case ipc.Cancel(prediction_id):
                    self.cancel(prediction_id)
                case ipc.Healthcheck(request_id):
                    threading.Thread(target=self.healthcheck, args=(request_id,), daemon=True).start()
        os._exit(0)  # the server closed the channel: nothing more to do

    def healthcheck(self, request_id: int) -> None:
        """Cog's: the model's ``healthcheck()`` gets :data:`HEALTHCHECK_TIMEOUT` seconds; only a
        False is unhealthy (coglet reads any other result as healthy); coglet's messages."""
        call = self._start_healthcheck()
        try:
            result = call.result(HEALTHCHECK_TIMEOUT)
            error = "Healthcheck failed: user-defined healthcheck returned False" if _is_false(result) else None
        except concurrent.futures.TimeoutError:  # not the builtin TimeoutError on Python 3.10
            call.cancel()
            error = f"Healthcheck failed: user-defined healthcheck timed out after {HEALTHCHECK_TIMEOUT:.1f} seconds"
        except BaseException as e:  # a healthcheck that raises, even SystemExit, is unhealthy
            error = f"Healthcheck failed: {exception_text(e)}"
        self.channel.send(ipc.HealthcheckResult(request_id, error))

    def _start_healthcheck(self) -> concurrent.futures.Future[Any]:
        """``healthcheck()`` started: an async one on the model's event loop (where its
        objects live), when it has one; anything else in a thread of its own."""
        assert self.predictor is not None and self.predictor.healthcheck_fn is not None
        check = self.predictor.healthcheck_fn
        if self.loop is not None and inspect.iscoroutinefunction(check):
            return asyncio.run_coroutine_threadsafe(check(), self.loop)
        call: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                result = check()
                call.set_result(asyncio.run(_awaitable(result)) if inspect.isawaitable(result) else result)
            except BaseException as e:
                call.set_exception(e)

        threading.Thread(target=run, daemon=True).start()
        return call

    # --- predictions ------------------------------------------------------------------

    def cancel(self, prediction_id: str) -> None:
        target = self.running.get(prediction_id)
        if target is None:
            return
        self.cancel_requested.add(prediction_id)
        if isinstance(target, asyncio.Task):
            self.loop.call_soon_threadsafe(target.cancel)  # type: ignore[union-attr]
        else:
            signal.pthread_kill(target, signal.SIGUSR1)

    def _raise_if_canceled(self, signum: int, frame: Any) -> None:
        current = next(iter(self.running), None)
        if current in self.cancel_requested:
            raise CancelationException()

    def serve_sync(self) -> None:
        signal.signal(signal.SIGUSR1, self._raise_if_canceled)
        while True:
            job = self.jobs.get()
            prediction_id = job.prediction_id
            self.running[prediction_id] = threading.get_ident()
            token = _current.set(prediction_id)
            try:
                self._run_sync(prediction_id, job.inputs, job.context)
            except CancelationException:
                pass  # a cancel that landed after the prediction had already finished
            finally:
                _current.reset(token)
                self.running.pop(prediction_id, None)
                self.cancel_requested.discard(prediction_id)

    def _prepare(self, prediction_id: str, values: dict[str, Any]) -> dict[str, Any]:
        """``run()``'s arguments; their secret values are masked from now until the report."""
        assert self.predictor is not None
        # inputs were validated and fetched by the server: files are local paths now
        arguments = inputs.materialize(self.predictor.signature, values, Path(tempfile.gettempdir()))
        self.scrubber.add(prediction_id, secret_values(arguments))
        return arguments

    def _metric_hook(self, prediction_id: str) -> Callable[[str, Any, str], None]:
        return lambda name, value, mode: self.channel.send(ipc.Metric(prediction_id, name, value, mode))

    def _encode(self, value: Any) -> Any:
        assert self.predictor is not None
        return outputs.encode_output(value, self.predictor.signature.output, ipc.file_ref)

    def _run_sync(self, prediction_id: str, values: dict[str, Any], context: dict[str, str]) -> None:
        assert self.predictor is not None
        with prediction_scope(context, self._metric_hook(prediction_id)) as scope:
            args: dict[str, Any] = {}
            try:
                args = self._prepare(prediction_id, values)
                result = self.predictor.fn(**args)
                if self.predictor.signature.output.is_iterator:
                    for item in result:
                        self.channel.send(ipc.Output(prediction_id, self._encode(item)))
                    report: _Report = partial(ipc.Done, prediction_id, None, streamed=True)
                else:
                    report = partial(ipc.Done, prediction_id, self._encode(result))
            except CancelationException:
                report = partial(ipc.Canceled, prediction_id)
            except BaseException as e:  # sys.exit() fails the prediction only
                report = partial(ipc.Failed, prediction_id, _error_text(e))
            inputs.close_files(args)
            # a cancel arriving now must not interrupt the report (or leave a half-sent frame)
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
            try:
                self._flush()  # while it still runs: fd-level output read now is attributed to it
                self.running.pop(prediction_id, None)
                self.channel.send(report(metrics=scope.metrics.as_dict()))
            finally:  # a pending signal is delivered now and finds nothing to cancel
                self.scrubber.remove(prediction_id)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})

    async def serve_async(self) -> None:
        await asyncio.Event().wait()  # predictions arrive as tasks; run until the process ends

    def _start_task(self, job: ipc.Predict) -> None:
        task = asyncio.get_running_loop().create_task(
            self._run_async(job.prediction_id, job.inputs, job.context), context=contextvars.copy_context()
        )
        self.running[job.prediction_id] = task

    async def _run_async(self, prediction_id: str, values: dict[str, Any], context: dict[str, str]) -> None:
        assert self.predictor is not None
        _current.set(prediction_id)
        with prediction_scope(context, self._metric_hook(prediction_id)) as scope:
            args: dict[str, Any] = {}
            try:
                args = self._prepare(prediction_id, values)
                result = self.predictor.fn(**args)
                if self.predictor.signature.output.is_iterator and not inspect.isawaitable(result):
                    async for item in _aiter(result):
                        self.channel.send(ipc.Output(prediction_id, self._encode(item)))
                    report: _Report = partial(ipc.Done, prediction_id, None, streamed=True)
                else:
                    output = self._encode(await result if inspect.isawaitable(result) else result)
                    report = partial(ipc.Done, prediction_id, output)
            except asyncio.CancelledError:
                report = partial(ipc.Canceled, prediction_id)
            except BaseException as e:  # sys.exit() fails the prediction only
                report = partial(ipc.Failed, prediction_id, _error_text(e))
            finally:
                inputs.close_files(args)
                self._flush()  # while it still runs: fd-level output read now is attributed to it
                self.running.pop(prediction_id, None)
                self.cancel_requested.discard(prediction_id)
            try:
                self.channel.send(report(metrics=scope.metrics.as_dict()))
            finally:
                self.scrubber.remove(prediction_id)

    def _flush(self) -> None:
        """Send everything written so far (Python and C buffers, and the fd pipes) before a report.

        The pumps read fds 1 and 2 in their own threads, so without waiting for them a DONE
        could overtake the last output and the prediction's logs would miss it. Called only
        from the thread that runs predictions (or setup). The wait blocks the event loop of an
        async model briefly: it is bounded, and it has no await, so the report follows at once."""
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            if isinstance(stream, _LogStream):
                stream.flush(final=True)
            elif stream is not None:
                stream.flush()
        _libc.fflush(None)  # C stdio on a pipe is fully buffered
        deadline = time.monotonic() + DRAIN_TIMEOUT
        for pump in [pump for pump in self.pumps if not pump.idle() and pump.mark()]:
            pump.wait(deadline)


async def _awaitable(value: Any) -> Any:
    return await value


async def _aiter(result: Any) -> Any:
    if inspect.isasyncgen(result) or hasattr(result, "__anext__"):
        async for item in result:
            yield item
    else:
        for item in result:
            yield item


def exception_text(e: BaseException) -> str:
    """An exception as coglet shows one (PyO3's ``PyErr`` display): ``SystemExit: 3``."""
    return f"{type(e).__qualname__}: {e}"


def _error_text(e: BaseException) -> str:
    """A failed prediction's error: the message of an ``Exception``, as Cog's tests match it
    (``.*<msg>``); coglet's ``Type: message`` for what is not one (``sys.exit(3)`` gives
    ``SystemExit: 3``, as Cog's ``predict_sys_exit`` expects), or when there is no message."""
    message = str(e)
    return message if message and isinstance(e, Exception) else exception_text(e)


def _is_false(result: Any) -> bool:
    """What coglet reads as False: a bool (or numpy's) that is False; None, 0 and the rest are not."""
    return type(result).__name__ in ("bool", "bool_") and not result


def main(argv: list[str]) -> None:
    fd, project_dir, ref, mode = int(argv[0]), Path(argv[1]), argv[2], argv[3]
    weights = os.environ.get(WEIGHTS_VARIABLE) or None  # set by spawn_worker from the server's settings
    faulthandler.enable(file=os.fdopen(os.dup(2), "w"), all_threads=False)  # crash reports reach the server log
    channel = WorkerChannel(socket.socket(fileno=fd), Scrubber())
    worker = Worker(channel, project_dir, ref, mode, weights)
    worker.capture_output()
    os.chdir(project_dir)
    worker.start()
    # setup failed: stay until the server closes the channel, so it can read the logs
    while channel.recv() is not None:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
