"""Write OCI images byte for byte reproducibly: same inputs, same digests.

Each layer is a tar of sorted entries with fixed mtimes, owners and modes, gzipped without a
timestamp; the config, manifest and index are canonical JSON. Layers stream to disk while
both digests (the layer's and the uncompressed ``diff_id``) are computed, so multi-GB layers
need no memory. Used as the image builder of the offline toolchain (and to read images back).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import stat
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

MTIME = 1  # seconds since the epoch on every file: Nix's store convention
CREATED = "1970-01-01T00:00:01Z"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
_CHUNK = 1 << 20


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Entry:
    """One file system object of a layer. ``path`` is relative to the image root."""

    path: str
    kind: str  # "file", "dir" or "symlink"
    source: Path | None = None  # file contents
    target: str = ""  # symlink target
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


def tree(root: Path, prefix: str, *, uid: int = 0, gid: int = 0) -> list[Entry]:
    """Entries for everything under ``root``, placed at ``prefix`` (with its parent folders)."""
    prefix = prefix.strip("/")
    entries = parent_dirs(prefix)
    entries.append(Entry(prefix, "dir", mode=0o755, uid=uid, gid=gid))
    for path in sorted(root.rglob("*")):
        rel = f"{prefix}/{path.relative_to(root).as_posix()}".lstrip("/")
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            entries.append(Entry(rel, "symlink", target=os.readlink(path), mode=0o777, uid=uid, gid=gid))
        elif stat.S_ISDIR(info.st_mode):
            entries.append(Entry(rel, "dir", mode=0o755, uid=uid, gid=gid))
        elif stat.S_ISREG(info.st_mode):
            executable = info.st_mode & 0o111
            entries.append(Entry(rel, "file", source=path, mode=0o755 if executable else 0o644, uid=uid, gid=gid))
    return entries


def parent_dirs(path: str) -> list[Entry]:
    """The folders above ``path`` (``a``, ``a/b`` for ``a/b/c``), as plain 0755 entries."""
    parts = path.split("/")[:-1] if path else []
    return [Entry("/".join(parts[: i + 1]), "dir", mode=0o755) for i in range(len(parts))]


class _Digesting(io.RawIOBase):
    """A write-only stream that hashes and counts what passes through to ``sink``."""

    def __init__(self, sink: BinaryIO | None) -> None:
        self.sink = sink
        self.sha = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.sha.update(view)
        self.size += len(view)
        if self.sink is not None:
            self.sink.write(view)
        return len(view)

    @property
    def digest(self) -> str:
        return "sha256:" + self.sha.hexdigest()


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.annotations:
            out["annotations"] = self.annotations
        return out


class Layout:
    """An OCI image layout directory (``oci-layout``, ``index.json``, ``blobs/sha256/…``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs" / "sha256"
        self.blobs.mkdir(parents=True, exist_ok=True)

    def _store(self, tmp: Path, digest: str) -> Path:
        target = self.blobs / digest.split(":", 1)[1]
        os.replace(tmp, target)
        return target

    def add_bytes(self, data: bytes, media_type: str) -> Descriptor:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        (self.blobs / digest.split(":", 1)[1]).write_bytes(data)
        return Descriptor(media_type, digest, len(data))

    def add_layer(self, entries: Iterable[Entry]) -> tuple[Descriptor, str]:
        """Write a gzipped layer; returns its descriptor and its ``diff_id``."""
        return self._add_gzipped(lambda plain: write_tar(entries, plain))

    def add_tar(self, tar: BinaryIO) -> tuple[Descriptor, str]:
        """Gzip an existing layer tar as it is (its ``diff_id`` is kept)."""
        return self._add_gzipped(lambda plain: shutil.copyfileobj(tar, plain, _CHUNK))

    def _add_gzipped(self, write: Callable[[BinaryIO], Any]) -> tuple[Descriptor, str]:
        tmp = self.blobs / ".layer.tmp"
        with tmp.open("wb") as out:
            compressed = _Digesting(out)
            with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=0, compresslevel=6, filename="") as gz:
                plain = _Digesting(gz)  # type: ignore[arg-type]
                write(plain)  # type: ignore[arg-type]
        self._store(tmp, compressed.digest)
        return Descriptor(MEDIA_LAYER, compressed.digest, compressed.size), plain.digest


