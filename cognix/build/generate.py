"""cog.yaml + pylock.toml → what Nix builds: ``flake.nix`` and the ``.cognix/`` folder.

``.cognix/`` holds the Nix library (copied from this package, so the CLI and the Nix code always
match), the toolchain choice, ``build.nix`` (what ``cognix build`` builds), ``image.json`` (the
image's name, environment and labels), ``src.json`` (the model source files) and a wheel of
cognix itself (the server inside the image). Every file is a pure function of its inputs:
sorted keys and lists, fixed zip times, no clock.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import importlib.util
import io
import json
import posixpath
import re
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from cognix._version import __version__
from cognix.errors import CognixError
from cognix.project.config import Project

GENERATED = ".cognix"
PACKAGE = Path(__file__).resolve().parent.parent  # cognix/
NIX_LIBRARY = PACKAGE / "nix"  # self-contained: its builders, the OCI writer and the templates live in it
# What the image runs, and all of it: the SDK model code imports, the runtime and the server. The
# host side (project/, build/, image/, cli/) needs libraries the image does not have (typer, uv, …).
IMAGE_PACKAGES = ("sdk", "runtime", "server")
IMAGE_MODULES = ("__init__.py", "_version.py", "errors.py")
# never part of /src: version control, cognix's own files (the lock is in the layers and labels
# already, and re-locking must not touch the source layer), caches
_ALWAYS_EXCLUDED = [
    ".git",
    ".hg",
    ".cog",
    GENERATED,
    "**/__pycache__",
    "**/*.pyc",
    ".pytest_cache",
    "flake.nix",
    "flake.lock",
    "pylock.toml",
    "result",
    "result-*",
    ".dockerignore",
]


@dataclass(frozen=True)
class Toolchain:
    """What builds the image: ``offline`` (a prefix made by cognix.build.toolchain) or ``nixpkgs``."""

    kind: str
    path: Path | None = None  # the offline prefix
    nixpkgs_url: str = ""  # github:NixOS/nixpkgs/<rev>
    nixpkgs_nar_hash: str = ""

    @property
    def nixpkgs_tarball(self) -> str:
        rev = self.nixpkgs_url.rsplit("/", 1)[-1]
        return f"https://github.com/NixOS/nixpkgs/archive/{rev}.tar.gz"


def image_name(project: Project) -> str:
    """Cog's default: ``cog-<folder>``, lowercased to a valid reference."""
    return "cog-" + re.sub(r"[^a-z0-9._-]+", "-", project.dir.resolve().name.lower()).strip("-._")


def write(
    project: Project,
    lock: dict[str, Any],
    toolchain: Toolchain,
    *,
    tag: str,
    exclude: list[str] | None = None,
) -> Path:
    """Write ``flake.nix`` and ``.cognix/`` for ``project``; returns the ``.cognix`` folder."""
    out = project.dir / GENERATED
    out.mkdir(exist_ok=True)
    library = out / "nix"
    if library.exists():
        shutil.rmtree(library)
    shutil.copytree(NIX_LIBRARY, library, ignore=shutil.ignore_patterns("__pycache__", "templates", "__init__.py"))
    wheel = server_wheel(out)
    tool = lock["tool"]["cognix"]
    repository = check_reference(tag)
    spec = {
        "name": re.sub(r"[^A-Za-z0-9+._-]+", "-", repository.rsplit("/", 1)[-1]),  # for store path names
        "tag": tag,
        "env": image_env(project),
        "labels": image_labels(project, tool),
        "cognixVersion": __version__,
        "cognixWheel": wheel.name,
    }
    _write_if_changed(out / "image.json", _json(spec))
    _write_if_changed(out / "src.json", _json(source_files(project.dir, exclude or [])))
    context = {
        "version": __version__,
        "kind": toolchain.kind,
        "python": tool["python"],
        "gpu": bool(tool.get("gpu")),
        "name": spec["name"],
        "toolchain_path": str(toolchain.path) if toolchain.path else "",
        "nixpkgs_url": toolchain.nixpkgs_url,
        "nixpkgs_tarball": toolchain.nixpkgs_tarball,
        "nixpkgs_nar_hash": toolchain.nixpkgs_nar_hash,
    }
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(NIX_LIBRARY / "templates"),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    for name, target in (
        ("toolchain.nix", out / "toolchain.nix"),
        ("build.nix", out / "build.nix"),
        ("flake.nix", project.dir / "flake.nix"),
    ):
        _write_if_changed(target, templates.get_template(f"{name}.j2").render(context))
    return out


def add_labels(project: Project, labels: dict[str, str]) -> None:
    """Labels known only once the Python environment is built (schema, SBOM digest): the image
    spec changes, nothing else that ``write`` made."""
    path = project.dir / GENERATED / "image.json"
    spec = json.loads(path.read_text())
    spec["labels"] |= labels
    _write_if_changed(path, _json(spec))


def default_tag(project: Project) -> str:
    return f"{image_name(project)}:latest"


