"""Nix builder: turn the offline toolchain's Debian prefix into a store path that runs as is.

Run by the prefix's own loader (``ld-linux … --library-path lib python3.X prefix.py``). Every
ELF gets the store loader as its interpreter and ``$out/lib`` as its RUNPATH, so ``bin/python3.X``
starts without a launcher and never reads the host's /lib. The stdlib is compiled to
unchecked-hash bytecode: the store is read-only, so its pycs can never go stale.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # elf.py, beside this script
import elf

attrs = json.loads(Path(".attrs.json").read_text())  # Nix 2.8: NIX_ATTRS_JSON_FILE is the host path
raw, out, what = Path(attrs["raw"]), Path(attrs["outputs"]["out"]), attrs["what"]
version = attrs["pythonVersion"]
# patchelf is Debian's, run through the prefix's own loader and libraries
run_patchelf = [
    str(raw / "lib/ld-linux-x86-64.so.2"),
    "--library-path",
    str(raw / "lib"),
    str(raw / "libexec/patchelf"),
]


def patchelf(*args: str) -> None:
    subprocess.run([*run_patchelf, *args], check=True)


def patch_executable(path: Path, lib: str) -> None:
    patchelf("--set-rpath", lib, str(path))
    elf.set_interpreter(run_patchelf, path, f"{lib}/ld-linux-x86-64.so.2")


if what == "tool":  # patchelf or bwrap, loading its libraries from the Python prefix
    lib, program = attrs["pythonLib"], attrs["program"]
    (out / "bin").mkdir(parents=True)
    shutil.copyfile(raw / "libexec" / program, out / "bin" / program)
    patch_executable(out / "bin" / program, lib)
    (out / "bin" / program).chmod(0o555)
    sys.exit(0)

shutil.copytree(raw / "lib", out / "lib", symlinks=True)
if (raw / "include").is_dir():  # the C headers, when a compiler is among the system packages
    shutil.copytree(raw / "include", out / "include")
for path in [out / "lib", *(out / "lib").rglob("*")]:  # store files are read-only; the copies are patched
    if not path.is_symlink():
        path.chmod(path.stat().st_mode | 0o200)
(out / "bin").mkdir()
shutil.copyfile(raw / f"bin/python{version}", out / f"bin/python{version}")
(out / f"bin/python{version}").chmod(0o755)
for name in ("python3", "python"):
    (out / "bin" / name).symlink_to(f"python{version}")
lib = str(out / "lib")
patch_executable(out / f"bin/python{version}", lib)
for path in sorted((out / "lib").rglob("*.so*")):
    if path.is_file() and not path.is_symlink() and elf.inspect(path).dynamic and path.name != "ld-linux-x86-64.so.2":
        patchelf("--set-rpath", lib, str(path))
os.environ["SOURCE_DATE_EPOCH"] = "1"
subprocess.run(
    [
        str(out / f"bin/python{version}"),
        "-c",
        "import compileall, py_compile, sys; sys.exit(not compileall.compile_dir(sys.argv[1], quiet=1, workers=1, "
        "invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH))",
        str(out / f"lib/python{version}"),
    ],
    check=True,
)
