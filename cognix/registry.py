"""Push an OCI archive to any registry over the OCI distribution API, with httpx: no daemon.

Each blob is checked first (``HEAD``) and skipped when the registry has it; a blob this machine
pushed to another repository of the same registry is cross-mounted instead of uploaded; the
rest is uploaded in one ``PUT`` or, when large, in chunks. Credentials come from
``~/.docker/config.json`` (what ``docker login``/``podman login --authfile`` write) or from
``COGNIX_REGISTRY_USERNAME``/``COGNIX_REGISTRY_PASSWORD``; Basic and Bearer-token challenges
are both answered.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, urljoin

import httpx

from .archive import Archive
from .errors import CognixError

CHUNK = 16 * 1024 * 1024  # blobs above this go up in PATCH chunks of this size
DOCKER_HUB = "registry-1.docker.io"
MANIFEST_TYPES = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"


class RegistryError(CognixError):
    """The registry refused or could not be reached."""


@dataclass(frozen=True)
class Reference:
    registry: str
    repository: str
    tag: str

    @classmethod
    def parse(cls, text: str) -> Reference:
        """``[registry/]repository[:tag]`` as docker reads it (no registry: Docker Hub)."""
        name, _, tag = text.rpartition(":") if ":" in text.rsplit("/", 1)[-1] else (text, "", "latest")
        first, _, rest = name.partition("/")
        if rest and ("." in first or ":" in first or first == "localhost"):
            registry, repository = first, rest
        else:
            registry, repository = DOCKER_HUB, name if "/" in name else f"library/{name}"
        if not repository or not re.fullmatch(
            r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*", repository
        ):
            raise RegistryError(
                f"invalid image reference {text!r}", hint="use REGISTRY/REPOSITORY[:TAG], e.g. ghcr.io/me/model:v1"
            )
        return cls(registry, repository, tag or "latest")

    def __str__(self) -> str:
        return f"{self.registry}/{self.repository}:{self.tag}"


def credentials(registry: str) -> tuple[str, str] | None:
    """Username and password for ``registry``: the environment first, then docker's config."""
    user, password = os.environ.get("COGNIX_REGISTRY_USERNAME"), os.environ.get("COGNIX_REGISTRY_PASSWORD")
    if user and password:
        return user, password
    config = Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker")) / "config.json"
    if not config.is_file():
        return None
    auths = json.loads(config.read_text()).get("auths", {})
    hub = registry == DOCKER_HUB
    for key, entry in auths.items():
        host = re.sub(r"^https?://", "", key).split("/", 1)[0]
        if host == registry or hub and host in ("index.docker.io", "docker.io"):
            if entry.get("auth"):
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
                return user, password
            if entry.get("username"):
                return entry["username"], entry.get("password", "")
    return None


@dataclass(frozen=True)
class Blob:
    digest: str
    size: int
    media_type: str


@dataclass
class PushReport:
    reference: Reference
    digest: str
    uploaded: list[Blob] = field(default_factory=list)
    mounted: list[Blob] = field(default_factory=list)
    skipped: list[Blob] = field(default_factory=list)


