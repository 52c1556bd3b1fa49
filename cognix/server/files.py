"""Files crossing the HTTP boundary: URL and ``data:`` inputs in, data URLs or uploads out."""

from __future__ import annotations

import asyncio
import base64
import logging
import mimetypes
import shutil
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

from cognix.runtime.inputs import InputIssue, InvalidInputs
from cognix.runtime.signature import Signature
from cognix.sdk.types import decode_data_url, download_headers, filename_from_url
from cognix.server.http_client import LazyClient
from cognix.server.ipc import FileRef, TemporaryFileRef

log = logging.getLogger("cognix.server")

UPLOAD_TIMEOUT = 25.0
INLINE_IO_BYTES = 1 << 20


class InputFiles:
    """Fetches a prediction's file inputs, in parallel, into a private directory; each file
    at most ``max_bytes`` (``COGNIX_MAX_INPUT_BYTES``) within ``timeout`` seconds (``COGNIX_FETCH_TIMEOUT``)."""

    def __init__(self, client: LazyClient, *, max_bytes: int, timeout: float) -> None:
        self.client = client
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def fetch(self, signature: Signature, values: dict[str, Any]) -> tuple[dict[str, Any], Path | None]:
        """``values`` with every URL replaced by a local path, and the directory holding them."""
        jobs: list[tuple[str, int | None, str]] = []
        for field in signature.inputs:
            value = values.get(field.name)
            if not field.type.is_file or value is None:
                continue
            for index, url in enumerate(value) if isinstance(value, list) else [(None, value)]:
                scheme = urllib.parse.urlparse(url).scheme
                if scheme not in ("http", "https", "data"):
                    msg = f"'{scheme or url[:20]}' is not a valid URL scheme. 'data', 'http', or 'https' is supported."
                    raise InvalidInputs([InputIssue(field.name, msg)])
                jobs.append((field.name, index, url))
        if not jobs:
            return values, None
        workdir = Path(tempfile.mkdtemp(prefix="cognix-in-"))
        downloads = [
            asyncio.ensure_future(self._one(name, url, workdir / str(i))) for i, (name, _, url) in enumerate(jobs)
        ]
        try:
            paths = await asyncio.gather(*downloads)
        except BaseException:
            for download in downloads:
                download.cancel()
            await asyncio.gather(*downloads, return_exceptions=True)
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        resolved = {k: (list(v) if isinstance(v, list) else v) for k, v in values.items()}
        for (name, index, _), path in zip(jobs, paths, strict=True):
            if index is None:
                resolved[name] = path
            else:
                resolved[name][index] = path
        return resolved, workdir

    async def _one(self, name: str, url: str, folder: Path) -> str:
        folder.mkdir()
        target = folder / filename_from_url(url)
        if url.startswith("data:"):
            try:
                data = decode_data_url(url)
            except ValueError as e:
                raise InvalidInputs([InputIssue(name, f"invalid data URI: {e}")]) from None
            await _blocking(target.write_bytes, data, size=len(data))
            return str(target)
        import httpx

        try:
            await asyncio.wait_for(self._download(name, url, target), self.timeout)
        except (httpx.HTTPError, asyncio.TimeoutError) as e:  # not the builtin TimeoutError on Python 3.10
            raise InvalidInputs([InputIssue(name, f"could not fetch {url[:100]}: {e or type(e).__name__}")]) from None
        return str(target)

    async def _download(self, name: str, url: str, target: Path) -> None:
        async with self.client.get().stream("GET", url, headers=download_headers(), follow_redirects=True) as resp:
            resp.raise_for_status()
            size = 0
            with target.open("wb") as out:
                async for chunk in resp.aiter_bytes(1 << 20):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise InvalidInputs([InputIssue(name, f"file is larger than {self.max_bytes} bytes")])
                    out.write(chunk)


def has_files(value: Any) -> bool:
    if isinstance(value, FileRef):
        return True
    if isinstance(value, list):
        return any(has_files(v) for v in value)
    if isinstance(value, dict):
        return any(has_files(v) for v in value.values())
    return False


class OutputFiles:
    """Output files become ``data:`` URLs, or are PUT to ``upload_url`` (their URL is returned)."""

    def __init__(self, client: LazyClient, upload_url: str | None) -> None:
        self.client = client
        self.upload_url = upload_url.rstrip("/") + "/" if upload_url else None

    def resolve_now(self, value: Any) -> tuple[bool, Any]:
        """Resolve without waiting when that is possible: data URLs of small files.
        Returns (done, value); uploads and large files need :meth:`resolve`."""
        if isinstance(value, FileRef):
            path = Path(value)
            if self.upload_url is not None or path.stat().st_size >= INLINE_IO_BYTES:
                return False, value
            return True, _data_url(path.name, _read(value))
        if isinstance(value, list):
            items = [self.resolve_now(v) for v in value]
            return all(done for done, _ in items), [v for _, v in items]
        if isinstance(value, dict):
            entries = {k: self.resolve_now(v) for k, v in value.items()}
            return all(done for done, _ in entries.values()), {k: v for k, (_, v) in entries.items()}
        return True, value

    async def resolve(self, value: Any) -> Any:
        if isinstance(value, FileRef):
            return await self._one(value)
        if isinstance(value, list):
            return [await self.resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: await self.resolve(v) for k, v in value.items()}
        return value

    async def _one(self, ref: FileRef) -> str | None:
        path = Path(ref)
        data = await _blocking(_read, ref, size=path.stat().st_size)
        if self.upload_url is None:
            return _data_url(path.name, data)
        mime = _mime(path.name)
        import httpx

        url = self.upload_url + urllib.parse.quote(path.name)
        try:
            resp = await self.client.get().put(
                url, content=data, headers={"Content-Type": mime}, timeout=UPLOAD_TIMEOUT
            )
            resp.raise_for_status()
        except httpx.HTTPError as e:
            log.error("upload of %s to %s failed: %s", path.name, url, e)
            return None
        final = resp.headers.get("Location") or str(resp.url)
        return urllib.parse.urlunparse(urllib.parse.urlparse(final)._replace(query=""))


async def _blocking(fn: Any, *args: Any, size: int) -> Any:
    """File I/O off the event loop, except for small files, where a thread hop costs more."""
    return fn(*args) if size < INLINE_IO_BYTES else await asyncio.to_thread(fn, *args)


def _mime(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _data_url(name: str, data: bytes) -> str:
    return f"data:{_mime(name)};base64,{base64.b64encode(data).decode()}"


def _read(ref: FileRef) -> bytes:
    """A file's bytes; copies cognix made for the occasion are deleted once read."""
    path = Path(ref)
    data = path.read_bytes()
    if isinstance(ref, TemporaryFileRef):
        shutil.rmtree(path.parent, ignore_errors=True)
    return data
