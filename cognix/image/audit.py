"""``cognix inspect`` and ``cognix diff``: what an image (or a lock) holds, and what changed.

An image's packages are read from the ``*.dist-info`` folders in its layers and its CUDA and
Python from the ``run.cog.config`` label, so two images compare like two locks do, plus their
layers. cognix's images carry each layer's summary in its annotations (oci.summary), so a
multi-GB image is described without decompressing a layer; others are read.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from cognix.errors import CognixError
from cognix.image.archive import Archive, Layer
from cognix.nix.builders import oci
from cognix.project.pylock import read as read_lock

_FACTS = ("python", "cuda", "cudnn", "torch-variant", "gpu", "platform", "system-packages")
_LONG_LABELS = ("run.cog.openapi_schema", "run.cog.config")


@dataclass
class Side:
    """One side of a comparison: packages (name → version), facts, and layers for images."""

    kind: str
    packages: dict[str, str] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    layers: list[dict[str, Any]] = field(default_factory=list)


def describe(path: Path) -> dict[str, Any]:
    """Config, labels (long ones shortened) and, per layer, its size, file count and what it holds."""
    with Archive(path) as archive:
        image = archive.image()
        layers = []
        for layer in image.layers:
            summary = _summary(archive, layer)
            holds = [name for name in summary[oci.LAYER_HOLDS].split(",") if name]
            count = int(summary[oci.LAYER_FILES])
            entry = {"name": layer.name, "digest": layer.digest, "size": layer.size, "files": count, "holds": holds}
            layers.append(entry)
    config = image.config.get("config") or {}
    labels = {
        key: f"{len(value):,} bytes of JSON" if key in _LONG_LABELS else value
        for key, value in (config.get("Labels") or {}).items()
    }
    return {
        "digest": image.digest,
        "name": image.ref_name,
        "size": image.size,
        "config": {k: v for k, v in config.items() if k != "Labels"},
        "labels": labels,
        "layers": layers,
    }


def _summary(archive: Archive, layer: Layer) -> dict[str, str]:
    """A layer's file count, holders and packages: from the annotations cognix writes, else (other
    images, older cognix) by reading the layer."""
    if all(key in layer.annotations for key in (oci.LAYER_FILES, oci.LAYER_HOLDS, oci.LAYER_PACKAGES)):
        return layer.annotations
    files = archive.layer_files(layer, contents=False)
    return oci.summary((name, entry[0] == tarfile.DIRTYPE) for name, entry in files.items())


def load_side(path: Path) -> Side:
    """A pylock.toml or an OCI archive."""
    lock = read_lock(path) if path.suffix == ".toml" and path.is_file() else None  # the one reader of locks
    if not path.is_file():
        problem = "is not a file" if path.exists() else "does not exist"
        raise CognixError(f"{path} {problem}", hint="give two pylock.toml files or two image archives")
    if lock is not None:
        facts = lock.cognix.model_dump(mode="json", by_alias=True, exclude_none=True)
        packages: dict[str, str] = {canonicalize_name(p.name): p.version for p in lock.packages}
        return Side("lock", packages, {k: facts[k] for k in _FACTS if k in facts})
    with Archive(path) as archive:
        image = archive.image()
        side = Side("image")
        for layer in image.layers:
            for package in filter(None, _summary(archive, layer)[oci.LAYER_PACKAGES].split(",")):
                name, version = package.split("==", 1)
                side.packages[canonicalize_name(name)] = version
            side.layers.append({"name": layer.name, "digest": layer.digest, "size": layer.size})
    labels = (image.config.get("config") or {}).get("Labels") or {}
    try:
        build = json.loads(labels.get("run.cog.config", "{}")).get("build") or {}
    except (ValueError, AttributeError):
        build = {}  # not a Cog image: compare packages and layers only
    side.facts = {
        "python": build.get("python_version"),
        "cuda": build.get("cuda"),
        "cudnn": build.get("cudnn"),
        "gpu": build.get("gpu", False),
        "system-packages": build.get("system_packages", []),
    }
    side.facts = {k: v for k, v in side.facts.items() if v is not None}
    return side


def diff(old: Side, new: Side) -> dict[str, Any]:
    """Packages added, removed and changed; facts that changed; layers (images) by name or position."""
    names = sorted(old.packages.keys() | new.packages.keys())
    result: dict[str, Any] = {
        "added": {n: new.packages[n] for n in names if n not in old.packages},
        "removed": {n: old.packages[n] for n in names if n not in new.packages},
        "changed": {
            n: [old.packages[n], new.packages[n]]
            for n in names
            if n in old.packages and n in new.packages and old.packages[n] != new.packages[n]
        },
        "facts": {
            k: [old.facts.get(k), new.facts.get(k)]
            for k in sorted(old.facts.keys() | new.facts.keys())
            if old.facts.get(k) != new.facts.get(k)
        },
    }
    if old.layers or new.layers:
        result["layers"] = _layer_changes(old.layers, new.layers)
    return result


def _layer_changes(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Layers matched by name (cognix names them); unnamed ones by digest, then position."""
    named = all(layer["name"] for layer in old + new)
    if named:
        before = {layer["name"]: layer for layer in old}
        after = {layer["name"]: layer for layer in new}
    else:
        digests = {layer["digest"] for layer in old}
        after = {(layer["digest"] if layer["digest"] in digests else f"#{i}"): layer for i, layer in enumerate(new)}
        before = {(layer["digest"] if layer["digest"] in after else f"#{i}"): layer for i, layer in enumerate(old)}
    order = list(after) + [k for k in before if k not in after]
    changes = []
    for name in order:
        a, b = before.get(name), after.get(name)
        status = (
            "added" if a is None else "removed" if b is None else "same" if a["digest"] == b["digest"] else "changed"
        )
        changes.append({"layer": name, "status": status, "old_size": a and a["size"], "new_size": b and b["size"]})
    return changes
