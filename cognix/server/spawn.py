"""Start a worker process. Kept free of heavy imports so the server can start its workers
first and load its web stack while the model loads."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

WEIGHTS_VARIABLE = "COG_WEIGHTS"  # how the worker learns the settings' weights: not argv, which `ps` shows


def spawn_worker(
    project_dir: Path, ref: str, mode: str, weights: str | None
) -> tuple[subprocess.Popen[bytes], socket.socket]:
    """The worker process and the server's end of its channel; ``weights`` is for ``setup()``."""
    parent, child = socket.socketpair()
    argv = [str(child.fileno()), str(project_dir), ref, mode]
    env = {k: v for k, v in os.environ.items() if k != WEIGHTS_VARIABLE}
    if weights:
        env[WEIGHTS_VARIABLE] = weights
    process = subprocess.Popen(
        [sys.executable, "-m", "cognix.server.worker", *argv],
        pass_fds=(child.fileno(),),
        stdin=subprocess.DEVNULL,
        env=env,
    )
    child.close()
    return process, parent
