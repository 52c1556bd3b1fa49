"""``cognix doctor [--fix]``: one test per check, its rewrite, what it leaves alone, and the CLI.

Most tests call :func:`cognix.project.doctor.run` on a project written to a tmp folder; the
examples, the exit codes and the Cog 0.16 migration run the real CLI in a subprocess.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from cognix.project import doctor
from cognix.project.doctor.findings import Finding, Severity
from tests.conftest import EXAMPLES, copy_example, run_cli

FIXTURES = Path(__file__).parent / "doctor_fixtures"
TRACEBACK = "Traceback (most recent call last)"
COG_YAML = 'build:\n  python_version: "3.12"\nrun: "run.py:Runner"\n'


def write(root: Path, **files: str) -> Path:
    """Files into ``root`` (``run__py`` is run.py), dedented; returns cog.yaml's path."""
    for name, text in files.items():
        (root / name.replace("__", ".")).write_text(textwrap.dedent(text))
    return root / "cog.yaml"


def findings(report: doctor.Report, title: str) -> list[Finding]:
    return [f for r in report.results if r.check.title == title for f in r.findings]


def shown(report: doctor.Report) -> str:
    return "\n".join("".join(p if isinstance(p, str) else p[0] for p in line) for line in report.lines())


# --- cog.yaml ----------------------------------------------------------------------------

DEPRECATED_YAML = """\
# the model
build:
  python_version: "3.12"
  python_packages:  # what it needs
    - numpy==1.26.4  # pinned
    # and
    - pillow
  pre_install:
    - echo hi  # a step
predict: "run.py:Runner"  # the entry
concurrency:
  max: 4
environment:
  - A=1
"""
ASYNC_RUN = """\
import cog
from cog import BaseRunner


class Runner(BaseRunner):
    @cog.streaming
    async def run(self, text: str) -> cog.AsyncConcatenateIterator[str]:
        yield text
"""


def test_deprecated_fields_are_warnings_at_their_lines(tmp_path: Path) -> None:
    report = doctor.run(write(tmp_path, cog__yaml=DEPRECATED_YAML, run__py=ASYNC_RUN))
    assert [(f.location, f.message, f.remediation) for f in findings(report, "Deprecated fields")] == [
        (
            "cog.yaml:4",
            '"build.python_packages" is deprecated: use a requirements.txt file instead',
            'Use "build.python_requirements" instead',
        ),
        ("cog.yaml:8", '"build.pre_install" is deprecated: use build.run commands instead', 'Use "build.run" instead'),
        ("cog.yaml:10", '"predict" is deprecated: use run to point at run.py:Runner', 'Use "run" instead'),
        (
            "cog.yaml:12",
            '"concurrency.max" is deprecated: configure prediction concurrency with @cog.concurrent on your '
            "async run() method instead",
            'Use "@cog.concurrent(max=...)" instead',
        ),
    ]
    assert all(f.severity is Severity.WARNING for f in findings(report, "Deprecated fields"))
    assert report.errors == 0  # warnings alone pass, as in Cog


def test_fix_rewrites_deprecated_fields_in_place(tmp_path: Path) -> None:
    report = doctor.run(write(tmp_path, cog__yaml=DEPRECATED_YAML, run__py=ASYNC_RUN), fix=True)
    assert (tmp_path / "cog.yaml").read_text() == textwrap.dedent("""\
        # the model
        build:
          python_version: "3.12"
          python_requirements: requirements.txt  # what it needs
          run:
            - echo hi  # a step
        run: "run.py:Runner"  # the entry
        environment:
          - A=1
        """)
    assert (tmp_path / "requirements.txt").read_text() == "numpy==1.26.4  # pinned\n# and\npillow\n"
    assert (tmp_path / "run.py").read_text() == ASYNC_RUN.replace(
        "    @cog.streaming\n", "    @cog.concurrent(max=4)\n    @cog.streaming\n"
    )
    assert len(report.fixed) == 4 and report.errors == 0
    assert "+++ b/requirements.txt" in report.diff and '-predict: "run.py:Runner"  # the entry' in report.diff
    assert doctor.run(tmp_path / "cog.yaml").after == doctor.run(tmp_path / "cog.yaml").results
    assert not [f for r in doctor.run(tmp_path / "cog.yaml").results for f in r.findings]


