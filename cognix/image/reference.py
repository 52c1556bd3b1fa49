"""The one image-reference grammar (Docker's): what ``cognix build -t``, ``push`` and ``load`` take."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cognix.errors import CognixError

# Docker's reference grammar: [registry[:port]/]path[:tag], path components lowercase
_REFERENCE = re.compile(
    r"(?:(?P<registry>[A-Za-z0-9.-]+(?::[0-9]+)?)/)?"
    r"(?P<path>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
)


def split_reference(reference: str) -> tuple[str, str, str]:
    """(registry, path, tag) of an image reference as Docker reads it ("" where one is not given:
    a first component is a registry only with a "." or ":" in it, or as ``localhost``), or a clear error."""
    match = _REFERENCE.fullmatch(reference)
    if match is None:
        raise CognixError(
            f"invalid image name {reference!r}",
            hint="use lowercase letters, digits, '.', '_' and '-', e.g. my-model:v1 or ghcr.io/me/my-model:v1",
        )
    registry, path, tag = match.group("registry") or "", match.group("path"), match.group("tag") or ""
    if registry and not ("." in registry or ":" in registry or registry == "localhost"):
        registry, path = "", f"{registry}/{path}"
    return registry, path, tag


def check_reference(reference: str) -> str:
    """The repository part of an image reference (``registry/path:tag``), or a clear error."""
    registry, path, _ = split_reference(reference)
    return f"{registry}/{path}" if registry else path


DOCKER_HUB = "registry-1.docker.io"


@dataclass(frozen=True)
class Reference:
    registry: str
    repository: str
    tag: str

    @classmethod
    def parse(cls, text: str) -> Reference:
        """``[registry/]repository[:tag]`` as docker reads it (no registry: Docker Hub)."""
        registry, repository, tag = split_reference(text)
        if registry in ("", "docker.io", "index.docker.io", DOCKER_HUB):  # Docker Hub, however it is written
            registry, repository = DOCKER_HUB, repository if "/" in repository else f"library/{repository}"
        return cls(registry, repository, tag or "latest")

    def __str__(self) -> str:
        return f"{self.registry}/{self.repository}:{self.tag}"
