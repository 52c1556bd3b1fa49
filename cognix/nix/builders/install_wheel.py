"""Nix builder: install one wheel into ``$out`` so that it works from the store.

pypa/installer unpacks it (``lib/pythonX.Y/site-packages``, ``bin``, data); the Python files are
compiled to unchecked-hash bytecode (the store never changes under them); every ELF file gets
the runtime library directories appended to its RUNPATH, so manylinux wheels find libstdc++ and
friends without the host's /lib, while their own ``$ORIGIN`` entries keep working.
"""

import compileall
import json
import os
import py_compile
import subprocess
import sys
from pathlib import Path

attrs = json.loads(Path(".attrs.json").read_text())  # Nix 2.8: NIX_ATTRS_JSON_FILE is the host path
out = Path(attrs["outputs"]["out"])
sys.path[:0] = [attrs["installer"], str(Path(__file__).parent)]  # pypa/installer; elf.py beside this script

import elf  # noqa: E402
from installer import install  # noqa: E402
from installer.destinations import SchemeDictionaryDestination  # noqa: E402
from installer.sources import WheelFile  # noqa: E402

site = out / attrs["sitePackages"]
scheme = {
    "purelib": str(site),
    "platlib": str(site),
    "headers": str(out / "include" / attrs["pname"]),
    "scripts": str(out / "bin"),
    "data": str(out),
}
destination = SchemeDictionaryDestination(scheme, interpreter=attrs["interpreter"], script_kind="posix")
wheel = Path(attrs["wheel"]).name.split("-", 1)[1]  # installer reads the name and version from the file name
Path(wheel).symlink_to(attrs["wheel"])
with WheelFile.open(wheel) as source:
    install(source, destination, {"INSTALLER": b"cognix\n"})

os.environ["SOURCE_DATE_EPOCH"] = "1"
compileall.compile_dir(site, quiet=2, workers=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)

rpath = ":".join(attrs["rpath"])
patchelf = [f"{attrs['patchelf']}/bin/patchelf"]
for path in sorted(out.rglob("*")):
    if not path.is_file() or path.is_symlink():
        continue
    kind = elf.inspect(path)
    if not kind.dynamic:  # not an ELF, or static: nothing to extend
        continue
    path.chmod(path.stat().st_mode | 0o200)
    # Keep the entry's kind. Bundled libraries (auditwheel's *.libs) often have no search path and
    # find their siblings through the loading module's DT_RPATH, which only applies while they
    # have no DT_RUNPATH of their own; so add a DT_RPATH unless the file already uses DT_RUNPATH.
    subprocess.run(
        [*patchelf, "--add-rpath", rpath, *([] if kind.runpath else ["--force-rpath"]), str(path)], check=True
    )
    if kind.interpreter:  # executables (ninja, triton's ptxas, …) ask for /lib64/ld-linux…, which the image lacks
        elf.set_interpreter(patchelf, path, attrs["loader"])
