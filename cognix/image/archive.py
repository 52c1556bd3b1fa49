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
from typing import Any, BinaryIO

from cognix.errors import CognixError
from cognix.nix.builders.oci import LAYER_NAME

# one tar entry as the layer holds it: (type, mode, uid, gid, mtime, link target, sha256 or "")
FileEntry = tuple[bytes, int, int, int, float, str, str]


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
        return self.open(f"blobs/sha256/{digest.split(':', 1)[1]}")

    def image(self) -> Image:
        descriptor = json.load(self.open("index.json"))["manifests"][0]
        if descriptor.get("mediaType") in (
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
        ):
            raise CognixError(
                f"{self.path} holds an index of several images (multi-platform)",
                hint="copy the linux/amd64 image out first: skopeo copy --override-arch amd64 …",
            )
        manifest_bytes = self.blob(descriptor["digest"]).read()
        manifest = json.loads(manifest_bytes)
        config = json.load(self.blob(manifest["config"]["digest"]))
        layers = [
            Layer(
                d.get("annotations", {}).get(LAYER_NAME, ""),
                d["digest"],
                d["size"],
                d["mediaType"],
                d.get("annotations", {}),
            )
            for d in manifest["layers"]
        ]
        return Image(
            path=self.path,
            digest=descriptor["digest"],
            ref_name=descriptor.get("annotations", {}).get("org.opencontainers.image.ref.name", ""),
            manifest=manifest_bytes,
            manifest_type=descriptor.get("mediaType", manifest.get("mediaType", "")),
            config_digest=manifest["config"]["digest"],
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
