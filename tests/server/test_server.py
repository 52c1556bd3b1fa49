"""The prediction server over real HTTP on loopback: Cog's API, and where cognix does better."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import signal
import threading
import time

import httpx
import pytest

from tests.conftest import run_cli
from tests.server_helpers import MODELS, free_port, peer, serve

KITCHEN = MODELS / "kitchen"


@pytest.fixture(scope="module")
def kitchen():
    with serve(KITCHEN) as server:
        yield server


def predict(server, body: dict, **headers: str) -> httpx.Response:
    return httpx.post(server.url + "/predictions", json=body, headers=headers, timeout=60)


# --- documents ----------------------------------------------------------------------------


def test_root_health_openapi_docs(kitchen) -> None:
    root = httpx.get(kitchen.url + "/").json()
    assert root["predictions_url"] == "/predictions"
    assert root["trainings_url"] == "/trainings"
    health = kitchen.health()
    assert health["status"] == "READY"
    assert health["setup"]["status"] == "succeeded"
    assert "setting up" in health["setup"]["logs"]
    assert health["setup"]["started_at"] <= health["setup"]["completed_at"]
    doc = httpx.get(kitchen.url + "/openapi.json").json()
    assert list(doc["components"]["schemas"])[:3] == ["Input", "Output", "action"]
    assert {"/predictions", "/predictions/{prediction_id}", "/trainings", "/shutdown"} <= set(doc["paths"])
    assert "TrainingInput" in doc["components"]["schemas"]
    docs = httpx.get(kitchen.url + "/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


# --- sync predictions and validation --------------------------------------------------------


def test_sync_prediction(kitchen) -> None:
    body = predict(kitchen, {"input": {"text": "hello"}}).json()
    assert body["status"] == "succeeded"
    assert body["output"] == "hello"
    assert body["metrics"]["predict_time"] > 0
    assert body["id"].startswith("pred_")
    assert "input" not in body  # coglet's sync body omits it


def test_missing_body_and_null_input_use_defaults(kitchen) -> None:
    assert httpx.post(kitchen.url + "/predictions", timeout=10).json()["output"] == "hi"
    assert predict(kitchen, {"input": None}).json()["output"] == "hi"


def test_validation_errors_as_cog(kitchen) -> None:
    r = predict(kitchen, {"input": {"seconds": "x", "action": "nope", "unknown": 1}})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert {d["loc"][2] for d in detail} == {"seconds", "action"}
    assert all(d["loc"][:2] == ["body", "input"] and d["type"] == "value_error" for d in detail)
    assert predict(kitchen, {"input": {"seconds": 99}}).json()["detail"][0]["msg"] == "number must be at most 60"
    r = predict(kitchen, {"input": {"text": "ok", "ignored": True}})  # unknown keys are dropped
    assert r.status_code == 200 and r.json()["output"] == "ok"
    assert predict(kitchen, {"input": []}).status_code == 422
    bad_json = httpx.post(kitchen.url + "/predictions", content=b"{oops", timeout=10)
    assert bad_json.status_code == 422 and bad_json.json()["detail"][0]["loc"] == ["body"]
    for hook in ("http://", "http://[::1", "http://host:port/"):  # issue 12 (11): refused now, not at delivery
        refused = predict(kitchen, {"input": {"text": "ok"}, "webhook": hook})
        assert refused.status_code == 422, hook
        assert refused.json()["detail"][0]["loc"] == ["body", "webhook"]


def test_failure_is_data_not_http_error(kitchen) -> None:
    body = predict(kitchen, {"input": {"action": "fail", "text": "zz"}}).json()
    assert body["status"] == "failed"
    assert "bad text: zz" in body["error"]


@pytest.mark.parametrize("define", ["def", "async def"])
def test_sys_exit_fails_only_the_prediction(tmp_path, define: str) -> None:
    """Cog's predict_sys_exit: the error names SystemExit (coglet shows ``SystemExit: 3``), and the
    same worker, its state intact, serves the next prediction."""
    (tmp_path / "cog.yaml").write_text('run: "run.py:Runner"\n')
    (tmp_path / "run.py").write_text(
        "import sys\nfrom cog import BaseRunner\n"
        f"class Runner(BaseRunner):\n    calls = 0\n    {define} run(self, code: int = 0) -> int:\n"
        "        type(self).calls += 1\n        if code:\n            sys.exit(code)\n        return self.calls\n"
    )
    with serve(tmp_path) as server:
        assert predict(server, {"input": {}}).json()["output"] == 1
        body = predict(server, {"input": {"code": 3}}).json()
        assert (body["status"], body["error"]) == ("failed", "SystemExit: 3")
        assert predict(server, {"input": {}}).json()["output"] == 3  # not restarted: the count goes on
        assert server.health()["status"] == "READY"


def test_logs_are_captured_per_prediction(kitchen) -> None:
    body = predict(kitchen, {"input": {"action": "log", "text": "abc"}}).json()
    assert "log abc" in body["logs"]
    assert "err abc" in body["logs"]
    assert "c-level abc" in body["logs"]  # output of a subprocess, at the file-descriptor level


@pytest.mark.parametrize("define", ["def", "async def"])
def test_fd_level_output_written_last_is_in_the_logs(tmp_path, define: str) -> None:
    """A thread reads fds 1 and 2: the report waits for it, or DONE could overtake the output."""
    (tmp_path / "cog.yaml").write_text('run: "run.py:Runner"\n')
    (tmp_path / "run.py").write_text(
        "import ctypes, os\nfrom cog import BaseRunner\nlibc = ctypes.CDLL(None)\n"
        f"class Runner(BaseRunner):\n    {define} run(self, i: int) -> str:\n"
        "        if i % 2:\n            os.write(2, f'err {i}\\n'.encode())\n            raise ValueError(i)\n"
        "        libc.puts(f'stdio {i}'.encode())\n        os.write(1, f'fd {i}\\n'.encode())\n"
        "        return str(i)\n"
    )
    with serve(tmp_path) as server, server.client() as client:
        for i in range(200):
            body = client.post("/predictions", json={"input": {"i": i}}).json()
            expected = ("failed", [f"err {i}"]) if i % 2 else ("succeeded", [f"fd {i}", f"stdio {i}"])
            assert (body["status"], sorted(body["logs"].splitlines())) == expected


def test_metrics_and_context(kitchen) -> None:
    body = predict(kitchen, {"input": {"action": "metric"}, "context": {"user": "ada"}}).json()
    assert body["output"] == {"user": "ada"}
    assert body["metrics"]["tokens"] == 3
    assert body["metrics"]["timing"] == {"total": 1.5}
    assert body["metrics"]["predict_time"] > 0


METRIC_NAMES = {  # coglet's validate_metric_name, one message per rule
    "": "metric name must not be empty",
    "predict_time": "'predict_time' is reserved by the runtime",
    "cog.gpu": "the 'cog.' prefix is reserved for system metrics",
    "a" * 129: "metric name must be 128 characters or fewer (got 129 characters)",
    "a.b.c.d.e": "metric name must have at most 4 dot-separated segments (got 5)",
    ".a": "metric name must not start with a dot",
    "a.": "metric name must not end with a dot",
    "a..b": "metric name must not contain empty segments (consecutive dots)",
    "timing.1st": "metric name segment '1st' must start with a letter",
    "a__b": "metric name segment 'a__b' must not contain consecutive underscores",
    "a-b": "metric name segment 'a-b' contains invalid character '-'",
    "tokens_": "metric name segment 'tokens_' must end with a letter or digit",
}


def test_each_invalid_metric_name_gets_cogs_message(kitchen) -> None:
    for name, message in METRIC_NAMES.items():
        body = predict(kitchen, {"input": {"action": "metric_name", "text": name}}).json()
        assert (body["status"], body["error"]) == ("failed", message), name
    body = predict(kitchen, {"input": {"action": "metric_name", "text": "T2I.a_b.c9"}}).json()
    assert body["status"] == "succeeded" and body["metrics"]["T2I"] == {"a_b": {"c9": 1}}


def test_union_input_and_typeddict_output_as_cog() -> None:
    """Cog's union_input_http (``value: str | float | None = Input(default=None)``): members
    accepted as they come, an omitted value is None, an explicit null refused like any other
    input's (coglet validates strictly, ignoring ``nullable``). The TypedDict output's
    NotRequired/total=False keys are left out of ``required``, its Required and total keys kept,
    Optional or not, and an output without the optional keys succeeds."""
    with serve(MODELS / "unions") as server:
        doc = httpx.get(server.url + "/openapi.json").json()
        output = doc["components"]["schemas"]["Output"]
        assert output["required"] == ["kind", "length"]
        assert list(output["properties"]) == ["kind", "shown", "note", "length"]
        assert output["properties"]["length"] == {"nullable": True, "title": "Length", "type": "integer"}
        for value, kind in (("hello", "str"), (1.5, "float"), (1, "int")):
            body = predict(server, {"input": {"value": value}}).json()
            assert body["output"] == {"kind": kind, "shown": str(value), "length": len(str(value))}
        assert predict(server, {"input": {}}).json()["output"] == {"kind": "NoneType", "length": None}
        refused = predict(server, {"input": {"value": None}})
        assert refused.status_code == 422
        assert refused.json()["detail"] == [
            {
                "loc": ["body", "input", "value"],
                "msg": "must not be null (omit the input to use its default)",
                "type": "value_error",
            }
        ]
        for wrong in (True, {"x": 1}):
            assert predict(server, {"input": {"value": wrong}}).status_code == 422


# --- files -----------------------------------------------------------------------------------


def test_file_in_as_data_uri_and_url_out_as_data_url(kitchen) -> None:
    data = "data:text/plain;base64," + base64.b64encode(b"abc").decode()
    out = predict(kitchen, {"input": {"action": "file", "image": data}}).json()["output"]
    assert out == "data:text/plain;base64," + base64.b64encode(b"abc!").decode()
    with peer() as p:
        p.files["photo.bin"] = b"\x00\x01" * 1000
        out = predict(kitchen, {"input": {"action": "file", "image": p.url + "/files/photo.bin"}}).json()["output"]
        assert base64.b64decode(out.split(",", 1)[1]) == b"\x00\x01" * 1000 + b"!"
        missing = predict(kitchen, {"input": {"action": "file", "image": p.url + "/files/nope"}})
        assert missing.status_code == 422 and "404" in missing.json()["detail"][0]["msg"]
    # issue 12 (22): no comma is no data URI (it was taken as an empty file)
    broken = predict(kitchen, {"input": {"action": "file", "image": "data:text/plain;base64"}})
    assert broken.status_code == 422
    assert "invalid data URI: no ',' between the media type and the data" in broken.json()["detail"][0]["msg"]


def test_local_paths_are_refused_as_file_inputs(kitchen) -> None:
    r = predict(kitchen, {"input": {"action": "file", "image": "/etc/passwd"}})
    assert r.status_code == 422
    assert "is not a valid URL scheme" in r.json()["detail"][0]["msg"]


def test_upload_url_puts_output_files() -> None:
    with peer() as p, serve(KITCHEN, "--upload-url", p.url + "/upload/") as server:
        out = predict(server, {"input": {"action": "file"}}).json()["output"]
        assert out == f"{p.url}/stored/out.txt"  # the Location header, query removed
        assert p.uploads["out.txt"] == b"!"
        put = next(r for r in p.requests if r["method"] == "PUT")
        assert put["headers"]["Content-Type"] == "text/plain"


# --- async, webhooks, idempotency ------------------------------------------------------------


def test_async_prediction_with_webhooks(kitchen) -> None:
    with peer() as p:
        r = predict(
            kitchen,
            {"id": "async-1", "input": {"action": "log", "text": "w"}, "webhook": p.url + "/hook"},
            Prefer="respond-async",
            traceparent="00-abc-def-01",
        )
        assert r.status_code == 202
        assert r.json()["id"] == "async-1" and r.json()["status"] == "starting"
        p.wait_for(lambda: any(b["status"] == "succeeded" for b in p.webhooks("async-1")))
        hooks = p.webhooks("async-1")
        assert hooks[0]["status"] == "processing"
        assert [b["status"] for b in hooks].count("succeeded") == 1
        final = hooks[-1]
        assert final["output"] == "logged" and "log w" in final["logs"]
        assert final["metrics"]["predict_time"] > 0
        request = p.requests[-1]
        assert request["headers"]["traceparent"] == "00-abc-def-01"
        assert request["headers"]["User-Agent"].startswith("cognix/")
        polled = httpx.get(kitchen.url + "/predictions/async-1").json()
        assert polled["status"] == "succeeded" and polled["output"] == "logged"


def test_webhook_events_filter(kitchen) -> None:
    with peer() as p:
        predict(
            kitchen,
            {"id": "filtered", "input": {"action": "log"}, "webhook": p.url, "webhook_events_filter": ["completed"]},
            Prefer="respond-async",
        )
        p.wait_for(lambda: p.webhooks("filtered"))
        time.sleep(0.3)
        assert [b["status"] for b in p.webhooks("filtered")] == ["succeeded"]


def test_terminal_webhook_is_retried() -> None:
    with peer() as p, serve(KITCHEN, env={"WEBHOOK_AUTH_TOKEN": "tok"}) as server:
        p.fail_first = 4  # the terminal webhook gets 503 four times, then lands (backoff 0.1, 0.2, 0.4, 0.8 s)
        predict(
            server,
            {"id": "retry", "input": {}, "webhook": p.url, "webhook_events_filter": ["completed"]},
            Prefer="respond-async",
        )
        p.wait_for(lambda: p.webhooks("retry"), timeout=60)
        attempts = [r for r in p.requests if r["method"] == "POST"]
        assert len(attempts) == 5 and attempts[-1]["status"] == 200
        assert attempts[-1]["headers"]["Authorization"] == "Bearer tok"


def test_a_307_webhook_is_followed_and_a_302_is_a_logged_failure() -> None:
    """Issue 12 (12): a redirected webhook counted as delivered. 307 (method-preserving) is
    followed with its body; 302 would become a GET without it, so it fails, and says so."""
    with peer() as p, serve(KITCHEN) as server:
        for name, path in (("moved", "/307/hooks/moved"), ("lost", "/302/hooks/lost")):
            predict(
                server,
                {"id": name, "input": {}, "webhook": p.url + path, "webhook_events_filter": ["completed"]},
                Prefer="respond-async",
            )
        p.wait_for(lambda: p.webhooks("moved"))
        assert [r["path"] for r in p.requests if r["status"] == 200] == ["/hooks/moved"]
        p.wait_for(lambda: "redirected with HTTP 302, which drops the body" in server.log)
        assert not p.webhooks("lost")


def test_a_307_webhook_carries_a_spilled_output_in_full() -> None:
    """A spilled output is a stream, read once; the 307 is followed with it encoded anew."""
    with peer() as p, serve(MODELS / "stream") as server:
        body = {
            "id": "spilled",
            "input": {"n": 9_000, "pad": 1000, "quiet": True},  # 9 MB: past what is kept in memory
            "webhook": p.url + "/307/hooks/spilled",
            "webhook_events_filter": ["completed"],
        }
        predict(server, body, Prefer="respond-async")
        p.wait_for(lambda: p.webhooks("spilled"), timeout=60)
        assert p.webhooks("spilled")[-1]["output"] == [f"t{i}{'.' * 1000} " for i in range(9_000)]


def test_put_is_idempotent(kitchen) -> None:
    first = httpx.put(kitchen.url + "/predictions/same-id", json={"input": {"action": "count"}}, timeout=30).json()
    again = httpx.put(kitchen.url + "/predictions/same-id", json={"input": {"action": "count"}}, timeout=30).json()
    assert first["output"] == again["output"]  # the same id never runs twice
    mismatch = httpx.put(kitchen.url + "/predictions/a", json={"id": "b", "input": {}}, timeout=10)
    assert mismatch.status_code == 422
    assert mismatch.json()["detail"] == [
        {"loc": ["body", "id"], "msg": "prediction ID must match the ID supplied in the URL", "type": "value_error"}
    ]


def test_an_output_past_memory_goes_to_disk_and_comes_back_whole() -> None:
    """12 MB of items: the first 8 MiB stay in memory, the rest is spilled to a file, and the
    sync response, GET and the SSE completed event each carry every item, in order."""
    body = {"input": {"n": 12_000, "pad": 1000, "quiet": True}}
    with serve(MODELS / "stream") as server:
        sync = httpx.put(server.url + "/predictions/big", json=body, timeout=60).json()
        expected = [f"t{i}{'.' * 1000} " for i in range(12_000)]
        assert sync["status"] == "succeeded" and sync["output"] == expected
        assert httpx.get(server.url + "/predictions/big", timeout=60).json()["output"] == expected
        with httpx.stream(
            "POST", server.url + "/predictions", json=body, headers={"Accept": "text/event-stream"}, timeout=60
        ) as stream:
            data = [line for line in stream.iter_lines() if line.startswith("data: ")]
        assert json.loads(data[-1][6:])["output"] == expected


def test_an_output_past_the_limit_fails_the_prediction_and_stops_the_model() -> None:
    with serve(MODELS / "stream", env={"COGNIX_MAX_OUTPUT_BYTES": "100000"}) as server:
        body = {"input": {"n": 1_000_000, "pad": 100, "quiet": True}}
        started = time.monotonic()
        result = httpx.post(server.url + "/predictions", json=body, timeout=60).json()
        assert result["status"] == "failed"
        assert result["error"].startswith("the output passed 100,000 bytes (COGNIX_MAX_OUTPUT_BYTES)")
        assert time.monotonic() - started < 20  # stopped, not left to yield its million items
        assert server.wait_for("READY")["status"] == "READY"


def test_a_slow_sse_client_makes_the_model_wait(tmp_path) -> None:
    """Backpressure: a client that stops reading stops the model once the socket buffers (tens
    of MB on loopback) and the event backlog are full, instead of the server taking all it yields."""
    progress = tmp_path / "progress"
    body = {"id": "slow-reader", "input": {"n": 10_000_000, "pad": 20_000, "quiet": True, "progress": str(progress)}}
    with (
        serve(MODELS / "stream") as server,
        httpx.stream(
            "POST", server.url + "/predictions", json=body, headers={"Accept": "text/event-stream"}, timeout=60
        ) as stream,
    ):
        lines = stream.iter_lines()  # kept: an iterator let go of closes the connection
        next(lines)  # the first event; then the client reads nothing
        counts = []
        for _ in range(3):
            time.sleep(1.5)
            while not (text := progress.read_text()):  # caught between truncating and writing
                time.sleep(0.001)
            counts.append(int(text))
        assert counts[1] == counts[2] < 20_000, counts  # held still, at a bounded number
        assert httpx.get(server.url + "/health-check", timeout=10).json()["status"] == "BUSY"
        httpx.post(server.url + "/predictions/slow-reader/cancel", timeout=10)


def test_an_id_stays_answered_after_the_history_drops_its_output() -> None:
    """An output over the history's byte budget is dropped as the prediction ends; the id
    still answers GET and a retried PUT with its terminal state, and the model is not run again."""
    with serve(KITCHEN, env={"COGNIX_HISTORY_BYTES": "1000"}) as server:
        body = {"input": {"action": "echo", "text": "x" * 5000}}
        first = httpx.put(server.url + "/predictions/big-one", json=body, timeout=30)
        assert first.status_code == 200 and first.json()["output"] == "x" * 5000
        shown = httpx.get(server.url + "/predictions/big-one", timeout=10).json()
        assert shown["status"] == "succeeded" and shown["output"] is None
        assert shown["dropped"] == ["input", "output", "logs"] and shown["completed_at"]
        counted = httpx.put(server.url + "/predictions/counted", json={"input": {"action": "count"}}, timeout=30)
        again = httpx.put(server.url + "/predictions/big-one", json=body, timeout=30)
        assert again.status_code == 200 and again.json()["status"] == "succeeded"
        after = httpx.put(server.url + "/predictions/after", json={"input": {"action": "count"}}, timeout=30)
        assert after.json()["output"] == counted.json()["output"] + 1  # big-one did not run twice


def test_put_while_running_returns_current_state(kitchen) -> None:
    body = {"input": {"action": "sleep", "seconds": 1.0}}
    httpx.put(kitchen.url + "/predictions/long-one", json=body, headers={"Prefer": "respond-async"}, timeout=10)
    time.sleep(0.3)
    r = httpx.put(kitchen.url + "/predictions/long-one", json=body, timeout=10)
    assert r.status_code == 202
    assert r.json()["status"] == "processing" and r.json()["input"]["seconds"] == 1.0


def test_unknown_prediction(kitchen) -> None:
    assert httpx.get(kitchen.url + "/predictions/nope").status_code == 404
    r = httpx.post(kitchen.url + "/predictions/nope/cancel")
    assert r.status_code == 404 and r.json() == {}


# --- cancel ----------------------------------------------------------------------------------


def test_cancel_sync_prediction_mid_run(kitchen) -> None:
    with concurrent.futures.ThreadPoolExecutor() as pool:
        future = pool.submit(predict, kitchen, {"id": "to-cancel", "input": {"action": "sleep", "seconds": 20}})
        time.sleep(0.5)
        started = time.monotonic()
        assert httpx.post(kitchen.url + "/predictions/to-cancel/cancel").json() == {}
        body = future.result(timeout=10).json()
    assert body["status"] == "canceled"
    assert time.monotonic() - started < 3


def test_cancel_async_prediction(kitchen) -> None:
    with peer() as p:
        predict(
            kitchen,
            {"id": "a-cancel", "input": {"action": "sleep", "seconds": 20}, "webhook": p.url},
            Prefer="respond-async",
        )
        time.sleep(0.5)
        httpx.post(kitchen.url + "/predictions/a-cancel/cancel")
        p.wait_for(lambda: any(b["status"] == "canceled" for b in p.webhooks("a-cancel")), timeout=10)


def test_client_disconnect_cancels_sync_prediction(kitchen) -> None:
    with pytest.raises(httpx.ReadTimeout):
        predict_timeout = httpx.post(
            kitchen.url + "/predictions",
            json={"id": "hangup", "input": {"action": "sleep", "seconds": 20}},
            timeout=0.5,
        )
        assert predict_timeout  # never reached
    deadline = time.monotonic() + 5
    while httpx.get(kitchen.url + "/predictions/hangup").json()["status"] != "canceled":
        assert time.monotonic() < deadline
        time.sleep(0.05)


# --- queueing instead of 409 -----------------------------------------------------------------


def test_sequential_client_is_never_refused(kitchen) -> None:
    with httpx.Client(base_url=kitchen.url, timeout=30) as client:
        statuses = [client.post("/predictions", json={"input": {"text": str(i)}}).status_code for i in range(200)]
    assert statuses == [200] * 200


def test_busy_server_queues_then_refuses_past_depth() -> None:
    with serve(KITCHEN, "--queue-depth", "2") as server:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(predict, server, {"input": {"action": "sleep", "seconds": 0.5}}) for _ in range(3)]
            time.sleep(0.25)
            assert server.health()["status"] == "BUSY"
            refused = predict(server, {"input": {}})
            results = [f.result() for f in futures]
        assert refused.status_code == 409
        assert refused.json() == {"error": "At capacity - all prediction slots busy", "status": "failed"}
        assert [r.json()["status"] for r in results] == ["succeeded"] * 3  # one ran, two waited


# --- crash isolation -------------------------------------------------------------------------


def test_segfault_fails_one_prediction_and_the_model_restarts() -> None:
    with serve(KITCHEN) as server:
        body = predict(server, {"input": {"action": "crash"}}).json()
        assert body["status"] == "failed"
        assert "SIGSEGV" in body["error"]
        assert server.process.poll() is None  # the HTTP server lives on
        server.wait_for("READY", timeout=30)
        assert predict(server, {"input": {"text": "back"}}).json()["output"] == "back"
        assert predict(server, {"input": {"action": "count"}}).json()["output"] == 2  # a fresh process: 2nd call


# --- setup, health ----------------------------------------------------------------------------


def test_a_project_with_nothing_to_run_is_refused_with_cogs_words(tmp_path) -> None:
    """Neither run: nor predict: (nor train:): Cog's "no predict or train reference found in
    cog.yaml", and a hint naming run: and its old name predict:; with only train:, predicting
    says which two keys it looked for."""
    (tmp_path / "cog.yaml").write_text('build:\n  python_version: "3.11"\n')
    refused = run_cli("serve", "-p", str(free_port()), cwd=tmp_path)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "no predict or train reference found in cog.yaml" in refused.stderr
    assert 'add run: "run.py:Runner" to cog.yaml (predict: is its deprecated name)' in refused.stderr
    (tmp_path / "cog.yaml").write_text('build:\n  python_version: "3.11"\ntrain: "train.py:train"\n')
    (tmp_path / "train.py").write_text("def train(steps: int = 1) -> int:\n    return steps\n")
    refused = run_cli("predict", cwd=tmp_path)
    assert refused.returncode != 0 and "cog.yaml has no 'run:' (or 'predict:') entry" in refused.stderr


def test_setup_failure() -> None:
    with serve(KITCHEN, env={"FAIL_SETUP": "1"}, wait=("SETUP_FAILED",)) as server:
        health = server.health()
        assert health["setup"]["status"] == "failed"
        assert "setup exploded" in health["setup"]["logs"]
        r = predict(server, {"input": {}})
        assert r.status_code == 503 and r.json()["status"] == "failed"


def test_setup_timeout() -> None:
    with serve(KITCHEN, env={"SETUP_SECONDS": "30", "COG_SETUP_TIMEOUT": "1"}, wait=("SETUP_FAILED",)) as server:
        assert "COG_SETUP_TIMEOUT" in server.health()["setup"]["logs"]


def test_concurrency_a_synchronous_run_cannot_take_fails_setup() -> None:
    """As Cog's setup: COG_MAX_CONCURRENCY > 1 on a sync run() is refused before setup() runs,
    never silently served one at a time."""
    with serve(KITCHEN, env={"COG_MAX_CONCURRENCY": "2"}, wait=("SETUP_FAILED",)) as server:
        health = server.health()
        assert health["setup"]["status"] == "failed"
        assert "COG_MAX_CONCURRENCY > 1 requires an async run() or predict() method" in health["setup"]["logs"]
        assert predict(server, {"input": {}}).status_code == 503


def test_starting_state_while_setup_runs() -> None:
    with serve(KITCHEN, env={"SETUP_SECONDS": "2"}, wait=("STARTING",)) as server:
        assert predict(server, {"input": {}}).status_code == 503
        server.wait_for("READY")


@pytest.mark.parametrize(
    ("health", "error"),
    [
        ("bad", "Healthcheck failed: user-defined healthcheck returned False"),
        ("slow", "Healthcheck failed: user-defined healthcheck timed out after 5.0 seconds"),
        ("raise", "Healthcheck failed: RuntimeError: sick"),
        ("none", None),  # coglet reads a result that is not a bool as healthy
    ],
)
def test_user_healthcheck(health: str, error: str | None) -> None:
    """coglet's messages (coglet-python's predictor.rs), in GET /health-check's user_healthcheck_error."""
    status = "READY" if error is None else "UNHEALTHY"
    with serve(KITCHEN, env={"HEALTH": health}, wait=(status,)) as server:
        body = server.health()
        assert (body["status"], body.get("user_healthcheck_error")) == (status, error)


