"""File, secret and streaming types used in predictor signatures."""

from __future__ import annotations

import base64
import io
import mimetypes
import os
import pathlib
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar

FILENAME_MAX_BYTES = 200


def filename_from_url(url: str) -> str:
    """A safe local file name for a URL or ``data:`` URI (as Cog names downloaded inputs)."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "data":
        mime = parsed.path.split(";", 1)[0].split(",", 1)[0] or "text/plain"
        return "file" + (mimetypes.guess_extension(mime) or "")
    name = urllib.parse.unquote_plus(os.path.basename(parsed.path)) or "file"
    name = name.replace("\x00", "_").replace("/", "_")
    if len(name.encode()) > FILENAME_MAX_BYTES:
        stem, ext = os.path.splitext(name)
        keep = FILENAME_MAX_BYTES - len(ext.encode()) - 1
        name = stem.encode()[:keep].decode(errors="ignore") + "~" + ext
    return name


def decode_data_url(url: str) -> bytes:
    """The bytes of a ``data:`` URI (base64 or percent-encoded); ValueError if malformed (RFC 2397:
    the comma between the media type and the data is required, even for empty data)."""
    header, comma, payload = url.partition(",")
    if not comma:
        raise ValueError("no ',' between the media type and the data")
    if header.endswith(";base64"):
        return base64.b64decode(payload, validate=True)
    return urllib.parse.unquote_to_bytes(payload)


def download_headers() -> dict[str, str]:
    """Headers for fetching file inputs: ``COG_USER_AGENT``, when set, as Cog sends it."""
    return {"User-Agent": os.environ["COG_USER_AGENT"]} if "COG_USER_AGENT" in os.environ else {}


class Path(pathlib.PosixPath):
    """A file input or output. Requests carry it as an http(s) URL or a ``data:`` URI;
    the runtime hands ``run()`` a local file."""


class Secret:
    """A string that never shows itself in ``str``/``repr``, logs or responses."""

    __slots__ = ("_value",)

    def __init__(self, secret_value: str | None = None) -> None:
        self._value = secret_value

    def get_secret_value(self) -> str | None:
        return self._value

    @property
    def secret_value(self) -> str | None:
        return self._value

    def __str__(self) -> str:
        return "**********" if self._value is not None else ""

    def __repr__(self) -> str:
        return f"Secret({self})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class File(io.IOBase):
    """Deprecated: use :class:`Path`. A file-like input."""

    @classmethod
    def validate(cls, value: Any) -> io.IOBase:
        if isinstance(value, io.IOBase):
            return value
        scheme = urllib.parse.urlparse(value).scheme
        if scheme == "data":
            from urllib.request import urlopen

            with urlopen(value) as resp:  # data: URLs only
                return io.BytesIO(resp.read())
        if scheme in ("http", "https"):
            return URLFile(value)
        raise ValueError(f"'{scheme}' is not a valid URL scheme. 'data', 'http', or 'https' is supported.")


class URLFile(io.RawIOBase):
    """A lazily opened, read-only stream over an http(s) URL."""

    def __init__(self, url: str, filename: str | None = None) -> None:
        if urllib.parse.urlparse(url).scheme not in ("http", "https"):
            raise ValueError("URLFile requires URL to conform to HTTP or HTTPS protocol")
        self.url = url
        self.name = filename or filename_from_url(url)
        self._resp: Any = None

    def _stream(self) -> Any:
        if self._resp is None:
            from urllib.request import Request, urlopen

            headers = download_headers()
            self._resp = urlopen(Request(self.url, headers=headers), timeout=30)
        return self._resp

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream().read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self._resp is not None:
            self._resp.close()
        super().close()

    def __repr__(self) -> str:
        return f"<URLFile {self.url!r}>"


class URLPath(Path):
    """Kept for imports from older Cog code; cognix downloads URL inputs before ``run()``."""


Item = TypeVar("Item")


class ConcatenateIterator(Iterator[Item]):
    """Return annotation for streamed text whose chunks a UI should join."""

    def __next__(self) -> Item:  # pragma: no cover - a type marker
        raise StopIteration


class AsyncConcatenateIterator(AsyncIterator[Item]):
    """Async form of :class:`ConcatenateIterator`."""

    async def __anext__(self) -> Item:  # pragma: no cover - a type marker
        raise StopAsyncIteration
