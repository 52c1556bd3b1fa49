"""How big is a cognix image, next to Cog's?

    python bench/image_bench.py [--skip-torch] [--examples hello-world,blur]

A. Torch GPU closure from the lock: ``cognix lock`` on bench/models/torch-gpu (Python 3.11,
   torch==2.5.1, torchvision, transformers), then each wheel's compressed size (from the lock)
   and installed size, read from the zip central directory with HTTP range requests, so no
   wheel is downloaded whole (results cached by sha256 under ~/.cache/cognix/bench/). Shows
   how the closure would split into layers.
B. Cog's base for the same torch/CUDA/Python: published figures, with their sources.
C. Per example: ``cognix build`` each example to an OCI archive and read its size and layers
   (skipped, with a note, while ``cognix build`` or ``nix`` is unavailable).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import tomllib

from cognix.cache import cache_dir

ROOT = Path(__file__).resolve().parent.parent
TORCH_MODEL = ROOT / "bench" / "models" / "torch-gpu"
EXAMPLES = ROOT / "examples"
CACHE = cache_dir("bench")
MB = 1e6  # decimal, as ``cognix lock`` and registries report sizes
PYTHON_BYTES = 36 * 10**6  # CPython 3.11 + stdlib in the image, rough
OWN_LAYER_BYTES = 50 * 10**6  # an nvidia-*/torch/triton wheel at least this big gets its own layer
TAIL = 64 * 1024 + 22  # the end-of-central-directory record plus the largest zip comment

# Published sizes of what Cog starts from for this combination. For torch 2.5.1 on Python 3.11
# cognix picks CUDA 12.4 / cuDNN 9 (cu124 wheels); Cog's prebuilt base for that would be tagged
# r8.im/cog-base:cuda12.4-python3.11-torch2.5.1 (tag format: BaseImageName in
# https://github.com/replicate/cog/blob/0d06f91e51e49cae376d91888ee8af3a63883057/pkg/dockerfile/base.go),
# and without it Cog builds FROM nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04 (listed in
# https://github.com/replicate/cog/blob/7456d8e04e8e3c478fe8137e480cd2df6b35f10e/pkg/config/cuda_base_images.json).
COG_BASELINE: list[dict[str, Any]] = [
    {
        "image": "nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04",
        "bytes": 8.29e9,
        "measures": "uncompressed: `docker image ls` SIZE after a pull (CUDA + cuDNN + Ubuntu only; "
        "no Python, torch or Cog layers on top)",
        "match": "exact tag of the CUDA base Cog builds FROM",
        "source": "https://github.com/pinakinathc/learn_cuda/blob/bb568ade6a1e9a687f9b84547c59ac7e63fe109f/README.md",
    },
    {
        "image": "cog-resnet example image built by Cog (2023; its torch/CUDA versions are not stated)",
        "bytes": 2.72e9,
        "measures": "whole Cog-built image as reported by the user (compressed or not is not stated); "
        "1.94 GB after switching to a python:3.9-slim base",
        "match": "closest found, NOT this combination",
        "source": "https://github.com/replicate/cog/issues/972",
    },
    {
        "image": "r8.im/cog-base:cuda12.4-python3.11-torch2.5.1",
        "bytes": None,
        "measures": "no published size found for this tag (or any r8.im/cog-base tag)",
        "match": "not found",
        "source": "",
    },
]


# ---------------------------------------------------------------------------------------------
# Installed size of a remote zip, from its central directory


class RangeReader:
    """Byte ranges of one URL; the tail is fetched once, since EOCD, zip64 records and (for most
    wheels) the central directory all sit in the last few KB or MB."""

    def __init__(self, client: httpx.Client, url: str) -> None:
        self.client, self.url = client, url
        r = client.get(url, headers={"Range": f"bytes=-{TAIL}"}, follow_redirects=True)
        r.raise_for_status()
        if r.status_code == 206:
            self.size = int(r.headers["content-range"].rsplit("/", 1)[1])
        else:  # the server ignored Range and sent everything (a small file)
            self.size = len(r.content)
        self.tail_start, self.tail = self.size - len(r.content[-TAIL:]), r.content[-TAIL:]

    def read(self, start: int, length: int) -> bytes:
        if start >= self.tail_start:
            return self.tail[start - self.tail_start : start - self.tail_start + length]
        r = self.client.get(self.url, headers={"Range": f"bytes={start}-{start + length - 1}"}, follow_redirects=True)
        r.raise_for_status()
        return r.content if r.status_code == 206 else r.content[start : start + length]


@dataclass(frozen=True)
class ZipSize:
    installed: int  # sum of uncompressed file sizes
    files: int
    archive: int  # bytes of the zip itself


def zip_size(client: httpx.Client, url: str) -> ZipSize:
    """Sum the uncompressed sizes in a remote zip's central directory (zip64 aware)."""
    reader = RangeReader(client, url)
    eocd = reader.tail.rfind(b"PK\x05\x06")
    if eocd < 0:
        raise ValueError(f"{url}: no end-of-central-directory record")
    _, _, _, _, entries, cd_size, cd_offset, _ = struct.unpack("<4s4H2LH", reader.tail[eocd : eocd + 22])
    if entries == 0xFFFF or 0xFFFFFFFF in (cd_size, cd_offset):  # zip64: follow the locator
        sig, _, record, _ = struct.unpack("<4sLQL", reader.tail[eocd - 20 : eocd])
        if sig != b"PK\x06\x07":
            raise ValueError(f"{url}: zip64 locator missing")
        fields = struct.unpack("<4sQ2H2L4Q", reader.read(record, 56))
        if fields[0] != b"PK\x06\x06":
            raise ValueError(f"{url}: bad zip64 end-of-central-directory record")
        entries, cd_size, cd_offset = fields[7], fields[8], fields[9]
    directory = reader.read(cd_offset, cd_size)
    total, pos = 0, 0
    for _ in range(entries):
        head = struct.unpack("<4s6H3L5H2L", directory[pos : pos + 46])
        if head[0] != b"PK\x01\x02":
            raise ValueError(f"{url}: bad central directory entry at {cd_offset + pos}")
        size, name_len, extra_len, comment_len = head[9:13]
        if size == 0xFFFFFFFF:  # the real size is the first value of the zip64 extra field
            size = _zip64_size(directory[pos + 46 + name_len : pos + 46 + name_len + extra_len])
        total += size
        pos += 46 + name_len + extra_len + comment_len
    return ZipSize(total, entries, reader.size)