# --- secrets ---------------------------------------------------------------------------------


def test_secrets_never_leak(kitchen) -> None:
    with peer() as p:
        predict(
            kitchen,
            {"id": "secret", "input": {"action": "log", "token": "hunter2"}, "webhook": p.url},
            Prefer="respond-async",
        )
        p.wait_for(lambda: any(b["status"] == "succeeded" for b in p.webhooks("secret")))
        shown = json.dumps(p.webhooks("secret")) + httpx.get(kitchen.url + "/predictions/secret").text
    assert "hunter2" not in shown
    assert "token=**********" in shown  # str(Secret) in the model's own log line
    assert '"token": "**********"' in shown or '"token":"**********"' in shown
    assert "hunter2" not in kitchen.log


def test_a_secret_value_the_model_prints_or_raises_is_masked(kitchen) -> None:
    """get_secret_value() printed from Python, from a subprocess, split over two writes to
    the fd, and in the exception: masked in the logs, the error, GET and the webhooks."""
    with peer() as p:
        body = {"id": "leaky", "input": {"action": "leak", "token": "s3cr3t-t0ken"}, "webhook": p.url}
        predict(kitchen, body, Prefer="respond-async")
        p.wait_for(lambda: any(b["status"] == "failed" for b in p.webhooks("leaky")))
        final = httpx.get(kitchen.url + "/predictions/leaky").json()
        shown = json.dumps(p.webhooks("leaky")) + json.dumps(final)
    assert "s3cr3t" not in shown and "t0ken" not in shown and "s3cr3t" not in kitchen.log
    assert final["error"] == "bad token **********"
    for line in ("python sees **********", "c-level sees **********", "split ********** end", "flushed ********** end"):
        assert line in final["logs"]


