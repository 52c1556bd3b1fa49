"""schemathesis fuzzes each example's served /openapi.json: no input may cause a 5xx."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import EXAMPLES
from tests.server_helpers import serve


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.iterdir() if (p / "cog.yaml").exists()))
def test_no_server_errors_under_fuzzing(example: str) -> None:
    binary = shutil.which("schemathesis") or shutil.which("st")
    assert binary, "schemathesis is a test dependency (pip install -e '.[test]')"
    with serve(EXAMPLES / example) as server:
        result = subprocess.run(
            [
                binary,
                "run",
                server.url + "/openapi.json",
                "--checks",
                "not_a_server_error",
                "--exclude-path",
                "/shutdown",
                "--max-examples",
                "25",
                "--seed",
                "1",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout[-3000:] + server.log[-3000:]
        assert server.process.poll() is None
        assert server.health()["status"] == "READY"
