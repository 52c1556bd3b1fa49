"""Server settings, with Cog's runtime variables applied (docs/cog-compat.md#runtime-environment-variables).

:func:`settings_from_env` is the one place the server reads its environment, once, at start-up;
everything else takes its settings from the :class:`Settings` it returns. (The worker process
inherits the environment unchanged: the model may read it.)
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Settings:
    """What the server runs and how, each value with the variable it comes from."""

    project_dir: Path
    predict_ref: str | None  # COG_PREDICT_TYPE_STUB
    train_ref: str | None = None  # COG_TRAIN_TYPE_STUB
    upload_url: str | None = None
    port: int = 5000  # PORT, unless given (cognix serve --port)
    queue_depth: int = 64  # COGNIX_QUEUE_DEPTH
    setup_timeout: float | None = None  # COG_SETUP_TIMEOUT
    throttle: float = 0.5  # COG_THROTTLE_RESPONSE_INTERVAL
    stream_history: int = 1024  # COG_STREAM_HISTORY_CAPACITY
    history_size: int = 1000
    history_bytes: int = 256 << 20  # COGNIX_HISTORY_BYTES, outputs and logs of finished predictions
    max_output_bytes: int = 1 << 30  # COGNIX_MAX_OUTPUT_BYTES, an iterator's items (spilled to disk)
    webhook_drain: float = 10.0  # COGNIX_WEBHOOK_DRAIN_SECONDS, for webhooks in flight at shutdown
    concurrency: int | None = None  # COG_MAX_CONCURRENCY, else cog.yaml's concurrency.max; None: the decorator
    weights: str | None = None  # COG_WEIGHTS, for setup(weights=)
    webhook_token: str | None = None  # WEBHOOK_AUTH_TOKEN, sent as a bearer token
    log_level: str = "info"  # COG_LOG_LEVEL
    kubernetes: bool = False  # KUBERNETES_SERVICE_HOST set: write /var/run/cog/ready once set up
    max_input_bytes: int = 1 << 30  # COGNIX_MAX_INPUT_BYTES, per downloaded input file
    max_request_bytes: int = 128 << 20  # COGNIX_MAX_REQUEST_BYTES, a request body (data URIs included)
    max_input_depth: int = 100  # COGNIX_MAX_INPUT_DEPTH, lists and objects nested in an input
    fetch_timeout: float = 120.0  # COGNIX_FETCH_TIMEOUT, seconds per downloaded input file
    playground: bool = False  # COGNIX_PLAYGROUND, the web page at /playground/ (cognix serve --playground)

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


def _env_flag(name: str) -> bool:
    """Whether a yes/no variable says yes (1, true, yes, on; any case), as click reads cognix serve's flags."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _env_int(name: str, default: int) -> int:
    try:
        return max(0, int(os.environ[name]))
    except (KeyError, ValueError):
        return default


def settings_from_env(**settings: Any) -> Settings:
    """``settings``, with what they leave out taken from the environment (``concurrency``:
    ``COG_MAX_CONCURRENCY`` wins over the one given, as Cog's does over cog.yaml)."""
    settings.setdefault("predict_ref", os.environ.get("COG_PREDICT_TYPE_STUB"))
    settings.setdefault("train_ref", os.environ.get("COG_TRAIN_TYPE_STUB"))
    if "port" not in settings:  # parsed only when needed: cognix serve's --port is not PORT
        settings["port"] = int(os.environ.get("PORT", 5000))
    settings.setdefault("setup_timeout", _env_float("COG_SETUP_TIMEOUT", None))
    settings.setdefault("throttle", _env_float("COG_THROTTLE_RESPONSE_INTERVAL", 0.5))
    settings.setdefault("stream_history", _env_int("COG_STREAM_HISTORY_CAPACITY", 1024))
    settings["concurrency"] = _env_int("COG_MAX_CONCURRENCY", 0) or settings.get("concurrency")
    if "COGNIX_QUEUE_DEPTH" in os.environ:
        settings.setdefault("queue_depth", _env_int("COGNIX_QUEUE_DEPTH", 64))
    settings.setdefault("weights", os.environ.get("COG_WEIGHTS") or None)
    settings.setdefault("webhook_token", os.environ.get("WEBHOOK_AUTH_TOKEN") or None)
    settings.setdefault("log_level", os.environ.get("COG_LOG_LEVEL", "info"))
    settings.setdefault("kubernetes", bool(os.environ.get("KUBERNETES_SERVICE_HOST")))
    settings.setdefault("max_input_bytes", int(os.environ.get("COGNIX_MAX_INPUT_BYTES", 1 << 30)))
    # 0 lifts a limit
    settings.setdefault("max_request_bytes", _env_int("COGNIX_MAX_REQUEST_BYTES", 128 << 20) or sys.maxsize)
    settings.setdefault("max_input_depth", _env_int("COGNIX_MAX_INPUT_DEPTH", 100) or sys.maxsize)
    settings.setdefault("fetch_timeout", float(os.environ.get("COGNIX_FETCH_TIMEOUT", 120)))
    settings.setdefault("playground", _env_flag("COGNIX_PLAYGROUND"))
    settings.setdefault("history_bytes", _env_int("COGNIX_HISTORY_BYTES", 256 << 20))
    settings.setdefault("max_output_bytes", _env_int("COGNIX_MAX_OUTPUT_BYTES", 1 << 30) or sys.maxsize)
    settings.setdefault("webhook_drain", _env_float("COGNIX_WEBHOOK_DRAIN_SECONDS", 10.0))
    return Settings(**settings)
