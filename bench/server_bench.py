"""Benchmark cognix's prediction server against Cog's (PyPI cog==0.23.1, Rust coglet) in one run.

    python bench/server_bench.py            # prints a table of cognix/Cog ratios

Both servers serve the same predictors (``bench/models``) on loopback and are measured with
the same client: sequential echo latency and throughput (and refusals), throughput at
concurrency 8 against a 100 ms async predictor, a 256 KiB file in + out round trip, SSE
time to first token, cold start to READY and idle RSS of the whole process tree.
Cog gets its schema from ``.cog/openapi_schema.json`` (written here with ``cognix schema``),
its worker concurrency from ``COG_MAX_CONCURRENCY`` as ``cog build`` would bake it in.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = HERE / "models"
COG_VERSION = "0.23.1"
COG_VENV = Path(os.environ.get("COG_BENCH_VENV", HERE / ".venv-cog"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_cog_venv() -> Path:
    python = COG_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {COG_VENV} with cog=={COG_VERSION} …", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(COG_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"cog=={COG_VERSION}"], check=True)
    return python


def write_cog_schema(model: Path) -> None:
    schema = subprocess.run(
        [sys.executable, "-m", "cognix", "schema", "--compact"], cwd=model, check=True, capture_output=True, text=True
    ).stdout
    (model / ".cog").mkdir(exist_ok=True)
    (model / ".cog" / "openapi_schema.json").write_text(schema)


@dataclass
class Running:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    cold_start: float

    def rss_mib(self) -> float:
        """Resident memory of the server and all its descendants."""
        pids, total = [self.process.pid], 0
        while pids:
            pid = pids.pop()
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except (OSError, StopIteration):
                continue
            pids.extend(int(c) for c in children)
        return total / 1024


def _health(port: int) -> str | None:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        conn.request("GET", "/health-check")
        return json.loads(conn.getresponse().read())["status"]
    except (OSError, ValueError, KeyError):
        return None


@contextmanager
def start(kind: str, model: Path) -> Iterator[Running]:
    port = free_port()
    config = (model / "cog.yaml").read_text()
    ref = next(line.split(":", 1)[1].strip().strip('"') for line in config.splitlines() if line.startswith("run:"))
    # both as their images run them: the server module, the predictor from COG_PREDICT_TYPE_STUB
    env = {**os.environ, "PORT": str(port), "LOG_FORMAT": "console", "COG_LOG_LEVEL": "warn"}
    env["COG_PREDICT_TYPE_STUB"] = ref
    if kind == "cog":
        python = ensure_cog_venv()
        env["COG_MAX_CONCURRENCY"] = _concurrency(model / ref.split(":")[0])  # cog build bakes this in
        env["PATH"] = f"{python.parent}:{env['PATH']}"  # coglet starts its worker as `python` from PATH
        cmd = [str(python), "-m", "cog.server.http", "--host", "127.0.0.1"]
    else:
        cmd = [sys.executable, "-m", "cognix.server", "--host", "127.0.0.1"]
    began = time.perf_counter()
    process = subprocess.Popen(cmd, cwd=model, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while _health(port) != "READY":
            if process.poll() is not None or time.perf_counter() - began > 120:
                raise RuntimeError(f"{kind} server for {model.name} did not become READY")
            time.sleep(0.005)
        yield Running(kind, port, process, time.perf_counter() - began)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


def _concurrency(predict_py: Path) -> str:
    text = predict_py.read_text()
    marker = "concurrent(max="
    return text.split(marker, 1)[1].split(")", 1)[0] if marker in text else "1"


def post(conn: http.client.HTTPConnection, body: dict, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn.request("POST", "/predictions", json.dumps(body), {"Content-Type": "application/json", **(headers or {})})
    resp = conn.getresponse()
    return resp.status, resp.read()


# --- measurements -----------------------------------------------------------------------------


def sequential_echo(server: Running, n: int) -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    for _ in range(50):  # warm up
        post(conn, {"input": {"text": "warm"}})
    latencies, refused = [], 0
    began = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        status, body = post(conn, {"input": {"text": f"m{i}"}})
        latencies.append(time.perf_counter() - t)
        if status != 200 or json.loads(body).get("status") != "succeeded":
            refused += 1
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "echo p50 ms": latencies[len(latencies) // 2] * 1000,
        "echo p99 ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "echo req/s": n / elapsed,
        "echo refusals": refused,
    }


def concurrent_sleep(server: Running, n: int, concurrency: int = 8, seconds: float = 0.1) -> dict[str, float]:
    def worker(count: int) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        ok = 0
        for _ in range(count):
            status, body = post(conn, {"input": {"seconds": seconds}})
            ok += status == 200 and json.loads(body).get("status") == "succeeded"
        return ok

    began = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        ok = sum(pool.map(worker, [n // concurrency] * concurrency))
    elapsed = time.perf_counter() - began
    ideal = concurrency / seconds
    return {"C=8 req/s": ok / elapsed, "C=8 % of ideal": 100 * (ok / elapsed) / ideal, "C=8 failures": n - ok}


def file_round_trip(server: Running, n: int, size: int = 256 * 1024) -> dict[str, float]:
    payload = "data:application/octet-stream;base64," + base64.b64encode(os.urandom(size)).decode()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    post(conn, {"input": {"data": payload}})
    latencies, refused = [], 0
    for _ in range(n):
        t = time.perf_counter()
        status, body = post(conn, {"input": {"data": payload}})
        if status == 409:  # Cog refuses some requests even from a sequential client
            refused += 1
            continue
        latencies.append(time.perf_counter() - t)
        output = json.loads(body)["output"]
        assert status == 200 and len(base64.b64decode(output.split(",", 1)[1])) == size
    return {"256 KiB file p50 ms": statistics.median(latencies) * 1000, "file refusals": refused}


def sse_first_token(server: Running, n: int) -> dict[str, float]:
    firsts = []
    for _ in range(n):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        t = time.perf_counter()
        conn.request(
            "POST",
            "/predictions",
            json.dumps({"input": {"n": 10}}),
            {"Content-Type": "application/json", "Accept": "text/event-stream"},
        )
        resp = conn.getresponse()
        if resp.status == 409:
            resp.read()
            continue
        first = None
        while line := resp.readline():
            if first is None and line.startswith(b"event: output"):
                first = time.perf_counter() - t
        assert first is not None, "no output event"
        firsts.append(first)
        conn.close()
    return {"SSE first token ms": statistics.median(firsts) * 1000}


SCENARIOS: list[tuple[str, Callable[[Running, int], dict[str, float]], int]] = [
    ("echo", sequential_echo, 2000),
    ("sleep", concurrent_sleep, 400),
    ("file", file_round_trip, 100),
    ("stream", sse_first_token, 50),
]
LOWER_IS_BETTER = ("ms", "refusals", "failures", "cold start", "RSS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    parser.add_argument("--only", nargs="+", choices=[name for name, _, _ in SCENARIOS], help="run these scenarios")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {"cognix": {}, "cog": {}}
    for model_name, measure, n in SCENARIOS:
        if args.only and model_name not in args.only:
            continue
        model = MODELS / model_name
        write_cog_schema(model)
        for kind in ("cognix", "cog"):
            with start(kind, model) as server:
                row = results[kind]
                if model_name == "echo":
                    row["cold start s"] = server.cold_start
                    row["idle RSS MiB"] = server.rss_mib()
                row.update(measure(server, max(n // 10, 8) if args.quick else n))
                print(f"{kind:6} {model_name:6} done", file=sys.stderr)
        shutil.rmtree(model / ".cog", ignore_errors=True)
    print(f"\n{'metric':24} {'cognix':>10} {'cog 0.23.1':>12} {'cognix/cog':>11}")
    for metric, ours in results["cognix"].items():
        theirs = results["cog"][metric]
        ratio = ours / theirs if theirs else float("inf") if ours else 1.0
        better = "lower" if any(k in metric for k in LOWER_IS_BETTER) else "higher"
        print(f"{metric:24} {ours:10.2f} {theirs:12.2f} {ratio:10.2f}x  ({better} is better)")


if __name__ == "__main__":
    main()
