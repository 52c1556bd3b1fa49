"""Nix builder (nixpkgs toolchain): the conf that nixpkgs' stream_layered_image.py streams.

Its ``store_layers`` follow cognix's layer plan (layering.py, as the offline builder); the
customisation layer holds the base entries, what build.run wrote and the model source at /src,
written by oci.py.
"""

import hashlib
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # oci.py (copied here by `cognix build`), layering.py
import layering
import oci

attrs = json.loads(Path(".attrs.json").read_text())  # Nix 2.8: NIX_ATTRS_JSON_FILE is the host path
out = Path(attrs["outputs"]["out"])
out.mkdir()

with tempfile.TemporaryDirectory(dir=".") as scratch, (out / "layer.tar").open("wb") as layer:
    entries = layering.base_entries(attrs["dirs"], attrs["files"], Path(scratch))
    ran = [entry for tree in attrs.get("trees", []) for entry in layering.root_entries(tree, entries)]  # build.run
    # the first entry of a path wins: the source over build.run's files (/src stays the user's),
    # and those over the base (a step's edited /etc/passwd), as the offline layers stack them
    oci.write_tar([*layering.source_entries(attrs["src"], attrs["config"]), *ran, *entries], layer)
with (out / "layer.tar").open("rb") as layer:  # /src may hold gigabytes of weights: hashed, never held
    (out / "checksum").write_text(hashlib.file_digest(layer, "sha256").hexdigest())

planned = layering.assign(attrs["closure"], attrs["layers"])
# what each layer holds, in the streamed order (the customisation layer last), for the OCI re-pack
(out / "layer-names.json").write_text(json.dumps([*(name for name, _ in planned), "base+src"]))
conf = {
    "architecture": "amd64",
    "os": "linux",
    "config": attrs["config"],
    "created": oci.CREATED,
    "mtime": oci.CREATED,
    "uid": 0,
    "gid": 0,
    "uname": "root",
    "gname": "root",
    "store_dir": attrs["storeDir"],
    "from_image": None,
    "store_layers": [paths for _, paths in planned],
    "customisation_layer": str(out),
    "repo_tag": attrs["tag"],
}
(out / "conf.json").write_text(json.dumps(conf, indent=1, sort_keys=True))
