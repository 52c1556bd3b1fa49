"""Push an OCI archive to any registry over the OCI distribution API, with httpx: no daemon.

Each blob is checked first (``HEAD``) and skipped when the registry has it; a blob this machine
pushed to another repository of the same registry is cross-mounted instead of uploaded; the
rest is uploaded in one ``PUT`` or, when large, in chunks. The ``PUT`` that completes an upload
is the one request that is not re-sent: when its answer is lost, the blob is looked up by digest
and the upload starts over, once, only if the registry lacks it. Credentials come from
``~/.docker/config.json`` (what ``docker login``/``podman login --authfile`` write) or from
``COGNIX_REGISTRY_USERNAME``/``COGNIX_REGISTRY_PASSWORD``; Basic and Bearer-token challenges
are both answered.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import functools
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, urljoin

import httpx

from cognix.cache import cache_dir
from cognix.errors import CognixError
from cognix.image.archive import Archive
from cognix.image.reference import DOCKER_HUB, Reference

CHUNK = 16 * 1024 * 1024  # blobs above this go up in PATCH chunks of this size
RETRIES = 3  # for 429, 502-504 and dropped connections
MAYBE_DONE = (404, 502, 503, 504)  # answers to a completing PUT that may hide a stored blob (see upload)


class RegistryError(CognixError):
    """The registry refused or could not be reached."""


def credentials(registry: str) -> tuple[str, str] | None:
    """Username and password for ``registry``: the environment first, then docker's and podman's
    auth files (``DOCKER_CONFIG``, ``REGISTRY_AUTH_FILE``, ``$XDG_RUNTIME_DIR/containers/auth.json``)."""
    user, password = os.environ.get("COGNIX_REGISTRY_USERNAME"), os.environ.get("COGNIX_REGISTRY_PASSWORD")
    if bool(user) != bool(password):
        raise RegistryError("set both COGNIX_REGISTRY_USERNAME and COGNIX_REGISTRY_PASSWORD, or neither")
    if user and password:
        return user, password
    files = [Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker")) / "config.json"]
    files += [Path(p) for p in (os.environ.get("REGISTRY_AUTH_FILE"),) if p]
    if runtime := os.environ.get("XDG_RUNTIME_DIR"):
        files.append(Path(runtime) / "containers" / "auth.json")
    for file in files:
        if file.is_file() and (found := _from_auth_file(file, registry)):
            return found
    return None


def _from_auth_file(path: Path, registry: str) -> tuple[str, str] | None:
    try:
        config = json.loads(path.read_text())
        hosts = {
            re.sub(r"^https?://", "", key).split("/", 1)[0]: entry for key, entry in config.get("auths", {}).items()
        }
    except (ValueError, AttributeError) as e:
        raise RegistryError(
            f"cannot read the registry credentials in {path}: {e}", hint="fix or remove that file"
        ) from None
    names = {registry} | ({"index.docker.io", "docker.io"} if registry == DOCKER_HUB else set())
    entry = next((hosts[n] for n in sorted(names) if n in hosts), None)
    helper = config.get("credHelpers", {}).get(registry) or (config.get("credsStore") if entry == {} else None)
    if helper and not (entry or {}).get("auth"):
        raise RegistryError(
            f"{path} keeps the password for {registry} in the credential helper docker-credential-{helper}, "
            "which cognix does not call",
            hint="set COGNIX_REGISTRY_USERNAME and COGNIX_REGISTRY_PASSWORD (a token works as the password)",
        )
    if not entry:
        return None
    try:
        if entry.get("auth"):
            user, _, password = base64.b64decode(entry["auth"], validate=True).decode().partition(":")
            return user, password
    except ValueError:
        raise RegistryError(
            f"the auth entry for {registry} in {path} is not base64 user:password",
            hint="log in again (docker/podman login)",
        ) from None
    return (entry["username"], entry.get("password", "")) if entry.get("username") else None


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

    def request(
        self, method: str, url: str, *, denied_ok: bool = False, resend: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """A request, answering an authentication challenge and retrying what registries say to
        retry (429, 502-504, dropped connections) with backoff; ``denied_ok``: return 401/403.
        ``resend=False``, for a request that must not be carried out twice: only a 429 or a
        connection that was never made is retried; a 502-504 is returned and a connection dropped
        after sending raises :class:`httpx.TransportError`, since the registry may have done it."""
        url = urljoin(self.base, url)
        for attempt in range(RETRIES + 1):
            try:
                response = self._send(method, url, **kwargs)
                if response.status_code == 401 and self._authenticate(response):
                    response = self._send(method, url, **kwargs)
            except httpx.TransportError as e:
                unsent = isinstance(e, (httpx.ConnectError, httpx.ConnectTimeout))  # nothing reached the registry
                if not resend and not unsent:
                    raise
                if attempt < RETRIES and not isinstance(e, httpx.ConnectError):  # a dropped connection, not none
                    time.sleep(2**attempt)
                    continue
                tls = isinstance(e, httpx.ConnectError) and "CERTIFICATE" in str(e).upper()
                raise RegistryError(
                    f"cannot reach {self.reference.registry}: {e}",
                    hint="the registry's TLS certificate is not trusted here (SSL_CERT_FILE names a CA bundle)"
                    if tls
                    else "check the address; for a plain-HTTP registry on this machine add --insecure",
                ) from None
            if response.status_code in ((429, 502, 503, 504) if resend else (429,)) and attempt < RETRIES:
                time.sleep(min(float(response.headers.get("retry-after", 2**attempt)), 30))
                continue
            break
        if response.status_code in (401, 403) and not denied_ok:
            what = "refused the credentials" if response.status_code == 401 else "does not allow this account to push"
            raise RegistryError(
                f"{self.reference.registry} {what} for {self.reference.repository}",
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
            # the challenge's scope (a mount's source, say) and always this repository's own
            scopes = {fields.get("scope", ""), f"repository:{self.reference.repository}:pull,push"} - {""}
            query = [("service", fields["service"])] if "service" in fields else []
            query += [("scope", scope) for scope in sorted(scopes)]
            token = self.http.get(fields["realm"], params=query, auth=self.creds)
            if token.status_code != 200:
                return False
            body = token.json()
            self.auth_header = "Bearer " + (body.get("token") or body.get("access_token", ""))
            return True
        return False

    def has_blob(self, digest: str, size: int | None = None) -> bool:
        """Whether the repository has blob ``digest`` (of ``size`` bytes, when given): HEAD by digest."""
        response = self.request("HEAD", f"blobs/{digest}")
        if response.status_code not in (200, 404):
            self._expect(response, 200, f"say whether it has {digest}")
        if response.status_code != 200:
            return False
        if size is None:
            return True
        said: str = response.headers.get("docker-content-digest", digest)  # the digest it stored it under
        length: str | None = response.headers.get("content-length")  # a proxy may leave it out
        return said == digest and length in (None, str(size))

    def mount(self, digest: str, source: str) -> bool:
        """Cross-repository mount, best effort: False when refused (the account may not read
        ``source``) or when the registry starts an upload instead."""
        response = self.request("POST", "blobs/uploads/", params={"mount": digest, "from": source}, denied_ok=True)
        if response.status_code == 201:
            return True
        if response.status_code == 202:  # mounting refused: cancel the upload it opened
            self.request("DELETE", response.headers["location"], denied_ok=True)
        return False

    def upload(self, blob: Blob, data: BinaryIO, progress: Callable[[int], None]) -> None:
        """Upload ``blob`` from ``data`` (seekable); ``progress(n)``: n more bytes sent, or taken back.

        The ``PUT`` that completes an upload is not idempotent: the registry stores the blob and
        closes the upload session, and a re-sent ``PUT`` gets 404 (BLOB_UPLOAD_UNKNOWN). So it is
        not re-sent; when its answer is lost (a dropped connection, a gateway's 502-504) or the
        session is gone (404), the blob is looked up by digest: there, with this size, the upload
        is done; not there, it starts over from a new session, once. Other answers fail at once."""
        for attempt in range(2):
            sent, lost = self._upload_session(blob, data, progress)
            if lost is None or self.has_blob(blob.digest, blob.size):
                return
            if attempt == 0:
                progress(-sent)
                data.seek(0)
        raise RegistryError(
            f"{self.reference.registry} did not store {blob.digest} ({blob.size:,} bytes) "
            f"in {self.reference.repository}: {lost}, on a fresh upload too",
            hint="the connection to the registry (or to a proxy in front of it) drops uploads: "
            "check the proxy's body-size and timeout limits, then push again (what is there is skipped)",
        )

    def _upload_session(self, blob: Blob, data: BinaryIO, progress: Callable[[int], None]) -> tuple[int, str | None]:
        """One upload session: bytes sent, and None when the registry answered 201, or what went
        wrong when that may hide a stored blob (:data:`MAYBE_DONE`, a dropped connection)."""
        started = self._expect(self.request("POST", "blobs/uploads/"), 202, "start an upload")
        location = started.headers["location"]
        sent = 0
        try:
            if blob.size <= CHUNK:
                body = data.read()
                done = self.request(
                    "PUT",
                    _with_digest(location, blob.digest),
                    resend=False,
                    content=body,
                    headers={"Content-Type": "application/octet-stream"},
                )
                sent = len(body)
                progress(sent)
            else:
                while chunk := data.read(CHUNK):
                    headers = {
                        "Content-Type": "application/octet-stream",
                        "Content-Range": f"{sent}-{sent + len(chunk) - 1}",
                    }
                    patched = self.request("PATCH", location, content=chunk, headers=headers)
                    location = self._expect(patched, 202, "upload").headers["location"]
                    sent += len(chunk)
                    progress(len(chunk))
                done = self.request("PUT", _with_digest(location, blob.digest), resend=False)
        except httpx.TransportError as e:  # from the completing PUT: the others are re-sent, or raise RegistryError
            return sent, f"the connection dropped before its answer to the upload's last request ({e})"
        if done.status_code in MAYBE_DONE:
            return sent, f"HTTP {done.status_code} to the upload's last request"
        self._expect(done, 201, f"finish uploading {blob.digest}")
        return sent, None

    def put_manifest(self, tag: str, manifest: bytes, media_type: str) -> None:
        response = self.request("PUT", f"manifests/{tag}", content=manifest, headers={"Content-Type": media_type})
        self._expect(response, 201, f"store the manifest as {tag}")

    def _expect(self, response: httpx.Response, status: int, what: str) -> httpx.Response:
        if response.status_code != status:
            raise RegistryError(
                f"{self.reference.registry} did not {what}: HTTP {response.status_code}", details=response.text[:2000]
            )
        return response


def _with_digest(location: str, digest: str) -> str:
    """The upload URL with ``digest=`` added to the query the registry put there (its upload state)."""
    return f"{location}{'&' if '?' in location else '?'}digest={quote(digest)}"


class PushedCache:
    """Which repositories of a registry this machine pushed each blob to: mount sources. Shared by
    concurrent pushes (merged under a lock, replaced atomically); an unreadable file counts as empty."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = self._read()

    def _read(self) -> dict[str, list[str]]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def sources(self, registry: str, repository: str, digest: str) -> list[str]:
        """Other repositories of ``registry`` that received ``digest`` from this machine."""
        here = f"{registry}/{repository}"
        return [r.split("/", 1)[1] for r in self.data.get(digest, []) if r.startswith(f"{registry}/") and r != here]

    def add(self, registry: str, repository: str, digests: list[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self.data = self._read()
            for digest in digests:
                repos = self.data.setdefault(digest, [])
                if f"{registry}/{repository}" not in repos:
                    repos.append(f"{registry}/{repository}")
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True))
            os.replace(tmp, self.path)


def cache_path() -> Path:
    return cache_dir("pushed-blobs.json")


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
    cache = PushedCache(cache_path())
    with Archive(archive) as opened, contextlib.closing(Client(reference, insecure=insecure)) as client:
        image = opened.image()
        config = json.loads(image.manifest)["config"]
        blobs = [
            Blob(config["digest"], config["size"], config["mediaType"]),
            *(Blob(layer.digest, layer.size, layer.media_type) for layer in image.layers),
        ]
        report = PushReport(reference, image.digest)
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
            client.upload(blob, opened.blob(blob.digest), functools.partial(on_bytes, blob))
            report.uploaded.append(blob)
            on_blob(blob, "uploaded")
        client.put_manifest(reference.tag, image.manifest, image.manifest_type)
    cache.add(reference.registry, reference.repository, [b.digest for b in blobs])
    return report