def test_fix_adds_the_concurrent_import_when_the_file_has_none_of_cog(tmp_path: Path) -> None:
    run_py = '"""A runner."""\nfrom cog import BaseRunner\n\n\nclass Runner(BaseRunner):\n    async def run(self) -> str:\n        return ""\n'
    write(tmp_path, cog__yaml=COG_YAML + "concurrency:\n  max: 2\n", run__py=run_py)
    doctor.run(tmp_path / "cog.yaml", fix=True)
    assert (tmp_path / "run.py").read_text() == run_py.replace("BaseRunner\n", "BaseRunner, concurrent\n", 1).replace(
        "    async def", "    @concurrent(max=2)\n    async def"
    )
    assert (tmp_path / "cog.yaml").read_text() == COG_YAML


def test_fix_keeps_crlf_line_ends(tmp_path: Path) -> None:
    (tmp_path / "cog.yaml").write_bytes(b'build:\r\n  python_version: "3.12"\r\npredict: "run.py:Runner"  # x\r\n')
    (tmp_path / "run.py").write_bytes(ASYNC_RUN.replace("\n", "\r\n").encode())
    doctor.run(tmp_path / "cog.yaml", fix=True)
    assert (
        tmp_path / "cog.yaml"
    ).read_bytes() == b'build:\r\n  python_version: "3.12"\r\nrun: "run.py:Runner"  # x\r\n'


@pytest.mark.parametrize(
    ("cog_yaml", "files", "reason"),
    [
        (
            COG_YAML.replace("build:\n", "build:\n  pre_install: [echo a]\n  run: [echo b]\n"),
            {},
            "build.run is set too: move the pre_install commands to the end of build.run by hand",
        ),
        (
            COG_YAML.replace("build:\n", "build:\n  python_packages: [numpy]\n"),
            {"requirements.txt": "torch\n"},
            "requirements.txt already exists: add the packages to it and set build.python_requirements by hand",
        ),
        (
            COG_YAML + "concurrency:\n  max: 2\n",
            {
                "run.py": "from cog import BaseRunner\n\nclass Runner(BaseRunner):\n    def run(self) -> str:\n        return ''\n"
            },
            "Runner.run() is not async: @cog.concurrent(max=2) needs async def run()",
        ),
        (
            COG_YAML + "concurrency:\n  max: 2\n  default_target: 1\n",
            {},
            "@cog.concurrent has no equivalent of concurrency.default_target: keep concurrency: as it is",
        ),
    ],
    ids=["pre_install-beside-run", "requirements-exist", "sync-run", "default_target"],
)
def test_fix_leaves_what_it_cannot_rewrite_safely(
    tmp_path: Path, cog_yaml: str, files: dict[str, str], reason: str
) -> None:
    files = {"run.py": ASYNC_RUN, **files}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "cog.yaml").write_text(cog_yaml)
    before = {p.name: p.read_text() for p in tmp_path.iterdir()}
    report = doctor.run(tmp_path / "cog.yaml", fix=True)
    assert reason in report.left.values()
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == before
    assert report.errors >= 1  # a fix that was asked for and not made fails the run, as in Cog
    assert f"not fixed: {reason}" in shown(report)


def test_cog_yaml_problems_are_findings_in_the_config_words(tmp_path: Path) -> None:
    write(tmp_path, cog__yaml='build:\n  python_version: "3.12"\npredict: "run.py:Runner"\nrun: "run.py:Runner"\n')
    report = doctor.run(tmp_path / "cog.yaml", fix=True)
    [collision] = findings(report, "Config schema")
    assert (collision.location, collision.message, collision.remediation) == (
        "cog.yaml:3",
        "only one of run or predict can be set",
        "keep run: and delete predict:",
    )
    assert report.errors == 1 and not report.diff  # no rewrite guesses which entry was meant
    assert "Deprecated fields (not checked: cog.yaml has errors)" in shown(report)


def test_invalid_yaml_is_a_parse_finding(tmp_path: Path) -> None:
    write(tmp_path, cog__yaml="build:\n  gpu: [\n")
    [problem] = findings(doctor.run(tmp_path / "cog.yaml"), "Config parsing")
    assert problem.message.startswith("failed to parse cog.yaml: invalid YAML") and problem.severity is Severity.ERROR


def test_missing_predictor_file(tmp_path: Path) -> None:
    write(tmp_path, cog__yaml='build:\n  python_version: "3.12"\npredict: "predict.py:Predictor"\n')
    [missing] = findings(doctor.run(tmp_path / "cog.yaml"), "Predict reference")
    assert (missing.location, missing.message, missing.remediation) == (
        "cog.yaml:3",
        "predict.py not found",
        "Create predict.py or update the predict field in cog.yaml",
    )


