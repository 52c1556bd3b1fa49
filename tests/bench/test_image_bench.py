"""bench/image_bench.py reads installed sizes from a zip's central directory over HTTP ranges:
checked against zipfile's own numbers for real zips (plain, long comment, zip64) served by a
real loopback server, and its OCI reader against an archive written by cognix.nix.builders.oci."""

from __future__ import annotations

import gzip
import importlib.util
import re
import sys
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from cognix.nix.builders import oci

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("image_bench", REPO / "bench" / "image_bench.py")
assert _spec and _spec.loader
bench = importlib.util.module_from_spec(_spec)
sys.modules["image_bench"] = bench  # dataclasses look their module up while the class is built
_spec.loader.exec_module(bench)


class RangeHandler(BaseHTTPRequestHandler):
    """Serves files from ``server.root``, honouring single ``Range`` requests (RFC 9110) unless
    the path starts with /norange/, where it answers 200 with the whole file like some servers."""

    def do_GET(self) -> None:
        self.server.requests.append((self.path, self.headers.get("Range")))  # type: ignore[attr-defined]
        ranged = not self.path.startswith("/norange/")
        path = self.server.root / self.path.removeprefix("/norange").lstrip("/")  # type: ignore[attr-defined]
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "")) if ranged else None
        if match is None:
            self._send(200, data, {})
            return
        first, last = match.groups()
        start = len(data) - int(last) if first == "" else int(first)
        end = len(data) - 1 if first == "" or last == "" else min(int(last), len(data) - 1)
        start = max(start, 0)
        if start > end:
            self._send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
            return
        self._send(206, data[start : end + 1], {"Content-Range": f"bytes {start}-{end}/{len(data)}"})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(body)), "Accept-Ranges": "bytes"}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[tuple[str, ThreadingHTTPServer]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    server.root, server.requests = tmp_path, []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", server
    server.shutdown()
    server.server_close()


def expected(path: Path) -> tuple[int, int, int]:
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        return sum(i.file_size for i in infos), len(infos), path.stat().st_size


def measure(url: str) -> tuple[int, int, int]:
    with httpx.Client() as client:
        size = bench.zip_size(client, url)
    return size.installed, size.files, size.archive


def test_plain_zip_with_long_comment(serve, tmp_path: Path) -> None:
    base, server = serve
    path = tmp_path / "plain.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("pkg/__init__.py", "x = 1\n" * 1000)
        z.writestr("pkg/data.bin", bytes(range(256)) * 4000)  # 1 MB, compresses well
        z.writestr("pkg/empty", b"")
        z.comment = b"c" * 65535  # the largest comment: the EOCD is as far from the end as it gets
    assert measure(f"{base}/plain.whl") == expected(path) == (6000 + 1_024_000, 3, path.stat().st_size)
    assert all(r and r.startswith("bytes=") for _, r in server.requests)  # never a whole-file GET


def test_small_zip_when_server_ignores_range(serve, tmp_path: Path) -> None:
    base, _ = serve
    path = tmp_path / "small.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a.txt", "hello")
        z.writestr("b/c.txt", "world!" * 10)
    assert measure(f"{base}/norange/small.zip") == expected(path) == (65, 2, path.stat().st_size)


def test_zip64_with_more_than_65535_entries(serve, tmp_path: Path) -> None:
    """Over 0xFFFF entries the EOCD's count saturates and the zip64 record holds the truth; the
    central directory (MBs) lies far outside the fetched tail, so it takes a second range."""
    base, server = serve
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for i in range(70_000):
            z.writestr(f"d/{i:05}.txt", str(i))
    assert path.read_bytes().find(b"PK\x06\x06") > 0  # zipfile really wrote a zip64 end record
    assert measure(f"{base}/many.zip") == expected(path)
    assert expected(path)[1] == 70_000
    assert len(server.requests) == 2


def test_zip64_extra_field_sizes(serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Entries over 4 GiB keep their sizes in the zip64 extra field. Writing 4 GiB is too slow
    for a unit test, so zipfile's zip64 threshold is lowered while writing: it then writes the
    same records (0xFFFFFFFF in the central directory, the size in extra field 0x0001) for small
    files, and an unpatched zipfile reads them back."""
    base, _ = serve
    path = tmp_path / "zip64.whl"
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 100)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.bin", b"\0" * 300_000)
        z.writestr("tiny.txt", "tiny")
        z.writestr("other.bin", bytes(range(256)) * 50)
    monkeypatch.undo()
    raw = path.read_bytes()
    directory = raw[raw.index(b"PK\x01\x02") :]
    assert b"\xff\xff\xff\xff\xff\xff\xff\xff" in directory[16:30]  # sizes deferred to the extra field
    assert measure(f"{base}/zip64.whl") == expected(path) == (300_000 + 4 + 12_800, 3, len(raw))


def test_not_a_zip(serve, tmp_path: Path) -> None:
    base, _ = serve
    (tmp_path / "junk.whl").write_bytes(b"not a zip at all" * 100)
    with pytest.raises(ValueError, match="end-of-central-directory"):
        measure(f"{base}/junk.whl")


def test_sizes_are_cached_by_sha256(serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base, server = serve
    path = tmp_path / "cached.whl"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("m.py", "pass\n")
    monkeypatch.setattr(bench, "CACHE", tmp_path / "cache")
    with httpx.Client() as client:
        first = bench.cached_zip_size(client, f"{base}/cached.whl", "ab" * 32)
        asked = len(server.requests)
        again = bench.cached_zip_size(client, f"{base}/cached.whl", "ab" * 32)
    assert first == again and (first.installed, first.files) == (5, 1)
    assert len(server.requests) == asked  # the second answer came from the cache
    assert (tmp_path / "cache" / ("ab" * 32 + ".json")).exists()


def test_read_oci_archive(tmp_path: Path) -> None:
    """Sizes from an archive cognix.nix.builders.oci writes, against the blobs and layers themselves."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "a.txt").write_text("a" * 5000)
    (tmp_path / "app" / "b.bin").write_bytes(bytes(range(256)) * 100)
    layers = [oci.tree(tmp_path / "app", "/src"), [oci.Entry("etc", "dir", mode=0o755)]]
    layout = tmp_path / "layout"
    oci.write_image(layout, layers, oci.ImageConfig(cmd=["python"]))
    archive = tmp_path / "image.tar"
    oci.write_archive(layout, archive)

    blobs = sorted((layout / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)
    gz = [p for p in blobs if p.read_bytes()[:2] == b"\x1f\x8b"]
    config = next(p for p in blobs if b'"rootfs"' in p.read_bytes())
    size = bench.read_oci_archive(archive)
    assert size.layers == 2 == len(gz)
    assert size.compressed == sum(p.stat().st_size for p in gz) + config.stat().st_size
    assert size.uncompressed == sum(len(gzip.decompress(p.read_bytes())) for p in gz) + config.stat().st_size
    assert bench.read_oci_archive(archive, unpack_limit=0).uncompressed is None
