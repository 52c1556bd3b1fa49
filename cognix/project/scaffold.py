"""``cognix init``: a new project that runs as soon as it is written."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from cognix.errors import CognixError

TEMPLATE = "templates/init"
FILES = ("cog.yaml", "predict.py", "requirements.txt")


def init(directory: Path) -> list[Path]:
    """Write the template files into ``directory``; refuse to overwrite any."""
    blocked = next((p for p in (directory, *directory.parents) if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        raise CognixError(f"cannot create the project in {directory}: {blocked} is a file", hint="name a directory")
    existing = [directory / name for name in FILES if (directory / name).exists()]
    if existing:
        raise CognixError(
            f"{existing[0]} already exists",
            hint="run cognix init in an empty directory, or move the existing files away",
        )
    source = resources.files("cognix.project") / TEMPLATE
    written = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            target = directory / name
            target.write_text((source / name).read_text())
            written.append(target)
    except OSError as e:  # e.g. a read-only folder
        raise CognixError(f"cannot create the project in {directory}: {e.strerror or e}") from None
    return written