def test_predict_json_masks_a_secret_value_in_the_error() -> None:
    result = run_cli(
        "predict", "--json", '{"action": "leak", "token": "s3cr3t-t0ken"}', cwd=KITCHEN, env={"NO_COLOR": "1"}
    )
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"] == "bad token **********"
    assert "s3cr3t-t0ken" not in result.stdout


# --- trainings -------------------------------------------------------------------------------


def test_trainings_routes(kitchen) -> None:
    r = httpx.post(kitchen.url + "/trainings", json={"input": {"steps": 4}}, timeout=30)
    assert r.json()["output"] == {"steps": 8}
    sse = httpx.post(kitchen.url + "/trainings", json={}, headers={"Accept": "text/event-stream"})
    assert sse.status_code == 406
    assert sse.json() == {"error": "Training endpoints do not support streaming responses."}


# --- SSE -------------------------------------------------------------------------------------


def _events(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_sse_stream() -> None:
    with serve(MODELS / "stream") as server:
        r = httpx.post(
            server.url + "/predictions",
            json={"id": "s1", "input": {"n": 3}},
            headers={"Accept": "text/event-stream"},
            timeout=30,
        )
        assert r.headers["content-type"].startswith("text/event-stream")
        # coglet's bytes: compact JSON, keys sorted (serde_json's maps), Cog's mode names
        for line in (
            'event: start\ndata: {"id":"s1","status":"processing"}\n\n',
            'event: output\ndata: {"chunk":"t0 ","index":0}\n\n',
            'event: log\ndata: {"data":"token 0\\n","source":"stdout"}\n\n',
            'event: metric\ndata: {"mode":"increment","name":"count","value":1}\n\n',
        ):
            assert line in r.text
        completed = r.text.rsplit("event: completed\ndata: ", 1)[1]
        keys = list(json.loads(completed))  # in the order written
        assert keys == sorted(keys) and "input" not in keys  # coglet's snapshot has no input
        events = _events(r.text)
        kinds = [e for e, _ in events]
        assert kinds[0] == "start" and kinds[-1] == "completed"
        assert [d for e, d in events if e == "output"] == [{"chunk": f"t{i} ", "index": i} for i in range(3)]
        assert {"source": "stdout", "data": "token 0\n"} in [d for e, d in events if e == "log"]
        assert [d["value"] for e, d in events if e == "metric"] == [1, 1, 1]
        assert events[-1][1]["output"] == ["t0 ", "t1 ", "t2 "]
        assert events[-1][1]["metrics"]["count"] == 3
        # a reconnecting client gets the whole stream again
        again = httpx.put(
            server.url + "/predictions/s1",
            json={"input": {"n": 3}},
            headers={"Accept": "text/event-stream"},
            timeout=30,
        )
        assert _events(again.text) == events
        refused = httpx.post(server.url + "/predictions", json={}, headers={"Accept": "text/event-stream"})
        assert refused.status_code == 200  # streaming model: SSE accepted


def test_sse_needs_streaming_opt_in(kitchen) -> None:
    r = httpx.post(kitchen.url + "/predictions", json={}, headers={"Accept": "text/event-stream"})
    assert r.status_code == 406
    assert "Add @cog.streaming" in r.json()["error"]


# --- concurrency -----------------------------------------------------------------------------


def test_async_concurrency_and_per_prediction_logs() -> None:
    with serve(MODELS / "asyncsleep") as server:
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            bodies = list(
                pool.map(lambda i: predict(server, {"input": {"text": str(i), "seconds": 0.5}}).json(), range(16))
            )
        assert time.monotonic() - started < 3  # 16 × 0.5 s ran side by side
        for i, body in enumerate(bodies):
            assert body["output"] == str(i)
            assert body["logs"] == f"start {i}\nend {i}\n"


def test_two_thousand_async_predictions_one_terminal_webhook_each() -> None:
    with peer() as p, serve(MODELS / "asyncsleep", "--queue-depth", "4096") as server:
        with httpx.Client(base_url=server.url, timeout=60, limits=httpx.Limits(max_connections=32)) as client:

            def submit(i: int) -> int:
                body = {
                    "id": f"bulk-{i}",
                    "input": {"text": str(i), "seconds": 0.01},
                    "webhook": p.url,
                    "webhook_events_filter": ["completed"],
                }
                return client.post("/predictions", json=body, headers={"Prefer": "respond-async"}).status_code

            with concurrent.futures.ThreadPoolExecutor(32) as pool:
                assert set(pool.map(submit, range(2000))) == {202}
        p.wait_for(lambda: len(p.webhooks()) >= 2000, timeout=120)
        time.sleep(0.5)
        terminal = [b["id"] for b in p.webhooks() if b["status"] == "succeeded"]
        assert set(terminal) == {f"bulk-{i}" for i in range(2000)}
        # delivery is at least once, as Cog's: a webhook is sent again only when its reply was lost
        assert len(terminal) - 2000 <= p.unacknowledged()


# --- shutdown --------------------------------------------------------------------------------


def test_sigterm_drains_in_flight_predictions() -> None:
    with peer() as p, serve(KITCHEN) as server:
        predict(
            server,
            {"id": "drain", "input": {"action": "sleep", "seconds": 1}, "webhook": p.url},
            Prefer="respond-async",
        )
        time.sleep(0.2)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(30) == 0
        assert [b["status"] for b in p.webhooks("drain")][-1] == "succeeded"


def test_sigterm_with_an_unreachable_webhook_is_bounded_and_says_what_it_gave_up() -> None:
    """The terminal webhook is retried for ~111 s; a stop gives it COGNIX_WEBHOOK_DRAIN_SECONDS,
    says at once what it waits for, names what it gave up on, and exits 1 for the lost work."""
    dead = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    with serve(KITCHEN, env={"COGNIX_WEBHOOK_DRAIN_SECONDS": "2"}) as server:
        body = {"id": "unheard", "input": {"action": "echo"}, "webhook": dead, "webhook_events_filter": ["completed"]}
        predict(server, body, Prefer="respond-async")
        server.wait_for_log("webhook " + dead + " for unheard failed")  # said at the first failure
        began = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(30) == 1
        assert time.monotonic() - began < 8
        assert "waiting up to 2s for 1 webhook delivery (unheard -> " + dead + ")" in server.log
        assert "gave up on the webhook to " + dead + " for unheard at shutdown: ConnectError" in server.log


def test_ctrl_c_twice_fails_the_work_in_flight_and_exits_1() -> None:
    """The second Ctrl-C stops waiting: the sync client gets the prediction as failed, in JSON,
    the async one its terminal webhook, and the exit status says work was lost."""
    with peer() as p, serve(KITCHEN) as server:
        async_body = {"id": "async-one", "input": {"action": "sleep", "seconds": 30}, "webhook": p.url}
        predict(server, async_body, Prefer="respond-async")
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            sync_body = {"input": {"action": "sleep", "seconds": 30}}
            sync = pool.submit(lambda: httpx.put(server.url + "/predictions/sync-one", json=sync_body, timeout=60))
            while httpx.get(server.url + "/predictions/sync-one", timeout=10).status_code == 404:  # admitted
                time.sleep(0.05)
            server.process.send_signal(signal.SIGINT)
            time.sleep(0.5)
            assert server.process.poll() is None  # draining: the predictions run on
            server.process.send_signal(signal.SIGINT)
            response = sync.result(timeout=20)
        assert server.process.wait(20) == 1
        assert response.headers["content-type"] == "application/json"
        assert response.json()["status"] == "failed" and "Ctrl-C twice" in response.json()["error"]
        p.wait_for(lambda: any(b["status"] == "failed" for b in p.webhooks("async-one")))
        assert "stopped before 2 predictions finished" in server.log


def test_await_explicit_shutdown() -> None:
    with serve(KITCHEN, "--await-explicit-shutdown") as server:
        server.process.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert server.process.poll() is None
        assert httpx.post(server.url + "/shutdown").json() == {}
        assert server.process.wait(30) == 0


def test_health_stays_responsive_during_a_long_prediction(kitchen) -> None:
    thread = threading.Thread(target=predict, args=(kitchen, {"input": {"action": "sleep", "seconds": 2}}))
    thread.start()
    time.sleep(0.3)
    started = time.monotonic()
    assert kitchen.health()["status"] == "BUSY"
    assert time.monotonic() - started < 0.5
    thread.join()


def test_cancel_a_queued_prediction() -> None:
    with serve(KITCHEN) as server, concurrent.futures.ThreadPoolExecutor(4) as pool:
        running = pool.submit(predict, server, {"input": {"action": "sleep", "seconds": 2}})
        time.sleep(0.3)
        queued = pool.submit(predict, server, {"id": "queued", "input": {"action": "count"}})
        time.sleep(0.3)
        assert httpx.post(server.url + "/predictions/queued/cancel").status_code == 200
        assert queued.result(timeout=5).json()["status"] == "canceled"  # at once, not after the slot frees
        assert running.result().json()["status"] == "succeeded"
        assert predict(server, {"input": {"action": "count"}}).json()["output"] == 2  # it never ran


# --- environment and entrypoint ----------------------------------------------------------------


def test_image_entrypoint_reads_cog_environment(tmp_path) -> None:
    """`python -m cognix.server`, as the image runs it: PORT, COG_PREDICT_TYPE_STUB, COG_WEIGHTS."""
    import os
    import subprocess
    import sys

    from tests.server_helpers import Server, free_port

    (tmp_path / "run.py").write_text(
        "from cog import BaseRunner\nclass Runner(BaseRunner):\n"
        "    def setup(self, weights=None):\n        self.w = weights\n"
        "    def run(self) -> str:\n        return str(self.w)\n"
    )
    port = free_port()
    log = tmp_path / "server.log"
    env = {**os.environ, "PORT": str(port), "COG_PREDICT_TYPE_STUB": "run.py:Runner", "COG_WEIGHTS": "https://w/x"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cognix.server", "--host", "127.0.0.1"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        server = Server(f"http://127.0.0.1:{port}", process, log)
        server.wait_for("READY")
        assert predict(server, {}).json()["output"] == "https://w/x"
    finally:
        process.terminate()
        assert process.wait(20) == 0
    missing = subprocess.run(
        [sys.executable, "-m", "cognix.server"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "COG_PREDICT_TYPE_STUB": ""},
    )
    assert missing.returncode == 1 and "COG_PREDICT_TYPE_STUB" in missing.stderr


def test_max_concurrency_from_environment() -> None:
    with serve(MODELS / "asyncsleep", env={"COG_MAX_CONCURRENCY": "2"}) as server:
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: predict(server, {"input": {"seconds": 0.5}}), range(4)))
        assert 0.9 < time.monotonic() - started < 2.0  # two slots: two rounds of 0.5 s


