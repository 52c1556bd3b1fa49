"""schemathesis fuzzes each example's and tests/models/typed's served /openapi.json.

tests/models/typed takes every input kind Cog has (dict, list[str], list[int], Path, list[Path], Secret, an
optional input, ge/le bounds, str and int choices) and returns a model output. The hooks in
tests/models/typed/schemathesis_hooks.py, used for every project, make file inputs fetchable and secrets
recognisable, amend four things in Cog's schema that Cog's own server does not keep to (``writeOnly`` secrets
echoed redacted, null ``id``/``input`` taken as absent, null ``output``/times/``error`` in responses, cancel's
undeclared 404), drop the failures of a retried id (answered with the first prediction, whatever the body),
and add the ``secret_not_echoed`` check; each with its reason written there.
Each run: about 3-5 s of schemathesis per project, ~300-650 requests.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.server_helpers import MODELS, peer, serve

HOOKS = MODELS / "typed" / "schemathesis_hooks.py"
SECRET = re.compile(r"sk-[0-9a-f]{16}")  # how the hooks draw secrets
PROJECTS = {p.name: p for p in sorted(EXAMPLES.iterdir()) if (p / "cog.yaml").exists()} | {"typed": MODELS / "typed"}

CHECKS = [
    "not_a_server_error",  # no 5xx, whatever the input
    "status_code_conformance",  # every status is one the schema declares (cancel's 404: see the hooks)
    "content_type_conformance",  # the declared application/json
    "response_schema_conformance",  # bodies match PredictionResponse, Output, HTTPValidationError...
    "response_headers_conformance",  # no response headers are declared: a no-op, kept in case some are
    "negative_data_rejection",  # a request the schema forbids (a wrong type, out of ge/le, no choice) is a 4xx
    "use_after_free",  # stateful: nothing deleted is found again (the API has no DELETE: a no-op, kept)
    "ensure_resource_availability",  # stateful: a prediction just created is found by GET /predictions/{id}
    "secret_not_echoed",  # from the hooks: no secret sent comes back
]
# Not run, each for a reason:
# - positive_data_acceptance: a schema-valid request is not always accepted, as in Cog. Cog's
#   PredictionRequest does not list `input` as required, though the model's required inputs are (`{}` is
#   schema-valid and a 422), and a file input's URI is schema-valid whether or not it can be fetched (a 422).
# - unsupported_method, allow_header_conformance: run in test_undeclared_methods_are_405_with_allow, on the
#   coverage phase alone, which is where schemathesis sends undeclared methods.
# - missing_required_header, ignored_auth, object_level_authorization: the API declares no header parameters
#   and no security schemes; nothing to check.

# Phases: examples (the schema has none: skipped), coverage (boundary and invalid values, and undeclared
# methods), fuzzing, and stateful. Stateful: this schema declares no OpenAPI links, so schemathesis 4 infers
# them (dependency analysis: the `id` POST /predictions returns feeds the `{prediction_id}` of GET, PUT and
# POST .../cancel; likewise for /trainings) and runs sequences of those calls, with the two stateful checks.
PHASES = "examples,coverage,fuzzing,stateful"

FILES = {"a.txt": b"hello", "b.png": b"\x89PNG\r\n\x1a\n", "empty.bin": b""}  # NAMES in the hooks


def schemathesis(url: str, files_url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("schemathesis") or shutil.which("st")
    assert binary, "schemathesis is a test dependency (pip install -e '.[test]')"
    return subprocess.run(
        [
            binary,
            "run",
            url + "/openapi.json",
            "--exclude-path",
            "/shutdown",
            "--max-examples",
            "25",
            "--seed",
            "1",
            "--workers",
            "1",  # the hooks follow one request at a time
            "--generation-database",
            "none",  # nothing remembered from an earlier run: with the seed, the same cases every time
            "--no-color",
            *args,
        ],
        cwd=cwd,  # a fresh folder: no schemathesis.toml found, and its .schemathesis cache left out of the repo
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS), "COGNIX_FUZZ_FILES": files_url},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("project", sorted(PROJECTS))
def test_schemathesis_finds_no_defects(project: str, tmp_path: Path) -> None:
    with peer() as files, serve(PROJECTS[project]) as server:
        files.files.update(FILES)
        result = schemathesis(server.url, files.url, tmp_path, "--checks", ",".join(CHECKS), "--phases", PHASES)
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:] + server.log[-3000:]
        assert server.process.poll() is None
        assert server.health()["status"] == "READY"
        assert not SECRET.search(server.log), "a secret reached the server's log"


def test_undeclared_methods_are_405_with_allow(tmp_path: Path) -> None:
    with peer() as files, serve(PROJECTS["typed"]) as server:
        result = schemathesis(
            server.url,
            files.url,
            tmp_path,
            "--checks",
            "unsupported_method,allow_header_conformance",
            "--phases",
            "coverage",  # where schemathesis sends undeclared methods (and OPTIONS)
        )
        if result.returncode not in (0, 1):  # 1: failures found; anything else is not the expected failure
            raise RuntimeError(result.stdout[-6000:] + result.stderr[-2000:])
        assert result.returncode == 0, result.stdout[-6000:]


def test_predictions_and_trainings_have_separate_ids() -> None:
    with serve(EXAMPLES / "hello-train") as server, server.client() as client:
        training = client.post("/trainings", json={"input": {"prefix": "hi"}}).json()
        assert client.get(f"/predictions/{training['id']}").status_code == 404
        again = client.put(f"/predictions/{training['id']}", json={"input": {"name": "x"}})
        assert again.json()["output"] == "hello x", again.text  # a prediction of its own, not the training
        prediction = client.post("/predictions", json={"input": {"name": "bob"}}).json()
        assert client.get(f"/trainings/{prediction['id']}").status_code == 404
