"""What the Nix builders need to know about an ELF file, read from its headers only (torch's
libraries are about 1 GB), and how they patch one with patchelf."""

from __future__ import annotations

import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

PT_INTERP, PT_DYNAMIC, DT_NULL, DT_RUNPATH = 3, 2, 0, 29


@dataclass(frozen=True)
class Elf:
    dynamic: bool  # has a dynamic section: links shared libraries (static files have none)
    runpath: bool  # has DT_RUNPATH (not only the older DT_RPATH, or nothing)
    interpreter: bool  # asks for a loader: an executable


NOT_ELF = Elf(False, False, False)


def inspect(path: Path) -> Elf:
    """The kind of a 64-bit little-endian ELF file; ``NOT_ELF`` for anything else (a truncated
    one included)."""
    try:
        return _inspect(path)
    except struct.error:
        return NOT_ELF


def _inspect(path: Path) -> Elf:
    with path.open("rb") as f:
        header = f.read(64)
        if len(header) < 64 or header[:4] != b"\x7fELF" or header[4] != 2 or header[5] != 1:
            return NOT_ELF
        phoff, (phentsize, phnum) = struct.unpack_from("<Q", header, 32)[0], struct.unpack_from("<HH", header, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
        dynamic = interp = runpath = False
        for i in range(phnum):
            p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", table, i * phentsize)
            interp |= p_type == PT_INTERP
            if p_type == PT_DYNAMIC:
                dynamic = True
                f.seek(p_offset)
                raw = f.read(p_filesz)
                tags = [struct.unpack_from("<q", raw, j)[0] for j in range(0, len(raw) - 15, 16)]
                runpath = DT_RUNPATH in tags[: tags.index(DT_NULL) if DT_NULL in tags else None]
        return Elf(dynamic, runpath, interp)


def set_interpreter(patchelf: list[str], path: Path, loader: str) -> None:
    """A run of its own, after any RUNPATH change: patchelf 0.18 changing both at once writes
    non-PIE executables (Debian 13's python3.13) that segfault at start."""
    subprocess.run([*patchelf, "--set-interpreter", loader, str(path)], check=True)
