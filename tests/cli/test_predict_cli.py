"""``cognix predict`` end to end: the real CLI in a subprocess, as `cog run` behaves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

MANY_INPUTS = """
from cog import BasePredictor, Input, Path


class Predictor(BasePredictor):
    def setup(self):
        Path("setup-ran").write_text("yes")

    def predict(
        self,
        no_default: str,
        path: Path,
        image: Path,
        default_value: str = "default",
        int_default: int = Input(default=20),
        choices: str = Input(choices=["foo", "bar"]),
        int_choices: int = Input(choices=[3, 4, 5]),
    ) -> str:
        print("log line from predict")
        return " ".join(
            [no_default, default_value, str(int_default), path.read_text(), image.read_text(), choices, str(int_choices)]
        )
"""


@pytest.fixture
def many(project):
    root = project('predict: "predict.py:Predictor"\n', predict__py=MANY_INPUTS)
    (root / "a.txt").write_text("AAA")
    (root / "b.txt").write_text("BBB")
    return root


def test_many_inputs_as_cog_prints_them(many: Path) -> None:
    result = run_cli(
        "predict",
        "-i",
        "no_default=hello",
        "-i",
        "path=@a.txt",
        "-i",
        "image=@b.txt",
        "-i",
        "choices=foo",
        "-i",
        "int_choices=3",
        cwd=many,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello default 20 AAA BBB foo 3\n"
    assert "log line from predict" in result.stderr  # model logs never pollute stdout
    assert 'deprecated field "predict": use "run" instead' in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["-i", "nope=1"],
            'unknown input "nope"; valid inputs are: choices, default_value, image, int_choices, int_default, no_default, path',
        ),
        (["-i", "path=@a.txt"], "missing required input"),
        (["-i", "int_default=lots"], 'invalid input "int_default": expected integer, got string'),
        (["-i", "choices=baz"], 'invalid input "choices": must be one of: foo, bar'),
        (["--json", '{"no_default": null}'], 'invalid input "no_default": must not be null'),
        (["-i", "noequals"], "Failed to parse input 'noequals', expected format is 'name=value'"),
        (["--json", "{oops"], "Failed to parse JSON"),
        (["-i", "path=@missing.txt"], 'input "path": file not found: missing.txt'),
    ],
)
def test_inputs_validated_before_setup(many: Path, args: list[str], message: str) -> None:
    result = run_cli("predict", *args, cwd=many)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (many / "setup-ran").exists()


def test_several_invalid_inputs_listed_together(many: Path) -> None:
    result = run_cli("predict", "-i", "int_default=x", "-i", "int_choices=9", cwd=many)
    assert "input validation failed:" in result.stderr
    assert '- invalid input "int_choices": must be one of: 3, 4, 5' in result.stderr
    assert '- invalid input "int_default": expected integer, got string' in result.stderr


RUNNER = """
from cog import BaseRunner, Input


class Runner(BaseRunner):
    def run(
        self,
        steps: int = Input(ge=1, le=10, default=4),
        scale: float = Input(ge=0.5, le=2.0, default=1.5),
        size: str = Input(choices=["small", "medium", "large"], default="medium"),
        title: str = Input(max_length=5, default="abc"),
    ) -> str:
        return f"steps={steps} scale={scale} size={size} title={title}"
"""


def test_runner_defaults_and_constraints(project) -> None:
    root = project('run: "run.py:Runner"\n', run__py=RUNNER)
    ok = run_cli("run", cwd=root)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "steps=4 scale=1.5 size=medium title=abc\n"
    assert (
        run_cli("predict", "-i", "steps=10", "-i", "scale=2", cwd=root).stdout
        == "steps=10 scale=2.0 size=medium title=abc\n"
    )
    for arg, msg in [
        ("steps=0", 'invalid input "steps": number must be at least 1'),
        ("steps=99", 'invalid input "steps": number must be at most 10'),
        ("title=toolong", 'invalid input "title": maximum string length is 5'),
        ("size=huge", 'invalid input "size": must be one of: small, medium, large'),
    ]:
        bad = run_cli("predict", "-i", arg, cwd=root)
        assert bad.returncode == 1 and msg in bad.stderr, bad.stderr


OUTPUTS = """
import json, tempfile
from typing import Iterator
from cog import BaseModel, BaseRunner, ConcatenateIterator, Input, Path


def _file(name, text):
    p = Path(tempfile.mkdtemp()) / name
    p.write_text(text)
    return p


class Out(BaseModel):
    text: str
    n: int


