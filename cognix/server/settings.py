"""Server settings, with Cog's runtime environment variables applied (Cog's API §4.9)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Settings:
    project_dir: Path
    predict_ref: str | None
    train_ref: str | None = None
    upload_url: str | None = None
    queue_depth: int = 64
    setup_timeout: float | None = None
    throttle: float = 0.5
    stream_history: int = 1024
    history_size: int = 1000
    concurrency: int | None = None  # COG_MAX_CONCURRENCY, else cog.yaml's concurrency.max; None: the decorator

    @property
    def refs(self) -> dict[str, str]:
        """The predictors to run, by mode ("predict", "train")."""
        return {mode: ref for mode, ref in (("predict", self.predict_ref), ("train", self.train_ref)) if ref}


def _env_float(name: str, default: float | None) -> float | None:
    try:
        value = float(os.environ[name])
    except (KeyError, ValueError):
        return default
    return value if value > 0 else default


def _env_int(name: str, default: int) -> int:
    try:
        return max(0, int(os.environ[name]))
    except (KeyError, ValueError):
        return default


def settings_from_env(**settings: Any) -> Settings:
    settings.setdefault("setup_timeout", _env_float("COG_SETUP_TIMEOUT", None))
    settings.setdefault("throttle", _env_float("COG_THROTTLE_RESPONSE_INTERVAL", 0.5))
    settings.setdefault("stream_history", _env_int("COG_STREAM_HISTORY_CAPACITY", 1024))
    settings["concurrency"] = _env_int("COG_MAX_CONCURRENCY", 0) or settings.get("concurrency")
    if "COGNIX_QUEUE_DEPTH" in os.environ:
        settings.setdefault("queue_depth", _env_int("COGNIX_QUEUE_DEPTH", 64))
    return Settings(**settings)
