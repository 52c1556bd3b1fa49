"""Nix builder (offline toolchain): pack the image's closure into a layered OCI archive.

Layers: a base layer (users, CA bundle, writable folders), then the store paths split by the
layer plan (layering.py), then the model source at /src. oci.py makes every byte a function of
the inputs (sorted entries, fixed times and owners, gzip without timestamps).
"""

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # oci.py (copied here by `cognix build`), layering.py
import layering
import oci

attrs = json.loads(Path(".attrs.json").read_text())  # Nix 2.8: NIX_ATTRS_JSON_FILE is the host path
config = attrs["config"]

with tempfile.TemporaryDirectory(dir=".") as scratch:
    planned = layering.assign(attrs["closure"], attrs["layers"])
    trees = [layer for layer in attrs["layers"] if layer.get("tree")]  # build.run's files, at their paths
    base = layering.base_entries(attrs["dirs"], attrs["files"], Path(scratch))
    layers = [
        base,
        *([entry for path in paths for entry in layering.store_entries(path)] for _, paths in planned),
        *(layering.root_entries(layer["tree"], base) for layer in trees),
        layering.source_entries(attrs["src"], config),
    ]
    image = oci.ImageConfig(
        entrypoint=config["Entrypoint"],
        env=dict(item.split("=", 1) for item in config["Env"]),
        working_dir=config["WorkingDir"],
        user=config["User"],
        exposed_ports=list(config["ExposedPorts"]),
        labels=config["Labels"],
    )
    layout = Path(scratch) / "layout"
    names = [
        "base",
        *(name for name, _ in planned),
        *(layer["name"] for layer in attrs["layers"] if layer.get("tree")),
        "src",
    ]
    oci.write_image(layout, layers, image, tag=attrs["tag"], layer_names=names)
    oci.write_archive(layout, Path(attrs["outputs"]["out"]))