def test_output_and_log_webhooks_are_throttled() -> None:
    with peer() as p, serve(MODELS / "stream", env={"COG_THROTTLE_RESPONSE_INTERVAL": "0.5"}) as server:
        predict(server, {"id": "t", "input": {"n": 20, "delay": 0.05}, "webhook": p.url}, Prefer="respond-async")
        p.wait_for(lambda: any(b["status"] == "succeeded" for b in p.webhooks("t")))
        hooks = p.webhooks("t")
        assert 3 <= len(hooks) <= 6  # start, ~2 throttled updates over 1 s, completed — not 40 events
        assert hooks[-1]["output"] == [f"t{i} " for i in range(20)]


def test_sse_replay_capacity() -> None:
    with serve(MODELS / "stream", env={"COG_STREAM_HISTORY_CAPACITY": "4"}) as server:
        first = httpx.post(
            server.url + "/predictions",
            json={"id": "r", "input": {"n": 10}},
            headers={"Accept": "text/event-stream"},
            timeout=30,
        )
        live = _events(first.text)  # a live client gets everything, whatever the replay capacity
        assert live[0][0] == "start" and live[-1][0] == "completed" and len(live) == 32
        again = httpx.put(
            server.url + "/predictions/r",
            json={"input": {"n": 10}},
            headers={"Accept": "text/event-stream"},
            timeout=30,
        )
        # 32 events, the last 4 kept: coglet says so, with its words, and replays nothing
        assert (
            again.text
            == 'event: error\ndata: {"error":"SSE stream replay truncated; events were dropped","skipped":28}\n\n'
        )