def test_missing_predictor_class(tmp_path: Path) -> None:
    predict_py = "from cog import BasePredictor\n\n\nclass Predictor(BasePredictor):\n    def predict(self, t: str) -> str:\n        return t\n"
    write(
        tmp_path,
        cog__yaml='build:\n  python_version: "3.12"\npredict: "predict.py:DoesNotExist"\n',
        predict__py=predict_py,
    )
    [missing] = findings(doctor.run(tmp_path / "cog.yaml"), "Predict reference")
    assert missing.message == 'class "DoesNotExist" not found in predict.py; found: Predictor'
    assert missing.remediation == "Add class DoesNotExist to predict.py or update the predict field in cog.yaml"


def test_the_predictor_is_read_not_imported(tmp_path: Path) -> None:
    run_py = "import not_installed_anywhere\nfrom cog import BaseRunner\n\nraise SystemExit(3)\n\n\nclass Runner(BaseRunner):\n    def run(self) -> str:\n        return ''\n"
    write(tmp_path, cog__yaml=COG_YAML, run__py=run_py)
    report = doctor.run(tmp_path / "cog.yaml")
    assert report.errors == 0 and not [f for r in report.results for f in r.findings]


def test_a_predictor_that_does_not_parse(tmp_path: Path) -> None:
    write(tmp_path, cog__yaml=COG_YAML, run__py="class Runner(:\n")
    [broken] = findings(doctor.run(tmp_path / "cog.yaml"), "Predict reference")
    assert broken.location == "run.py:1" and broken.message.startswith("cannot parse run.py:")


# --- Python ------------------------------------------------------------------------------

PYDANTIC_RUN = """\
from cog import BaseRunner, Path
from pydantic import BaseModel, ConfigDict


class VoiceCloningOutputs(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    audio: Path
    spectrogram: Path


class Runner(BaseRunner):
    def run(self, text: str) -> VoiceCloningOutputs:
        return VoiceCloningOutputs(audio="a.wav", spectrogram="s.png")
"""


def test_pydantic_basemodel_workaround_is_an_error_and_fixed(tmp_path: Path) -> None:
    write(tmp_path, cog__yaml=COG_YAML, run__py=PYDANTIC_RUN)
    [workaround] = findings(doctor.run(tmp_path / "cog.yaml"), "Pydantic BaseModel workaround")
    assert workaround.location == "run.py:5" and workaround.severity is Severity.ERROR
    assert workaround.message == (
        "VoiceCloningOutputs inherits from pydantic.BaseModel with arbitrary_types_allowed; use cog.BaseModel instead"
    )
    report = doctor.run(tmp_path / "cog.yaml", fix=True)
    assert report.errors == 0
    assert (tmp_path / "run.py").read_text() == PYDANTIC_RUN.replace(
        "from cog import BaseRunner, Path\nfrom pydantic import BaseModel, ConfigDict\n",
        "from cog import BaseRunner, Path, BaseModel\n",
    ).replace("    model_config = ConfigDict(arbitrary_types_allowed=True)\n", "")


def test_pydantic_basemodel_kept_for_other_classes(tmp_path: Path) -> None:
    run_py = PYDANTIC_RUN.replace(
        "\n\nclass Runner", "\n\nclass Settings(BaseModel):\n    n: int = 1\n\n\nclass Runner"
    )
    write(tmp_path, cog__yaml=COG_YAML, run__py=run_py)
    doctor.run(tmp_path / "cog.yaml", fix=True)
    text = (tmp_path / "run.py").read_text()
    assert "from cog import BaseRunner, Path, BaseModel as CogBaseModel\nfrom pydantic import BaseModel\n" in text
    assert "class VoiceCloningOutputs(CogBaseModel):" in text and "class Settings(BaseModel):" in text


def test_pydantic_features_are_left_to_the_user(tmp_path: Path) -> None:
    run_py = PYDANTIC_RUN.replace(
        "    spectrogram: Path\n", "    spectrogram: Path\n\n    def size(self) -> int:\n        return 1\n"
    )
    write(tmp_path, cog__yaml=COG_YAML, run__py=run_py)
    report = doctor.run(tmp_path / "cog.yaml", fix=True)
    assert list(report.left.values()) == [
        "VoiceCloningOutputs (run.py:5) uses pydantic at line 10 in a way cog.BaseModel (a dataclass) does not: "
        "convert it by hand"
    ]
    assert (tmp_path / "run.py").read_text() == run_py


