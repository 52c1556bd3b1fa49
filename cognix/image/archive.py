"""Reading OCI archives (what ``cognix build`` writes): digest, layers, config, files.

One reader for everything that looks at an image afterwards: build's summary, verify, load,
push, inspect and diff.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from cognix.errors import CognixError
from cognix.nix.builders.oci import LAYER_NAME

# one tar entry as the layer holds it: (type, mode, uid, gid, mtime, link target, sha256 or "")
FileEntry = tuple[bytes, int, int, int, float, str, str]
T = TypeVar("T")
_REBUILD = "build it anew with `cognix build` (cognix reads the OCI archives it writes)"


@dataclass(frozen=True)
class Layer:
    name: str  # what it holds (cognix's io.cognix.layer annotation), "" for other images
    digest: str
    size: int
    media_type: str
    annotations: dict[str, str] = field(default_factory=dict)  # cognix's summary (oci.summary), if any


@dataclass(frozen=True)
class Image:
    """An OCI archive's image: what registries will call it and what it is made of."""

    path: Path
    digest: str  # the manifest's: what a registry reports after a push
    ref_name: str  # the name it was built with (index.json's ref.name)
    manifest: bytes
    manifest_type: str
    config_digest: str  # the image ID engines report
    config: dict[str, Any]
    layers: list[Layer]

    @property
    def size(self) -> int:
        return sum(layer.size for layer in self.layers)


class Archive:
    """An open OCI archive; blobs are read straight from the tar."""

    def __init__(self, path: Path) -> None:
        try:
            self.tar = tarfile.open(path)
        except (OSError, tarfile.TarError) as e:
            raise CognixError(f"{path} is not an image archive: {e}", hint="build one with `cognix build`") from None
        self.path = path

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.tar.close()

    def open(self, name: str) -> BinaryIO:
        member = self.tar.extractfile(name) if name in self.tar.getnames() else None
        if member is None:
            raise CognixError(
                f"{self.path} has no {name}: not an OCI archive (a docker-archive?)",
                hint="cognix reads OCI archives, cognix build's default output",
            )
        return member  # type: ignore[return-value]

    def blob(self, digest: str) -> BinaryIO:
        algorithm, _, hexdigest = digest.partition(":")
        if algorithm != "sha256" or not hexdigest or "/" in hexdigest:
            raise self._invalid(f"a descriptor's digest is {digest!r}, not sha256:<hex>")
        return self.open(f"blobs/sha256/{hexdigest}")

    def _invalid(self, problem: str) -> CognixError:
        return CognixError(f"{self.path} is not an OCI archive cognix can read: {problem}", hint=_REBUILD)

    def _json(self, name: str, data: bytes | None = None) -> dict[str, Any]:
        """The JSON object in ``name`` (or its bytes ``data``), or an error naming the file."""
        try:
            value = json.loads(self.open(name).read() if data is None else data)
        except ValueError as e:  # also a UnicodeDecodeError
            raise self._invalid(f"{name} is not JSON ({e})") from None
        if not isinstance(value, dict):
            raise self._invalid(f"{name} is not a JSON object")
        return value

    def _field(self, obj: dict[str, Any], key: str, kind: type[T], where: str) -> T:
        """``obj[key]``, which an OCI descriptor must hold as a ``kind``, or an error naming it."""
        value = obj.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self._invalid(f"{where} has no {key} ({kind.__name__})")
        return value

    def image(self) -> Image:
        index = self._json("index.json")
        manifests = index.get("manifests")
        if not isinstance(manifests, list) or not manifests or not isinstance(manifests[0], dict):
            raise self._invalid("index.json lists no manifest")
        descriptor: dict[str, Any] = manifests[0]
        if descriptor.get("mediaType") in (
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
        ):
            raise CognixError(
                f"{self.path} holds an index of several images (multi-platform)",
                hint="copy the linux/amd64 image out first: skopeo copy --override-arch amd64 …",
            )
        digest = self._field(descriptor, "digest", str, "index.json's manifest")
        manifest_name = f"the manifest {digest}"
        manifest_bytes = self.blob(digest).read()
        manifest = self._json(manifest_name, manifest_bytes)
        config_descriptor = self._field(manifest, "config", dict, manifest_name)
        config_digest = self._field(config_descriptor, "digest", str, f"{manifest_name}'s config")
        config = self._json(f"the config {config_digest}", self.blob(config_digest).read())
        layers = []
        for d in self._field(manifest, "layers", list, manifest_name):
            where = f"a layer of {manifest_name}"
            if not isinstance(d, dict):
                raise self._invalid(f"{where} is not a JSON object")
            annotations = d.get("annotations") or {}
            if not isinstance(annotations, dict):
                raise self._invalid(f"{where} has annotations that are not a JSON object")
            layers.append(
                Layer(
                    annotations.get(LAYER_NAME, ""),
                    self._field(d, "digest", str, where),
                    self._field(d, "size", int, where),
                    self._field(d, "mediaType", str, where),
                    annotations,
                )
            )
        index_annotations = descriptor.get("annotations") or {}
        return Image(
            path=self.path,
            digest=digest,
            ref_name=index_annotations.get("org.opencontainers.image.ref.name", "")
            if isinstance(index_annotations, dict)
            else "",
            manifest=manifest_bytes,
            manifest_type=descriptor.get("mediaType", manifest.get("mediaType", "")),
            config_digest=config_digest,
            config=config,
            layers=layers,
        )

    def layer_files(self, layer: Layer | str, *, contents: bool = True) -> dict[str, FileEntry]:
        """path → (type, mode, uid, gid, mtime, link, sha256 or "") of every entry of one layer;
        the contents are hashed in chunks, and only when ``contents``."""
        digest = layer if isinstance(layer, str) else layer.digest
        files: dict[str, FileEntry] = {}
        try:
            with tarfile.open(fileobj=self.blob(digest), mode="r|*") as entries:  # gzip, bzip2, xz or plain
                for member in entries:
                    sha = hashlib.sha256()
                    if contents and member.isfile():
                        data = entries.extractfile(member)
                        assert data is not None
                        while chunk := data.read(1 << 20):
                            sha.update(chunk)
                    files[member.name.removeprefix("./")] = (
                        member.type,
                        member.mode,
                        member.uid,
                        member.gid,
                        member.mtime,
                        member.linkname,
                        sha.hexdigest() if contents else "",
                    )
        except tarfile.ReadError as e:
            raise CognixError(
                f"cannot read layer {digest[:19]} of {self.path}: {e}",
                hint="cognix reads gzip or uncompressed layers (not zstd)",
            ) from None
        return files


def read_image(path: Path) -> Image:
    with Archive(path) as archive:
        return archive.image()


def layer_files(path: Path, digest: str) -> dict[str, FileEntry]:
    with Archive(path) as archive:
        return archive.layer_files(digest)
