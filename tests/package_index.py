"""A PEP 503 package index on loopback, with small wheels and sdists built on the spot."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from cognix.project.lock import runtime_requirements

from .server_helpers import loopback_http


def build_wheel(
    folder: Path, name: str, version: str, tag: str = "py3-none-any", requires: tuple[str, ...] = ()
) -> Path:
    """A real, installable wheel with one module."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files = {
        f"{dist}/__init__.py": f"__version__ = {version!r}\n".encode(),
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            + "".join(f"Requires-Dist: {r}\n" for r in requires)
        ).encode(),
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: cognix-tests\nRoot-Is-Purelib: true\nTag: {tag}\n".encode(),
    }
    record = (
        "".join(
            f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
            for path, data in files.items()
        )
        + f"{info}/RECORD,,\n"
    )
    files[f"{info}/RECORD"] = record.encode()
    target = folder / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(target, "w") as whl:
        for path, data in sorted(files.items()):
            whl.writestr(zipfile.ZipInfo(path, (1980, 1, 1, 0, 0, 0)), data)
    return target


def build_sdist(folder: Path, name: str, version: str) -> Path:
    """An sdist with static metadata (PEP 643), so a resolver needs no build backend to read it."""
    dist = name.replace("-", "_")
    target = folder / f"{dist}-{version}.tar.gz"
    members = {
        "PKG-INFO": f"Metadata-Version: 2.2\nName: {name}\nVersion: {version}\n",
        "pyproject.toml": (
            f'[build-system]\nrequires = ["flit_core"]\nbuild-backend = "flit_core.buildapi"\n\n'
            f'[project]\nname = "{name}"\nversion = "{version}"\ndependencies = []\n'
        ),
        f"{dist}/__init__.py": "",
    }
    with tarfile.open(target, "w:gz") as tar:
        for path, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{dist}-{version}/{path}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return target


def _lowest_allowed(requirement: str) -> str:
    versions = [s.version for s in Requirement(requirement).specifier if s.operator in (">=", "==", "~=")]
    return max(versions, key=lambda v: tuple(int(p) for p in v.split(".") if p.isdigit())) if versions else "1.0"


@dataclass
class Index:
    root: Path
    url: str = ""
    files: dict[str, list[Path]] = field(default_factory=dict)

    def add(self, path: Path) -> Path:
        name = canonicalize_name(path.name.split("-")[0])
        self.files.setdefault(name, []).append(path)
        self._write_page(name)
        return path

    def wheel(self, name: str, version: str, **kw: object) -> Path:
        return self.add(build_wheel(self.root / "files", name, version, **kw))  # type: ignore[arg-type]

    def sdist(self, name: str, version: str) -> Path:
        return self.add(build_sdist(self.root / "files", name, version))

    def _write_page(self, name: str) -> None:
        page = self.root / "simple" / name
        page.mkdir(parents=True, exist_ok=True)
        links = "".join(
            f'<a href="{self.url}/files/{p.name}#sha256={hashlib.sha256(p.read_bytes()).hexdigest()}">{p.name}</a>\n'
            for p in self.files[name]
        )
        (page / "index.html").write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")


@contextlib.contextmanager
def package_index(root: Path) -> Iterator[Index]:
    """Serve ``root`` on loopback; it already holds stand-ins for cognix's own runtime
    packages (the lock adds them to every image), so a test project resolves offline."""
    (root / "files").mkdir(parents=True)
    index = Index(root)

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    with loopback_http(Handler) as url:
        index.url = url
        for requirement in runtime_requirements():
            index.wheel(Requirement(requirement).name, _lowest_allowed(requirement))
        yield index
