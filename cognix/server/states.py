"""Lifecycle states as the HTTP API spells them: a prediction's (or setup's) status, the server's health.

Members are ``str`` subclasses, so JSON (orjson, json) writes the plain strings Cog clients parse.
"""

from __future__ import annotations

import enum


class _StrEnum(str, enum.Enum):
    """``enum.StrEnum`` for the images' Python 3.10: ``str()`` and f-strings give the value too,
    where a plain ``str`` mixin would give ``Status.FAILED`` on 3.11 and the value on 3.10."""

    def __str__(self) -> str:
        return str(self.value)


class Status(_StrEnum):
    """A prediction's status, and setup's (which is never ``processing`` or ``canceled``)."""

    STARTING = "starting"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELED)


class Health(_StrEnum):
    """``/health-check``'s status. The model's own lifecycle is STARTING, READY, SETUP_FAILED or
    DEFUNCT; BUSY and UNHEALTHY are what a READY model reports when its slots are full, or its
    ``healthcheck()`` fails."""

    STARTING = "STARTING"
    READY = "READY"
    BUSY = "BUSY"
    SETUP_FAILED = "SETUP_FAILED"
    DEFUNCT = "DEFUNCT"
    UNHEALTHY = "UNHEALTHY"
