"""Nix builder: copy one file (``source``) to the output."""

import json
import shutil
from pathlib import Path

attrs = json.loads(Path(".attrs.json").read_text())
shutil.copyfile(attrs["source"], attrs["outputs"]["out"])
