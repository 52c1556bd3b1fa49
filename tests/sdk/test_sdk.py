"""The SDK as model code sees it: ``import cog`` aliasing, Secret, BaseModel, metrics, decorators."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import cognix
from cognix.sdk.scope import current_scope, prediction_scope


def _python(code: str, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, **kw)


def test_cog_is_cognix_when_cog_is_not_installed() -> None:
    result = _python(
        "import cog, cog.types, cognix\n"
        "from cog import BasePredictor, Input, Path\n"
        "print(cog is cognix.sdk, cog.Path is cognix.Path, cog.types.Path is Path)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True"]


def test_a_real_cog_package_wins(tmp_path: Path) -> None:
    """A stand-in for the real `cog` wheel: when one is importable, no alias is made."""
    (tmp_path / "cog").mkdir()
    (tmp_path / "cog" / "__init__.py").write_text("REAL = True\n")
    result = _python("import cog; print(getattr(cog, 'REAL', False))", env={"PYTHONPATH": str(tmp_path)})
    assert result.stdout.strip() == "True", result.stderr


def test_secret_never_shows_itself() -> None:
    s = cognix.Secret("hunter2")
    assert str(s) == "**********"
    assert repr(s) == "Secret(**********)"
    assert f"{s}" == "**********"
    assert s.get_secret_value() == "hunter2"
    assert str(cognix.Secret()) == ""


def test_base_model_is_a_dataclass() -> None:
    class Output(cognix.BaseModel):
        text: str
        score: float = 0.5

    out = Output(text="x")
    assert (out.text, out.score) == ("x", 0.5)
    assert out == Output("x", 0.5)


def test_input_rejects_default_factory() -> None:
    with pytest.raises(TypeError, match="default_factory is not supported"):
        cognix.Input(default_factory=list)


def test_metrics_nest_and_accumulate() -> None:
    with prediction_scope(context={"user": "ada"}) as scope:
        current_scope().record_metric("timing.inference", 0.25)
        current_scope().record_metric("tokens", 2, mode="incr")
        current_scope().record_metric("tokens", 3, mode="incr")
        current_scope().record_metric("seen", "a", mode="append")
        current_scope().record_metric("seen", "b", mode="append")
        current_scope().metrics["gone"] = 1
        del current_scope().metrics["gone"]
        current_scope().record_metric("temp", 1.0)
        current_scope().record_metric("temp", None)  # None deletes
        assert current_scope().context == {"user": "ada"}
    assert scope.metrics.as_dict() == {"timing": {"inference": 0.25}, "tokens": 5, "seen": ["a", "b"]}


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("predict_time", "'predict_time' is reserved by the runtime"),
        ("cog.x", "the 'cog.' prefix is reserved for system metrics"),
        ("_a", "metric name segment '_a' must start with a letter"),
        ("a_", "metric name segment 'a_' must end with a letter or digit"),
        ("a__b", "metric name segment 'a__b' must not contain consecutive underscores"),
        ("a.b.c.d.e", "metric name must have at most 4 dot-separated segments (got 5)"),
        ("é" * 65, "metric name must be 128 characters or fewer (got 130 characters)"),  # bytes, as Rust counts
        ("aé", "metric name segment 'aé' contains invalid character 'é'"),
    ],
)
def test_metric_key_rules(key: str, message: str) -> None:
    with prediction_scope(), pytest.raises(ValueError) as refused:
        current_scope().record_metric(key, 1)
    assert str(refused.value) == message


def test_metric_type_and_mode_rules() -> None:
    """coglet's MetricRecorder: a key keeps its type until deleted; increment takes numbers;
    "incr" and "increment" are one mode, sent as "increment"."""
    sent: list[tuple[str, object, str]] = []
    with prediction_scope(on_metric=lambda *metric: sent.append(metric)) as scope:
        current_scope().record_metric("a", 1)
        with pytest.raises(TypeError, match="^Metric 'a' has type int, cannot set to str without deleting first$"):
            current_scope().record_metric("a", "x")
        del current_scope().metrics["a"]
        current_scope().record_metric("a", "x")
        with pytest.raises(TypeError, match="^Increment mode requires int or float, got str$"):
            current_scope().record_metric("a", "y", mode="incr")
        with pytest.raises(TypeError, match="^Invalid metric mode: 'add'. Expected 'replace', 'incr', or 'append'.$"):
            current_scope().record_metric("n", 1, mode="add")
        current_scope().record_metric("n", 1, mode="increment")
        current_scope().record_metric("n", 2, mode="incr")
    assert scope.metrics.as_dict() == {"a": "x", "n": 3}
    assert sent == [
        ("a", 1, "replace"),
        ("a", None, "replace"),
        ("a", "x", "replace"),
        ("n", 1, "increment"),
        ("n", 2, "increment"),
    ]


def test_scope_outside_prediction_is_a_noop() -> None:
    current_scope().record_metric("not a valid name", 1)  # unchecked, as in Cog: dropped
    assert len(current_scope().metrics) == 0
    with pytest.raises(TypeError, match="Invalid metric mode"):  # Cog checks the mode even here
        current_scope().record_metric("x", 1, mode="add")


def test_concurrent_decorator_rules() -> None:
    with pytest.raises(TypeError, match="requires an async function"):
        cognix.concurrent(max=2)(lambda: None)
    with pytest.raises(ValueError, match="at least 1"):
        cognix.concurrent(max=0)

    @cognix.concurrent(max=3)
    async def run() -> str:
        return ""

    assert run.__cog_concurrent_max__ == 3


def test_emit_metric_shim_warns_once(capsys) -> None:
    result = _python("import cog\ncog.emit_metric('a', 1)\ncog.emit_metric('b', 2)")
    assert result.returncode == 0
    assert result.stderr.count("emit_metric() is deprecated") == 1


def test_package_root_exports_exactly_the_sdk() -> None:
    import cognix.sdk

    assert set(cognix.__all__) == set(cognix.sdk.__all__)
    assert all(getattr(cognix, name) is getattr(cognix.sdk, name) for name in cognix.__all__)
