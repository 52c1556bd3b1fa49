"""Run ``cognix serve`` for real on loopback, and a loopback HTTP peer (webhooks, files, uploads)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

MODELS = Path(__file__).parent / "models"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=kw.pop("timeout", 60), **kw)

    def health(self) -> dict[str, Any]:
        return httpx.get(self.url + "/health-check", timeout=10).json()

    def wait_for(self, *statuses: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                body = self.health()
                if body["status"] in statuses:
                    return body
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.log}")
            time.sleep(0.05)
        raise AssertionError(f"server never reached {statuses}:\n{self.log}")

    def wait_for_log(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log:
            if time.monotonic() > deadline:
                raise AssertionError(f"the log never said {text!r}:\n{self.log}")
            time.sleep(0.05)


@contextlib.contextmanager
def serve(
    project: Path, *args: str, env: dict[str, str] | None = None, wait: tuple[str, ...] = ("READY",)
) -> Iterator[Server]:
    port = free_port()
    log_path = Path(tempfile.mkstemp(prefix="cognix-serve-", suffix=".log")[1])
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cognix", "serve", "-p", str(port), *args],
            cwd=project,
            env={**os.environ, "NO_COLOR": "1", **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    try:
        if wait:
            server.wait_for(*wait)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class Peer:
    """A loopback HTTP server: records webhooks, serves files, accepts uploads."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    uploads: dict[str, bytes] = field(default_factory=dict)
    fail_first: int = 0  # answer this many POSTs with 503
    lock: threading.Lock = field(default_factory=threading.Lock)

    def unacknowledged(self) -> int:
        """Webhooks received whose reply never reached the sender, which then sent them again."""
        with self.lock:
            return sum(1 for r in self.requests if r.get("acknowledged") is False)

    def webhooks(self, prediction_id: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            bodies = [r["json"] for r in self.requests if r["method"] == "POST" and r["status"] == 200]
        return [b for b in bodies if prediction_id is None or b["id"] == prediction_id]

    def wait_for(self, predicate: Any, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.02)
        raise AssertionError(f"timed out; received {len(self.requests)} requests")


class QuietHandler(BaseHTTPRequestHandler):
    """A loopback test server's handler: no request log, and body/reply helpers."""

    def log_message(self, *args: Any) -> None:
        pass

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


@contextlib.contextmanager
def peer() -> Iterator[Peer]:
    state = Peer()

    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.body()
            if self.path.startswith(("/307/", "/302/")):  # a redirect to the rest of the path
                with state.lock:
                    state.requests.append({"method": "POST", "path": self.path, "json": None, "status": 0})
                self.reply(int(self.path[1:4]), headers={"Location": self.path[4:]})
                return
            with state.lock:
                status = 503 if state.fail_first > 0 else 200
                state.fail_first -= 1
                state.requests.append(
                    {
                        "method": "POST",
                        "path": self.path,
                        "headers": dict(self.headers),
                        "json": json.loads(body),
                        "status": status,
                    }
                )
                record = state.requests[-1]
            try:
                self.reply(status)
            except OSError:  # the sender gave up before the reply (a timeout under load): it retries
                record["acknowledged"] = False
                raise

        def do_GET(self) -> None:
            name = self.path.rsplit("/", 1)[-1]
            if name in state.files:
                self.reply(200, state.files[name], {"Content-Type": "application/octet-stream"})
            else:
                self.reply(404)

        def do_PUT(self) -> None:
            name = self.path.rsplit("/", 1)[-1]
            state.uploads[name] = self.body()
            with state.lock:
                state.requests.append(
                    {"method": "PUT", "path": self.path, "headers": dict(self.headers), "json": None, "status": 201}
                )
            self.reply(201, headers={"Location": f"{state.url}/stored/{name}?signature=x"})

    with loopback_http(Handler) as url:
        state.url = url
        yield state


@contextlib.contextmanager
def loopback_http(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on a free loopback port in a thread; yields the base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
