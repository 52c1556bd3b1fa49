"""Nix builder (offline toolchain): cog.yaml's system packages, from their pinned .debs, as one
store path that runs from the store.

The .debs (fetched by Nix, each by its pinned sha256) are unpacked as ``dpkg-deb -x`` would, into
a merged-/usr root (``/bin``, ``/sbin``, ``/lib`` move under ``/usr``, as on Debian 12 and later).
Maintainer scripts are not run, as in every image build that unpacks packages. Then:

- every ELF executable gets the toolchain's loader, and every ELF file a RUNPATH of ``$out/lib``
  (a folder linking every shared library of these packages) and the toolchain's libraries (libc,
  libstdc++, …), before its own entries (made to point inside ``$out``); a library the toolchain
  has too becomes a link to the toolchain's copy;
- absolute symlinks become relative, so links resolve in the store as well as in the image;
- ``$out/bin`` is ``usr/bin`` for PATH; the image links ``/usr`` and ``/etc``'s files here, so
  the paths the programs were compiled with (``/usr/lib/git-core``, ``/usr/share/zsh``,
  ``/etc/ImageMagick-7``) hold their files;
- documentation and translations are dropped, as Debian's slim images drop them, except each
  package's copyright file.
"""

import json
import os
import posixpath
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # deb.py and elf.py, beside this script
import deb
import elf

attrs = json.loads(Path(".attrs.json").read_text())  # Nix 2.8: NIX_ATTRS_JSON_FILE is the host path
out = Path(attrs["outputs"]["out"])
patchelf = [f"{attrs['patchelf']}/bin/patchelf"]
MERGED = ("bin", "sbin", "lib", "lib64")  # Debian's usrmerge: each lives under /usr
# left out as Debian's slim images leave them out (their dpkg path-excludes)
DOCS = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/lintian", "usr/share/locale")

root = Path("root")
for package in attrs["debs"]:
    deb.unpack(Path(package["path"]), root, label=package["name"])


def merged(rel: str) -> str:
    """A path of the unpacked tree (``bin/ls``) where merged /usr puts it (``usr/bin/ls``)."""
    return f"usr/{rel}" if rel.split("/")[0] in MERGED else rel


# Every link as a relative path between the merged places of the link and of its target: an
# absolute target would leave the store path, and ``/bin/…`` or ``../../bin/…`` lead where
# nothing is once /bin has moved. Computed before anything moves.
relinked: dict[str, str] = {}
for path in sorted(root.rglob("*")):
    if path.is_symlink():
        rel = path.relative_to(root).as_posix()
        if rel in MERGED:  # the usrmerge links themselves (trixie's base-files ships them)
            path.unlink()
            continue
        target = posixpath.normpath(posixpath.join("/" + posixpath.dirname(rel), os.readlink(path)))
        source = "/" + merged(rel)
        relinked[merged(rel)] = posixpath.relpath("/" + merged(target.lstrip("/")), posixpath.dirname(source))
for top in MERGED:  # move /bin/… to /usr/bin/…; a real file wins over a link to it
    if (root / top).is_dir():
        for source in sorted((root / top).rglob("*")):
            target = root / merged(source.relative_to(root).as_posix())
            if source.is_dir() and not source.is_symlink():
                target.mkdir(parents=True, exist_ok=True)
            elif target.is_symlink() and not source.is_symlink() or not (target.exists() or target.is_symlink()):
                target.unlink(missing_ok=True)
                target.parent.mkdir(parents=True, exist_ok=True)
                source.rename(target)
        shutil.rmtree(root / top)
for rel, relative in relinked.items():
    link = root / rel
    if link.is_symlink():
        link.unlink()
        link.symlink_to(relative)
for folder in DOCS:
    for path in sorted((root / folder).glob("*")) if (root / folder).is_dir() else []:
        copyright_file = path / "copyright"
        keep = copyright_file.read_bytes() if folder == "usr/share/doc" and copyright_file.is_file() else None
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
        if keep is not None:
            path.mkdir()
            (path / "copyright").write_bytes(keep)

# A package the toolchain also needs (libc6, zlib1g, …) keeps its other files (iconv's modules,
# zoneinfo), but its libraries become links to the toolchain's: one copy of each in the image,
# and the one the loader matches
toolchain_libs = attrs["libraryPath"]
provided = {entry.name: entry for folder in toolchain_libs for entry in sorted(Path(folder).iterdir())}
for folder in ("usr/lib/x86_64-linux-gnu", "usr/lib64"):
    for path in sorted((root / folder).iterdir()) if (root / folder).is_dir() else []:
        if path.name in provided and (path.is_symlink() or path.is_file()):
            path.unlink()
            path.symlink_to(provided[path.name])

shutil.copytree(root, out, symlinks=True)
for path in [out, *out.rglob("*")]:
    if not path.is_symlink():
        path.chmod(path.stat().st_mode | 0o200)

# one folder linking every shared library, so one RUNPATH entry finds them all (Debian keeps some
# in subfolders: blas/, pulseaudio/, …); the first by path wins a name found twice
(out / "lib").mkdir()
for library in sorted(out.glob("usr/lib*/**/*.so*")):
    link = out / "lib" / library.name
    taken = link.exists() or link.is_symlink() or library.name in provided
    if library.name.startswith("lib") and library.is_file() and not taken:
        link.symlink_to(os.path.relpath(library, link.parent))
(out / "bin").symlink_to("usr/bin")

own = str(out / "lib")


def existing_runpath(path: Path) -> list[str]:
    """Its RUNPATH/RPATH, with Debian's absolute entries (/usr/lib/…/samba, …) moved into $out."""
    printed = subprocess.run([*patchelf, "--print-rpath", str(path)], capture_output=True, text=True, check=True)
    entries = [entry for entry in printed.stdout.strip().split(":") if entry]
    moved = []
    for entry in entries:
        parts = entry.lstrip("/").split("/")
        if entry.startswith("/") and parts[0] in ("usr", *MERGED):
            entry = str(out.joinpath(*([] if parts[0] == "usr" else ["usr"]), *parts))
        moved.append(entry)
    return moved


for path in sorted(out.rglob("*")):
    if path.is_symlink() or not path.is_file():
        continue
    kind = elf.inspect(path)
    if not kind.dynamic:
        continue
    runpath = [own, *toolchain_libs, *(e for e in existing_runpath(path) if e not in (own, *toolchain_libs))]
    subprocess.run([*patchelf, "--set-rpath", ":".join(runpath), str(path)], check=True)
    if kind.interpreter:
        elf.set_interpreter(patchelf, path, attrs["loader"])