class Runner(BaseRunner):
    def run(self, kind: str, words: list[str] = Input(default=["a", "b"])) -> {ret}:
        if kind == "str": return "plain text"
        if kind == "int": return 42
        if kind == "dict": return {{"greeting": "hi", "length": 2}}
        if kind == "path": return _file("result.txt", "file body")
        if kind == "paths": return [_file(f"{{w}}.txt", w) for w in words]
        if kind == "model": return Out(text="t", n=1)
        if kind == "iter": return iter(words)
        if kind == "none": return None
        raise ValueError("boom: " + kind)
"""


@pytest.mark.parametrize(
    ("ret", "kind", "stdout", "files"),
    [
        ("str", "str", "plain text\n", {}),
        ("int", "int", "42\n", {}),
        ("dict", "dict", '{\n  "greeting": "hi",\n  "length": 2\n}\n', {}),
        ("Path", "path", "", {"output.txt": "file body"}),
        ("list[Path]", "paths", "", {"output.0.txt": "a", "output.1.txt": "b"}),
        ("Iterator[Path]", "paths", "", {"output.0.txt": "a", "output.1.txt": "b"}),
        ("Out", "model", '{\n  "text": "t",\n  "n": 1\n}\n', {}),
        ("ConcatenateIterator[str]", "iter", '[\n  "a",\n  "b"\n]\n', {}),
    ],
)
def test_output_printing(project, ret: str, kind: str, stdout: str, files: dict[str, str]) -> None:
    root = project('run: "run.py:Runner"\n', run__py=OUTPUTS.format(ret=ret))
    result = run_cli("predict", "-i", f"kind={kind}", cwd=root)
    assert result.returncode == 0, result.stderr
    assert result.stdout == stdout
    for name, body in files.items():
        assert (root / name).read_text() == body
        assert f"Written output to: {name}" in result.stderr


def test_output_flag_and_list_inputs(project) -> None:
    root = project('run: "run.py:Runner"\n', run__py=OUTPUTS.format(ret="list[Path]"))
    result = run_cli(
        "predict", "-i", "kind=paths", "-i", "words=x", "-i", "words=y", "-i", "words=z", "-o", "out/r.txt", cwd=root
    )
    assert result.returncode == 0, result.stderr
    assert [(root / "out" / f"r.{i}.txt").read_text() for i in range(3)] == ["x", "y", "z"]
    text = run_cli(
        "predict",
        "-i",
        "kind=str",
        "-o",
        "said.txt",
        cwd=project('run: "run.py:Runner"\n', run__py=OUTPUTS.format(ret="str")),
    )
    assert (root / "said.txt").read_text() == "plain text"
    assert text.stdout == ""


def test_json_input_forms_and_json_output(project) -> None:
    root = project(
        'run: "run.py:Runner"\n', run__py=OUTPUTS.format(ret="list[str]").replace("return iter(words)", "return words")
    )
    (root / "in.json").write_text('{"kind": "iter", "words": ["p", "q"]}')
    for args, stdin in [
        (["--json", "@in.json"], None),
        (["--json", "-"], '{"kind": "iter", "words": ["p", "q"]}'),
        (["--json", '{"kind": "iter", "words": ["p", "q"]}'], None),
    ]:
        result = run_cli("predict", *args, cwd=root, stdin=stdin)
        assert result.returncode == 0, result.stderr
        prediction = json.loads(result.stdout)
        assert prediction["status"] == "succeeded"
        assert prediction["output"] == ["p", "q"]
        assert prediction["metrics"]["predict_time"] >= 0


def test_failed_prediction_exits_nonzero(project) -> None:
    root = project('run: "run.py:Runner"\n', run__py=OUTPUTS.format(ret="str"))
    result = run_cli("predict", "-i", "kind=explode", cwd=root)
    assert result.returncode == 1
    assert 'Prediction failed with status "failed": boom: explode' in result.stderr
    assert 'run.py", line' in result.stderr  # the user's own traceback, without cognix frames
    assert "cognix/" not in result.stderr
    as_json = run_cli("predict", "--json", '{"kind": "explode"}', cwd=root)
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["error"] == "boom: explode"


def test_none_output_warns(project) -> None:
    root = project('run: "run.py:Runner"\n', run__py=OUTPUTS.format(ret="str"))
    result = run_cli("predict", "-i", "kind=none", cwd=root)
    assert result.returncode == 0
    assert "No output generated" in result.stderr


def test_stdout_of_c_code_goes_to_stderr(project) -> None:
    root = project(
        'run: "run.py:Runner"\n',
        run__py="import os\nfrom cog import BaseRunner\nclass Runner(BaseRunner):\n    def run(self) -> str:\n        os.system('echo from-a-subprocess')\n        return 'clean'\n",
    )
    result = run_cli("predict", cwd=root)
    assert result.stdout == "clean\n"
    assert "from-a-subprocess" in result.stderr


def test_setup_failure_and_import_error(project) -> None:
    root = project(
        'run: "run.py:Runner"\n',
        run__py="from cog import BaseRunner\nclass Runner(BaseRunner):\n    def setup(self):\n        raise RuntimeError('no weights')\n    def run(self) -> str:\n        return ''\n",
    )
    result = run_cli("predict", cwd=root)
    assert result.returncode == 1 and "setup failed: RuntimeError: no weights" in result.stderr
    (root / "run.py").write_text("import not_a_module\n")
    result = run_cli("predict", cwd=root)
    assert result.returncode == 1
    assert (
        "failed to import predictor module run.py: ModuleNotFoundError: No module named 'not_a_module'" in result.stderr
    )


def test_weights_from_env_reach_setup(project) -> None:
    root = project(
        'run: "run.py:Runner"\n',
        run__py="from cog import BaseRunner, Path\nclass Runner(BaseRunner):\n    def setup(self, weights: Path | None = None):\n        self.w = weights\n    def run(self) -> str:\n        return str(self.w)\n",
    )
    assert run_cli("predict", cwd=root).stdout == "None\n"
    assert run_cli("predict", cwd=root, env={"COG_WEIGHTS": "/w/x.bin"}).stdout == "/w/x.bin\n"


def test_async_and_function_predictors(project) -> None:
    root = project(
        'run: "run.py:Runner"\ntrain: "train.py:train"\n',
        run__py="import asyncio\nfrom typing import AsyncIterator\nfrom cog import BaseRunner\nclass Runner(BaseRunner):\n    async def setup(self):\n        self.q = asyncio.Queue()\n    async def run(self, n: int) -> AsyncIterator[int]:\n        for i in range(n):\n            await self.q.put(i)\n            yield await self.q.get()\n",
        train__py="def train(epochs: int = 2) -> str:\n    return f'trained {epochs}'\n",
    )
    assert json.loads(run_cli("predict", "-i", "n=3", cwd=root).stdout) == [0, 1, 2]
    result = run_cli("train", "-i", "epochs=5", cwd=root)
    assert result.returncode == 0, result.stderr
    assert (root / "weights").read_text() == "trained 5"


def test_class_trainer_with_setup(project) -> None:
    root = project(
        'train: "train.py:Trainer"\n',
        train__py=(
            "from cog import BaseModel, Input, Path\n"
            "class TrainingOutput(BaseModel):\n    weights: Path\n"
            "class Trainer:\n"
            "    def setup(self):\n        self.base = 10\n"
            "    def train(self, steps: int = Input(default=1, ge=1)) -> TrainingOutput:\n"
            "        out = Path('trained.txt')\n        out.write_text(str(self.base + steps))\n"
            "        return TrainingOutput(weights=out)\n"
        ),
    )
    result = run_cli("train", "-i", "steps=5", cwd=root)
    assert result.returncode == 0, result.stderr
    assert (root / "weights").read_text() == "15"
    assert "Written output to: weights" in result.stderr
    schema = run_cli("schema", "--train", cwd=root)
    assert '"TrainingInput"' in schema.stdout and '"/trainings"' in schema.stdout


def test_cog_yaml_environment_applies_to_run_and_train(project) -> None:
    """The image sets cog.yaml's `environment`; running here must see the same, setup() included."""
    probe = "import os\ndef read():\n    return os.environ['GREETING'] + ' ' + os.environ['LOCALE_HINT']\n"
    root = project(
        'run: "run.py:Runner"\ntrain: "train.py:train"\n'
        "environment:\n  - GREETING=from-cog-yaml\n  - LOCALE_HINT=a=b\n",
        probe__py=probe,
        run__py=(
            "from cog import BaseRunner\nfrom probe import read\n"
            "class Runner(BaseRunner):\n    def setup(self):\n        self.seen = read()\n"
            "    def run(self) -> str:\n        return self.seen + ' / ' + read()\n"
        ),
        train__py="from probe import read\ndef train() -> str:\n    return read()\n",
    )
    ran = run_cli("run", cwd=root, env={"GREETING": "from-the-shell"})
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "from-cog-yaml a=b / from-cog-yaml a=b"  # cog.yaml wins, as in the image
    trained = run_cli("train", cwd=root)
    assert trained.returncode == 0, trained.stderr
    assert (root / "weights").read_text() == "from-cog-yaml a=b"
