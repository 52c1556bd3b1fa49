"""``cognix init``: a new project that runs as soon as it is written."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from cognix.errors import CognixError

TEMPLATE = "templates/init"
FILES = ("cog.yaml", "predict.py", "requirements.txt")


def init(directory: Path) -> list[Path]:
    """Write the template files into ``directory``; refuse to overwrite any."""
    existing = [directory / name for name in FILES if (directory / name).exists()]
    if existing:
        raise CognixError(
            f"{existing[0]} already exists",
            hint="run cognix init in an empty directory, or move the existing files away",
        )
    directory.mkdir(parents=True, exist_ok=True)
    source = resources.files("cognix.project") / TEMPLATE
    written = []
    for name in FILES:
        target = directory / name
        target.write_text((source / name).read_text())
        written.append(target)
    return written
