"""A model with every behaviour the server tests need, picked by the `action` input."""

import ctypes
import os
import sys
import tempfile
import time
from typing import Any

from cog import BaseRunner, Input, Path, Secret, current_scope


class Runner(BaseRunner):
    def setup(self) -> None:
        print("setting up")
        self.calls = 0
        if os.environ.get("FAIL_SETUP"):
            raise RuntimeError("setup exploded")
        time.sleep(float(os.environ.get("SETUP_SECONDS", "0")))

    def healthcheck(self) -> bool | None:
        health = os.environ.get("HEALTH")
        if health == "slow":
            time.sleep(10)
        if health == "raise":
            raise RuntimeError("sick")
        if health == "none":  # not a bool: Cog counts it healthy
            return None
        return health != "bad"

    def run(
        self,
        action: str = Input(
            default="echo",
            choices=[
                "echo",
                "sleep",
                "crash",
                "fail",
                "log",
                "leak",
                "file",
                "ghost",
                "metric",
                "metric_name",
                "count",
            ],
        ),
        text: str = "hi",
        seconds: float = Input(default=0.0, ge=0, le=60),
        token: Secret | None = None,
        image: Path | None = None,
    ) -> Any:
        self.calls += 1
        if action == "echo":
            return text
        if action == "sleep":
            for _ in range(int(seconds * 20)):
                time.sleep(0.05)
            return f"slept {seconds}"
        if action == "crash":
            ctypes.string_at(0)  # segfault
        if action == "fail":
            raise ValueError(f"bad text: {text}")
        if action == "log":
            print(f"log {text} token={token}")
            print(f"err {text}", file=sys.stderr)
            os.system(f"echo c-level {text}")
            return "logged"
        if action == "leak":  # the secret's own value, everywhere a model can put it
            value = token.get_secret_value() if token else ""
            print(f"python sees {value}")
            print(f"flushed {value[:4]}", end="", flush=True)  # one value over two flushes
            print(f"{value[4:]} end")
            os.system(f"echo c-level sees {value}")
            os.write(1, f"split {value[:3]}".encode())  # one value over two writes to the fd
            time.sleep(0.05)
            os.write(1, f"{value[3:]} end\n".encode())
            raise ValueError(f"bad token {value}")
        if action == "file":
            out = Path(tempfile.mkdtemp()) / "out.txt"
            out.write_bytes((image.read_bytes() if image else b"") + b"!")
            return out
        if action == "ghost":
            return Path("/nonexistent/output.txt")
        if action == "metric":
            self.record_metric("tokens", 3)
            current_scope().record_metric("timing.total", 1.5)
            return dict(current_scope().context)
        if action == "metric_name":  # text names the metric: Cog's message for each bad name
            current_scope().record_metric(text, 1)
            return "recorded"
        if action == "count":
            return self.calls
        raise AssertionError(action)
