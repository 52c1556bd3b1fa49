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
python, version, site_rel = attrs["python"], attrs["pythonVersion"], attrs["sitePackages"]
interpreter = f"{python}/bin/python{version}".encode()

(out / "bin").mkdir(parents=True)
for name in (f"python{version}", "python3", "python"):
    (out / "bin" / name).symlink_to(f"{python}/bin/python{version}")
# a venv: Python takes its prefix (and site-packages) from the folder holding pyvenv.cfg
(out / "pyvenv.cfg").write_text(f"home = {python}/bin\ninclude-system-site-packages = false\nversion = {version}\n")

owner: dict[Path, str] = {}


def link(source: Path, target: Path, package: str) -> None:
    if target.is_symlink() or target.exists():
        if target.is_dir() and not target.is_symlink() and source.is_dir():
            return
        same = source.is_file() and Path(os.readlink(target)).read_bytes() == source.read_bytes()
        if same or source.suffix == ".pyc":
            return
        raise SystemExit(f"error: {package} and {owner[target]} both install {target.relative_to(out)}, differently")
    if source.is_dir():
        target.mkdir(parents=True)
    else:
        target.symlink_to(source)
        owner[target] = package


for package in attrs["packages"]:
    root = Path(package)
    for source in sorted(root.joinpath(site_rel).rglob("*")):
        link(source, out / site_rel / source.relative_to(root / site_rel), root.name)
    for script in sorted(root.joinpath("bin").glob("*")):
        target = out / "bin" / script.name
        data = script.read_bytes()
        if data.startswith(b"#!" + interpreter):  # console scripts run the environment, not the bare interpreter
            target.write_bytes(b"#!" + str(out / "bin" / "python").encode() + data[2 + len(interpreter) :])
            target.chmod(0o555)
        else:
            link(script, target, root.name)
