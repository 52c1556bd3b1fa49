"""``python -m cognix.server``: the image entrypoint, with Cog's flags and environment.

The predictor comes from ``COG_PREDICT_TYPE_STUB`` / ``COG_TRAIN_TYPE_STUB``, the port from
``PORT`` (default 5000), the slots from ``COG_MAX_CONCURRENCY`` (the build bakes these in, as Cog's).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cognix.server import serve, settings_from_env


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m cognix.server")
    parser.add_argument("--host", default="0.0.0.0")  # all interfaces: the container's port
    parser.add_argument("--await-explicit-shutdown", default="false")
    parser.add_argument("--x-mode", choices=["predict", "train"], default="predict")
    parser.add_argument("--upload-url")
    parser.add_argument("--threads", help="ignored (Cog compatibility)")
    parser.add_argument("-v", action="store_true", help="ignored (Cog compatibility)")
    args = parser.parse_args()
    train_only = {"predict_ref": None} if args.x_mode == "train" else {}
    settings = settings_from_env(project_dir=Path.cwd(), upload_url=args.upload_url, **train_only)
    if not settings.refs:
        print("COG_PREDICT_TYPE_STUB (or COG_TRAIN_TYPE_STUB) is not set", file=sys.stderr)
        sys.exit(1)
    status = serve(
        settings,
        host=args.host,
        await_explicit_shutdown=args.await_explicit_shutdown.lower() in ("true", "1", "yes"),
    )
    sys.exit(status)


main()
