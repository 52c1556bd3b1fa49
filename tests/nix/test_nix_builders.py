"""The Nix builders' Python, run as Nix runs them (an ``.attrs.json`` in the working folder) on
small package trees: the virtual environment's file links and collisions, and the layer plan
over a references graph."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BUILDERS = Path(__file__).resolve().parents[2] / "cognix" / "nix" / "builders"
SITE = "lib/python3.11/site-packages"


def package(root: Path, name: str, files: dict[str, str]) -> str:
    folder = root / name
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    return str(folder)


def mkenv(tmp_path: Path, packages: list[str]) -> subprocess.CompletedProcess:
    work = tmp_path / "build"
    work.mkdir()
    attrs = {"outputs": {"out": str(tmp_path / "env")}, "python": "/py", "pythonVersion": "3.11", "packages": packages}
    (work / ".attrs.json").write_text(json.dumps(attrs))
    return subprocess.run([sys.executable, str(BUILDERS / "mkenv.py")], cwd=work, capture_output=True, text=True)


def test_packages_are_linked_file_by_file_and_shared_files_may_repeat(tmp_path: Path) -> None:
    cudnn = package(
        tmp_path, "cudnn", {f"{SITE}/nvidia/__init__.py": "", f"{SITE}/nvidia/cudnn/lib/libcudnn.so.9": "x"}
    )
    cublas = package(tmp_path, "cublas", {f"{SITE}/nvidia/__init__.py": "", f"{SITE}/nvidia/cublas/lib/x.so": "y"})
    data = package(tmp_path, "data", {"share/doc/readme": "r", "bin/tool": "#!/py/bin/python3.11\nprint(1)\n"})
    assert mkenv(tmp_path, [cudnn, cublas, data]).returncode == 0
    env = tmp_path / "env"
    nvidia = env / SITE / "nvidia"
    assert nvidia.is_dir() and not nvidia.is_symlink()  # a real folder: $ORIGIN/../.. stays in the env
    assert (nvidia / "cudnn" / "lib" / "libcudnn.so.9").resolve() == Path(cudnn, SITE, "nvidia/cudnn/lib/libcudnn.so.9")
    assert (env / "share" / "doc" / "readme").read_text() == "r"
    assert (env / "bin" / "tool").read_text() == f"#!{env}/bin/python\nprint(1)\n"
    assert "include-system-site-packages = false" in (env / "pyvenv.cfg").read_text()


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({f"{SITE}/pkg/mod.py": "a"}, {f"{SITE}/pkg/mod.py": "b"}),  # same file, different contents
        ({"bin/run": "#!/py/bin/python3.11\n"}, {"bin/run": "#!/py/bin/python3.11\n#2\n"}),  # same script name
        ({f"{SITE}/pkg": "a file"}, {f"{SITE}/pkg/mod.py": ""}),  # a file where another has a folder
    ],
)
def test_conflicting_packages_are_named(tmp_path: Path, first: dict, second: dict) -> None:
    result = mkenv(tmp_path, [package(tmp_path, "alpha", first), package(tmp_path, "beta", second)])
    assert result.returncode == 1
    assert "error: beta and alpha both install" in result.stderr and "Traceback" not in result.stderr


def test_each_store_path_goes_to_the_first_layer_that_reaches_it() -> None:
    from cognix.nix.builders import oci

    sys.modules.setdefault("oci", oci)  # `cognix build` copies oci.py beside the builders; here it is the package's
    sys.path.insert(0, str(BUILDERS))
    try:
        import layering
    finally:
        sys.path.remove(str(BUILDERS))
    graph = {"/py": [], "/torch": ["/py", "/torch"], "/six": ["/py"], "/env": ["/torch", "/six", "/py"], "/odd": []}
    closure = [{"path": path, "references": refs} for path, refs in graph.items()]
    layers = [
        {"name": "python", "roots": ["/py"]},
        {"name": "torch", "roots": ["/torch"]},
        {"name": "empty", "roots": []},
        {"name": "site-packages", "roots": ["/env"]},
    ]
    assert layering.assign(closure, layers) == [
        ("python", ["/py"]),
        ("torch", ["/torch"]),
        ("site-packages", ["/env", "/six"]),
        ("rest", ["/odd"]),
    ]
