"""The wheel of cognix that goes into every image: the SDK, the runtime and the server, and nothing
of the host tool. Byte-identical for the same files (sorted entries, fixed zip times)."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import zipfile
from pathlib import Path

from cognix._version import __version__
from cognix.build.files import write_if_changed

PACKAGE = Path(__file__).resolve().parent.parent  # cognix/
# What the image runs, and all of it: the SDK model code imports, the runtime and the server. The
# host side (project/, build/, image/, cli/) needs libraries the image does not have (typer, uv, …).
IMAGE_PACKAGES = ("sdk", "runtime", "server")
IMAGE_MODULES = ("__init__.py", "_version.py", "errors.py")
PAGES = ("server/playground",)  # the files the image's server serves besides its code (the playground)


def server_wheel(folder: Path) -> Path:
    """A wheel of this cognix (the server the image runs), byte-identical for the same files."""
    files: dict[str, bytes] = {}
    pages = [path for folder in PAGES for path in (PACKAGE / folder).iterdir() if path.is_file()]
    for path in sorted([*PACKAGE.rglob("*.py"), *pages]):  # no editor backups, caches or build files
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.split("/")[0] in IMAGE_PACKAGES or rel in IMAGE_MODULES:
            files[f"cognix/{rel}"] = path.read_bytes()
    alias = importlib.util.find_spec("_cognix_cog_alias")
    if alias and alias.origin:  # `import cog` → cognix's SDK inside the image too
        files["_cognix_cog_alias.py"] = Path(alias.origin).read_bytes()
        files["cognix_cog_alias.pth"] = b"import _cognix_cog_alias; _cognix_cog_alias.install()\n"
    info = f"cognix-{__version__}.dist-info"
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: cognix\nVersion: {__version__}\n".encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: cognix\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = [f"{name},sha256={_urlsafe_sha256(data)},{len(data)}" for name, data in sorted(files.items())]
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, data)
    target = folder / f"cognix-{__version__}-py3-none-any.whl"
    for old in folder.glob("cognix-*.whl"):
        if old != target:
            old.unlink()
    write_if_changed(target, buffer.getvalue())
    return target


def _urlsafe_sha256(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
