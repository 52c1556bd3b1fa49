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


@pytest.mark.parametrize("key", ["predict_time", "cog.x", "_a", "a_", "a__b", "1a", "a.b.c.d.e", "x" * 129])
def test_metric_key_rules(key: str) -> None:
    with prediction_scope(), pytest.raises(ValueError):
        current_scope().record_metric(key, 1)


def test_metric_type_cannot_change() -> None:
    with prediction_scope(), pytest.raises(TypeError, match="delete it before"):
        current_scope().record_metric("a", 1)
        current_scope().record_metric("a", "x")


def test_scope_outside_prediction_is_a_noop() -> None:
    current_scope().record_metric("x", 1)
    assert len(current_scope().metrics) == 0


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
