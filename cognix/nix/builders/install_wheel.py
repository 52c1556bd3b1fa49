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
PT_INTERP, PT_DYNAMIC, DT_NULL, DT_RUNPATH = 3, 2, 0, 29


def elf_kind(path: Path) -> tuple[bool, bool, bool]:
    """(has a dynamic section, has DT_RUNPATH, asks for an interpreter) of a 64-bit little-endian
    ELF file; reads only its headers (torch's libraries are ~1 GB)."""
    with path.open("rb") as f:
        header = f.read(64)
        if len(header) < 64 or header[:4] != b"\x7fELF" or header[4] != 2 or header[5] != 1:
            return False, False, False
        phoff, (phentsize, phnum) = struct.unpack_from("<Q", header, 32)[0], struct.unpack_from("<HH", header, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
        dynamic = interp = False
        runpath = False
        for i in range(phnum):
            p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", table, i * phentsize)
            interp |= p_type == PT_INTERP
            if p_type == PT_DYNAMIC:
                dynamic = True
                f.seek(p_offset)
                raw = f.read(p_filesz)
                tags = [struct.unpack_from("<q", raw, j)[0] for j in range(0, len(raw) - 15, 16)]
                runpath = DT_RUNPATH in tags[: tags.index(DT_NULL) if DT_NULL in tags else None]
        return dynamic, runpath, interp


for path in sorted(out.rglob("*")):
    if not path.is_file() or path.is_symlink():
        continue
    dynamic, runpath, interp = elf_kind(path)
    if not dynamic:  # not an ELF, or static: nothing to extend
        continue
    path.chmod(path.stat().st_mode | 0o200)
    # Keep the entry's kind. Bundled libraries (auditwheel's *.libs) often have no search path and
    # find their siblings through the loading module's DT_RPATH, which only applies while they
    # have no DT_RUNPATH of their own; so add a DT_RPATH unless the file already uses DT_RUNPATH.
    subprocess.run([patchelf, "--add-rpath", rpath, *([] if runpath else ["--force-rpath"]), str(path)], check=True)
    if interp:  # executables (ninja, triton's ptxas, …) ask for /lib64/ld-linux…, which the image lacks
        # a run of its own: patchelf 0.18 changing both at once corrupts non-PIE executables
        subprocess.run([patchelf, "--set-interpreter", attrs["loader"], str(path)], check=True)
