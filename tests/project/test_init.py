"""``cognix init`` writes a project that ``cognix predict`` runs straight away."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli


def test_init_then_predict(tmp_path: Path) -> None:
    created = run_cli("init", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cog.yaml", "predict.py", "requirements.txt"]
    result = run_cli("run", "-i", "prompt=cognix", "-i", "repeat=2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello cognix hello cognix\n"
    assert "warning" not in result.stderr  # the template uses no deprecated names
    schema = run_cli("schema", cwd=tmp_path)
    assert '"prompt"' in schema.stdout


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / "cog.yaml").write_text("build: {}\n")
    result = run_cli("init", cwd=tmp_path)
    assert result.returncode == 1
    assert "cog.yaml already exists" in result.stderr
    assert (tmp_path / "cog.yaml").read_text() == "build: {}\n"
