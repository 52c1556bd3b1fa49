"""The offline toolchain: a CPython that Nix can import, made from the lock's pinned Debian packages.

For machines where nixpkgs and its binary cache cannot be reached (our CI, air-gapped users),
``cognix build --toolchain offline`` needs a Python interpreter for the image and as the Nix
builder. ``cognix lock`` pins Debian's ``python3.X`` packages, the libraries they load,
``patchelf``, a static bash and the Mozilla CA bundle (:mod:`cognix.project.debian`); this module
downloads exactly those .debs (each checked against its pinned sha256), unpacks them with
Python's own ``tarfile`` (no dpkg needed: the host may be any Linux) and lays them out as one
relocatable prefix. Nix then patches it into a store path of its own (see
``nix/toolchains/offline.nix``). The prefix is a pure function of the pinned bytes, cached by
their hashes, so every machine makes the same prefix, and the same image, from the same lock.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from cognix.cache import cache_dir
from cognix.errors import CognixError
from cognix.nix.builders import deb
from cognix.project import debian
from cognix.project.pylock import DebianPackage, DebianPin

LOADER = "ld-linux-x86-64.so.2"
_LAYOUT_VERSION = "7"  # bump when the prefix layout changes
# Debian ships these separately or for interactive use only; an image server needs none of them.
_STDLIB_DROP = ("idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data", "config-")
_LIBRARY_DIRS = ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu")


class ToolchainError(CognixError):
    """The offline toolchain cannot be prepared on this machine."""


def prepare(python: str, pin: DebianPin | None, progress: Callable[[str], None] = lambda _: None) -> Path:
    """The prefix for Python ``python`` ("3.13") made from ``pin``'s toolchain packages, built on
    first use and cached by their hashes."""
    if pin is None:
        raise ToolchainError(
            "pylock.toml pins no Debian packages, and the offline toolchain is made of them",
            hint="run `cognix lock` (a lock written for --toolchain nixpkgs has none)",
        )
    packages = pin.role("toolchain")
    key = hashlib.sha256("\n".join([_LAYOUT_VERSION, python, *sorted(p.sha256 for p in packages)]).encode()).hexdigest()
    target = cache_dir("toolchains", f"python{python}-{pin.suite}-{key[:16]}")
    if (target / "toolchain.json").is_file():
        return target
    progress(f"preparing the offline toolchain (Python {python} from Debian {pin.suite})")
    target.parent.mkdir(parents=True, exist_ok=True)
    # staged beside the target and renamed into place: an interrupted run leaves no half prefix
    with tempfile.TemporaryDirectory(prefix=".staging-", dir=target.parent) as scratch:
        work = Path(scratch)
        extracted = work / "root"
        for package in packages:
            try:
                deb.unpack(fetch(package, progress), extracted, label=f"{package.name} {package.version}")
            except deb.DebError as error:
                raise ToolchainError(str(error), hint="delete cognix's cache of .debs and retry") from None
        staging = work / "prefix"
        _layout(extracted, staging, python)
        manifest = {
            "layout": _LAYOUT_VERSION,
            "python": python,
            "suite": pin.suite,
            "debs": sorted(f"{p.name}_{p.version}_{p.architecture}.deb sha256:{p.sha256}" for p in packages),
        }
        (staging / "toolchain.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    return target


def store_system_debs(pin: DebianPin | None, progress: Callable[[str], None] = lambda _: None) -> None:
    """Put the .debs of cog.yaml's system packages in the Nix store under the names and hashes
    ``nix/toolchains/offline.nix`` fetches them by, so Nix never downloads them itself: this
    downloader checks the pin, falls back to snapshot.debian.org, and names the package and the
    command that moves its pin when neither has it."""
    packages = pin.role("system") if pin else []
    if not packages:
        return
    from cognix.build import nixcli

    folder = cache_dir("debs")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".named-", dir=folder) as scratch:
        named = []
        for package in packages:
            (Path(scratch) / f"{package.name}.deb").hardlink_to(fetch(package, progress))
            named.append(Path(scratch) / f"{package.name}.deb")
        progress(f"adding {len(named)} pinned Debian package(s) for build.system_packages to the Nix store")
        nixcli.add_fixed(named)


def fetch(package: DebianPackage, progress: Callable[[str], None]) -> Path:
    """The pinned .deb, from the cache (files named by their sha256) or downloaded."""
    cached = cache_dir("debs", f"{package.sha256}.deb")
    if cached.is_file() and hashlib.sha256(cached.read_bytes()).hexdigest() == package.sha256:
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    progress(f"downloading {package.name} {package.version}")
    with tempfile.NamedTemporaryFile(dir=cached.parent, prefix=".download-", delete=False) as partial:
        part = Path(partial.name)
    try:
        debian.download(package, part)
        part.replace(cached)
    finally:
        part.unlink(missing_ok=True)
    return cached


def _layout(extracted: Path, prefix: Path, python: str) -> None:
    """bin/python3.X, lib/python3.X (stdlib), lib/*.so.* (every shared library of the packages,
    and the loader), libexec/{patchelf,bwrap,bash}, share/ca-bundle.crt, and when the headers are
    pinned include/python3.X (where sysconfig looks: under the interpreter's own prefix)."""
    (prefix / "bin").mkdir(parents=True)
    (prefix / "libexec").mkdir()
    (prefix / "share").mkdir()
    shutil.copy2(_installed(extracted, f"python{python}"), prefix / "bin" / f"python{python}")
    shutil.copy2(_installed(extracted, "patchelf"), prefix / "libexec" / "patchelf")
    shutil.copy2(_installed(extracted, "bwrap"), prefix / "libexec" / "bwrap")
    shutil.copy2(_installed(extracted, "bash-static"), prefix / "libexec" / "bash")  # static: runs as is
    stdlib = extracted / "usr" / "lib" / f"python{python}"
    dropped = shutil.ignore_patterns(*(f"{name}*" for name in _STDLIB_DROP), "__pycache__")
    shutil.copytree(stdlib, prefix / "lib" / f"python{python}", symlinks=True, ignore=dropped)
    for link in (prefix / "lib").rglob("*"):  # e.g. sitecustomize.py -> /etc/python3.X/…: host files
        if link.is_symlink() and os.readlink(link).startswith("/"):
            link.unlink()
    libraries = {
        entry.name: entry
        for folder in _LIBRARY_DIRS
        if (extracted / folder).is_dir()
        for entry in sorted((extracted / folder).iterdir())
        if ".so." in entry.name or entry.name == LOADER
    }
    if LOADER not in libraries:
        raise ToolchainError(f"the pinned Debian packages lack {LOADER}", hint="report this as a bug")
    for name, entry in sorted(libraries.items()):
        real = _inside(extracted, entry)
        if entry.is_symlink() and real.name in libraries and real.name != name:
            (prefix / "lib" / name).symlink_to(real.name)  # the soname link, kept a link
        elif real.is_file():
            shutil.copyfile(real, prefix / "lib" / name)
            (prefix / "lib" / name).chmod(0o755)
    headers = extracted / "usr" / "include" / f"python{python}"
    if headers.is_dir():
        shutil.copytree(headers, prefix / "include" / f"python{python}", symlinks=False)
        # Debian's pyconfig.h includes the multiarch one by a path the image lacks: put that one in
        multiarch = extracted / "usr" / "include" / "x86_64-linux-gnu" / f"python{python}" / "pyconfig.h"
        if multiarch.is_file():
            shutil.copyfile(multiarch, prefix / "include" / f"python{python}" / "pyconfig.h")
    bundle = sorted((extracted / "usr" / "share" / "ca-certificates" / "mozilla").glob("*.crt"))
    (prefix / "share" / "ca-bundle.crt").write_bytes(b"".join(p.read_bytes() for p in bundle))


def _installed(extracted: Path, program: str) -> Path:
    """Where a package put ``program``: /usr/bin or /bin (before Debian 13's merged /usr)."""
    for folder in ("usr/bin", "bin"):
        if (extracted / folder / program).is_file():
            return extracted / folder / program
    raise ToolchainError(f"the pinned Debian packages lack {program}", hint="report this as a bug")


def _inside(root: Path, path: Path) -> Path:
    """``path`` with its symlinks followed inside ``root`` (absolute targets mean root's own /)."""
    for _ in range(16):
        if not path.is_symlink():
            return path
        target = os.readlink(path)
        path = root / target.lstrip("/") if target.startswith("/") else path.parent / target
    if not path.resolve().is_relative_to(root.resolve()):  # a hostile package must not copy host files
        raise ToolchainError(f"a pinned Debian package links {path.name} outside its own files", hint="report this")
    return path
