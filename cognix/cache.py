"""Where cognix keeps what it can make again: the offline toolchain, which registry repositories
got which blobs, benchmark data. ``$XDG_CACHE_HOME/cognix`` (default ``~/.cache/cognix``)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base, "cognix", *parts)