def test_sse_without_replay_a_reconnecting_client_follows_the_live_stream(tmp_path) -> None:
    """COG_STREAM_HISTORY_CAPACITY=0: no replay and nothing said about dropped events (coglet
    counts only what a full buffer let go), then every live event through completed."""
    progress = tmp_path / "progress"
    with serve(MODELS / "stream", env={"COG_STREAM_HISTORY_CAPACITY": "0"}) as server, server.client() as client:
        body = {"id": "live", "input": {"n": 8, "delay": 0.3, "progress": str(progress)}}
        sse = {"Accept": "text/event-stream"}
        with client.stream("POST", "/predictions", json=body, headers=sse) as first:
            lines = first.iter_lines()
            while next(lines) != "event: output":  # the first client is in, and the model has begun
                pass
            again = client.put("/predictions/live", json={"input": body["input"]}, headers=sse)
            rest = "\n".join(lines)
        events = _events(again.text)
        assert events and events[-1][0] == "completed" and events[-1][1]["status"] == "succeeded"
        kinds = {e for e, _ in events}
        assert "error" not in kinds and "start" not in kinds  # no replay: it joined after the start
        indexes = [d["index"] for e, d in events if e == "output"]
        assert indexes and indexes[0] > 0 and indexes == list(range(indexes[0], 8))
        assert "event: completed" in rest  # the first client got to the end too


