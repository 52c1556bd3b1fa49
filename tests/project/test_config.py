"""cog.yaml validation: Cog's rules and messages, every issue reported with its line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cognix.project.config import ConfigError, ConfigNotFound, find_config, load_project, parse
from tests.conftest import run_cli

PY = 'build:\n  python_version: "3.11"\n'

# (cog.yaml, Cog's message, line of the issue)
MALFORMED = [
    ("build: [1]\n", 'schema error in "build": must be a mapping', 1),
    ("buildd:\n  gpu: true\n", 'schema error in "cog.yaml": Additional property buildd is not allowed', 1),
    (
        PY + "  python_versions: '3.8'\n",
        'schema error in "build": Additional property python_versions is not allowed',
        3,
    ),
    (PY + "  gpu: 'yes'\n", 'schema error in "build.gpu": must be a boolean', 3),
    ("build:\n  python_version: [3]\n", 'schema error in "build.python_version": must be a string or number', 2),
    (PY + "  system_packages: ffmpeg\n", 'schema error in "build.system_packages": must be a list or null', 3),
    (PY + "  python_packages: [1]\n", 'schema error in "build.python_packages.0": must be a string', 3),
    (PY + "  run:\n    - 3\n", 'schema error in "build.run.0": must be a string or mapping', 4),
    (PY + "  run:\n    - mounts: []\n", 'schema error in "build.run.0": command is required', 4),
    (
        PY + "  run:\n    - command: x\n      mounts: [{type: bind, id: a, target: /t}]\n",
        'schema error in "build.run.0.mounts.0.type": build.run.0.mounts.0.type must be one of the following: "secret"',
        5,
    ),
    (
        PY + "  run:\n    - command: x\n      mounts: [{type: secret, id: a}]\n",
        'schema error in "build.run.0.mounts.0": target is required',
        5,
    ),
    ("concurrency: 54\n", 'schema error in "concurrency": must be a mapping', 1),
    ("concurrency:\n  default_target: 2\n", 'schema error in "concurrency": max is required', 1),
    ("environment: A=1\n", 'schema error in "environment": must be a list or null', 1),
    ("image: [a]\n", 'schema error in "image": must be a string', 1),
    ("build:\n  gpu: true\n", "invalid build.python_version: python_version is required", 1),
    (
        "build:\n  python_version: '3.9'\n",
        'invalid build.python_version "3.9": minimum supported Python version is 3.10',
        2,
    ),
    (
        "build:\n  python_version: 3.10\n",
        'invalid build.python_version "3.1": minimum supported Python version is 3.10',
        2,
    ),
    (
        "build:\n  python_version: '3'\n",
        "invalid build.python_version \"3\": must include major and minor version (e.g., '3.11')",
        2,
    ),
    ("build:\n  python_version: 'x.10'\n", 'invalid build.python_version "x.10": invalid major version number', 2),
    ("build:\n  python_version: '3.x'\n", 'invalid build.python_version "3.x": invalid minor version number', 2),
    (
        PY + "  python_packages: [a==1]\n  python_requirements: requirements.txt\n",
        "invalid build: only one of python_packages or python_requirements can be set, not both",
        1,
    ),
    (
        PY + "  python_requirements: missing.txt\n",
        'invalid build.python_requirements "missing.txt": file does not exist',
        3,
    ),
    (PY + "  cuda: '12'\n", "invalid build.cuda \"12\": must include both major and minor versions (e.g., '11.8')", 3),
    (PY + "  cuda: 'x.1'\n", 'invalid build.cuda "x.1": invalid major version number', 3),
    (PY + "  cuda: '10.2'\n", 'invalid build.cuda "10.2": minimum supported CUDA version is 11', 3),
    (PY + "  run:\n    - |\n      echo a\n      echo b\n", "command contains a newline", 4),
    (
        PY + "  sdk_version: '0.15.0'\n",
        'invalid build.sdk_version "0.15.0": minimum supported SDK version is 0.16.0',
        3,
    ),
    ("run: predict\n", "invalid run \"predict\": must be in the form 'run.py:Runner'", 1),
    ("predict: predict.py\n", "invalid predict \"predict.py\": must be in the form 'predict.py:Predictor'", 1),
    ("train: train\n", "invalid train \"train\": must be in the form 'train.py:Trainer'", 1),
    ('run: "run.py:Runner"\npredict: "predict.py:Predictor"\n', "only one of run or predict can be set", 2),
    ("environment:\n  - NAME\n", 'invalid environment: environment variable "NAME" is not in the KEY=VALUE format', 2),
    (
        "environment:\n  - =VALUE\n",
        'invalid environment: environment variable "=VALUE" is not in the KEY=VALUE format',
        2,
    ),
    ("environment:\n  - PATH=/x\n", 'invalid environment: environment variable "PATH" is not allowed', 2),
    ("environment:\n  - CUDA_HOME=/x\n", 'invalid environment: environment variable "CUDA_HOME" is not allowed', 2),
    ("environment:\n  - A=1\n  - A=2\n", 'invalid environment: environment variable "A" is already defined', 3),
    ("concurrency:\n  max: 0\n", 'invalid concurrency.max "0": must be at least 1', 2),
    (
        "build:\n  python_version: '3.10'\nconcurrency:\n  max: 4\n",
        'invalid concurrency.max "4": concurrency requires Python 3.11 or higher',
        4,
    ),
    ("weights:\n  - {name: base, target: /w, source: {uri: hf://a/b}}\n", "weights require 'model' in cog.yaml", 1),
    (
        "image: r/x\nweights:\n  - {name: base, target: /w, source: {uri: hf://a/b}}\n",
        "weights require 'model', not 'image' — rename 'image' to 'model'",
        1,
    ),
    ("model: r/m\nweights:\n  - {name: MyModel, target: /w, source: {uri: x}}\n", "must contain only lowercase", 3),
    ("model: r/m\nweights:\n  - {name: a, target: w, source: {uri: x}}\n", "target must be an absolute path", 3),
    (
        "model: r/m\nweights:\n  - {name: a, target: /w, source: {uri: x}}\n  - {name: a, target: /v, source: {uri: x}}\n",
        "duplicate weight name",
        4,
    ),
    (
        "model: r/m\nweights:\n  - {name: a, target: /w, source: {uri: x}}\n  - {name: b, target: /w/l, source: {uri: x}}\n",
        "target overlaps with /w",
        4,
    ),
    (
        "model: r/m\nweights:\n  - {name: a, target: /w, source: {uri: x, include: ['!*.bin']}}\n",
        "negation patterns",
        3,
    ),
    ("model: r/m:v1\n", 'invalid model "r/m:v1": must be a bare repository', 1),
    ("model: r/m\nimage: r/i\n", "'model' and 'image' cannot both be set", 1),
    ("model: r/m\nweights:\n  - {name: a, target: /w}\n", 'schema error in "weights.0": source is required', 3),
    (
        "build:\n  gpu: true\n  python_version: '3.11'\n  nope: 1\n",
        'schema error in "build": Additional property nope is not allowed',
        4,
    ),
    ("build: {python_version: '3.11'\n", "failed to parse cog.yaml: invalid YAML", 2),
    ("- a\n- b\n", "failed to parse cog.yaml: the top level must be a mapping", 1),
    # issue 12: hostile YAML is an error with its line, never a hang or a traceback
    (
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)),
        "its aliases expand to more than 100,000 values (an alias bomb?)",
        1,
    ),
    ("build: &x\n  python_version: '3.11'\n  self: *x\n", "an alias refers to a node that contains it", 1),
    ("build:\n  python_version: '3.11'\nbuild:\n  gpu: true\n", 'mapping key "build" already defined at line 1', 3),
    ("build:\n  python_version: '3.11'\n  gpu: true\n  gpu: false\n", 'mapping key "gpu" already defined at line 3', 4),
    ("build:\n  python_version: '\u00b2.11'\n", "invalid major version number", 2),
    ("build:\n  python_version: '3.11'\n  cuda: '\u00b9\u00b9.8'\n", "invalid major version number", 3),
    ("build:\n  python_version: '3.11'\nenvironment:\n  - \"A=1\\nB=2\"\n", "is not in the KEY=VALUE format", 4),
    ("build:\n  python_version: '3.11'\nrun: '../x.py:Runner'\n", "must name a file inside the project", 3),
    ("build:\n  python_version: '3.11'\n  python_requirements: /etc/passwd\n", "must be a file inside the project", 3),
]


def _issues(text: str, tmp_path: Path):
    with pytest.raises(ConfigError) as info:
        parse(text, tmp_path / "cog.yaml")
    return info.value.issues


def test_a_missing_predictor_file_is_a_config_error_at_its_line(tmp_path: Path) -> None:
    """Issue 12 (9): named at cog.yaml's line with exit 2, before anything imports it."""
    (tmp_path / "cog.yaml").write_text("build:\n  python_version: '3.11'\nrun: predict.py:Runner\n")
    project = load_project(tmp_path)
    with pytest.raises(ConfigError) as missing:
        project.entry("run")
    assert str(missing.value) == (
        'cog.yaml:3: invalid run "predict.py:Runner": file does not exist: predict.py\n'
        "  hint: create predict.py next to cog.yaml, or fix run:"
    )
    assert missing.value.exit_code == 2
    (tmp_path / "predict.py").write_text("from cog import BasePredictor as Runner\n")
    assert project.entry("run") == "predict.py:Runner"


