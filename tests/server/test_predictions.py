"""Prediction state and the bounded history (what keeps a long-running server's memory flat)."""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Iterator

import orjson

from cognix.server import bodies
from cognix.server.predictions import BACKLOG, Ended, History, Prediction
from cognix.server.spill import OutputItems
from cognix.server.states import Health, Status


def _finished(i: int, output: str = "x") -> Prediction:
    p = Prediction(id=f"p{i}", input={}, shown_input={})
    p.start()
    p.finish(Status.SUCCEEDED, output=output)
    return p


def _retire(history: History, numbers: range, output: str = "x") -> None:
    """Finished predictions p0, p1, ... handed to ``history`` as the server does."""
    for i in numbers:
        p = _finished(i, output=output)
        history.add(p)
        history.retire(p)


def test_history_keeps_at_most_capacity_finished_predictions() -> None:
    history = History(capacity=3)
    _retire(history, range(10))
    assert [isinstance(history.get(f"p{i}"), Prediction) for i in range(10)] == [False] * 7 + [True] * 3
    assert all(isinstance(history.get(f"p{i}"), Ended) for i in range(7))  # their ids still answer


def test_history_is_bounded_in_bytes() -> None:
    history = History(capacity=1000, max_bytes=10_000)
    _retire(history, range(50), output="y" * 1_000)
    assert history.bytes <= 10_000
    assert isinstance(history.get("p49"), Prediction) and isinstance(history.get("p0"), Ended)


def test_a_dropped_prediction_is_remembered_by_id_for_the_window() -> None:
    history = History(capacity=2, max_bytes=10_000, ended=5)
    _retire(history, range(10), output="y" * 20_000)  # each alone is over the byte budget
    assert history.bytes == 0 and not history.finished
    assert [history.get(f"p{i}") is not None for i in range(10)] == [False] * 5 + [True] * 5
    kept = history.get("p9")
    assert kept is not None and kept.terminal and kept.response()["status"] == Status.SUCCEEDED
    assert kept.response()["output"] is None and kept.response()["dropped"] == ["input", "output", "logs"]


def test_active_predictions_are_never_forgotten() -> None:
    history = History(capacity=1)
    running = Prediction(id="running", input={}, shown_input={})
    history.add(running)
    _retire(history, range(5))
    assert history.get("running") is running


def test_terminal_state_is_final_and_timed() -> None:
    p = _finished(1, output="first")
    p.finish(Status.FAILED, error="late")
    body = p.response()
    assert body["status"] == "succeeded" and body["output"] == "first" and "error" not in body
    assert body["metrics"]["predict_time"] >= 0
    assert body["created_at"] <= body["started_at"] <= body["completed_at"]
    assert body["completed_at"].endswith("Z")


def test_states_are_written_as_cogs_plain_strings() -> None:
    body = _finished(1).response()
    assert orjson.loads(orjson.dumps(body))["status"] == "succeeded"
    assert json.dumps({"status": Health.SETUP_FAILED}) == '{"status": "SETUP_FAILED"}'
    assert f"{Status.CANCELED} {Health.BUSY}" == str(Status.CANCELED) + " BUSY" == "canceled BUSY"


def test_one_prediction_over_the_byte_budget_does_not_push_out_the_others() -> None:
    history = History(capacity=1000, max_bytes=10_000)
    _retire(history, range(5), output="y" * 100)
    big = _finished(99, output="z" * 20_000)
    history.add(big)
    history.retire(big)
    assert all(isinstance(history.get(f"p{i}"), Prediction) for i in range(5))
    assert isinstance(history.get("p99"), Ended)


def test_a_spilled_output_reads_whole_while_items_are_added_from_another_thread() -> None:
    """Responses stream a spilled output from Starlette's thread pool while the event loop
    adds items: each read is the items as they were when it was asked for, as valid JSON."""
    items = OutputItems(bodies.dumps, 1 << 30, memory_bytes=1000)
    for i in range(2000):
        items.append(f"item {i}")
    snapshots = [(items.count, items.chunks()) for _ in range(4)]
    results: list[bytes] = []

    def read(pieces: Iterator[bytes]) -> None:
        results.append(b"".join(pieces))

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(read, pieces) for _, pieces in snapshots]
        for i in range(2000, 60_000):  # meanwhile, on this thread, as the server's loop does
            items.append(f"item {i}")
        for future in futures:
            future.result()
    assert all(json.loads(r) == [f"item {i}" for i in range(2000)] for r in results)
    assert json.loads(b"".join(items.chunks())) == [f"item {i}" for i in range(60_000)]


def test_a_lagging_sse_client_is_let_go_with_an_error_after_what_it_has() -> None:
    p = Prediction(id="p", input={}, shown_input={}, history_capacity=8)
    queue, _, _ = p.subscribe()
    for i in range(BACKLOG):
        p.add_output(f"t{i}")
    assert p.congested()
    p.shed_lagging()
    assert not p.subscribers and not p.congested()
    events = [queue.get_nowait() for _ in range(queue.qsize())]
    assert [e[1] for e in events] == ["output"] * BACKLOG + ["error"]
    assert "reconnect" in events[-1][2]["error"]
