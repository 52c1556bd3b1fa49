"""Nix builder: pack the image's closure into a layered OCI archive with cognix's OCI writer.

Store paths are split by the layer plan: each goes to the first layer whose roots reach it in
the references graph Nix exports (``exportReferencesGraph``). A base layer of users, CA
certificates and writable folders comes first and the model source (``/src``) last. Everything
is sorted with fixed times and owners (see oci.py), so the same inputs give the same digest.
"""

import json
import sys
import tempfile
from pathlib import Path

attrs = json.loads(Path(".attrs.json").read_text())  # Nix 2.8: NIX_ATTRS_JSON_FILE is the host path
sys.path.insert(0, str(Path(__file__).parent))
import oci  # noqa: E402  (copied beside this file by `cognix build`)

references = {entry["path"]: entry["references"] for entry in attrs["closure"]}


def parents(path: str) -> list[oci.Entry]:
    parts = path.split("/")[:-1]
    return [oci.Entry("/".join(parts[: i + 1]), "dir", mode=0o755) for i in range(len(parts))]


def store_entries(path: str) -> list[oci.Entry]:
    source = Path(path)
    if source.is_dir() and not source.is_symlink():
        return oci.tree(source, path)
    executable = source.stat().st_mode & 0o111
    return [
        *parents(path.lstrip("/")),
        oci.Entry(path.lstrip("/"), "file", source=source, mode=0o755 if executable else 0o644),
    ]


def base_layer(scratch: Path) -> list[oci.Entry]:
    entries: list[oci.Entry] = []
    for spec in attrs["dirs"]:
        entries += [
            *parents(spec["path"]),
            oci.Entry(spec["path"], "dir", mode=int(spec["mode"], 8), uid=spec["uid"], gid=spec["gid"]),
        ]
    for index, spec in enumerate(attrs["files"]):
        entries += parents(spec["path"])
        if "target" in spec:
            entries.append(oci.Entry(spec["path"], "symlink", target=spec["target"], mode=0o777))
        else:
            text = scratch / f"file-{index}"
            text.write_text(spec["text"])
            entries.append(oci.Entry(spec["path"], "file", source=text, mode=0o644))
    return entries


def plan() -> tuple[list[list[oci.Entry]], list[str]]:
    claimed: set[str] = set()
    layers, names = [], []
    for layer in attrs["layers"]:
        members, stack = set(), list(layer["roots"])
        while stack:
            path = stack.pop()
            if path not in claimed and path not in members:
                members.add(path)
                stack.extend(references[path])
        claimed |= members
        if members:
            layers.append([entry for path in sorted(members) for entry in store_entries(path)])
            names.append(layer["name"])
    rest = sorted(set(references) - claimed)  # the plan's roots normally reach everything
    if rest:
        layers.append([entry for path in rest for entry in store_entries(path)])
        names.append("rest")
    return layers, names


with tempfile.TemporaryDirectory(dir=".") as scratch:
    store_layers, store_names = plan()
    layers = [base_layer(Path(scratch)), *store_layers, oci.tree(Path(attrs["src"]), "src")]
    names = ["base", *store_names, "src"]
    config = attrs["config"]
    image = oci.ImageConfig(
        entrypoint=config["Entrypoint"],
        env=dict(item.split("=", 1) for item in config["Env"]),
        working_dir=config["WorkingDir"],
        user=config["User"],
        exposed_ports=list(config["ExposedPorts"]),
        labels=config["Labels"],
    )
    layout = Path(scratch) / "layout"
    oci.write_image(layout, layers, image, tag=attrs["tag"], layer_names=names)
    oci.write_archive(layout, Path(attrs["outputs"]["out"]))