def check_system_packages(names: list[str], toolchain: Toolchain) -> None:
    """Refuse, before Nix runs, apt names cognix cannot map (with the closest known ones) and
    system packages for the offline toolchain, which has no nixpkgs to take them from."""
    if not names:
        return
    if toolchain.kind == "offline":
        raise CognixError(
            f"cog.yaml build.system_packages ({', '.join(names)}) come from nixpkgs, "
            "which the offline toolchain does not have",
            hint="build with --toolchain nixpkgs, or drop system_packages",
        )
    table = json.loads((NIX_LIBRARY / "system-packages.json").read_text())
    unknown = []
    for raw in names:
        name = raw.split("=", 1)[0].split(":", 1)[0]
        if name.endswith("t64") and name not in table:  # Ubuntu 24.04's time_t renames
            name = name[:-3]
        if not raw.startswith("nixpkgs:") and name not in table:
            close = difflib.get_close_matches(name, list(table), n=3, cutoff=0.6)
            unknown.append(f'"{raw}"' + (f" (did you mean: {', '.join(close)}?)" if close else ""))
    if unknown:
        raise CognixError(
            f"cog.yaml build.system_packages: cognix does not know the apt package {', '.join(unknown)}",
            hint="use an apt name cognix maps (see cognix/nix/system-packages.json), "
            "or name a nixpkgs attribute directly, e.g. nixpkgs:ffmpeg-full",
        )


def image_env(project: Project) -> dict[str, str]:
    """cog.yaml's ``environment`` plus the variables Cog bakes into its images."""
    config = project.config
    env = dict(config.environment_dict)
    if config.runner:
        env["COG_PREDICT_TYPE_STUB"] = config.runner
    if config.train:
        env["COG_TRAIN_TYPE_STUB"] = config.train
    if config.concurrency:
        env["COG_MAX_CONCURRENCY"] = str(config.concurrency.max)
    return env


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


def image_labels(project: Project, tool: dict[str, Any]) -> dict[str, str]:
    """Cog's ``run.cog.*`` labels (the effective config has the lock's CUDA/cuDNN) and the lock's inputs hash."""
    effective = project.config.model_dump(mode="json", exclude_none=True)
    build = effective.setdefault("build", {})
    for key in ("cuda", "cudnn"):
        if key in tool:
            build[key] = tool[key]
    return {
        "run.cog.version": __version__,
        "run.cog.config": json.dumps(effective, sort_keys=True, separators=(",", ":")),
        "io.cognix.lock.inputs-hash": tool.get("inputs-hash", ""),
    }


def remember_output(project: Project, path: Path) -> None:
    """An image written inside the project must not become part of the next image's /src."""
    try:
        rel = path.resolve().relative_to(project.dir.resolve()).as_posix()
    except ValueError:
        return
    record = project.dir / GENERATED / "outputs.json"
    known = set(json.loads(record.read_text())) if record.is_file() else set()
    _write_if_changed(record, _json(sorted(known | {rel})))


def source_files(root: Path, exclude: list[str]) -> list[str]:
    """The model source (``/src``): files under ``root`` minus what ``.dockerignore`` excludes
    (Docker's rules), images cognix wrote and its own files; each file's folders are listed too,
    with a trailing ``/``."""
    outputs = root / GENERATED / "outputs.json"
    always = ignore_matcher(_ALWAYS_EXCLUDED + exclude + (json.loads(outputs.read_text()) if outputs.is_file() else []))
    dockerignore = root / ".dockerignore"
    user = ignore_matcher(dockerignore.read_text().splitlines() if dockerignore.is_file() else [])
    listed: set[str] = set()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_dir() and not path.is_symlink() or always(rel) or user(rel):
            continue
        try:
            rel.encode()
        except UnicodeEncodeError:
            raise CognixError(
                f"the file name {rel!r} is not UTF-8, which image layers and Nix need",
                hint="rename it, or list it in .dockerignore",
            ) from None
        listed.add(rel)
        parts = rel.split("/")[:-1]
        listed.update("/".join(parts[: i + 1]) + "/" for i in range(len(parts)))
    return sorted(listed)


def ignore_matcher(patterns: list[str]) -> Callable[[str], bool]:
    """Docker's ``.dockerignore`` rules: paths relative to the project, ``*``/``?`` within one
    folder, ``**`` across folders, a pattern that matches a folder covers what is in it,
    ``!pattern`` re-includes, and the last matching pattern wins."""
    rules = []
    for raw in patterns:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        line = posixpath.normpath(line.removeprefix("!").strip()).lstrip("/")
        rules.append((negate, re.compile(_glob_to_regex(line))))

    def excluded(rel: str) -> bool:
        parts = rel.split("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        verdict = False
        for negate, regex in rules:
            if any(regex.fullmatch(candidate) for candidate in candidates):
                verdict = not negate
        return verdict

    return excluded


def _glob_to_regex(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (close := pattern.find("]", i + 1)) > i:
            out.append(pattern[i : close + 1].replace("[!", "[^"))
            i = close + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


def server_wheel(folder: Path) -> Path:
    """A wheel of this cognix (the server the image runs), byte-identical for the same files."""
    files: dict[str, bytes] = {}
    for path in sorted(PACKAGE.rglob("*.py")):  # code only: no editor backups, caches or build files
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
    _write_if_changed(target, buffer.getvalue())
    return target


def _urlsafe_sha256(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True) + "\n"


def _write_if_changed(path: Path, content: str | bytes) -> None:
    data = content.encode() if isinstance(content, str) else content
    if not path.is_file() or path.read_bytes() != data:
        path.write_bytes(data)
