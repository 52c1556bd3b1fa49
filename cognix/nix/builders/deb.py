"""Read a Debian binary package (.deb) with the standard library only: no dpkg, on any Linux.

A .deb is an ``ar`` archive whose ``data.tar.*`` member holds the files, as ``dpkg-deb -x``
extracts them. Used by the host (the offline toolchain's prefix) and by the Nix builder of
cog.yaml's system packages (debs.py), so both unpack the same way.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path, PurePosixPath


class DebError(Exception):
    """The file is not a .deb this reader can unpack."""


def unpack(deb: Path, root: Path, *, label: str = "") -> None:
    """Extract ``deb``'s files under ``root``, through tarfile's ``tar`` filter: leading slashes
    stripped, nothing written outside ``root``, no setuid bits (the store cannot hold them)."""
    name = label or deb.name
    for member, data in members(deb.read_bytes()):
        if member.startswith("data.tar"):
            if member.endswith(".zst"):
                raise DebError(f"{name} is compressed with zstd, which this Python's tarfile cannot read")
            with tarfile.open(fileobj=io.BytesIO(data)) as archive:
                if hasattr(tarfile, "tar_filter"):
                    archive.extractall(root, filter="tar")
                else:
                    _extract_checked(archive, root, name)
            return
    raise DebError(f"{name} is not a Debian package (no data.tar member)")


def _extract_checked(archive: tarfile.TarFile, root: Path, name: str) -> None:
    """What the ``tar`` filter guarantees, by hand, for Pythons before extraction filters (PEP 706;
    Debian 12's 3.11.2 runs the Nix builder): every member and hard link target lands inside
    ``root`` with symlinks followed, checked before anything is made; a member replaces an
    earlier link of the same name instead of writing through it; no setuid bits."""
    top = root.resolve()

    def inside(parts: tuple[str, ...]) -> bool:
        return ".." not in parts and root.joinpath(*parts).resolve().is_relative_to(top)

    for member in archive.getmembers():
        parts = PurePosixPath(member.name.lstrip("/")).parts
        if not parts:  # "./", the root itself
            continue
        if not inside(parts[:-1]):
            raise DebError(f"{name} holds {member.name}, which would be written outside the package's files")
        member.name = "/".join(parts)
        target = root.joinpath(*parts)
        if target.is_symlink() or (target.exists() and not target.is_dir()):
            target.unlink()  # replaced, never written through
        if member.islnk():
            link = PurePosixPath(member.linkname.lstrip("/")).parts
            if not inside(link):
                raise DebError(f"{name} hard-links {member.name} to {member.linkname}, outside the package's files")
            member.linkname = "/".join(link)
        member.mode &= 0o755
        archive.extract(member, root, set_attrs=not member.issym())


def members(data: bytes) -> list[tuple[str, bytes]]:
    """The members of an ``ar`` archive: an 8-byte magic, then a 60-byte header per member."""
    if not data.startswith(b"!<arch>\n"):
        return []
    found, offset = [], 8
    while offset + 60 <= len(data):
        header = data[offset : offset + 60]
        name, size = header[:16].decode().strip().rstrip("/"), int(header[48:58].decode().strip())
        found.append((name, data[offset + 60 : offset + 60 + size]))
        offset += 60 + size + (size % 2)
    return found
