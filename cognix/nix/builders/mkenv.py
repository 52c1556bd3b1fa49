"""Nix builder: a virtual environment whose site-packages links every package's files.

Folders are real and files are symlinks into each package's store path, so each package stays
its own store path (its own layer candidate) while relative paths between packages still resolve
as in one site-packages: torch's ``$ORIGIN/../../nvidia/*/lib`` RUNPATHs, namespace packages
shared by several wheels. Identical files (``nvidia/__init__.py``) and bytecode may collide;
anything else that differs is an error naming both packages.
"""

import json
import os
from pathlib import Path

attrs = json.loads(Path(".attrs.json").read_text())  # Nix 2.8: NIX_ATTRS_JSON_FILE is the host path
out = Path(attrs["outputs"]["out"])
python, version = attrs["python"], attrs["pythonVersion"]
interpreter = f"{python}/bin/python{version}".encode()

(out / "bin").mkdir(parents=True)  # the interpreter's links; every package's files are linked below
for name in (f"python{version}", "python3", "python"):
    (out / "bin" / name).symlink_to(f"{python}/bin/python{version}")
# a venv: Python takes its prefix (and site-packages) from the folder holding pyvenv.cfg
(out / "pyvenv.cfg").write_text(f"home = {python}/bin\ninclude-system-site-packages = false\nversion = {version}\n")

owner: dict[Path, str] = {}


def clash(target: Path, package: str) -> SystemExit:
    return SystemExit(
        f"error: {package} and {owner.get(target, 'another package')} both install "
        f"{target.relative_to(out)}, differently"
    )


def link(source: Path, target: Path, package: str) -> None:
    if target.is_symlink() or target.exists():
        if source.is_dir() != (target.is_dir() and not target.is_symlink()):
            raise clash(target, package)  # a folder in one package, a file in another
        if source.is_dir():
            return
        if Path(os.readlink(target)).read_bytes() == source.read_bytes() or source.suffix == ".pyc":
            return  # the same file twice (nvidia/__init__.py), or bytecode of it
        raise clash(target, package)
    if source.is_dir():
        target.mkdir(parents=True)
    else:
        target.symlink_to(source)
        owner[target] = package


for package in attrs["packages"]:
    root = Path(package)
    for source in sorted(root.rglob("*")):
        rel = source.relative_to(root)
        if rel.parts[0] == "bin" and source.is_file() and source.read_bytes().startswith(b"#!" + interpreter):
            target = out / rel  # console scripts run the environment, not the bare interpreter
            if target.exists():
                raise clash(target, root.name)
            data = source.read_bytes()
            target.write_bytes(b"#!" + str(out / "bin" / "python").encode() + data[2 + len(interpreter) :])
            target.chmod(0o555)
            owner[target] = root.name
        else:
            link(source, out / rel, root.name)