EXPERIMENTAL_RUN = """\
import warnings
from cog import BaseRunner
from cog.types import ExperimentalFeatureWarning

warnings.filterwarnings("ignore", category=ExperimentalFeatureWarning)


class Runner(BaseRunner):
    def run(self, text: str) -> str:
        return "hello " + text
"""


def test_experimental_feature_warning_from_cog_types_is_an_error_and_removed(tmp_path: Path) -> None:
    write(tmp_path, cog__yaml=COG_YAML, run__py=EXPERIMENTAL_RUN)
    [removed] = findings(doctor.run(tmp_path / "cog.yaml"), "Deprecated imports")
    assert (removed.location, removed.severity, removed.message, removed.remediation) == (
        "run.py:3",
        Severity.ERROR,
        "ExperimentalFeatureWarning was removed in cog 0.17; current_scope().record_metric() is no longer experimental",
        "Remove the import of ExperimentalFeatureWarning from cog.types",
    )
    assert doctor.run(tmp_path / "cog.yaml", fix=True).errors == 0
    assert (tmp_path / "run.py").read_text() == (
        'from cog import BaseRunner\n\n\nclass Runner(BaseRunner):\n    def run(self, text: str) -> str:\n        return "hello " + text\n'
    )


def test_experimental_feature_warning_from_cog_is_a_warning(tmp_path: Path) -> None:
    run_py = "import cog\nfrom cog import BaseRunner, ExperimentalFeatureWarning\n\nX = ExperimentalFeatureWarning\n\n\nclass Runner(BaseRunner):\n    def setup(self) -> None:\n        cog.ExperimentalFeatureWarning\n\n    def run(self) -> str:\n        return ''\n"
    write(tmp_path, cog__yaml=COG_YAML, run__py=run_py)
    report = doctor.run(tmp_path / "cog.yaml", fix=True)
    assert [(f.location, f.severity) for f in findings(report, "Deprecated imports")] == [
        ("run.py:2", Severity.WARNING),
        ("run.py:9", Severity.WARNING),
    ]
    assert list(report.left.values()) == ["ExperimentalFeatureWarning is used at run.py:4: remove that use by hand"]


def test_emit_metric_becomes_record_metric(tmp_path: Path) -> None:
    run_py = "import cog\nfrom cog import BaseRunner, emit_metric\n\n\nclass Runner(BaseRunner):\n    def run(self) -> str:\n        emit_metric('a', 1)\n        cog.emit_metric('b', 2)\n        return ''\n"
    write(tmp_path, cog__yaml=COG_YAML, run__py=run_py)
    report = doctor.run(tmp_path / "cog.yaml", fix=True)
    assert [f.message for f in findings(report, "Deprecated imports")] == [
        "emit_metric() is deprecated and will be removed in a future release"
    ] * 2
    assert (tmp_path / "run.py").read_text() == (
        "import cog\nfrom cog import BaseRunner, current_scope\n\n\nclass Runner(BaseRunner):\n    def run(self) -> str:\n"
        "        current_scope().record_metric('a', 1)\n        cog.current_scope().record_metric('b', 2)\n        return ''\n"
    )


def test_file_used_as_a_file_object_is_left(tmp_path: Path) -> None:
    run_py = "from cog import BaseRunner, File\n\n\nclass Runner(BaseRunner):\n    def run(self, f: File) -> str:\n        f.seek(0)\n        return f.read().decode()\n"
    write(tmp_path, cog__yaml=COG_YAML, run__py=run_py)
    report = doctor.run(tmp_path / "cog.yaml", fix=True)
    [(_, reason)] = report.left.items()
    assert reason.startswith("input 'f' is used as a file object at run.py:6")
    assert (tmp_path / "run.py").read_text() == run_py


def test_file_becomes_path_beside_a_path_import(tmp_path: Path) -> None:
    run_py = "import io\n\nimport cog\nfrom cog import BaseRunner, File, Path\n\n\nclass Runner(BaseRunner):\n    def run(self, f: File | None = None) -> list[cog.File]:\n        data = b'' if f is None else f.read()\n        return [io.BytesIO(data)]\n"
    write(tmp_path, cog__yaml=COG_YAML, run__py=run_py)
    assert doctor.run(tmp_path / "cog.yaml", fix=True).errors == 0
    assert (tmp_path / "run.py").read_text() == run_py.replace("File, Path", "Path").replace(
        "f: File | None = None) -> list[cog.File]", "f: Path | None = None) -> list[cog.Path]"
    ).replace("f.read()", "f.read_bytes()")