def _zip64_size(extra: bytes) -> int:
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack("<2H", extra[pos : pos + 4])
        if tag == 0x0001:
            return struct.unpack("<Q", extra[pos + 4 : pos + 12])[0]
        pos += 4 + length
    raise ValueError("zip64 size missing from the extra field")


def cached_zip_size(client: httpx.Client, url: str, sha256: str) -> ZipSize:
    """A wheel never changes under its sha256, so its sizes are cached forever."""
    path = CACHE / f"{sha256}.json"
    if path.exists():
        return ZipSize(**json.loads(path.read_text()))
    result = zip_size(client, url)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.__dict__))
    return result


# ---------------------------------------------------------------------------------------------
# A. Torch GPU closure


@dataclass(frozen=True)
class Wheel:
    name: str
    version: str
    wheel: int
    installed: int
    files: int


def lock(model: Path) -> tuple[dict[str, Any], Path]:
    """``cognix lock`` in a temp copy, so the committed model dir stays lock-free."""
    work = Path(tempfile.mkdtemp(prefix="cognix-image-bench-"))
    shutil.copytree(model, work, dirs_exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "cognix", "lock"], cwd=work, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"cognix lock failed in {work}:\n{done.stderr}")
    return tomllib.loads((work / "pylock.toml").read_text()), work