class Client:
    """One repository of one registry, with its authentication."""

    def __init__(self, reference: Reference, *, insecure: bool = False) -> None:
        self.reference = reference
        scheme = "http" if insecure else "https"
        self.base = f"{scheme}://{reference.registry}/v2/{reference.repository}/"
        self.http = httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0), follow_redirects=True)
        self.creds = credentials(reference.registry)
        self.auth_header: str | None = None

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """A request, answering one authentication challenge if the registry sends it."""
        url = urljoin(self.base, url)
        try:
            response = self._send(method, url, **kwargs)
            if response.status_code == 401 and self._authenticate(response):
                response = self._send(method, url, **kwargs)
        except httpx.HTTPError as e:
            raise RegistryError(
                f"cannot reach {self.reference.registry}: {e}",
                hint="check the address; for a plain-HTTP registry on this machine add --insecure",
            ) from None
        if response.status_code == 401:
            raise RegistryError(
                f"{self.reference.registry} refused the credentials for {self.reference.repository}",
                hint="log in (docker/podman login) or set COGNIX_REGISTRY_USERNAME and COGNIX_REGISTRY_PASSWORD",
            )
        return response

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if self.auth_header:
            headers["Authorization"] = self.auth_header
        return self.http.request(method, url, headers=headers, **kwargs)

    def _authenticate(self, response: httpx.Response) -> bool:
        challenge = response.headers.get("www-authenticate", "")
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic" and self.creds:
            self.auth_header = "Basic " + base64.b64encode(":".join(self.creds).encode()).decode()
            return True
        if scheme.lower() == "bearer":
            fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
            query = {k: v for k, v in fields.items() if k in ("service", "scope")}
            query.setdefault("scope", f"repository:{self.reference.repository}:pull,push")
            token = self.http.get(fields["realm"], params=query, auth=self.creds)
            if token.status_code != 200:
                return False
            body = token.json()
            self.auth_header = "Bearer " + (body.get("token") or body.get("access_token", ""))
            return True
        return False

    def has_blob(self, digest: str) -> bool:
        return self.request("HEAD", f"blobs/{digest}").status_code == 200

    def mount(self, digest: str, source: str) -> bool:
        """Cross-repository mount; False when the registry starts an upload instead."""
        response = self.request("POST", "blobs/uploads/", params={"mount": digest, "from": source})
        if response.status_code == 201:
            return True
        if response.status_code == 202:  # mounting refused: cancel the upload it opened
            self.request("DELETE", response.headers["location"])
        return False

    def upload(self, blob: Blob, data: BinaryIO, progress: Callable[[int], None]) -> None:
        started = self._expect(self.request("POST", "blobs/uploads/"), 202, "start an upload")
        location = started.headers["location"]
        if blob.size <= CHUNK:
            body = data.read()
            done = self.request("PUT", _with_digest(location, blob.digest), content=body,
                                headers={"Content-Type": "application/octet-stream"})  # fmt: skip
            progress(len(body))
        else:
            offset = 0
            while chunk := data.read(CHUNK):
                headers = {"Content-Type": "application/octet-stream",
                           "Content-Range": f"{offset}-{offset + len(chunk) - 1}"}  # fmt: skip
                patched = self._expect(self.request("PATCH", location, content=chunk, headers=headers), 202, "upload")
                location = patched.headers["location"]
                offset += len(chunk)
                progress(len(chunk))
            done = self.request("PUT", _with_digest(location, blob.digest))
        self._expect(done, 201, f"finish uploading {blob.digest}")

    def put_manifest(self, tag: str, manifest: bytes, media_type: str) -> None:
        response = self.request("PUT", f"manifests/{tag}", content=manifest, headers={"Content-Type": media_type})
        self._expect(response, 201, f"store the manifest as {tag}")

    def _expect(self, response: httpx.Response, status: int, what: str) -> httpx.Response:
        if response.status_code != status:
            raise RegistryError(f"{self.reference.registry} did not {what}: HTTP {response.status_code}",
                                details=response.text[:2000])  # fmt: skip
        return response


def _with_digest(location: str, digest: str) -> str:
    """The upload URL with ``digest=`` added to the query the registry put there (its upload state)."""
    return f"{location}{'&' if '?' in location else '?'}digest={quote(digest)}"


class PushedCache:
    """Which repositories of a registry this machine pushed each blob to: mount sources."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, list[str]] = json.loads(path.read_text()) if path.is_file() else {}

    def sources(self, registry: str, repository: str, digest: str) -> list[str]:
        """Other repositories of ``registry`` that received ``digest`` from this machine."""
        here = f"{registry}/{repository}"
        return [r.split("/", 1)[1] for r in self.data.get(digest, []) if r.startswith(f"{registry}/") and r != here]

    def add(self, registry: str, repository: str, digests: list[str]) -> None:
        for digest in digests:
            repos = self.data.setdefault(digest, [])
            if f"{registry}/{repository}" not in repos:
                repos.append(f"{registry}/{repository}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.data, indent=1, sort_keys=True))


def cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cognix" / "pushed-blobs.json"


def push(
    archive: Path,
    target: str,
    *,
    insecure: bool = False,
    on_blob: Callable[[Blob, str], None] = lambda blob, action: None,
    on_bytes: Callable[[Blob, int], None] = lambda blob, n: None,
) -> PushReport:
    """Push the image in ``archive`` as ``target``; says what was uploaded, mounted or skipped."""
    reference = Reference.parse(target)
    source = Archive(archive)
    image = source.image()
    config = json.loads(image.manifest)["config"]
    blobs = [Blob(config["digest"], config["size"], config["mediaType"]),
             *(Blob(layer.digest, layer.size, layer.media_type) for layer in image.layers)]  # fmt: skip
    client = Client(reference, insecure=insecure)
    cache = PushedCache(cache_path())
    report = PushReport(reference, image.digest)
    try:
        client.request("GET", "/v2/")  # reachable, and authenticated before the first blob
        for blob in blobs:
            if client.has_blob(blob.digest):
                report.skipped.append(blob)
                on_blob(blob, "exists")
                continue
            sources = cache.sources(reference.registry, reference.repository, blob.digest)
            if any(client.mount(blob.digest, source) for source in sources):
                report.mounted.append(blob)
                on_blob(blob, "mounted")
                continue
            on_blob(blob, "uploading")
            client.upload(blob, source.blob(blob.digest), lambda n, b=blob: on_bytes(b, n))
            report.uploaded.append(blob)
            on_blob(blob, "uploaded")
        client.put_manifest(reference.tag, image.manifest, image.manifest_type)
        cache.add(reference.registry, reference.repository, [b.digest for b in blobs])
    finally:
        client.close()
        source.tar.close()
    return report
