"""cognix as a drop-in ``cog`` command: ``install-cog-alias``, and Cog's deprecation warnings
worded with the command name as it was invoked."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import copy_example, run_cli

pytestmark = pytest.mark.skipif(shutil.which("cognix") is None, reason="the cognix script is not on PATH (pip install)")

PREDICT_WARNING = '"{0} predict" is deprecated, use "{0} run"'
TRAIN_WARNING = 'Command "train" is deprecated, the train command will be removed in a future version of Cog'


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    return folder


def path_with(folder: Path) -> dict[str, str]:
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def cog(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **path_with(bin_dir), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(["cog", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120)


def test_the_alias_runs_cognix_and_speaks_as_cog(bin_dir: Path, tmp_path: Path) -> None:
    installed = run_cli("install-cog-alias", "--bin-dir", str(bin_dir), cwd=tmp_path, env=path_with(bin_dir))
    assert installed.returncode == 0, installed.stderr
    link = bin_dir / "cog"
    assert link.is_symlink() and link.resolve() == Path(shutil.which("cognix") or "").resolve()
    again = run_cli("install-cog-alias", "--bin-dir", str(bin_dir), cwd=tmp_path, env=path_with(bin_dir))
    assert again.returncode == 0, again.stderr  # idempotent

    project = copy_example("hello-train", tmp_path / "hello-train")
    old_name = cog(bin_dir, "predict", "-i", "name=world", cwd=project)
    assert old_name.returncode == 0, old_name.stderr
    assert old_name.stdout.strip() == "hello world"
    assert PREDICT_WARNING.format("cog") in old_name.stderr

    new_name = cog(bin_dir, "run", "-i", "name=world", cwd=project)
    assert new_name.returncode == 0 and new_name.stdout.strip() == "hello world"
    assert "deprecated" not in new_name.stderr

    trained = cog(bin_dir, "train", "-i", "prefix=hi", cwd=project)
    assert TRAIN_WARNING in trained.stderr


def test_cognix_words_the_warning_with_its_own_name(tmp_path: Path) -> None:
    project = copy_example("hello-train", tmp_path / "hello-train")
    result = run_cli("predict", "-i", "name=world", cwd=project)
    assert result.returncode == 0, result.stderr
    assert PREDICT_WARNING.format("cognix") in result.stderr
    trained = run_cli("train", "-i", "prefix=hi", cwd=project)
    assert "deprecated" not in trained.stderr  # cognix keeps `train`; only Cog's name is Cog's plan


def test_a_real_cog_on_path_is_never_shadowed(bin_dir: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "real-cog"
    elsewhere.mkdir()
    real = elsewhere / "cog"
    real.write_text("#!/bin/sh\necho real cog\n")
    real.chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{elsewhere}{os.pathsep}{os.environ['PATH']}"}
    result = run_cli("install-cog-alias", "--bin-dir", str(bin_dir), cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert f"a `cog` command is already on PATH: {real}" in result.stderr
    assert "does not shadow a real Cog install" in result.stderr and "Traceback" not in result.stderr
    assert not (bin_dir / "cog").exists()


def test_an_existing_file_named_cog_is_not_replaced(bin_dir: Path, tmp_path: Path) -> None:
    mine = bin_dir / "cog"
    mine.write_text("mine\n")
    result = run_cli("install-cog-alias", "--bin-dir", str(bin_dir), cwd=tmp_path, env=path_with(tmp_path))
    assert result.returncode == 1
    assert f"{mine} exists and is not cognix" in result.stderr
    assert mine.read_text() == "mine\n"