def closure(locked: dict[str, Any]) -> list[Wheel]:
    packages = [(p, p["wheels"][0]) for p in locked["packages"]]
    with httpx.Client(timeout=60) as client, ThreadPoolExecutor(8) as pool:
        sizes = list(pool.map(lambda pw: cached_zip_size(client, pw[1]["url"], pw[1]["hashes"]["sha256"]), packages))
    return [
        Wheel(p["name"], p["version"], w["size"], s.installed, s.files)
        for (p, w), s in zip(packages, sizes, strict=True)
    ]


def own_layer(w: Wheel) -> bool:
    return (w.name.startswith("nvidia-") or w.name in ("torch", "triton")) and w.wheel >= OWN_LAYER_BYTES


def table(rows: Iterable[tuple[Any, ...]], head: tuple[str, ...]) -> None:
    cells = [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *cells, strict=True)]
    for i, row in enumerate([head, *cells]):
        padded = [c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths, strict=True))]
        print("  " + "  ".join(padded))
        if i == 0:
            print("  " + "  ".join("-" * w for w in widths))


def mb(n: float) -> str:
    return f"{n / MB:,.1f}"


def part_a(model: Path) -> int:
    """Prints part A; returns the closure's installed bytes."""
    locked, work = lock(model)
    meta = locked.get("tool", {}).get("cognix", {})
    wheels = closure(locked)
    shutil.rmtree(work, ignore_errors=True)
    wheel_total, installed = sum(w.wheel for w in wheels), sum(w.installed for w in wheels)
    print(
        f"A. Torch GPU closure from the lock ({model.relative_to(ROOT)}: Python {meta.get('python')}, "
        f"CUDA {meta.get('cuda')} / cuDNN {meta.get('cudnn')}, {meta.get('torch-variant', '')})"
    )
    print(
        f"  {len(wheels)} wheels: {mb(wheel_total)} MB compressed, {mb(installed)} MB installed "
        f"({sum(w.files for w in wheels):,} files, x{installed / wheel_total:.2f})\n"
    )
    top = sorted(wheels, key=lambda w: -w.installed)[:10]
    table(
        [(w.name, w.version, mb(w.wheel), mb(w.installed)) for w in top],
        ("top 10 by installed size", "version", "wheel MB", "installed MB"),
    )
    big = sorted((w for w in wheels if own_layer(w)), key=lambda w: -w.installed)
    rest = [w for w in wheels if not own_layer(w)]
    rows = [(w.name, mb(w.wheel), mb(w.installed)) for w in big]
    rows.append((f"rest ({len(rest)} packages)", mb(sum(w.wheel for w in rest)), mb(sum(w.installed for w in rest))))
    rows.append(("python interpreter (est.)", "", mb(PYTHON_BYTES)))
    print()
    table(rows, (f"layers ({len(rows)}; wheel MB ~ gzip layer size)", "wheel MB", "installed MB"))
    print(
        f"\n  image estimate: ~{mb(installed + PYTHON_BYTES)} MB unpacked, ~{mb(wheel_total)} MB + Python "
        f"compressed; {len(rows)} layers plus the app's"
    )
    return installed


# ---------------------------------------------------------------------------------------------
# B. Cog's base image, cited


def part_b(closure_installed: int | None) -> None:
    print("B. Cog's base for the same torch/CUDA/Python (published figures, not measured here)")
    for row in COG_BASELINE:
        size = f"{row['bytes'] / 1e9:.2f} GB" if row["bytes"] else "n/a"
        print(f"  {row['image']}: {size} ({row['match']})\n    measures: {row['measures']}")
        if row["source"]:
            print(f"    source: {row['source']}")
    base = COG_BASELINE[0]["bytes"]
    if closure_installed:  # Cog pip-installs the same torch + nvidia-* wheels on top of that base
        print(
            f"  => Cog on {COG_BASELINE[0]['image']}: >= {base / 1e9:.2f} + {closure_installed / 1e9:.2f} "
            f"(A's closure) = {(base + closure_installed) / 1e9:.2f} GB unpacked; derived, not measured"
        )


# ---------------------------------------------------------------------------------------------
# C. Per example: built OCI archives


