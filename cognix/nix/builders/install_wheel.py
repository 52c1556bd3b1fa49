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
import struct
import subprocess
import sys
from pathlib import Path

attrs = json.loads(Path(".attrs.json").read_text())  # Nix 2.8: NIX_ATTRS_JSON_FILE is the host path
out = Path(attrs["outputs"]["out"])
sys.path.insert(0, attrs["installer"])

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
patchelf = f"{attrs['patchelf']}/bin/patchelf"
DT_NULL, DT_RUNPATH = 0, 29


def has_runpath(path: Path) -> bool | None:
    """Whether a 64-bit little-endian ELF's dynamic section has DT_RUNPATH; None: no dynamic section."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    phoff, phentsize, phnum = struct.unpack_from("<Q", data, 32)[0], *struct.unpack_from("<HH", data, 54)
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        if p_type == 2:  # PT_DYNAMIC
            tags = [struct.unpack_from("<q", data, p_offset + j)[0] for j in range(0, p_filesz, 16)]
            return DT_RUNPATH in tags[: tags.index(DT_NULL) if DT_NULL in tags else None]
    return None


for path in sorted(out.rglob("*")):
    if not path.is_file() or path.is_symlink():
        continue
    runpath = has_runpath(path)
    if runpath is None:  # not an ELF with a dynamic section: nothing to extend
        continue
    path.chmod(path.stat().st_mode | 0o200)
    # Keep the entry's kind. Bundled libraries (auditwheel's *.libs) often have no search path and
    # find their siblings through the loading module's DT_RPATH, which only applies while they
    # have no DT_RUNPATH of their own; so add a DT_RPATH unless the file already uses DT_RUNPATH.
    subprocess.run([patchelf, "--add-rpath", rpath, *([] if runpath else ["--force-rpath"]), str(path)], check=True)