def write_tar(entries: Iterable[Entry], sink: BinaryIO) -> None:
    """An uncompressed layer tar: one entry per path, sorted, normalised."""
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for entry in unique_sorted(entries):
            _add(tar, entry)


def unique_sorted(entries: Iterable[Entry]) -> list[Entry]:
    """One entry per path (the first given wins), in path order."""
    first: dict[str, Entry] = {}
    for entry in entries:
        first.setdefault(entry.path, entry)
    return [first[path] for path in sorted(first)]


def _add(tar: tarfile.TarFile, entry: Entry) -> None:
    info = tarfile.TarInfo(entry.path)
    info.mtime = MTIME
    info.uid, info.gid = entry.uid, entry.gid
    info.uname = info.gname = ""
    info.mode = entry.mode
    if entry.kind == "dir":
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    elif entry.kind == "symlink":
        info.type = tarfile.SYMTYPE
        info.linkname = entry.target
        tar.addfile(info)
    else:
        assert entry.source is not None
        info.size = entry.source.stat().st_size
        with entry.source.open("rb") as data:
            tar.addfile(info, data)


@dataclass
class ImageConfig:
    """The runtime half of an image config (what ``docker inspect`` calls Config)."""

    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    working_dir: str = ""
    user: str = ""
    exposed_ports: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.entrypoint:
            out["Entrypoint"] = self.entrypoint
        if self.cmd:
            out["Cmd"] = self.cmd
        if self.env:
            out["Env"] = [f"{k}={v}" for k, v in sorted(self.env.items())]
        if self.working_dir:
            out["WorkingDir"] = self.working_dir
        if self.user:
            out["User"] = self.user
        if self.exposed_ports:
            out["ExposedPorts"] = {port: {} for port in sorted(self.exposed_ports)}
        if self.labels:
            out["Labels"] = dict(sorted(self.labels.items()))
        return out


LAYER_NAME = "io.cognix.layer"  # annotation naming what a layer holds (python, torch, src, …)
# what `cognix inspect` and `diff` read instead of decompressing a layer: its file count, what it
# holds (store path names, or top folders) and the Python packages (dist-info) in it
LAYER_FILES, LAYER_HOLDS, LAYER_PACKAGES = "io.cognix.layer.files", "io.cognix.layer.holds", "io.cognix.layer.packages"
_STORE_NAME = re.compile(r"^nix/store/[0-9a-z]{32}-([^/]+)")
_DIST_INFO = re.compile(r"site-packages/([^/]+?)-([^/-]+)\.dist-info/METADATA$")


def holder(name: str) -> str:
    """What a layer member belongs to: its store path's name, else its top folder ("/etc"); ""
    for the folders above the store."""
    name = name.removeprefix("./").lstrip("/")  # nixpkgs' streamer writes absolute member names
    if match := _STORE_NAME.match(name):
        return match.group(1)
    top = name.split("/", 1)[0]
    return "" if top == "nix" else f"/{top}"


def dist_info(name: str) -> tuple[str, str] | None:
    """(name, version) when a member is an installed package's METADATA."""
    match = _DIST_INFO.search(name)
    return (match.group(1), match.group(2)) if match else None


def summary(members: Iterable[tuple[str, bool]]) -> dict[str, str]:
    """The metadata annotations of a layer from its (path, is a folder) members."""
    files, holds, packages = 0, set(), set()
    for name, is_dir in members:
        files += not is_dir
        if owner := holder(name):
            holds.add(owner)
        if package := dist_info(name):
            packages.add("==".join(package))
    return {LAYER_FILES: str(files), LAYER_HOLDS: ",".join(sorted(holds)), LAYER_PACKAGES: ",".join(sorted(packages))}


def write_image(
    root: Path,
    layers: list[list[Entry]],
    config: ImageConfig,
    tag: str = "latest",
    layer_names: list[str] | None = None,
) -> Descriptor:
    """Write an image layout at ``root``; returns the manifest's descriptor (its digest is the
    image digest registries report)."""
    layout = Layout(root)
    names = layer_names or [""] * len(layers)
    written = [Layer(*layout.add_layer(entries), name) for entries, name in zip(layers, names, strict=True)]
    return assemble(layout, written, config, tag)


