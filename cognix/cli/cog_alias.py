"""A ``cog`` command that runs cognix, for scripts written against Cog's CLI.

It is a symlink to the ``cognix`` script, so ``cog run -i x=1`` is ``cognix run -i x=1`` and the
messages Cog words by its command name (``"cog predict" is deprecated…``) say ``cog``. It is never
a console script of the package: installing cognix must not shadow a real Cog, so the alias is
made only on request, and refused while another ``cog`` is on ``PATH``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from cognix.errors import CognixError


def install(bin_dir: Path | None) -> tuple[Path, Path]:
    """Link ``bin_dir/cog`` (default: beside ``cognix``) to the ``cognix`` script; return (link, target).
    Idempotent; refuses to replace or shadow any other ``cog``."""
    found = shutil.which("cognix")
    if found is None:
        raise CognixError("no `cognix` command on PATH to alias", hint="install cognix with pip, then run this again")
    target = Path(found).resolve()
    link = (bin_dir or Path(found).parent) / "cog"
    if link.is_symlink() or link.exists():
        if link.resolve() == target:
            return link, target
        raise CognixError(
            f"{link} exists and is not cognix",
            hint="cognix never replaces a `cog` command; remove it yourself if it is yours, or pick --bin-dir",
        )
    other = shutil.which("cog")
    if other is not None and Path(other).resolve() != target:
        raise CognixError(
            f"a `cog` command is already on PATH: {other}",
            hint="cognix does not shadow a real Cog install; call cognix by its own name, or uninstall Cog first",
        )
    try:
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)
    except OSError as error:
        raise CognixError(
            f"cannot write {link}: {error.strerror}", hint="pick a writable folder with --bin-dir"
        ) from None
    return link, target
