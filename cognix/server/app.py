"""Cog's HTTP API (``/predictions``, ``/trainings``, ``/health-check``, …) on Starlette/FastAPI.

Routes only parse, validate and respond; predictions run in :class:`Supervisor` and are
tracked in :class:`History`, so the HTTP layer never runs model code.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import platform
import shutil
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from cognix._version import __version__
from cognix.runtime import inputs, schema
from cognix.server import bodies, sse
from cognix.server.files import InputFiles, OutputFiles
from cognix.server.http_client import LazyClient
from cognix.server.predictions import History, Prediction, masked_input, new_id
from cognix.server.settings import Settings
from cognix.server.states import Health, Status
from cognix.server.supervisor import AtCapacity, NotReady, Supervisor, WorkerHandle
from cognix.server.webhooks import Webhooks

log = logging.getLogger("cognix.server")
EVENTS = frozenset({"start", "output", "logs", "completed"})
FORCED_DRAIN = 2.0  # seconds a forced stop gives the terminal webhooks it sends
PLAYGROUND = Path(__file__).parent / "playground"  # the page's HTML, JS and CSS (Settings.playground)


def _depth(value: Any) -> int:
    """How deep lists and objects nest in a JSON value (walked without recursion)."""
    if not isinstance(value, (dict, list)):
        return 0
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def _deliverable(url: str) -> bool:
    """Whether a webhook URL parses with a host, as httpx will need it to."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:  # an unclosed "[" of an IPv6 host, a bad port
        return False
    return bool(parts.hostname)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    encoded = bodies.encode(body)
    if isinstance(encoded, bytes):
        return Response(encoded, status_code=status, media_type="application/json", headers=headers)
    headers = {**(headers or {}), "Content-Length": str(encoded.length)}
    return StreamingResponse(encoded.pieces, status_code=status, media_type="application/json", headers=headers)


def _invalid(loc: list[str | int], msg: str, kind: str = "value_error") -> Response:
    return _json({"detail": [{"loc": loc, "msg": msg, "type": kind}]}, 422)


class _BadRequest(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


class CogAPI:
    """State shared by the routes: supervisors (predict/train), history, webhooks."""

    def __init__(
        self, settings: Settings, request_shutdown: Callable[[], None], workers: dict[str, WorkerHandle] | None
    ) -> None:
        self.settings = settings
        self.request_shutdown = request_shutdown
        self.prespawned = workers or {}
        # one history per mode: a training's id is no prediction's (GET, PUT and cancel by id)
        self.histories = {mode: History(settings.history_size, settings.history_bytes) for mode in settings.refs}
        self.client = LazyClient()
        self.supervisors: dict[str, Supervisor] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.lost = 0  # predictions and webhooks a stop left unfinished: the exit status is 1
        self._stopping: asyncio.Future[None] | None = None

    @property
    def predict(self) -> Supervisor | None:
        return self.supervisors.get("predict")

    async def startup(self) -> None:
        s = self.settings
        self.input_files = InputFiles(self.client, max_bytes=s.max_input_bytes, timeout=s.fetch_timeout)
        self.webhooks = Webhooks(self.client, s.throttle, s.webhook_token)
        outputs = OutputFiles(self.client, s.upload_url)
        for mode, ref in s.refs.items():
            self.supervisors[mode] = Supervisor(s, ref, mode, outputs)
        for mode, supervisor in self.supervisors.items():
            # health answers STARTING while the model loads
            self._spawn(supervisor.start(self.prespawned.pop(mode, None)))

    async def shutdown(self) -> None:
        """Drain: finish in-flight predictions, give their webhooks COGNIX_WEBHOOK_DRAIN_SECONDS,
        then stop the workers. Each step says what it waits for. Runs once, however often called."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._drain())
        await asyncio.shield(self._stopping)

    async def _drain(self) -> None:
        active = self._active()
        if active:
            log.info("shutting down: waiting for %d predictions (%s)", len(active), ", ".join(p.id for p in active))
        for prediction in active:
            await prediction.done.wait()
        if self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)
        self.lost += await self.webhooks.drain(self.settings.webhook_drain)
        for supervisor in self.supervisors.values():
            await supervisor.stop()
        await self.client.aclose()

    async def abandon(self, reason: str) -> None:
        """A forced stop (Ctrl-C twice): every prediction in flight ends now as failed, so a sync
        client gets its answer and an async one its terminal webhook (given ``FORCED_DRAIN``
        seconds), and the server counts them as lost work, which makes its exit status 1."""
        active = self._active()
        for prediction in active:
            prediction.finish(Status.FAILED, error=reason)
        if active:
            log.error("stopped before %d predictions finished (%s)", len(active), ", ".join(p.id for p in active))
        self.lost += len(active)
        for task in list(self.tasks):  # fetching inputs, or waiting for a restarted model: not now
            task.cancel()
        self.webhooks.hurry(FORCED_DRAIN)
        await self.shutdown()

    def _active(self) -> list[Prediction]:
        return [p for history in self.histories.values() for p in history.active.values()]

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    # --- documents ----------------------------------------------------------------------

    def root(self) -> dict[str, Any]:
        doc = {
            "cog_version": __version__,
            "docs_url": "/docs",
            "openapi_url": "/openapi.json",
            "shutdown_url": "/shutdown",
            "healthcheck_url": "/health-check",
            "predictions_url": "/predictions",
            "predictions_idempotent_url": "/predictions/{prediction_id}",
            "predictions_cancel_url": "/predictions/{prediction_id}/cancel",
        }
        if "train" in self.supervisors:
            doc.update(
                trainings_url="/trainings",
                trainings_idempotent_url="/trainings/{training_id}",
                trainings_cancel_url="/trainings/{training_id}/cancel",
            )
        return doc

    def openapi(self) -> dict[str, Any] | None:
        docs = []
        for mode, supervisor in self.supervisors.items():
            if supervisor.signature is None:
                return None
            docs.append(schema.openapi(supervisor.signature, mode=mode))
        if not docs:
            return None
        merged = docs[0]
        for extra in docs[1:]:  # predict and train together, as Cog merges them
            merged["paths"].update(extra["paths"])
            for name, component in extra["components"]["schemas"].items():
                merged["components"]["schemas"].setdefault(name, component)
        for mode in self.supervisors:
            _add_server_paths(merged, mode)
        return merged

    async def health(self) -> dict[str, Any]:
        supervisor = self.predict or next(iter(self.supervisors.values()))
        status = supervisor.state
        if status == Health.READY and supervisor.restarting:
            status = Health.STARTING
        body: dict[str, Any] = {"status": status, "setup": supervisor.setup.as_dict()}
        body["version"] = {"cognix": __version__, "python_sdk": __version__, "python": platform.python_version()}
        if status == Health.READY:
            error = await supervisor.user_healthcheck()
            if error:
                body["status"] = Health.UNHEALTHY
                body["user_healthcheck_error"] = error
            elif supervisor.busy:
                body["status"] = Health.BUSY
        return body

    # --- predictions --------------------------------------------------------------------

    async def create(self, request: Request, mode: str, path_id: str | None) -> Response:
        kind = "training" if mode == "train" else "prediction"
        supervisor = self.supervisors[mode]
        try:
            data = await _request_body(request, self.settings)
        except _BadRequest as e:
            return e.response
        if path_id is not None and data.get("id") not in (None, path_id):
            return _invalid(["body", "id"], f"{kind} ID must match the ID supplied in the URL")
        prediction_id = path_id or data.get("id") or new_id()
        want_sse = "text/event-stream" in request.headers.get("accept", "")
        if want_sse and mode == "train":
            return _json({"error": "Training endpoints do not support streaming responses."}, 406)
        if want_sse and supervisor.signature is not None and not supervisor.signature.streaming:
            return _json(
                {
                    "error": "This model does not support streaming responses. "
                    "Add @cog.streaming to predict() to enable SSE."
                },
                406,
            )
        history = self.histories[mode]
        existing = history.get(prediction_id)
        if existing is not None:  # the same id never runs twice
            if want_sse:
                return StreamingResponse(sse.events(existing), media_type="text/event-stream")
            return _json(existing.response(), 202 if not existing.terminal else 200)
        if supervisor.signature is None:
            return _json({"error": "Setup has not finished yet", "status": Status.FAILED}, 503)
        try:
            values = inputs.validate(supervisor.signature, data["input"])
        except inputs.InvalidInputs as e:
            return _json({"detail": [_detail(i) for i in e.issues]}, 422)
        try:
            supervisor.admit(prediction_id)
        except NotReady as e:
            return _json({"error": str(e), "status": Status.FAILED}, 503)
        except AtCapacity:
            return _json({"error": "At capacity - all prediction slots busy", "status": Status.FAILED}, 409)
        prediction = Prediction(
            id=prediction_id,
            input=values,
            shown_input=masked_input(supervisor.signature, values),
            context=data["context"],
            webhook=data["webhook"],
            events_filter=data["events"],
            history_capacity=self.settings.stream_history if supervisor.signature.streaming else 0,
            max_output_bytes=self.settings.max_output_bytes,
        )
        history.add(prediction)  # before any await: the same id cannot start twice
        respond_async = "respond-async" in request.headers.get("prefer", "")
        fetched: tuple[dict[str, Any], Path | None] | None = None
        if not respond_async:  # sync and SSE: a bad file input is a 422, as Cog answers
            try:
                fetched = await self.input_files.fetch(supervisor.signature, values)
            except inputs.InvalidInputs as e:
                supervisor.drop(prediction_id)
                history.active.pop(prediction_id, None)
                return _json({"detail": [_detail(i) for i in e.issues]}, 422)
        self.webhooks.watch(prediction, _trace_headers(request))
        stream = sse.events(prediction) if want_sse else None  # subscribed before the first event
        execution = self._spawn(self._execute(supervisor, prediction, fetched))
        if respond_async:
            return _json(prediction.response(), 202)
        if stream is not None:
            return StreamingResponse(stream, media_type="text/event-stream")
        await self._wait_or_cancel(request, supervisor, prediction, execution)
        return _json(prediction.response(with_input=False))

    async def _execute(
        self, supervisor: Supervisor, prediction: Prediction, fetched: tuple[dict[str, Any], Path | None] | None
    ) -> None:
        workdir: Path | None = None
        try:
            if fetched is None:
                assert supervisor.signature is not None
                fetched = await self.input_files.fetch(supervisor.signature, prediction.input)
            values, workdir = fetched
            prediction.input = values
            await supervisor.run(prediction)
        except inputs.InvalidInputs as e:
            prediction.finish(Status.FAILED, error="; ".join(i.cli_message() for i in e.issues))
        except Exception as e:  # a server bug must still end the prediction
            log.exception("prediction %s failed in the server", prediction.id)
            prediction.finish(Status.FAILED, error=f"internal error: {type(e).__name__}: {e}")
        finally:
            supervisor.drop(prediction.id)  # if it never got as far as a slot
            self.histories[supervisor.mode].retire(prediction)
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)

    async def _wait_or_cancel(
        self, request: Request, supervisor: Supervisor, prediction: Prediction, execution: asyncio.Task[Any]
    ) -> None:
        """Wait for a sync prediction; a client that hangs up cancels it (as Cog does)."""
        gone = asyncio.ensure_future(_disconnected(request))
        await asyncio.wait({execution, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not execution.done():
            supervisor.cancel(prediction)
        gone.cancel()

    def get(self, mode: str, prediction_id: str) -> Response:
        prediction = self.histories[mode].get(prediction_id)
        return _json(prediction.response(), 200) if prediction else _json({}, 404)

    def cancel(self, mode: str, prediction_id: str) -> Response:
        prediction = self.histories[mode].get(prediction_id)
        if prediction is None:
            return _json({}, 404)
        if isinstance(prediction, Prediction) and not prediction.terminal:
            self.supervisors[mode].cancel(prediction)
        return _json({})


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _trace_headers(request: Request) -> dict[str, str]:
    return {k: v for k in ("traceparent", "tracestate") if (v := request.headers.get(k))}


def _detail(issue: inputs.InputIssue) -> dict[str, Any]:
    return {"loc": ["body", "input", issue.field], "msg": issue.msg, "type": issue.type}


async def _request_body(request: Request, settings: Settings) -> dict[str, Any]:
    """The request body, shape-checked: ``input``, ``id``, ``webhook``, filter, ``context``.
    More than ``max_request_bytes`` is a 413, refused by its Content-Length or as it arrives."""
    limit = settings.max_request_bytes
    too_large = _BadRequest(
        _json({"detail": f"the request body is larger than {limit} bytes (COGNIX_MAX_REQUEST_BYTES)"}, status=413)
    )
    length = request.headers.get("content-length", "")
    if length.isdecimal() and int(length) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        data = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as e:
        raise _BadRequest(_invalid(["body"], f"invalid JSON: {e}", "value_error.jsondecode")) from None
    if not isinstance(data, dict):
        raise _BadRequest(_invalid(["body"], "expected a JSON object"))
    data["input"] = {} if data.get("input") is None else data["input"]
    if not isinstance(data["input"], dict):
        raise _BadRequest(_invalid(["body", "input"], "value is not a valid dict", "type_error.dict"))
    if data.get("id") is not None and not isinstance(data["id"], str):
        raise _BadRequest(_invalid(["body", "id"], "str type expected", "type_error.str"))
    if _depth(data.get("input")) > settings.max_input_depth:  # deeper ones would not even reach the worker
        message = f"input is nested deeper than {settings.max_input_depth} levels (COGNIX_MAX_INPUT_DEPTH)"
        raise _BadRequest(_invalid(["body", "input"], message, "value_error"))
    webhook = data.get("webhook")
    if webhook is not None and not (isinstance(webhook, str) and webhook.startswith(("http://", "https://"))):
        raise _BadRequest(_invalid(["body", "webhook"], "invalid or missing URL scheme", "value_error.url.scheme"))
    if webhook is not None and not _deliverable(webhook):  # "http://", "http://[::1": refused now, not at delivery
        raise _BadRequest(_invalid(["body", "webhook"], "invalid URL: it has no valid host", "value_error.url.host"))
    data["webhook"] = webhook
    events = data.get("webhook_events_filter")
    if events is None:
        data["events"] = EVENTS
    elif isinstance(events, list) and all(e in EVENTS for e in events):
        data["events"] = frozenset(events)
    else:
        raise _BadRequest(
            _invalid(
                ["body", "webhook_events_filter"], f"must be a list of: {', '.join(sorted(EVENTS))}", "type_error.enum"
            )
        )
    context = data.get("context") or {}
    if not isinstance(context, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in context.items()):
        raise _BadRequest(_invalid(["body", "context"], "must be an object of strings", "type_error.dict"))
    data["context"] = context
    return data


def _add_server_paths(doc: dict[str, Any], mode: str) -> None:
    """Routes cognix serves beyond Cog's static document: PUT/GET by id and shutdown."""
    kind = "training" if mode == "train" else "prediction"
    id_name = f"{kind}_id"
    ref = "#/components/schemas/" + ("TrainingRequest" if mode == "train" else "PredictionRequest")
    response = {"$ref": "#/components/schemas/" + ("TrainingResponse" if mode == "train" else "PredictionResponse")}
    parameter = {
        "in": "path",
        "name": id_name,
        "required": True,
        "schema": {"title": schema.title(id_name), "type": "string"},
    }
    ok = {"description": "Successful Response", "content": {"application/json": {"schema": response}}}
    invalid = {
        "description": "Validation Error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}},
    }
    doc["paths"][f"/{kind}s/{{{id_name}}}"] = {
        "put": {
            "summary": f"Idempotent {kind.capitalize()}",
            "operationId": f"{kind}_idempotent_{kind}s__{id_name}__put",
            "parameters": [parameter],
            "requestBody": {"content": {"application/json": {"schema": {"$ref": ref}}}},
            "responses": {"200": ok, "202": ok, "422": invalid},
        },
        "get": {
            "summary": f"Get {kind.capitalize()}",
            "operationId": f"get_{kind}_{kind}s__{id_name}__get",
            "parameters": [parameter],
            "responses": {"200": ok, "404": {"description": "Not Found"}},
        },
    }
    doc["paths"]["/shutdown"] = {
        "post": {
            "summary": "Start Shutdown",
            "operationId": "start_shutdown_shutdown_post",
            "responses": {
                "200": {"description": "Successful Response", "content": {"application/json": {"schema": {}}}}
            },
        }
    }


class CognixApp:
    """The ASGI app. The hot routes (creating a prediction, the health check) and the
    lifespan are served here directly; every other route by a FastAPI app that is built
    on first use (its import then costs that one request ~0.2 s). Skipping the framework's
    middleware halves the server's CPU per prediction; not importing FastAPI before the
    server listens halves cold start."""

    def __init__(self, api: CogAPI) -> None:
        self.api = api
        self.create_paths = {"/trainings" if mode == "train" else "/predictions": mode for mode in api.settings.refs}
        self._framework: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path, method = scope.get("path", ""), scope.get("method")
        if scope["type"] == "http" and (path in self.create_paths or path == "/health-check"):
            allowed = "GET, HEAD" if path == "/health-check" else "POST"
            try:
                if method not in allowed.split(", "):
                    response = _json({"detail": "Method Not Allowed"}, 405, {"Allow": allowed})
                elif path == "/health-check":
                    response = _json(await self.api.health())
                else:
                    response = await self.api.create(Request(scope, receive), self.create_paths[path], None)
            except Exception:  # what a framework's error middleware would do
                log.exception("%s %s failed", method, path)
                response = Response("Internal Server Error", status_code=500)
            await response(scope, receive, send)
            return
        await self.framework()(scope, receive, send)

    def framework(self) -> Any:
        if self._framework is None:
            self._framework = _fastapi_app(self.api)
        return self._framework

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.api.startup()
                gc.freeze()  # what start-up loaded is never garbage: keep it out of every collection
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.api.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app(
    settings: Settings,
    request_shutdown: Callable[[], None] = lambda: None,
    workers: dict[str, WorkerHandle] | None = None,
) -> CognixApp:
    """The ASGI app; ``workers`` are worker processes already started for it, by mode."""
    return CognixApp(CogAPI(settings, request_shutdown, workers))


def _fastapi_app(api: CogAPI) -> Any:
    from fastapi import FastAPI
    from fastapi.openapi.docs import get_swagger_ui_html

    app = FastAPI(title="Cog", version=__version__, openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/")
    async def root() -> Response:
        return _json(api.root())

    @app.get("/openapi.json")
    async def openapi() -> Response:
        doc = api.openapi()
        if doc is None:
            return _json({"error": "OpenAPI schema not available"}, 503)
        return Response(schema.dumps(doc), media_type="application/json")

    @app.get("/docs")
    async def docs() -> Response:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="cognix model API")

    @app.post("/shutdown")
    async def shutdown() -> Response:
        api.request_shutdown()
        return _json({})

    for mode in api.settings.refs:
        _routes(app, api, mode, "training" if mode == "train" else "prediction")
    if api.settings.playground:
        from starlette.staticfiles import StaticFiles

        # the folder is checked at the first /playground/ request: were it missing, only the page fails
        app.mount("/playground", StaticFiles(directory=PLAYGROUND, html=True, check_dir=False))
    return app


def _routes(app: Any, api: CogAPI, mode: str, kind: str) -> None:
    async def by_id(request: Request, item_id: str) -> Response:
        """GET reads it, PUT creates it idempotently: one route, so a 405 lists both."""
        if request.method == "PUT":
            return await api.create(request, mode, item_id)
        return api.get(mode, item_id)

    async def cancel(item_id: str) -> Response:
        return api.cancel(mode, item_id)

    app.add_api_route(f"/{kind}s/{{item_id}}", by_id, methods=["GET", "PUT"])
    app.add_api_route(f"/{kind}s/{{item_id}}/cancel", cancel, methods=["POST"])
