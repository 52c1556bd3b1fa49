"""schemathesis hooks for tests/server/test_server_fuzz.py, loaded through ``SCHEMATHESIS_HOOKS`` for every
model it fuzzes: how to make values the server can use, four amendments to Cog's schema, the failures of
documented behaviour to drop, and one extra check.

- File inputs (``format: uri``) are fetched before ``run()``. schemathesis's own URIs (``https://0.com``...)
  cannot be, so nearly every schema-valid request would stop at a 422, never reach the model, and never
  create a prediction for the stateful phase to follow. These can: ``data:`` URIs, and URLs on the test's
  loopback file server (``COGNIX_FUZZ_FILES``), one of them missing there (which must be a 422, not a 5xx).
- Secrets (``format: password``) are drawn as ``sk-`` and 16 hex digits, so that the ``secret_not_echoed``
  check can tell the value apart from anything else in a response.
- Cog marks a Secret input ``writeOnly`` and uses the one ``Input`` component both in the request and in
  every prediction response, which echoes the request's input with each secret redacted to ``**********``
  (as Cog does). For OpenAPI a ``writeOnly`` property "SHOULD NOT" be in a response, and schemathesis forbids
  it there, so response_schema_conformance would fail on every response that echoes an input. The hook drops
  ``writeOnly`` from the schema schemathesis checks against (the server's document is not changed), and
  ``secret_not_echoed`` checks instead what ``writeOnly`` is for: the value itself never comes back.
- Cog's schema declares 200 and 422 for ``POST /predictions/{prediction_id}/cancel``, and Cog answers an
  unknown id with 404 ``{}``, as cognix does; the hook declares that 404 (with no body schema, as cognix's own
  ``GET /predictions/{prediction_id}`` does) so that status_code_conformance holds for everything else.
- Cog's request models are pydantic ones with Optional ``id`` and ``input``, so Cog takes ``"id": null`` and
  ``"input": null`` as absent (no id: the server makes one; no input: ``{}``), and cognix does the same; but
  pydantic v1 writes no ``nullable`` into the schema. The hook declares them nullable so that
  negative_data_rejection does not count a null there as invalid data accepted.
- Likewise Cog's response models have Optional ``output``, ``started_at``, ``completed_at`` and ``error``,
  null until a prediction has started or finished, and ``output`` null when it failed (in Cog and cognix);
  the hook declares those nullable, so that response_schema_conformance still checks their values otherwise.
- A request that names the id of a prediction the server already has (``PUT /predictions/{id}``, or an
  ``"id"`` in the body of ``POST /predictions``) is answered with that prediction, whatever else its body
  holds: "the same id never runs twice" (docs/cog-compat.md), so a retry gets the first answer. schemathesis
  reuses the ids it has seen, with invalid bodies too; ``filter_failure`` drops negative_data_rejection's
  failure for exactly those requests. Needs ``--workers 1`` (the hooks track the one request in flight).
"""

import base64
import os
import re
import urllib.parse
from typing import Any

import schemathesis
from hypothesis import strategies as st

FILES = os.environ.get("COGNIX_FUZZ_FILES", "")  # base URL of a loopback server holding NAMES
NAMES = ["a.txt", "b.png", "empty.bin"]
SECRET = re.compile(r"sk-[0-9a-f]{16}")

data_uris = st.one_of(
    st.binary(max_size=64).map(lambda b: "data:application/octet-stream;base64," + base64.b64encode(b).decode()),
    st.text(max_size=32).map(lambda s: "data:," + urllib.parse.quote(s)),
)
served = st.sampled_from([*NAMES, "missing.txt"]).map(lambda name: f"{FILES}/{name}")
schemathesis.openapi.format("uri", st.one_of(served, data_uris) if FILES else data_uris)
schemathesis.openapi.format("password", st.binary(min_size=8, max_size=8).map(lambda b: "sk-" + b.hex()))


@schemathesis.hook
def before_load_schema(context: Any, raw_schema: dict[str, Any]) -> None:
    for name, component in raw_schema.get("components", {}).get("schemas", {}).items():
        for prop in (component.get("properties") or {}).values():
            if prop.get("x-cog-secret"):
                prop.pop("writeOnly", None)
        if name in ("PredictionRequest", "TrainingRequest"):
            for key in ("id", "input"):
                component["properties"][key] = {"anyOf": [component["properties"][key]], "nullable": True}
        if name in ("PredictionResponse", "TrainingResponse"):
            for key in ("output", "started_at", "completed_at", "error"):
                component["properties"][key] = {"anyOf": [component["properties"][key]], "nullable": True}
    for path, item in raw_schema.get("paths", {}).items():
        if path.endswith("/cancel") and "post" in item:
            item["post"]["responses"].setdefault("404", {"description": "Not Found"})


SEEN: dict[str, str] = {}  # id of each prediction or training a response has shown: "predictions" or "trainings"
NAMES_EXISTING: dict[str, bool] = {}  # case.id: whether the id it names was in SEEN when it was sent


def _kind(case: Any) -> str:
    return str(case.path).split("/")[1]  # /predictions/{prediction_id} -> predictions


def _named_id(case: Any) -> object:
    if case.method == "PUT":
        return next(iter((case.path_parameters or {}).values()), None)
    return case.body.get("id") if isinstance(case.body, dict) else None


def _response_id(response: Any) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body["id"] if isinstance(body, dict) and isinstance(body.get("id"), str) else None


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    named = _named_id(case)
    NAMES_EXISTING[case.id] = isinstance(named, str) and SEEN.get(named) == _kind(case)  # ids are per kind


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    shown = _response_id(response) if response.status_code in (200, 202) else None
    if shown is not None:
        SEEN.setdefault(shown, _kind(case))


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    checks = getattr(failure, "checks", ())
    if "negative_data_rejection" in checks and NAMES_EXISTING.get(case.id):
        return False  # a retry of an id the server has: the first answer, whatever this body holds
    return True


def _secrets(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(SECRET.findall(value))
    if isinstance(value, dict):
        return set().union(*map(_secrets, value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*map(_secrets, value)) if value else set()
    return set()


@schemathesis.check
def secret_not_echoed(ctx: Any, response: Any, case: Any) -> bool | None:
    """No secret sent in a request comes back in its response (redacted input, output, logs, errors)."""
    leaked = sorted(s for s in _secrets(case.body) if s in response.text_lossy())
    if leaked:
        raise AssertionError(f"the response contains the secret {leaked[0]!r} sent in the request")
    return None
