"""The model source that becomes the image's ``/src``: the project's files minus what
``.dockerignore`` excludes (Docker's rules), images cognix wrote there, and cognix's own files."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable
from pathlib import Path

from cognix.build.files import canonical_json, write_if_changed
from cognix.errors import CognixError
from cognix.project.config import Project

GENERATED = ".cognix"  # what cognix writes into a project (flake.nix aside)
# never part of /src: version control, cognix's own files (the lock is in the layers and labels
# already, and re-locking must not touch the source layer), caches
_ALWAYS_EXCLUDED = [
    ".git",
    ".hg",
    ".cog",
    GENERATED,
    "**/__pycache__",
    "**/*.pyc",
    ".pytest_cache",
    "flake.nix",
    "flake.lock",
    "pylock.toml",
    "result",
    "result-*",
    ".dockerignore",
]


def remember_output(project: Project, path: Path) -> None:
    """An image written inside the project must not become part of the next image's /src."""
    try:
        rel = path.resolve().relative_to(project.dir.resolve()).as_posix()
    except ValueError:
        return
    record = project.dir / GENERATED / "outputs.json"
    known = set(json.loads(record.read_text())) if record.is_file() else set()
    write_if_changed(record, canonical_json(sorted(known | {rel})))


def source_files(root: Path, exclude: list[str]) -> list[str]:
    """The model source (``/src``): files under ``root`` minus what ``.dockerignore`` excludes
    (Docker's rules), images cognix wrote and its own files; each file's folders are listed too,
    with a trailing ``/``."""
    outputs = root / GENERATED / "outputs.json"
    always = ignore_matcher(_ALWAYS_EXCLUDED + exclude + (json.loads(outputs.read_text()) if outputs.is_file() else []))
    dockerignore = root / ".dockerignore"
    user = ignore_matcher(dockerignore.read_text().splitlines() if dockerignore.is_file() else [])
    listed: set[str] = set()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_dir() and not path.is_symlink() or always(rel) or user(rel):
            continue
        try:
            rel.encode()
        except UnicodeEncodeError:
            raise CognixError(
                f"the file name {rel!r} is not UTF-8, which image layers and Nix need",
                hint="rename it, or list it in .dockerignore",
            ) from None
        listed.add(rel)
        parts = rel.split("/")[:-1]
        listed.update("/".join(parts[: i + 1]) + "/" for i in range(len(parts)))
    return sorted(listed)


def ignore_matcher(patterns: list[str]) -> Callable[[str], bool]:
    """Docker's ``.dockerignore`` rules: paths relative to the project, ``*``/``?`` within one
    folder, ``**`` across folders, a pattern that matches a folder covers what is in it,
    ``!pattern`` re-includes, and the last matching pattern wins."""
    rules = []
    for raw in patterns:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        line = posixpath.normpath(line.removeprefix("!").strip()).lstrip("/")
        rules.append((negate, re.compile(_glob_to_regex(line))))

    def excluded(rel: str) -> bool:
        parts = rel.split("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        verdict = False
        for negate, regex in rules:
            if any(regex.fullmatch(candidate) for candidate in candidates):
                verdict = not negate
        return verdict

    return excluded


def _glob_to_regex(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (close := pattern.find("]", i + 1)) > i:
            out.append(pattern[i : close + 1].replace("[!", "[^"))
            i = close + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)
