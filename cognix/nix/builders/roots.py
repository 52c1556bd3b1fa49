"""Nix builder: a file naming the image's layer roots, so that its closure (``nix path-info -r``)
is exactly the image's store paths: what the SBOM lists, computed before the image is packed."""

import json
from pathlib import Path

attrs = json.loads(Path(".attrs.json").read_text())  # Nix 2.8: NIX_ATTRS_JSON_FILE is the host path
Path(attrs["outputs"]["out"]).write_text("".join(f"{root}\n" for root in sorted(set(attrs["roots"]))))
