"""The offline toolchain: a CPython that Nix can import, made from the host's Debian packages.

For machines where nixpkgs and its binary cache cannot be reached (our CI, air-gapped users),
``cognix build --toolchain offline`` needs a Python interpreter for the image and as the Nix
builder. This module downloads Debian's ``python3.X`` packages, the shared libraries they load,
``patchelf``, a static bash and the Mozilla CA bundle with ``apt-get download``, and lays them
out as one relocatable prefix. Nix then patches it into a store path of its own (see
``nix/toolchains/offline.nix``). The prefix is cached per Debian release and Python: later builds
reuse it, so images rebuild identically on this machine. ``toolchain.json`` in the prefix names
every package with its version and sha256; another machine gets the same prefix when apt offers
it the same package versions (Debian point releases change them).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from cognix.cache import cache_dir
from cognix.errors import CognixError

LOADER = "ld-linux-x86-64.so.2"
_PYTHON_DEBS = ["python{v}-minimal", "libpython{v}-minimal", "libpython{v}-stdlib"]
_TOOL_DEBS = ["patchelf", "ca-certificates", "bash-static"]  # bash: the builder `nix develop` needs
# glibc's and GCC's libraries that manylinux wheels may link without bundling (PEP 599's list,
# minus X11/GL/glib, which come from system_packages)
_MANYLINUX_LIBS = [
    "libc.so.6",
    "libdl.so.2",
    "libgcc_s.so.1",
    "libm.so.6",
    "libnsl.so.1",
    "libpthread.so.0",
    "libresolv.so.2",
    "librt.so.1",
    "libstdc++.so.6",
    "libutil.so.1",
]
_LAYOUT_VERSION = "4"  # bump when the prefix layout changes
# Debian ships these separately or for interactive use only; an image server needs none of them.
_STDLIB_DROP = ("idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data", "config-")


class ToolchainError(CognixError):
    """The offline toolchain cannot be prepared on this machine."""


def prepare(python: str, progress: Callable[[str], None] = lambda _: None) -> Path:
    """The prefix for Python ``python`` ("3.11"), built on first use and cached."""
    target = cache_dir("toolchains", f"debian{_debian_release()}-python{python}")
    stamp = target / "toolchain.json"
    if stamp.is_file() and json.loads(stamp.read_text()).get("layout") == _LAYOUT_VERSION:
        return target
    for tool in ("apt-get", "dpkg-deb", "dpkg"):
        if shutil.which(tool) is None:
            raise ToolchainError(
                f"the offline toolchain is made from Debian packages, but `{tool}` is not installed",
                hint="run cognix build on Debian/Ubuntu, or use the nixpkgs toolchain (--toolchain nixpkgs)",
            )
    progress(f"preparing the offline toolchain (Debian's Python {python})")
    with tempfile.TemporaryDirectory(prefix="cognix-toolchain-") as scratch:
        work = Path(scratch)
        debs = _download(work, [d.format(v=python) for d in _PYTHON_DEBS] + _TOOL_DEBS, python)
        extracted = work / "root"
        for deb in debs:
            subprocess.run(["dpkg-deb", "-x", str(deb), str(extracted)], check=True)
        real = extracted / "usr" / "bin" / f"python{python}"
        patchelf = extracted / "usr" / "bin" / "patchelf"
        libraries = _needed_libraries([real, patchelf, *extracted.glob(f"usr/lib/python{python}/lib-dynload/*.so")])
        libraries.update((soname, Path("/lib/x86_64-linux-gnu") / soname) for soname in _MANYLINUX_LIBS)
        library_debs = _download(work, _packages_of(libraries), python)
        for deb in library_debs:
            subprocess.run(["dpkg-deb", "-x", str(deb), str(extracted)], check=True)
        debs += library_debs
        staging = work / "prefix"
        _layout(extracted, staging, python, libraries)
        manifest = {
            "layout": _LAYOUT_VERSION,
            "python": python,
            "debs": sorted(f"{d.name} sha256:{_sha256(d)}" for d in debs),
        }
        (staging / "toolchain.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), target)
    return target


def _debian_release() -> str:
    release = Path("/etc/debian_version")
    return release.read_text().split(".")[0].strip() if release.is_file() else ""


def _download(work: Path, packages: list[str], python: str) -> list[Path]:
    folder = work / "debs"
    folder.mkdir(exist_ok=True)
    before = set(folder.glob("*.deb"))
    result = subprocess.run(["apt-get", "download", *sorted(set(packages))], cwd=folder, capture_output=True, text=True)
    if result.returncode != 0:
        missing = re.findall(
            r"Unable to locate package (\S+)|Can't select candidate version from package (\S+)", result.stderr
        )
        names = sorted({a or b for a, b in missing})
        raise ToolchainError(
            f"apt-get could not download {', '.join(names or packages)} for the offline Python {python} "
            f"toolchain:\n{result.stderr.strip()}",
            hint=f"this Debian may not ship Python {python}; use its Python version in cog.yaml "
            "(Debian 12 ships 3.11) or build with --toolchain nixpkgs"
            if names
            else "refresh apt's package lists (`apt-get update`) and try again",
        )
    return sorted(set(folder.glob("*.deb")) - before)


def _needed_libraries(binaries: list[Path]) -> dict[str, Path]:
    """soname → host path of every library the binaries load (the host runs the same Debian)."""
    found: dict[str, Path] = {}
    for binary in binaries:
        out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout
        if missing := re.findall(r"^\s*(\S+) => not found", out, re.M):
            raise ToolchainError(
                f"{binary.name} needs {', '.join(missing)}, which this machine lacks, so cognix cannot tell "
                "which Debian package ships it",
                hint=f"install the package that provides {missing[0]} (apt-file search {missing[0]}) and retry",
            )
        for soname, path in re.findall(r"^\s*(\S+) => (/\S+)", out, re.M):
            found[soname] = Path(path)
    return found


def _packages_of(libraries: dict[str, Path]) -> list[str]:
    """The Debian packages that ship these libraries."""
    # usrmerge: ldd says /lib/…, dpkg may have registered /usr/lib/…, so match on the file name
    patterns = sorted(f"*/x86_64-linux-gnu/{soname}" for soname in libraries)
    out = subprocess.run(["dpkg", "-S", *patterns], capture_output=True, text=True).stdout
    return sorted({line.split(":", 1)[0] for line in out.splitlines() if ":" in line})


def _layout(extracted: Path, prefix: Path, python: str, libraries: dict[str, Path]) -> None:
    """bin/python3.X, lib/python3.X (stdlib), lib/*.so* (its libraries and the loader),
    libexec/{patchelf,bash}, share/ca-bundle.crt: everything taken from the downloaded packages."""
    (prefix / "bin").mkdir(parents=True)
    (prefix / "libexec").mkdir()
    (prefix / "share").mkdir()
    shutil.copy2(extracted / "usr" / "bin" / f"python{python}", prefix / "bin" / f"python{python}")
    shutil.copy2(extracted / "usr" / "bin" / "patchelf", prefix / "libexec" / "patchelf")
    shutil.copy2(extracted / "bin" / "bash-static", prefix / "libexec" / "bash")  # static: runs as is
    stdlib = extracted / "usr" / "lib" / f"python{python}"
    dropped = shutil.ignore_patterns(*(f"{name}*" for name in _STDLIB_DROP), "__pycache__")
    shutil.copytree(stdlib, prefix / "lib" / f"python{python}", symlinks=True, ignore=dropped)
    for link in (prefix / "lib").rglob("*"):  # e.g. sitecustomize.py -> /etc/python3.11/…: host files
        if link.is_symlink() and os.readlink(link).startswith("/"):
            link.unlink()
    libdirs = [extracted / "lib" / "x86_64-linux-gnu", extracted / "usr" / "lib" / "x86_64-linux-gnu"]
    for soname in sorted({*libraries, LOADER}):
        source = next((d / soname for d in libdirs if (d / soname).exists()), None)
        if source is None:
            raise ToolchainError(f"the downloaded Debian packages lack {soname}", hint="report this as a bug")
        shutil.copyfile(source.resolve(), prefix / "lib" / soname)
        (prefix / "lib" / soname).chmod(0o755)
    bundle = sorted((extracted / "usr" / "share" / "ca-certificates" / "mozilla").glob("*.crt"))
    (prefix / "share" / "ca-bundle.crt").write_bytes(b"".join(p.read_bytes() for p in bundle))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


if __name__ == "__main__":  # python -m cognix.build.toolchain 3.11: prepare (CI warms its cache this way)
    print(prepare(sys.argv[1] if len(sys.argv) > 1 else "3.11", progress=print))
