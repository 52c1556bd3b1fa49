"""``python -m cognix.server``: the image entrypoint, with Cog's flags and environment.

The predictor comes from ``COG_PREDICT_TYPE_STUB`` / ``COG_TRAIN_TYPE_STUB``, the port from
``PORT`` (default 5000), the slots from ``COG_MAX_CONCURRENCY`` (the build bakes these in, as Cog's).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from cognix.server import serve, settings_from_env


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m cognix.server")
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 - the container's port
    parser.add_argument("--await-explicit-shutdown", default="false")
    parser.add_argument("--x-mode", choices=["predict", "train"], default="predict")
    parser.add_argument("--upload-url")
    parser.add_argument("--threads", help="ignored (Cog compatibility)")
    parser.add_argument("-v", action="store_true", help="ignored (Cog compatibility)")
    args = parser.parse_args()
    predict_ref = os.environ.get("COG_PREDICT_TYPE_STUB")
    train_ref = os.environ.get("COG_TRAIN_TYPE_STUB")
    if args.x_mode == "train":
        predict_ref = None
    if not predict_ref and not train_ref:
        print("COG_PREDICT_TYPE_STUB (or COG_TRAIN_TYPE_STUB) is not set", file=sys.stderr)
        sys.exit(1)
    settings = settings_from_env(
        project_dir=Path.cwd(), predict_ref=predict_ref, train_ref=train_ref, upload_url=args.upload_url
    )
    serve(
        settings,
        host=args.host,
        port=int(os.environ.get("PORT", 5000)),
        await_explicit_shutdown=args.await_explicit_shutdown.lower() in ("true", "1", "yes"),
    )


main()
