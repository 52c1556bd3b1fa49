"""Nix builder (offline toolchain): one layer of the image, gzipped once, as a store path of its own.

Each layer is its own derivation, so a rebuild recompresses only the layers whose inputs changed
(editing predict.py: the ``src`` layer), and Nix builds independent layers in parallel. The image
(mkimage.py) then only links the blobs and writes the manifest. ``$out`` holds the blob at
``blobs/sha256/<digest>`` and ``layer.json`` (digest, size, diff_id, name); a layer with nothing
in it has no blob and ``"empty": true``.

Kinds: ``store`` (the store paths its roots reach that no earlier layer's roots reach: the layer
plan of layering.assign, one layer at a time), ``base`` (users, folders, links), ``tree`` (what
build.run wrote) and ``src`` (the model source).
"""

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # oci.py, layering.py
import layering
import oci

attrs = json.loads(Path(".attrs.json").read_text())  # Nix 2.8: NIX_ATTRS_JSON_FILE is the host path
out = Path(attrs["outputs"]["out"])
kind = attrs["kind"]

with tempfile.TemporaryDirectory(dir=".") as scratch:
    base = layering.base_entries(attrs.get("dirs", []), attrs.get("files", []), Path(scratch))
    if kind == "store":
        paths = layering.members(attrs["mine"], attrs.get("earlier", []))
        entries = [entry for path in paths for entry in layering.store_entries(path)]
    elif kind == "base":
        entries = base
    elif kind == "tree":
        entries = layering.root_entries(attrs["tree"], base)
    else:
        entries = layering.source_entries(attrs["src"], attrs["config"])
    out.mkdir()
    if kind == "store" and not entries:  # every path it reaches is in an earlier layer
        (out / "layer.json").write_text(json.dumps({"empty": True, "name": attrs["layerName"]}))
    else:
        descriptor, diff_id = oci.Layout(out).add_layer(entries)
        summary = oci.summary((entry.path, entry.kind == "dir") for entry in oci.unique_sorted(entries))
        layer = oci.Layer(descriptor, diff_id, attrs["layerName"], summary)
        (out / "layer.json").write_text(json.dumps(layer.as_json(), sort_keys=True))