def test_input_files_are_bounded_in_size() -> None:
    with peer() as p, serve(KITCHEN, env={"COGNIX_MAX_INPUT_BYTES": "1000"}) as server:
        p.files["big.bin"] = b"x" * 5000
        r = predict(server, {"input": {"action": "file", "image": p.url + "/files/big.bin"}})
        assert r.status_code == 422 and "larger than 1000 bytes" in r.json()["detail"][0]["msg"]


def test_repeated_crashes_make_the_server_defunct() -> None:
    with serve(KITCHEN) as server:
        for _ in range(6):
            server.wait_for("READY", "DEFUNCT")
            predict(server, {"input": {"action": "crash"}})
        server.wait_for("DEFUNCT", timeout=30)
        r = predict(server, {"input": {}})
        assert r.status_code == 503 and "crashed repeatedly" in r.json()["error"]
        assert server.process.poll() is None


def test_a_missing_output_file_fails_only_its_prediction(kitchen) -> None:
    body = predict(kitchen, {"input": {"action": "ghost"}}).json()
    assert body["status"] == "failed" and "cannot read an output file" in body["error"]
    assert predict(kitchen, {"input": {"text": "fine"}}).json()["output"] == "fine"


def test_file_like_outputs_leave_no_temporary_copies(tmp_path) -> None:
    import glob
    import tempfile

    (tmp_path / "cog.yaml").write_text('run: "run.py:Runner"\n')
    (tmp_path / "run.py").write_text(
        "import io\nfrom cog import BaseRunner, File\n"
        "class Runner(BaseRunner):\n    def run(self) -> File:\n"
        "        f = io.BytesIO(b'legacy'); f.name = 'legacy.txt'; return f\n"
    )
    before = set(glob.glob(f"{tempfile.gettempdir()}/cognix-out-*"))
    with serve(tmp_path) as server:
        out = predict(server, {}).json()["output"]
    assert base64.b64decode(out.split(",", 1)[1]) == b"legacy"
    assert set(glob.glob(f"{tempfile.gettempdir()}/cognix-out-*")) == before


