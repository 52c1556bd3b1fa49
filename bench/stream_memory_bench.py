"""The server's memory while a model yields output as fast as it can.

    python bench/stream_memory_bench.py [--seconds 30]

``bench/models/firehose`` yields 64-byte strings in a tight loop for ``--seconds``. It is served
by ``cognix serve`` and asked twice: by an SSE client that reads every event, and by a sync
client that gets all the items in one response at the end. The server process (not the model's
worker) is sampled every 50 ms; its peak resident memory must stay under the documented bound,
200 MB, whatever the number of items: a prediction keeps 8 MiB of items in memory and the rest
on disk, up to COGNIX_MAX_OUTPUT_BYTES, and a slow SSE client makes the model wait.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

MODEL = Path(__file__).resolve().parent / "models" / "firehose"
BOUND_MB = 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))) / 1024


class Peak:
    """The highest resident memory of ``pid`` while the block runs, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.pid, self.mb, self._done = pid, 0.0, threading.Event()

    def __enter__(self) -> Peak:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._done.wait(0.05):
            self.mb = max(self.mb, rss_mb(self.pid))

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()
        self.mb = max(self.mb, rss_mb(self.pid))


def sse(url: str, seconds: float) -> tuple[int, int]:
    """Items and bytes of output the SSE client read (the completed event must hold as many)."""
    items = size = 0
    body = {"input": {"seconds": seconds}}
    with httpx.stream("POST", url, json=body, headers={"Accept": "text/event-stream"}, timeout=None) as response:
        event = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "output":
                items += 1
                size += len(json.loads(line[6:])["chunk"])
            elif line.startswith("data: ") and event == "completed":
                completed = json.loads(line[6:])
                assert completed["status"] == "succeeded", completed.get("error")
                assert len(completed["output"]) == items, (len(completed["output"]), items)
    return items, size


def sync(url: str, seconds: float) -> tuple[int, int]:
    """Items and bytes of the output in the sync response."""
    response = httpx.post(url, json={"input": {"seconds": seconds}}, timeout=None)
    body = response.json()
    assert body["status"] == "succeeded", body.get("error")
    return len(body["output"]), sum(map(len, body["output"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "cognix", "serve", "-p", str(port)],
        cwd=MODEL,
        env={**os.environ, "NO_COLOR": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/health-check", timeout=2).json()["status"] == "READY":
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                sys.exit("the server did not become READY")
            time.sleep(0.1)
        idle = rss_mb(server.pid)
        print(f"{'client':10} {'items':>10} {'MB out':>8} {'items/s':>9} {'peak RSS MB':>12}")
        worst = idle
        for name, client in (("SSE", sse), ("sync", sync)):
            began = time.monotonic()
            with Peak(server.pid) as peak:
                items, size = client(base + "/predictions", args.seconds)
            rate = items / (time.monotonic() - began)
            print(f"{name:10} {items:10,} {size / 1e6:8.1f} {rate:9,.0f} {peak.mb:12.1f}")
            worst = max(worst, peak.mb)
        verdict = "within" if worst < BOUND_MB else "OVER"
        print(f"server RSS: {idle:.1f} MB idle, {worst:.1f} MB at peak: {verdict} the {BOUND_MB} MB bound")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(30)


if __name__ == "__main__":
    main()
