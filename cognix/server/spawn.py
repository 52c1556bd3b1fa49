"""Start a worker process. Kept free of heavy imports so the server can start its workers
first and load its web stack while the model loads."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path


def spawn_worker(project_dir: Path, ref: str, mode: str) -> tuple[subprocess.Popen[bytes], socket.socket]:
    """The worker process and the server's end of its channel."""
    parent, child = socket.socketpair()
    process = subprocess.Popen(
        [sys.executable, "-m", "cognix.server.worker", str(child.fileno()), str(project_dir), ref, mode],
        pass_fds=(child.fileno(),),
        stdin=subprocess.DEVNULL,
    )
    child.close()
    return process, parent
