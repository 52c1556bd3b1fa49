"""Nix builder (offline toolchain): the layered OCI archive, from layers built one by one.

Each layer is a store path of its own (layer.py: base, the store paths split by the layer plan,
build.run's files, the model source at /src), compressed once. This step links their blobs into
an OCI layout, writes the config, manifest and index (oci.py: canonical JSON, fixed times) and
archives it: no layer is compressed again when another one changes.
"""

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # oci.py, in the same store folder of builders
import oci

attrs = json.loads(Path(".attrs.json").read_text())  # Nix 2.8: NIX_ATTRS_JSON_FILE is the host path
config = attrs["config"]

with tempfile.TemporaryDirectory(dir=".") as scratch:
    layout = oci.Layout(Path(scratch) / "layout")
    layers = []
    for built in map(Path, attrs["layers"]):
        spec = json.loads((built / "layer.json").read_text())
        if spec.get("empty"):
            continue
        layer = oci.Layer.from_json(spec)
        blob = layer.descriptor.digest.split(":", 1)[1]
        (layout.blobs / blob).symlink_to(built / "blobs" / "sha256" / blob)
        layers.append(layer)
    image = oci.ImageConfig(
        entrypoint=config["Entrypoint"],
        env=dict(item.split("=", 1) for item in config["Env"]),
        working_dir=config["WorkingDir"],
        user=config["User"],
        exposed_ports=list(config["ExposedPorts"]),
        labels=config["Labels"],
    )
    oci.assemble(layout, layers, image, tag=attrs["tag"])
    oci.write_archive(layout.root, Path(attrs["outputs"]["out"]))