def test_file_beside_pathlib_path_is_left(tmp_path: Path) -> None:
    run_py = "from pathlib import Path\n\nfrom cog import BaseRunner, File\n\n\nclass Runner(BaseRunner):\n    def run(self) -> File:\n        return open(Path('x'), 'rb')\n"
    write(tmp_path, cog__yaml=COG_YAML, run__py=run_py)
    report = doctor.run(tmp_path / "cog.yaml", fix=True)
    assert list(report.left.values()) == ["Path names something else in run.py (line 1): replace File by hand"]


@pytest.mark.parametrize(
    ("decorator", "is_async", "title", "problem"),
    [
        ("", "", "Concurrency (Runner.run(): sync, one prediction at a time)", None),
        ("@cog.concurrent(max=3)", "async ", "Concurrency (Runner.run(): async, @concurrent(max=3))", None),
        ("@cog.concurrent(max=2)", "", None, "concurrent max greater than 1 requires an async function"),
        ("@cog.concurrent(max=0)", "async ", None, "concurrent max must be at least 1"),
    ],
)
def test_concurrency_is_shown_and_checked(
    tmp_path: Path, decorator: str, is_async: str, title: str | None, problem: str | None
) -> None:
    run_py = f"import cog\n\n\nclass Runner(cog.BaseRunner):\n    {decorator}\n    {is_async}def run(self) -> str:\n        return ''\n"
    write(tmp_path, cog__yaml=COG_YAML, run__py=run_py)
    report = doctor.run(tmp_path / "cog.yaml")
    [result] = [r for r in report.results if r.check.title == "Concurrency"]
    if title:
        assert result.title == title and not result.findings
    else:
        [finding] = result.findings
        assert (finding.location, finding.message, finding.severity) == ("run.py:5", problem, Severity.ERROR)


# --- the command -------------------------------------------------------------------------


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.iterdir() if (p / "cog.yaml").exists()))
def test_examples_are_clean(example: str, tmp_path: Path) -> None:
    work = copy_example(example, tmp_path / example)
    result = run_cli("doctor", cwd=work)
    assert result.returncode == 0, result.stderr
    assert (
        result.stderr.rstrip().endswith("✓ no issues found")
        and " ✗ " not in result.stderr
        and " ! " not in result.stderr
    )


def test_cog_016_project_migrates_and_still_predicts(tmp_path: Path) -> None:
    work = tmp_path / "model"
    shutil.copytree(FIXTURES / "cog-0.16", work)
    first = run_cli("doctor", cwd=work)
    assert first.returncode == 0, first.stderr  # warnings only
    assert 'Found 3 warnings. Run "cognix doctor --fix" to fix 3 of them.' in first.stderr
    fixed = run_cli("doctor", "--fix", cwd=work)
    assert fixed.returncode == 0, fixed.stderr
    assert "Fixed 3 issues." in fixed.stderr
    assert (
        "  -from cog import BasePredictor, File, Input\n  +from cog import BasePredictor, Path, Input\n" in fixed.stderr
    )
    assert "  +++ b/requirements.txt\n" in fixed.stderr
    assert (work / "cog.yaml").read_text() == (
        "# A model written for Cog 0.16: every field here was current then.\nbuild:\n"
        '  python_version: "3.11"\n  python_requirements: requirements.txt  # what the model needs\n'
        'run: "predict.py:Predictor"  # the entry point\n'
    )
    again = run_cli("doctor", cwd=work)
    assert again.returncode == 0 and again.stderr.rstrip().endswith("✓ no issues found"), again.stderr
    predicted = run_cli("predict", "-i", "data=@input.txt", "-o", "out.txt", cwd=work)
    assert predicted.returncode == 0, predicted.stderr
    assert (work / "out.txt").read_text() == "olleh"


@pytest.mark.parametrize(
    ("cog_yaml", "message"),
    [
        ("build:\n  gpu: [\n", "failed to parse cog.yaml: invalid YAML"),
        ('build:\n  python_version: "3.12"\npredict: "predict.py:Predictor"\n', "cog.yaml:3: predict.py not found"),
    ],
)
def test_errors_exit_1_without_a_traceback(tmp_path: Path, cog_yaml: str, message: str) -> None:
    write(tmp_path, cog__yaml=cog_yaml)
    for args in (["doctor"], ["doctor", "--fix"]):
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 1 and message in result.stderr and TRACEBACK not in result.stderr, result.stderr


def test_no_cog_yaml_is_the_usual_error(tmp_path: Path) -> None:
    result = run_cli("doctor", cwd=tmp_path)
    assert result.returncode == 2 and "error: cog.yaml not found" in result.stderr and TRACEBACK not in result.stderr