def test_a_missing_predictor_class_is_a_config_error_at_its_line(tmp_path: Path) -> None:
    """Issue 12 (9): the file imports and lacks the name; found by the import, said at cog.yaml's line."""
    (tmp_path / "cog.yaml").write_text("build:\n  python_version: '3.11'\nrun: predict.py:Nope\n")
    (tmp_path / "predict.py").write_text("from cog import BasePredictor as Runner\n")
    for command in (["predict"], ["schema"]):
        result = run_cli(*command, cwd=tmp_path)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert 'cog.yaml:3: invalid run "predict.py:Nope": predictor not found: predict.py:Nope' in result.stderr


def test_nesting_deeper_than_the_bound_is_an_error(tmp_path: Path) -> None:
    issues = _issues("build:\n  x: " + "[" * 1000 + "]" * 1000 + "\n", tmp_path)  # RecursionError in PyYAML
    assert [i.message for i in issues] == ["failed to parse cog.yaml: nested deeper than 64 levels"]


@pytest.mark.parametrize(("text", "message", "line"), MALFORMED, ids=[m[1][:60] for m in MALFORMED])
def test_malformed_config(text: str, message: str, line: int, tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("")
    issues = _issues(text, tmp_path)
    matching = [i for i in issues if message in i.message]
    assert matching, [i.message for i in issues]
    assert matching[0].line == line


def test_corpus_is_large_enough() -> None:
    assert len(MALFORMED) >= 30


VALID = [
    "",
    "build:\n  python_version: 3.11\n",
    'build:\n  python_version: "3.12.1"\n  system_packages:\n  python_packages:\n  run:\n',
    'build:\n  gpu: true\n  python_version: "3.12"\n  cuda: "12.4"\n  cudnn: "9"\nrun: "run.py:Runner"\n',
    'predict: "predict.py:Predictor"\n',
    'environment:\n  - NAME=\n  - name=VALUE\n  - MiXeD_Case=a=b\n  - Q="with quotes"\n',
    'build:\n  python_version: "3.11"\n  run:\n    - echo hi\n    - command: pip install x\n      mounts:\n        - {type: secret, id: pip, target: /etc/pip.conf}\n',
    "model: localhost:5000/acme/m\nweights:\n  - name: z-image.turbo_v1\n    target: /src/weights\n    source: [{uri: hf://a/b, include: ['*.safetensors']}]\n  - {name: b, target: /src/weights2, source: {uri: ./w}}\n",
    "concurrency:\n  max: 4\n  default_target: 2\n",
]


@pytest.mark.parametrize("text", VALID)
def test_valid_config(text: str, tmp_path: Path) -> None:
    config, _ = parse(text, tmp_path / "cog.yaml")
    assert config.python_version


def test_all_issues_are_reported_at_once(tmp_path: Path) -> None:
    text = "build:\n  gpu: 1\n  python_version: '3.8'\nenvironment: [PATH=x]\nrun: nope\n"
    messages = [i.message for i in _issues(text, tmp_path)]
    assert len(messages) == 4, messages


def test_deprecations_are_warnings(tmp_path: Path) -> None:
    text = 'build:\n  python_version: "3.11"\n  python_packages: [a==1]\n  pre_install: [echo]\npredict: "p.py:P"\nconcurrency: {max: 2}\n'
    _, warnings = parse(text, tmp_path / "cog.yaml")
    assert warnings == [
        'deprecated field "predict": use "run" instead',
        'deprecated field "build.python_packages": use "build.python_requirements" instead',
        'deprecated field "build.pre_install": use "build.run" instead',
        'deprecated field "concurrency.max": use "@cog.concurrent(max=...)" instead',
    ]


def test_model_values(tmp_path: Path) -> None:
    text = (
        'build:\n  python_version: 3.12\n  gpu: true\nenvironment: ["A=1", "B=x=y"]\npredict: "predict.py:Predictor"\n'
    )
    config, _ = parse(text, tmp_path / "cog.yaml")
    assert config.python_version == "3.12"
    assert config.runner == "predict.py:Predictor"
    assert config.environment_dict == {"A": "1", "B": "x=y"}
    assert config.build_or_default.gpu is True


def test_upward_search_and_file_flag(tmp_path: Path) -> None:
    (tmp_path / "cog.yaml").write_text(PY)
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    assert find_config(deep) == tmp_path / "cog.yaml"
    assert load_project(deep).dir == tmp_path
    (deep / "other.yaml").write_text(PY)
    assert load_project(deep, "other.yaml").config_path == deep / "other.yaml"
    with pytest.raises(ConfigNotFound, match="nope.yaml does not exist"):
        find_config(deep, "nope.yaml")


def test_not_found_message(tmp_path: Path) -> None:
    with pytest.raises(ConfigNotFound, match=r"cog.yaml not found in .* \(or in any parent directories\)"):
        find_config(tmp_path)


def test_cli_reports_config_errors_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "cog.yaml").write_text(
        textwrap.dedent(
            """\
            build:
              gpu: "yes"
              python_version: "3.8"
            run: "run.py"
            """
        )
    )
    result = run_cli("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert 'cog.yaml:2: schema error in "build.gpu": must be a boolean' in lines[0]
    assert "hint:" in lines[1]
    assert any(line.startswith('cog.yaml:3: invalid build.python_version "3.8"') for line in lines)
    assert any(line.startswith('cog.yaml:4: invalid run "run.py"') for line in lines)