@dataclass(frozen=True)
class Layer:
    """A layer blob already in a layout: its descriptor, ``diff_id``, the plan's name and its
    summary annotations (for inspect and diff)."""

    descriptor: Descriptor
    diff_id: str
    name: str = ""
    annotations: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        blob = self.descriptor
        return {
            "digest": blob.digest,
            "size": blob.size,
            "diff_id": self.diff_id,
            "name": self.name,
            "annotations": self.annotations,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Layer:
        descriptor = Descriptor(MEDIA_LAYER, data["digest"], data["size"])
        return cls(descriptor, data["diff_id"], data["name"], data.get("annotations", {}))


def assemble(layout: Layout, layers: list[Layer], config: ImageConfig, tag: str = "latest") -> Descriptor:
    """The config, manifest and index over layers whose blobs are in ``layout`` (written there, or
    linked from the store paths of layers built one by one)."""
    descriptors = [
        Descriptor(
            layer.descriptor.media_type,
            layer.descriptor.digest,
            layer.descriptor.size,
            {**({LAYER_NAME: layer.name} if layer.name else {}), **layer.annotations},
        )
        for layer in layers
    ]
    image_config = {
        "architecture": "amd64",
        "os": "linux",
        "created": CREATED,
        "config": config.as_json(),
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created": CREATED, "created_by": f"cognix {layer.name}".strip()} for layer in layers],
    }
    return _finish(layout, layout.add_bytes(canonical_json(image_config), MEDIA_CONFIG), descriptors, tag)


def from_docker_archive(source: Path, root: Path, tag: str, layer_names: list[str] | None = None) -> Descriptor:
    """Re-pack a docker-archive (what nixpkgs' stream_layered_image.py writes: uncompressed
    layers) as an OCI layout, layers gzipped as write_image does and the config kept byte for
    byte, so its diff_ids still hold and the same stream gives the same digest. ``layer_names``
    (the layer plan's, when it matches the layers) become their annotations, as write_image's."""
    layout = Layout(root)
    with tarfile.open(source) as tar:
        manifest = json.load(_member(tar, "manifest.json"))[0]
        config = layout.add_bytes(_member(tar, manifest["Config"]).read(), MEDIA_CONFIG)
        descriptors = [layout.add_tar(_member(tar, name))[0] for name in manifest["Layers"]]
    if layer_names and len(layer_names) == len(descriptors):
        named = zip(descriptors, layer_names, strict=True)
        descriptors = [Descriptor(d.media_type, d.digest, d.size, {LAYER_NAME: name}) for d, name in named]
    return _finish(layout, config, descriptors, tag)


def _member(tar: tarfile.TarFile, name: str) -> BinaryIO:
    member = tar.extractfile(name)
    if member is None:
        raise ValueError(f"{name} is missing from the image archive")
    return member  # type: ignore[return-value]


def _finish(layout: Layout, config_descriptor: Descriptor, descriptors: list[Descriptor], tag: str) -> Descriptor:
    root = layout.root
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": config_descriptor.as_json(),
        "layers": [d.as_json() for d in descriptors],
    }
    manifest_descriptor = layout.add_bytes(canonical_json(manifest), MEDIA_MANIFEST)
    named = Descriptor(
        MEDIA_MANIFEST, manifest_descriptor.digest, manifest_descriptor.size, {"org.opencontainers.image.ref.name": tag}
    )
    index = {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": [named.as_json()]}
    (root / "index.json").write_bytes(canonical_json(index))
    (root / "oci-layout").write_bytes(canonical_json({"imageLayoutVersion": "1.0.0"}))
    return manifest_descriptor


def write_archive(layout_root: Path, archive: Path) -> None:
    """The layout as an ``oci-archive`` tar (what ``skopeo``/``podman load`` read), reproducibly;
    blobs that are links (to layers built as store paths of their own) are archived as files."""
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in _walk(layout_root):
            info = tar.gettarinfo(str(path.resolve()), arcname=path.relative_to(layout_root).as_posix())
            info.mtime, info.uid, info.gid, info.uname, info.gname = MTIME, 0, 0, "", ""
            info.mode = 0o755 if info.isdir() else 0o644
            if info.isfile():
                with path.open("rb") as data:
                    tar.addfile(info, data)
            else:
                tar.addfile(info)


def _walk(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if not path.name.startswith("."):
            yield path