def test_worker_messages_survive_the_channel_as_they_were_sent() -> None:
    import pickle
    import socket

    from cognix.server import ipc

    messages = [
        ipc.Predict("p1", {"text": "hi"}, {"k": "v"}),
        ipc.Log(None, "stderr", "setup\n"),
        ipc.Output("p1", ipc.file_ref("/tmp/x.png", temporary=True)),
        ipc.Done("p1", None, {"n": 1}, streamed=True),
        ipc.Failed("p1", "boom", {}),
        ipc.Cancel("p1"),
    ]
    for message in messages:
        assert pickle.loads(ipc.encode(message)[4:]) == message
    server, worker = socket.socketpair()
    with server, worker:
        server.sendall(ipc.encode(messages[0]))
        assert ipc.BlockingChannel(worker).recv() == messages[0]
    assert type(pickle.loads(ipc.encode(messages[2])[4:]).value) is ipc.TemporaryFileRef


def test_non_finite_floats_beside_big_integers_stay_valid_json(tmp_path) -> None:
    """Issue 12 (20): an output that orjson refuses (an integer beyond 64 bits) went through the
    stdlib encoder, which wrote a bare NaN. Both encoders now write null for it."""
    (tmp_path / "cog.yaml").write_text('build:\n  python_version: "3.11"\nrun: "predict.py:Runner"\n')
    (tmp_path / "predict.py").write_text(
        "from typing import Any\nfrom cog import BaseRunner\n\n\nclass Runner(BaseRunner):\n"
        "    def run(self) -> Any:\n        return {'nan': float('nan'), 'inf': float('-inf'), 'big': 2 ** 70}\n"
    )

    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    with serve(tmp_path) as server:
        response = httpx.post(f"{server.url}/predictions", json={"input": {}}, timeout=30)
    body = json.loads(response.text, parse_constant=refuse)
    assert body["status"] == "succeeded" and body["output"] == {"nan": None, "inf": None, "big": 2**70}


