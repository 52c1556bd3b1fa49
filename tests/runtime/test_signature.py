"""Invalid predictors are refused before anything runs, with Cog's kind of message."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cognix.runtime.predictor import PredictorError
from cognix.runtime.signature import Kind, OutputKind
from tests.conftest import load_predictor, run_cli

HEADER = "from typing import Optional, Union, List, Iterator, Any\nfrom cog import *\n\n"

BAD = [
    (
        "def run(self, x: int = Input(default=1, ge=10)) -> str: ...",
        "invalid default for x: int: must be at minimum 10",
    ),
    (
        "def run(self, x: float = Input(default=11.0, le=10)) -> str: ...",
        "invalid default for x: float: must be at maximum 10",
    ),
    ("def run(self, s: str = Input(choices=['a', 'b'], ge=1)) -> str: ...", "incompatible input type for ge/le"),
    ("def run(self, n: int = Input(choices=[1, 2], ge=1)) -> str: ...", "choices and ge/le are mutually exclusive"),
    ("def run(self, s: str = Input(choices=['a', 1])) -> str: ...", "not all choices have the same type as input"),
    ("def run(self, s: str = Input(choices=['a'])) -> str: ...", "must have >= 2 elements"),
    (
        "def run(self, s: str = Input(default='zz', choices=['a', 'b'])) -> str: ...",
        "default is not one of the choices",
    ),
    (
        "def run(self, s: str = Input(default='toolong', max_length=3)) -> str: ...",
        "default conflicts with max_length=3",
    ),
    ("def run(self, s: str = Input(default='x', min_length=3)) -> str: ...", "default conflicts with min_length=3"),
    ("def run(self, s: str = Input(default='ABC', regex='^[a-z]+$')) -> str: ...", "default not a regex match"),
    ("def run(self, n: int = Input(min_length=1)) -> str: ...", "incompatible input type for min_length/max_length"),
    ("def run(self, x: List[int] = Input(ge=1)) -> str: ...", "incompatible input type for ge/le"),
    ("def run(self, x: List[List[int]]) -> str: ...", "nested generics like List[Optional[X]] are not supported"),
    ("def run(self, x: List[Optional[int]]) -> str: ...", "nested generics like List[Optional[X]] are not supported"),
    ("def run(self, x: Union[str, Path]) -> str: ...", "Path is not supported in union inputs"),
    ("def run(self, x: tuple[int, int]) -> str: ...", "tuple[...] is not a supported input type"),
    ("def run(self, x: set) -> str: ...", "unsupported type: set"),
    ("def run(self, x: int = Input(accept='image/*')) -> str: ...", "accept is only valid on Path or File inputs"),
    ("def run(self, x: int = Input(default='a')) -> str: ...", "invalid default for input x"),
    ("def run(self, x) -> str: ...", "missing type annotation for input: x"),
    ("def run(self, x: int): ...", "missing return type annotation"),
    ("def run(self, *args: int) -> str: ...", "run() must not have *args"),
    ("def run(self, **kw: int) -> str: ...", "run() must not have **kwargs"),
    ("def run(self) -> Optional[str]: ...", "Optional is not allowed as a return type"),
    ("def run(self) -> Union[str, int]: ...", "union types are not supported as output"),
    ("def run(self) -> ConcatenateIterator[int]: ...", "ConcatenateIterator element type must be str"),
    ("def run(self) -> Iterator[Optional[str]]: ...", "iterator element type must not be Optional or List"),
    ("def run(self) -> Iterator: ...", "expects exactly 1 type argument"),
    ("@streaming\n    def run(self) -> str: ...", "@streaming requires an iterator return type"),
    (
        "def run(self, x: int) -> str: ...\n    def predict(self, x: int) -> str: ...",
        "must define either run() or predict(), not both",
    ),
    (
        "def setup(self, model_path):\n        pass\n    def run(self) -> str: ...",
        "unexpected setup() arguments: model_path",
    ),
    ("pass", "run or predict method not found: Runner"),
]


@pytest.mark.parametrize(("body", "message"), BAD, ids=[m for _, m in BAD])
def test_invalid_predictor(body: str, message: str, tmp_path: Path) -> None:
    (tmp_path / "run.py").write_text(HEADER + "class Runner(BaseRunner):\n    " + body + "\n")
    with pytest.raises(PredictorError) as info:
        load_predictor(tmp_path, "run.py:Runner")
    assert message in info.value.message


def test_bad_predictor_fails_cli_before_setup(tmp_path: Path) -> None:
    (tmp_path / "cog.yaml").write_text('run: "run.py:Runner"\n')
    (tmp_path / "run.py").write_text(
        HEADER
        + textwrap.dedent(
            """\
            class Runner(BaseRunner):
                def setup(self):
                    open("setup-ran", "w").close()
                def run(self, steps: int = Input(default=0, ge=1)) -> str:
                    return ""
            """
        )
    )
    result = run_cli("predict", cwd=tmp_path)
    assert result.returncode == 1
    assert "invalid predictor run.py:Runner: invalid default for steps: int: must be at minimum 1" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "setup-ran").exists()


def test_reference_resolution(tmp_path: Path) -> None:
    (tmp_path / "predict.py").write_text(
        HEADER + "class Predictor(BasePredictor):\n    def predict(self) -> str:\n        return 'p'\n"
    )
    p = load_predictor(tmp_path, "predict.py")  # no name: Runner, then Predictor
    assert p.call({}) == "p"
    with pytest.raises(PredictorError, match="predictor not found: predict.py:Nope"):
        load_predictor(tmp_path, "predict.py:Nope")
    with pytest.raises(PredictorError, match="predictor file 'missing.py' not found"):
        load_predictor(tmp_path, "missing.py:X")


def test_signature_description(tmp_path: Path) -> None:
    (tmp_path / "run.py").write_text(
        HEADER
        + "import cog\nclass Runner(BaseRunner):\n    @cog.streaming\n    @cog.concurrent(max=2)\n"
        + "    async def run(self, a: Optional[List[Path]] = None, b: int | str = 1) -> AsyncConcatenateIterator[str]:\n"
        + "        yield ''\n"
    )
    sig = load_predictor(tmp_path, "run.py:Runner").signature
    a, b = sig.inputs
    assert (a.type.kind, a.type.is_list, a.type.nullable, a.required) == (Kind.PATH, True, True, False)
    assert b.type.kind is Kind.UNION and [m.kind for m in b.type.members] == [Kind.INTEGER, Kind.STRING]
    assert sig.output.kind is OutputKind.CONCAT_ITERATOR
    assert (sig.is_async, sig.is_generator, sig.streaming, sig.concurrency) == (True, True, True, 2)
