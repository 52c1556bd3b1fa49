"""Shared helpers: run the real ``cognix`` CLI in a subprocess, load predictors from files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


def copy_example(name: str, target: Path) -> Path:
    """A copy of an example without what `cognix build` may have left in it (the README's first
    command builds in examples/hello-world)."""
    shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns(".cognix", "flake.nix", "image.tar"))
    return target


def run_cli(*args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None, timeout: float = 120):
    """``cognix ARGS`` as a user runs it; returns the CompletedProcess."""
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "cognix", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )


@pytest.fixture
def project(tmp_path: Path):
    """Write a project: ``project(cog_yaml, **files)`` → its directory."""

    def make(cog_yaml: str, **files: str) -> Path:
        (tmp_path / "cog.yaml").write_text(textwrap.dedent(cog_yaml))
        for name, text in files.items():
            (tmp_path / name.replace("__", ".")).write_text(textwrap.dedent(text))
        return tmp_path

    return make


def load_predictor(directory: Path, ref: str, mode: str = "predict"):
    from cognix.runtime import predictor

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return predictor.load(directory, ref, mode=mode)
