"""``pylock.toml`` as a typed object: the one reader and writer of the file in Python.

The lock is the contract between ``cognix lock`` and everything after it (generation, build, SBOM,
diff), so every stage reads the same checked fields instead of string keys into a dict. The file
is PEP 751 plus cognix's ``[tool.cognix]`` table; the Nix library reads the same file with
``builtins.fromTOML`` (``nix/lock.nix``) and only its package list.

Rendering is deterministic: packages come sorted from the resolver, ``[tool.cognix]`` is written in
key order, absent values are left out, and nothing depends on the clock.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Annotated, Literal

import tomli_w
import tomllib
from packaging.version import InvalidVersion, Version
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, model_validator

from cognix._version import __version__
from cognix.errors import CognixError

LOCK_NAME = "pylock.toml"
ToolchainName = Literal["offline", "nixpkgs"]  # what builds the image (cognix build --toolchain)
TOOLCHAINS: tuple[ToolchainName, ...] = typing.get_args(ToolchainName)
DEFAULT_TOOLCHAIN = "offline"  # the one CI proves: needs no nixpkgs, no binary cache, no GitHub


class LockFileError(CognixError):
    """``pylock.toml`` cannot be read as cognix wrote it."""


class _Table(BaseModel):
    """A TOML table: kebab-case keys, nothing unknown (a typo or a hand edit is named, not dropped)."""

    model_config = ConfigDict(
        alias_generator=lambda name: name.replace("_", "-"),
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        strict=True,  # TOML has types: gpu = "no" is an edit to name, not a string to read as false
    )


def _has_sha256(hashes: dict[str, str]) -> dict[str, str]:
    if "sha256" not in hashes:
        raise ValueError("no sha256 among the hashes: cognix checks every file by its sha256")
    return hashes


Hashes = Annotated[dict[str, str], AfterValidator(_has_sha256)]


class Artifact(_Table):
    """One file of a package (a wheel or an sdist), by size and sha256, and where it is: a ``url``,
    or (a file of the project's own, as PEP 751 allows) a ``path`` relative to the project."""

    url: str | None = None
    path: str | None = None
    size: int
    hashes: Hashes

    @model_validator(mode="after")
    def _one_place(self) -> Artifact:
        if (self.url is None) == (self.path is None):
            raise ValueError("a file is locked by exactly one of url and path")
        return self

    @property
    def sha256(self) -> str:
        return self.hashes["sha256"]


class Package(_Table):
    """A locked package: one wheel for the image's target, or an sdist the user opted into."""

    name: str
    version: str
    index: str | None = None
    wheels: list[Artifact] | None = None
    sdist: Artifact | None = None

    @property
    def wheel(self) -> Artifact | None:
        return self.wheels[0] if self.wheels else None

    @property
    def artifacts(self) -> list[Artifact]:
        return [*(self.wheels or []), *([self.sdist] if self.sdist else [])]


class NixpkgsPin(_Table):
    """The nixpkgs revision the nixpkgs toolchain builds with, and its NAR hash."""

    url: str
    nar_hash: str


DebianRole = Literal["toolchain", "system"]  # the interpreter and its tools, or cog.yaml's system_packages


class DebianPackage(_Table):
    """One Debian binary package the image is made of, by the exact bytes of its .deb."""

    name: str
    version: str
    architecture: str
    roles: list[DebianRole]  # what needs it: the toolchain, the system packages, or both
    url: str  # deb.debian.org, while the suite still ships this version
    snapshot_url: str  # snapshot.debian.org, which keeps it for good
    size: int
    hashes: Hashes

    @property
    def sha256(self) -> str:
        return self.hashes["sha256"]


class DebianPin(_Table):
    """The offline toolchain's Debian packages: one suite, the dependency closure, each pinned."""

    suite: str  # e.g. trixie
    release: str | None = None  # the point release read, e.g. 13.8 (testing has none)
    snapshot: str  # the snapshot.debian.org timestamp of the snapshot URLs
    requested: dict[DebianRole, list[str]] = {}  # the names resolved: the toolchain's, cog.yaml's
    renames: dict[str, str] = {}  # cog.yaml's apt name → the Debian package it became
    packages: list[DebianPackage]

    def role(self, role: DebianRole) -> list[DebianPackage]:
        return [package for package in self.packages if role in package.roles]


class SecretTarget(_Table):
    """A secret a build.run step sees at ``target``: named by its id, never by its bytes."""

    id: str
    target: str


class RunStep(_Table):
    """One build.run step as ``cognix lock`` ran it. ``output_hash`` is the NAR sha256 (Nix base32)
    of everything the steps up to this one wrote: the step's fixed-output hash, which every build
    checks."""

    command: str
    secrets: list[SecretTarget] = []
    output_hash: str | None = None  # None until `cognix lock` has run it


class CognixTable(_Table):
    """``[tool.cognix]``: the image's target, the choices made for it, and what the lock is a function of."""

    cognix_version: str
    inputs_hash: str  # sha256 over cog.yaml, the requirements and the runtime packages: staleness
    python: str  # major.minor
    platform: str  # e.g. x86_64-manylinux_2_28
    gpu: bool
    cuda: str | None = None
    cudnn: str | None = None
    torch_variant: str | None = None  # e.g. cu124, cpu
    nixpkgs: NixpkgsPin
    system_packages: list[str] = []
    run_steps: list[RunStep] = []  # cog.yaml's build.run (and pre_install), in order
    indexes: list[str] = []
    build_from_source: list[str] | None = None  # packages locked as sdists, by the user's choice
    toolchain: ToolchainName | None = None  # what builds the image; None: the default
    debian: DebianPin | None = None  # the offline toolchain's interpreter and system packages
    explanation: list[str] = []  # why this CUDA/cuDNN/torch build (cognix lock --explain)

    @property
    def builds_with(self) -> str:
        """The toolchain that builds the image: the recorded one, else the default."""
        return self.toolchain or DEFAULT_TOOLCHAIN


class ToolTable(_Table):
    cognix: CognixTable


class Lock(_Table):
    """The whole ``pylock.toml``."""

    lock_version: str = "1.0"
    requires_python: str
    created_by: str = "cognix"
    packages: list[Package]
    tool: ToolTable

    @property
    def cognix(self) -> CognixTable:
        return self.tool.cognix

    def with_cognix(self, **changes: object) -> Lock:
        """A copy with ``[tool.cognix]`` fields changed (the lock is immutable)."""
        table = self.cognix.model_copy(update=changes)
        return self.model_copy(update={"tool": ToolTable(cognix=table)})

    def render(self) -> str:
        document = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        document["tool"]["cognix"] = dict(sorted(document["tool"]["cognix"].items()))
        return tomli_w.dumps(document)

    def write(self, path: Path) -> None:
        path.write_text(self.render())

    @classmethod
    def from_toml(cls, text: str, *, source: Path | str = LOCK_NAME) -> Lock:
        hint = f"delete {source} and run `cognix lock` to write it anew"
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise LockFileError(f"{source} is not valid TOML: {error}", hint=hint) from None
        version = data.get("lock-version")
        if isinstance(version, str) and version.split(".")[0] != "1":  # PEP 751: refuse an unknown major
            raise LockFileError(
                f"{source} has lock-version {version}, and this cognix reads lock-version 1 (PEP 751)",
                hint=f"upgrade cognix, or {hint}",
            )
        try:
            return cls.model_validate(data, by_alias=True, by_name=False)  # the file's keys only
        except ValidationError as error:
            problems = [f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in error.errors()[:5]]
            newer = _newer_writer(data)
            if newer:
                raise LockFileError(
                    f"{source} was written by cognix {newer}, newer than this one ({__version__}), "
                    "and this cognix cannot read it: " + "; ".join(problems),
                    hint=f"upgrade cognix, or {hint}",
                ) from None
            raise LockFileError(f"{source} is not a lock cognix can read: " + "; ".join(problems), hint=hint) from None


def _newer_writer(data: dict[str, object]) -> str | None:
    """The cognix version that wrote ``data`` (a parsed lock) where it is newer than this one."""
    tool = data.get("tool")
    table = tool.get("cognix") if isinstance(tool, dict) else None
    written = table.get("cognix-version") if isinstance(table, dict) else None
    try:
        return written if isinstance(written, str) and Version(written) > Version(__version__) else None
    except InvalidVersion:
        return None


def read(path: Path) -> Lock | None:
    """The lock at ``path``, or None when there is none."""
    if not path.exists():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:  # TOML is UTF-8: anything else is damage
        raise LockFileError(
            f"{path} cannot be read as a lock: {error}", hint=f"delete {path} and run `cognix lock` to write it anew"
        ) from None
    return Lock.from_toml(text, source=path)
