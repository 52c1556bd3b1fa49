"""The seam between the host tool and what runs in the image.

The image has cognix's ``image`` extra and none of its other dependencies, and its cognix wheel
holds ``sdk/``, ``runtime/`` and ``server/`` (plus the package root, ``errors`` and ``_version``).
These tests hold the three definitions to each other: every module the wheel ships imports with
the host-only libraries blocked, and the wheel holds exactly those modules.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from cognix.build import server_wheel
from tests.conftest import REPO


def _dependencies(extra: str | None) -> set[str]:
    """cognix's dependencies: the plain ones (``extra=None``) or those of one extra."""
    names = set()
    for line in importlib.metadata.requires("cognix") or []:
        requirement = Requirement(line)
        in_extra = requirement.marker is not None and "extra" in str(requirement.marker)
        if extra is None and not in_extra:
            names.add(canonicalize_name(requirement.name))
        elif extra and in_extra and requirement.marker and requirement.marker.evaluate({"extra": extra}):
            names.add(canonicalize_name(requirement.name))
    return names


def host_only_modules() -> list[str]:
    """Top-level import names of the dependencies the image does not get (typer, rich, uv, …)."""
    host_only = _dependencies(None) - _dependencies("image")
    modules = set()
    for dist in importlib.metadata.distributions():
        if canonicalize_name(dist.metadata["Name"]) not in host_only:
            continue
        for file in dist.files or []:
            top = file.parts[0]
            if file.suffix == ".py" and not top.endswith((".dist-info", ".data")) and top != "..":
                modules.add(top.removesuffix(".py"))
    return sorted(modules)


def shipped_modules(wheel: Path) -> list[str]:
    """Import names of the cognix modules in the image's wheel."""
    names = []
    for name in zipfile.ZipFile(wheel).namelist():
        if name.startswith("cognix/") and name.endswith(".py"):
            parts = name.removesuffix(".py").split("/")
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(names)


def test_the_image_needs_nothing_but_its_extra(tmp_path: Path) -> None:
    blocked = host_only_modules()
    assert {"typer", "rich", "jinja2", "tomli_w", "cyclonedx", "uv", "yaml"} <= set(blocked)
    wheel = server_wheel.server_wheel(tmp_path)
    modules = shipped_modules(wheel)
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    probe = textwrap.dedent(
        f"""
        import importlib, importlib.abc, json, sys
        sys.path.insert(0, {str(unpacked)!r})  # the wheel's cognix, not this checkout's
        blocked = set({blocked!r})
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in blocked:
                    raise ImportError(f"{{name}} is host-only, and the image does not have it")
        sys.meta_path.insert(0, Block())
        import cognix
        assert cognix.__file__.startswith({str(unpacked)!r}), cognix.__file__
        failed = {{}}
        for module in {[m for m in modules if not m.endswith(".__main__")]!r}:  # __main__ runs the server
            try:
                importlib.import_module(module)
            except ImportError as error:
                failed[module] = str(error)
        print(json.dumps(failed))
        """
    )
    done = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {}
    assert "cognix.server.worker" in modules and "cognix.runtime.schema" in modules


def test_the_server_wheel_holds_only_what_the_image_runs(tmp_path: Path) -> None:
    modules = shipped_modules(server_wheel.server_wheel(tmp_path))
    tops = {name.split(".")[1] for name in modules if name.count(".") >= 1}
    assert tops == {"sdk", "runtime", "server", "errors", "_version"}
    assert "cognix" in modules  # the package root: `from cognix import BasePredictor`
    with zipfile.ZipFile(next(tmp_path.glob("cognix-*.whl"))) as wheel:
        pages = sorted(n for n in wheel.namelist() if n.startswith("cognix/server/playground/"))
    assert pages == [f"cognix/server/playground/{n}" for n in ("index.html", "playground.css", "playground.js")]
    on_disk = sorted(p for p in (REPO / "cognix").iterdir() if p.is_dir() and not p.name.startswith("_"))
    host = {p.name for p in on_disk} - set(server_wheel.IMAGE_PACKAGES) - {"nix"}
    assert host == {"build", "cli", "image", "project"}  # a new package must be placed on one side
