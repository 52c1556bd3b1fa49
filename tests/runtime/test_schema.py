"""OpenAPI documents for predictor signatures, compared in full with golden files.

The goldens in ``schema_cases/`` were reviewed against Cog's static generator rules
(``pkg/schema/openapi_spec.go``); ``test_cog_integration_case`` pins one document to the
bytes Cog's own integration test ``build_openapi_schema_complex`` expects.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cognix.runtime import schema
from tests.conftest import load_predictor

CASES = Path(__file__).parent / "schema_cases"


def _ref(py: Path) -> tuple[str, str]:
    match = re.search(r"^class (Runner|Predictor)\b", py.read_text(), re.M)
    if py.stem == "training":
        return "train.py:train".replace("train.py", py.name), "train"
    return f"{py.name}:{match.group(1) if match else 'predict'}", "predict"


@pytest.mark.parametrize("case", sorted(p.stem for p in CASES.glob("*.py")))
def test_golden_document(case: str) -> None:
    py = CASES / f"{case}.py"
    ref, mode = _ref(py)
    doc = schema.openapi(load_predictor(CASES, ref, mode).signature, mode=mode, version="0.1.0")
    assert schema.dumps(doc, indent=2) + "\n" == (CASES / f"{case}.json").read_text()


def test_enough_golden_cases() -> None:
    assert len(list(CASES.glob("*.json"))) >= 15


def test_cog_integration_case(tmp_path: Path) -> None:
    """Cog's build_openapi_schema_complex: the Input/Output bytes its static generator writes."""
    (tmp_path / "run.py").write_text(
        "from typing import Optional\n"
        "from cog import BaseModel, BaseRunner, Input, Path, Secret\n"
        "class Output(BaseModel):\n    text: str\n    score: float\n"
        "class Runner(BaseRunner):\n"
        "    def run(self,\n"
        '        prompt: str = Input(description="The prompt", default="hello"),\n'
        '        temperature: float = Input(description="Sampling temp", ge=0, le=2, default=0.7),\n'
        '        style: str = Input(description="Style", choices=["fast", "balanced", "quality"], default="balanced"),\n'
        '        api_key: Secret = Input(description="API key"),\n'
        '        image: Optional[Path] = Input(description="Optional image", default=None),\n'
        "    ) -> Output:\n        ...\n"
    )
    compact = schema.dumps(schema.openapi(load_predictor(tmp_path, "run.py:Runner").signature))
    assert (
        '"Input":{"properties":{"prompt":{"default":"hello","description":"The prompt","title":"Prompt",'
        '"type":"string","x-order":0},"temperature":{"default":0.7,"description":"Sampling temp","maximum":2,'
        '"minimum":0,"title":"Temperature","type":"number","x-order":1},"style":{"allOf":[{"$ref":'
        '"#/components/schemas/style"}],"default":"balanced","description":"Style","x-order":2},"api_key":'
        '{"description":"API key","format":"password","title":"Api Key","type":"string","writeOnly":true,'
        '"x-cog-secret":true,"x-order":3},"image":{"default":null,"description":"Optional image","format":"uri",'
        '"nullable":true,"title":"Image","type":"string","x-order":4}},"required":["api_key"],"title":"Input",'
        '"type":"object"},"Output":{"properties":{"text":{"title":"Text","type":"string"},"score":{"title":'
        '"Score","type":"number"}},"required":["text","score"],"title":"Output","type":"object"},"style":'
        '{"description":"An enumeration.","enum":["fast","balanced","quality"],"title":"style","type":"string"}'
    ) in compact
    # the substrings Cog's integration test greps in the image label
    for needle in ('"required":["api_key"]', '"x-cog-secret":true', '"nullable":true', '"minimum":0', '"maximum":2'):
        assert needle in compact


def test_compact_form_is_go_encoding() -> None:
    doc = {"b": 1.0, "a": "<&>", "paths": schema.Ordered([("z", 1), ("a", 2)])}
    assert schema.dumps(doc) == '{"a":"\\u003c\\u0026\\u003e","b":1,"paths":{"z":1,"a":2}}'


def test_schema_cli_prints_document(project) -> None:
    from tests.conftest import run_cli

    root = project(
        'run: "run.py:Runner"\n',
        run__py="from cog import BaseRunner\nclass Runner(BaseRunner):\n    def run(self, x: int) -> int:\n        return x\n",
    )
    result = run_cli("schema", cwd=root)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["components"]["schemas"]["Input"]["required"] == ["x"]
    compact = run_cli("schema", "--compact", cwd=root)
    assert json.loads(compact.stdout) == doc
    assert compact.stdout.startswith('{"components":{"schemas":{"Input":{"properties":{"x":{"title":"X",')
