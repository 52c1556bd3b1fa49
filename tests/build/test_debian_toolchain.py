"""The offline toolchain from pinned Debian packages: Python 3.13 from trixie built into an image
and served under podman, a Python no Debian suite ships refused, and a pinned package whose bytes
differ from the lock refused by name. (System packages and build.run: test_run_steps.py.)

Real downloads from deb.debian.org and PyPI (the ``network`` mark), real Nix builds, real podman.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from cognix.project.pylock import read
from tests.build.test_build import needs_podman, serve_in_podman
from tests.conftest import copy_example, run_cli

pytestmark = [
    pytest.mark.network,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("nix") is None, reason="Nix is not installed (apt-get install nix-bin)"),
]


def hello(tmp_path: Path, python: str) -> Path:
    project = copy_example("hello-world", tmp_path / "hello")
    (project / "pylock.toml").unlink()
    config = project / "cog.yaml"
    config.write_text(re.sub(r'python_version: "[0-9.]+"', f'python_version: "{python}"', config.read_text()))
    return project


@needs_podman
def test_a_python_3_13_project_builds_from_trixie_and_serves(tmp_path: Path) -> None:
    project = hello(tmp_path, "3.13")
    built = run_cli("build", "-o", str(project / "image.tar"), cwd=project)
    assert built.returncode == 0, built.stderr
    pin = read(project / "pylock.toml").cognix.debian
    assert pin is not None and pin.suite == "trixie"
    python = next(p for p in pin.packages if p.name == "python3.13-minimal")
    assert python.url.startswith("https://deb.debian.org/debian/pool/main/p/python3.13/")
    assert python.snapshot_url.startswith(f"https://snapshot.debian.org/archive/debian/{pin.snapshot}/pool/")
    assert len(python.sha256) == 64 and python.size > 0
    prediction = serve_in_podman(project / "image.tar", {"input": {"text": "trixie"}})
    assert prediction["status"] == "succeeded" and prediction["output"] == "hello trixie"


def test_a_python_no_debian_suite_ships_is_refused_with_the_choices(tmp_path: Path) -> None:
    project = hello(tmp_path, "3.12")
    refused = run_cli("lock", cwd=project)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "no Debian suite ships Python 3.12" in refused.stderr
    assert "3.11 (bookworm), 3.13 (trixie)" in refused.stderr and "--toolchain nixpkgs" in refused.stderr
    assert not (project / "pylock.toml").exists()
    nixpkgs = run_cli("lock", "--toolchain", "nixpkgs", cwd=project)  # nixpkgs has every CPython
    assert nixpkgs.returncode == 0, nixpkgs.stderr
    assert read(project / "pylock.toml").cognix.debian is None


def test_a_pinned_debian_package_changed_by_one_byte_refuses_to_build(tmp_path: Path) -> None:
    project = hello(tmp_path, "3.11")
    assert run_cli("lock", cwd=project).returncode == 0
    lock = project / "pylock.toml"
    text = lock.read_text()
    libc = read(lock).cognix.debian.packages
    pinned = next(p for p in libc if p.name == "libc6").sha256
    changed = pinned[:-1] + ("0" if pinned[-1] != "0" else "1")
    lock.write_text(text.replace(pinned, changed))
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}  # no cached prefix or .deb to fall back on
    refused = run_cli("build", "--locked", cwd=project, env=cache)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"libc6 {next(p for p in libc if p.name == 'libc6').version}" in refused.stderr
    assert f"but the lock pins {changed}" in refused.stderr
    assert "cognix lock --upgrade-package libc6" in refused.stderr
    moved = run_cli("lock", "--upgrade-package", "libc6", cwd=project, env=cache)
    assert moved.returncode == 0, moved.stderr
    assert pinned in lock.read_text() and changed not in lock.read_text()