@dataclass(frozen=True)
class ImageSize:
    compressed: int  # layers + config, as pushed
    uncompressed: int | None
    layers: int


def read_oci_archive(path: Path, unpack_limit: int = 2 * 10**9) -> ImageSize:
    """Sizes from an oci-archive tar: index.json → manifest → layer and config descriptors. The
    uncompressed size needs the layers un-gzipped, so it is skipped above ``unpack_limit``."""
    with tarfile.open(path, "r:*") as tar:

        def blob(digest: str) -> IO[bytes]:
            member = tar.extractfile("blobs/" + digest.replace(":", "/"))
            assert member is not None, digest
            return member

        manifest = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        while "manifests" in manifest:  # index (possibly nested) → first image manifest
            manifest = json.load(blob(manifest["manifests"][0]["digest"]))
        layers = manifest["layers"]
        compressed = sum(layer["size"] for layer in layers) + manifest["config"]["size"]
        uncompressed: int | None = None
        if compressed <= unpack_limit:
            uncompressed = manifest["config"]["size"]
            for layer in layers:
                raw = blob(layer["digest"])
                stream = gzip.GzipFile(fileobj=raw) if "gzip" in layer["mediaType"] else raw
                while chunk := stream.read(1 << 20):
                    uncompressed += len(chunk)
        return ImageSize(compressed, uncompressed, len(layers))


def build_available() -> str | None:
    """Why examples can't be built now, or None when they can."""
    probe = subprocess.run([sys.executable, "-m", "cognix", "build", "--help"], capture_output=True)
    if probe.returncode != 0:
        return "`cognix build` is not available yet"
    if shutil.which("nix") is None:
        return "`nix` is not on PATH"
    return None


def part_c(names: list[str], toolchain: str) -> None:
    print(f"C. Per example (cognix build --toolchain {toolchain} → OCI archive; warm store)")
    if reason := build_available():
        print(f"  skipped: {reason}")
        return
    rows = []
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"cognix-image-{name}-") as tmp:
            work = Path(tmp) / name
            shutil.copytree(EXAMPLES / name, work, ignore=shutil.ignore_patterns(".cognix", "flake.nix", "image.tar"))
            out = Path(tmp) / "image.tar"
            started = time.monotonic()
            done = subprocess.run(
                [sys.executable, "-m", "cognix", "build", "--toolchain", toolchain, "-o", str(out)],
                cwd=work,
                capture_output=True,
                text=True,
            )
            seconds = f"{time.monotonic() - started:.1f}"
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["?"])[-1]
                rows.append((name, "build failed", "", "", seconds, last[:80]))
                continue
            size = read_oci_archive(out)
            unpacked = mb(size.uncompressed) if size.uncompressed is not None else "skipped"
            rows.append((name, mb(size.compressed), unpacked, size.layers, seconds, ""))
    table(rows, ("example", "image MB", "uncompressed MB", "layers", "build s", "note"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-torch", action="store_true", help="skip part A (locks against PyPI)")
    parser.add_argument("--examples", default="", help="comma-separated examples (default: all)")
    parser.add_argument("--model", type=Path, default=TORCH_MODEL, help="Cog project for part A")
    parser.add_argument(
        "--toolchain",
        default=os.environ.get("COGNIX_TOOLCHAIN", "offline"),
        help="toolchain for part C (offline builds anywhere Nix and deb.debian.org work)",
    )
    args = parser.parse_args()
    names = [n for n in re.split(r"[,\s]+", args.examples) if n] or sorted(
        p.name for p in EXAMPLES.iterdir() if (p / "cog.yaml").exists()
    )
    if unknown := [n for n in names if not (EXAMPLES / n / "cog.yaml").exists()]:
        parser.error(f"no such example: {', '.join(unknown)}")
    installed = None if args.skip_torch else part_a(args.model.resolve())
    if installed is not None:
        print()
    part_b(installed)
    print()
    part_c(names, args.toolchain)


if __name__ == "__main__":
    main()