def test_a_request_body_past_the_limit_is_413_by_length_or_as_it_streams() -> None:
    """Issue 12 (21): a body is bounded (COGNIX_MAX_REQUEST_BYTES, 128 MiB by default), whether
    it announces its length or arrives chunked."""
    with serve(KITCHEN, env={"COGNIX_MAX_REQUEST_BYTES": "1000"}) as server:
        body = json.dumps({"input": {"text": "x" * 2000}}).encode()
        announced = httpx.post(f"{server.url}/predictions", content=body, timeout=30)
        assert announced.status_code == 413 and "COGNIX_MAX_REQUEST_BYTES" in announced.json()["detail"]
        chunked = httpx.post(f"{server.url}/predictions", content=iter([body[:600], body[600:]]), timeout=30)
        assert chunked.status_code == 413
        small = httpx.post(f"{server.url}/predictions", json={"input": {"text": "ok"}}, timeout=30)
        assert small.status_code == 200 and small.json()["output"] == "ok"


NESTED = """from typing import Any
from cog import BaseRunner


class Runner(BaseRunner):
    def run(self, data: Any) -> str:
        return "ran"
"""


def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def test_a_deeply_nested_input_is_refused_and_the_server_stays_ready(tmp_path) -> None:
    """Issue 12 (1): an input nested ~600 deep made pickling it for the worker fail, and the slot
    was never freed (BUSY for good, then 409s). Such an input is now a 422 (COGNIX_MAX_INPUT_DEPTH,
    100), before it takes a place; the supervisor also ends any prediction it cannot send."""
    (tmp_path / "cog.yaml").write_text('build:\n  python_version: "3.11"\nrun: "predict.py:Runner"\n')
    (tmp_path / "predict.py").write_text(NESTED)
    with serve(tmp_path, env={"COGNIX_QUEUE_DEPTH": "1"}) as server:
        for _ in range(4):  # more than the slot and the queue hold
            refused = httpx.post(f"{server.url}/predictions", json={"input": {"data": nested(600)}}, timeout=30)
            assert refused.status_code == 422 and "nested deeper than 100 levels" in refused.text
        assert httpx.get(f"{server.url}/health-check").json()["status"] == "READY"
        fine = httpx.post(f"{server.url}/predictions", json={"input": {"data": nested(50)}}, timeout=30)
        assert fine.json()["output"] == "ran"


def test_an_input_the_worker_cannot_be_sent_fails_alone_and_frees_its_slot(tmp_path) -> None:
    """Issue 12 (1), the invariant itself: with the depth bound lifted, the input is refused by
    pickle (RecursionError) on its way to the worker. Each such prediction ends failed, saying
    why, and gives its slot back: more of them than the slot and the queue hold, then a fine one."""
    (tmp_path / "cog.yaml").write_text('build:\n  python_version: "3.11"\nrun: "predict.py:Runner"\n')
    (tmp_path / "predict.py").write_text(NESTED)
    with serve(tmp_path, env={"COGNIX_QUEUE_DEPTH": "1", "COGNIX_MAX_INPUT_DEPTH": "0"}) as server:
        deep = '{"input": {"data": ' + '{"a": ' * 1000 + "{}" + "}" * 1000 + "}}"  # too deep for json.dumps
        for _ in range(4):
            failed = httpx.post(
                f"{server.url}/predictions", content=deep, headers={"Content-Type": "application/json"}, timeout=30
            )
            assert failed.status_code == 200 and failed.json()["status"] == "failed", failed.text
            assert "the input could not be passed to the model" in failed.json()["error"]
        assert httpx.get(f"{server.url}/health-check").json()["status"] == "READY"
        fine = httpx.post(f"{server.url}/predictions", json={"input": {"data": nested(50)}}, timeout=30)
        assert fine.json()["output"] == "ran"
