"""``cognix lock``: resolve the image's Python packages once, into a PEP 751 ``pylock.toml``.

Resolution is uv's (``uv pip compile --format pylock.toml``), for the *image's* target (the
Python of cog.yaml, manylinux x86_64, the CUDA variant chosen by :mod:`cognix.project.compat`), never
the host. The lock keeps one wheel per package, each with url, size and sha256, plus a
``[tool.cognix]`` table: the choices made, and a hash of the inputs so a stale lock is caught.
Identical inputs give a byte-identical file.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import tempfile
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib
from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

from cognix._version import __version__
from cognix.errors import CognixError
from cognix.project import compat
from cognix.project.config import Project
from cognix.project.pylock import (
    DEFAULT_TOOLCHAIN,
    LOCK_NAME,
    TOOLCHAINS,
    CognixTable,
    DebianPin,
    DebianRole,
    Lock,
    LockFileError,
    NixpkgsPin,
    Package,
    RunStep,
    SecretTarget,
    ToolchainName,
    ToolTable,
)
from cognix.project.pylock import read as read_lock_file

LOCK_FORMAT = 3  # bump when the [tool.cognix] table changes meaning
GLIBC = (2, 28)  # manylinux_2_28: what the image's Nix-built glibc comfortably exceeds
PLATFORM = f"x86_64-manylinux_{GLIBC[0]}_{GLIBC[1]}"
PYPI = "https://pypi.org/simple"
_OPTION = re.compile(r"^\s*(--(?:extra-index-url|index-url|find-links)|-[fi])(?:\s+|=)(\S+)")


class LockError(CognixError):
    """The requirements cannot be locked for the image's target."""


@dataclass
class LockInputs:
    """Everything the lock is a function of."""

    python: str
    requirements: list[str]  # requirement lines, options removed
    project_dir: Path  # what a local file's path (./wheels/x.whl) is relative to
    index_url: str
    extra_index_urls: list[str]
    find_links: list[str]
    selection: compat.Selection
    system_packages: list[str]
    run_steps: list[RunStep]  # without hashes: cognix.build.steps runs them
    allow_sdist: list[str] = field(default_factory=list)
    toolchain: ToolchainName | None = None  # what builds the image; None: cognix build's default
    framework_index: str | None = None  # the PyTorch index cognix added, named when unreachable
    digest: str = ""


@functools.cache
def runtime_requirements() -> tuple[str, ...]:
    """What the image needs besides the model's packages: cognix's ``image`` extra (the server
    and its libraries; cognix itself is built from source by Nix)."""
    requirements = [Requirement(line) for line in importlib.metadata.requires("cognix") or []]
    in_extra = [r for r in requirements if r.marker and r.marker.evaluate({"extra": "image"})]
    only_image = [r for r in in_extra if r.marker and not r.marker.evaluate({"extra": ""})]
    return tuple(sorted(f"{r.name}{r.specifier}" for r in only_image))


def read_inputs(project: Project, *, allow_sdist: list[str] | None = None) -> LockInputs:
    """Parse the project's requirements and choose CUDA/cuDNN/torch for its target."""
    build = project.config.build_or_default
    # the default index: the requirements file's --index-url, else uv's own setting, else PyPI
    default_index = os.environ.get("UV_DEFAULT_INDEX") or os.environ.get("UV_INDEX_URL") or PYPI
    lines, index_url, extra, links = [], default_index, [], []
    source = build.python_requirements or "build.python_packages"
    for number, raw in enumerate(project.requirements, start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if option := _OPTION.match(line):
            flag, value = option.groups()
            if flag in ("--index-url", "-i"):
                index_url = value
            elif flag == "--extra-index-url":
                extra.append(value)
            else:
                links.append(str((project.dir / value).resolve()) if "://" not in value else value)
            continue
        if line.startswith("-"):
            raise LockError(f"unsupported option in requirements: {line}", hint="use one requirement per line")
        _check_requirement(line, f"{source}, {'line' if build.python_requirements else 'item'} {number}")
        lines.append(line)
    selection = compat.select(
        gpu=build.gpu,
        python=project.config.python_version,
        requirements=lines,
        cuda=build.cuda,
        cudnn=build.cudnn,
    )
    lines, extra, framework_index = _framework_wheels(
        lines, [index_url, *extra], extra, selection, compat.load_matrix()
    )
    inputs = LockInputs(
        python=".".join(project.config.python_version.split(".")[:2]),
        requirements=lines,
        project_dir=project.dir,
        index_url=index_url,
        extra_index_urls=extra,
        find_links=links,
        selection=selection,
        system_packages=sorted(build.system_packages or []),
        run_steps=[
            RunStep(command=step.command, secrets=[SecretTarget(id=m.id, target=m.target) for m in step.mounts])
            for step in build.run_commands
        ],
        allow_sdist=sorted(canonicalize_name(n) for n in allow_sdist or []),
        framework_index=framework_index,
    )
    inputs.digest = inputs_digest(project)
    return inputs


# what uv reads itself and PEP 508 does not: a path or URL of an artifact, a per-requirement option
_NOT_PEP_508 = re.compile(r"[/\\]|^\.|\s--|\.(?:whl|zip|tar\.gz)$")


def _check_requirement(line: str, where: str) -> None:
    """Refuse a line that is no requirement at all now, before uv and Debian are asked anything;
    a path or URL, which PEP 508 does not describe, is left to uv."""
    try:
        Requirement(line)
    except InvalidRequirement as error:
        if not _NOT_PEP_508.search(line):
            raise LockError(
                f"{where}: invalid requirement {line!r}: {error}",
                hint="write a PEP 508 requirement, e.g. numpy==1.26.4, or the path or URL of a wheel",
            ) from None


PYTORCH_INDEX = "https://download.pytorch.org/whl"  # COGNIX_PYTORCH_INDEX replaces it (a mirror)


def _framework_wheels(
    lines: list[str], indexes: list[str], extra: list[str], selection: compat.Selection, matrix: compat.Matrix
) -> tuple[list[str], list[str], str | None]:
    """Pin torch/torchvision/torchaudio to the chosen variant, as Cog rewrites them. The PyTorch
    index is added only when PyPI's own wheel is not the chosen build, and never beside the
    user's own: an index of theirs ending in ``/whl/<variant>`` (a mirror) is used instead.
    Returns the lines, the extra indexes and the index cognix added (None: none)."""
    variant = selection.torch
    if variant is None:
        return lines, extra, None
    if variant.index_url is None:
        selection.because(f"torch {variant.torch}: its {variant.variant} build is PyPI's wheel; no extra index")
        return lines, extra, None
    pypi = matrix.torch_pypi.get(variant.torch)
    if selection.cuda and pypi and pypi.get("cuda") == variant.cuda:
        selection.because(f"torch {variant.torch}: PyPI's wheel is the CUDA {variant.cuda} build; no extra index")
        return lines, extra, None
    versions = {"torch": variant.torch, "torchvision": variant.torchvision, "torchaudio": variant.torchaudio}
    out = []
    for line in lines:
        try:
            req = Requirement(line)
        except InvalidRequirement:  # a path or URL (see _check_requirement): uv reads it as it is
            out.append(line)
            continue
        name = canonicalize_name(req.name)
        pinned = str(req.specifier).startswith("==") and "+" not in str(req.specifier)
        if name in versions and pinned and not req.url:
            line = f"{req.name}=={versions[name]}+{variant.variant}"
        out.append(line)
    if mirror := next((url for url in indexes if url.rstrip("/").endswith(f"/whl/{variant.variant}")), None):
        selection.because(f"torch {variant.torch}: the {variant.variant} build from {mirror}, the requirements' index")
        return out, extra, None
    base = os.environ.get("COGNIX_PYTORCH_INDEX", PYTORCH_INDEX).rstrip("/")
    index = f"{base}/{variant.variant}/"
    selection.because(
        f"torch {variant.torch}: the {variant.variant} build from {index}, which cognix adds "
        "(PyPI's torch wheel is another build)"
    )
    return out, [*extra, index] if index not in extra else extra, index


def inputs_digest(project: Project) -> str:
    """sha256 over what makes a lock stale: cog.yaml, the requirements file, the runtime
    packages this cognix puts in the image, and the lock format."""
    h = hashlib.sha256()
    h.update(f"cognix-lock/{LOCK_FORMAT}\n".encode())
    h.update(project.config_path.read_bytes())
    req = project.config.build_or_default.python_requirements
    if req:
        h.update(b"\0requirements\0" + (project.dir / req).read_bytes())
    for line in project.requirements:  # a file of the project's (./wheels/x.whl) is locked by its content
        named = project.dir / line.split(" #", 1)[0].strip().split(";", 1)[0].strip()
        if line.strip() and not line.lstrip().startswith(("#", "-")) and named.is_file():
            h.update(b"\0file\0" + hashlib.sha256(named.read_bytes()).digest())
    h.update(b"\0runtime\0" + "\n".join(runtime_requirements()).encode())
    return "sha256:" + h.hexdigest()


def target_tags(python: str) -> list[Tag]:
    """Wheel tags the image accepts, best first (CPython on manylinux x86_64)."""
    major, minor = (int(p) for p in python.split(".")[:2])
    platforms = [f"manylinux_{GLIBC[0]}_{m}_x86_64" for m in range(GLIBC[1], 16, -1)]
    platforms += ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]
    tags = list(cpython_tags((major, minor), platforms=platforms))
    return tags + list(compatible_tags((major, minor), f"cp{major}{minor}", platforms))


def _best_wheel(wheels: list[dict[str, Any]], ranking: dict[Tag, int]) -> dict[str, Any] | None:
    def rank(wheel: dict[str, Any]) -> int:
        _, _, _, tags = parse_wheel_filename(wheel["url"].rsplit("/", 1)[-1].split("#")[0])
        return min((ranking[t] for t in tags if t in ranking), default=len(ranking))

    usable = [w for w in wheels if rank(w) < len(ranking)]
    return min(usable, key=lambda w: (rank(w), w["url"])) if usable else None


_NO_WHEEL = re.compile(r"Wheels are required for `([^`]+)`|Because (\S+?)==\S+ has no usable wheels")


def _uv() -> str:
    uv = shutil.which("uv")
    if uv is None:
        try:
            from uv import find_uv_bin  # the uv wheel from PyPI ships the binary

            return find_uv_bin()
        except ImportError:
            raise LockError("uv is not installed", hint="pip install uv (cognix resolves with it)") from None
    return uv


class Resolution:
    """uv resolving for the target, in its own process: started as soon as the inputs are known,
    so what cognix does while uv waits on the index (the Debian pins, its own imports) costs no
    time. ``result`` waits for it; leaving the ``with`` block without the result stops it."""

    def __init__(
        self,
        inputs: LockInputs,
        previous: Path | None,
        *,
        upgrade: bool = False,
        upgrade_packages: list[str] | None = None,
        runtime: Sequence[str] = (),
    ) -> None:
        self.inputs = inputs
        self._work = tempfile.TemporaryDirectory(prefix="cognix-lock-")
        work = Path(self._work.name)
        (work / "requirements.in").write_text("\n".join([*inputs.requirements, *runtime]) + "\n")
        self._out = work / LOCK_NAME
        if previous is not None and previous.exists() and not upgrade:
            shutil.copyfile(previous, self._out)  # uv keeps its versions unless asked to upgrade
        cmd = [
            _uv(),
            "pip",
            "compile",
            str(work / "requirements.in"),
            "--format",
            "pylock.toml",
            "-o",
            str(self._out),
            "--python-version",
            inputs.python,
            "--python-platform",
            PLATFORM,
            "--only-binary",
            ":all:",
            "--index-url",
            inputs.index_url,
            "--quiet",
            "--no-header",
        ]
        for url in inputs.extra_index_urls:
            cmd += ["--extra-index-url", url]
        for link in inputs.find_links:
            cmd += ["--find-links", link]
        for name in inputs.allow_sdist:
            cmd += ["--no-binary", name]
        if upgrade:
            cmd.append("--upgrade")
        for name in upgrade_packages or []:
            cmd += ["--upgrade-package", name]
        self._process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "UV_NO_PROGRESS": "1"},
            cwd=inputs.project_dir,  # a local file's path is relative to the project, as in Cog
        )

    def result(self) -> dict[str, Any]:
        """uv's pylock document, or the error its message explains."""
        _, stderr = self._process.communicate()
        if self._process.returncode != 0:
            raise _uv_error(stderr, self.inputs)
        document = tomllib.loads(self._out.read_text())
        for package in document.get("packages", []):
            if "archive" in package:  # a file of the project's: its path made the project's
                package["archive"] = _project_file(package, self._out.parent, self.inputs.project_dir)
        return document

    def __enter__(self) -> Resolution:
        return self

    def __exit__(self, *_: object) -> None:
        if self._process.returncode is None:  # an error elsewhere: nothing will read uv's answer
            self._process.kill()
            self._process.communicate()
        self._work.cleanup()


def _project_file(package: dict[str, Any], relative_to: Path, project_dir: Path) -> dict[str, Any]:
    """uv's ``archive`` (a local wheel or sdist, by a path relative to its output file) as PEP 751
    has it in cognix's lock: a path relative to the project, with the file's size and sha256."""
    where = (relative_to / package["archive"]["path"]).resolve()
    try:
        path = where.relative_to(project_dir.resolve()).as_posix()
    except ValueError:
        raise LockError(
            f"{package['name']}: {where} is outside the project",
            hint="copy the file into the project (e.g. ./wheels/) and name it there: the image is built "
            "from the project alone",
        ) from None
    return {"path": path, "size": where.stat().st_size, "hashes": dict(package["archive"]["hashes"])}


def resolve(inputs: LockInputs, previous: Path | None, **options: Any) -> dict[str, Any]:
    """Run uv for the target; return its pylock document."""
    with Resolution(inputs, previous, **options) as resolution:
        return resolution.result()


def _uv_error(stderr: str, inputs: LockInputs | None = None) -> LockError:
    added = inputs.framework_index if inputs else None
    host = urllib.parse.urlsplit(added).netloc if added else ""
    if added and host and host in stderr and ("Failed to fetch" in stderr or "error sending request" in stderr):
        variant = added.rstrip("/").rsplit("/", 1)[-1]
        return LockError(
            f"cannot reach the PyTorch index {added}, which cognix adds for torch's {variant} build "
            "(PyPI's torch wheel is another build; `cognix lock --explain` says why this one)",
            details="\n".join(line for line in stderr.strip().splitlines() if line.strip()),
            hint=f"use a mirror: add `--extra-index-url https://MIRROR/whl/{variant}` to the requirements file "
            "(it replaces the PyTorch index), or set COGNIX_PYTORCH_INDEX=https://MIRROR/whl",
        )
    if "pylock.toml" in stderr and "--format" in stderr:  # an old uv, as in nixos-24.11
        version = subprocess.run([_uv(), "--version"], capture_output=True, text=True).stdout.strip()
        return LockError(
            f"{version or 'this uv'} cannot write pylock.toml; cognix resolves with uv 0.8 or newer",
            hint="pip install -U uv (or put a newer uv first on PATH)",
        )
    if match := _NO_WHEEL.search(stderr):
        name = match.group(1) or match.group(2)
        return LockError(
            f"{name} has no wheel for the image (Python, linux x86_64) — only a source distribution",
            hint=f"pin a version of {name} that ships wheels; `cognix lock --allow-sdist {name}` locks the "
            "source distribution instead (recorded in the lock), for local use: `cognix build` installs wheels only",
        )
    detail = "\n".join(line for line in stderr.strip().splitlines() if line.strip())
    return LockError("resolving the requirements failed", details=detail, hint="fix the requirements uv names above")


def measure(artifacts: list[dict[str, Any]], progress: Callable[[str], None]) -> None:
    """Fill in size and sha256 where the index did not give them (PEP 503 HTML indexes give
    no size), by downloading the file; a sha256 the index gave must match."""
    todo = [a for a in artifacts if "size" not in a or "sha256" not in a.get("hashes", {})]
    if not todo:
        return
    import httpx

    def one(artifact: dict[str, Any]) -> None:
        digest, size = hashlib.sha256(), 0
        with httpx.stream("GET", artifact["url"], follow_redirects=True, timeout=120) as resp:
            resp.raise_for_status()
            for chunk in resp.iter_bytes(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        expected = artifact.get("hashes", {}).get("sha256")
        if expected and expected != digest.hexdigest():
            raise LockError(
                f"sha256 mismatch for {artifact['url']}: the index says {expected}, the file is {digest.hexdigest()}",
                hint="the index serves a different file than it lists; check the index, then lock again",
            )
        artifact["size"] = size
        artifact.setdefault("hashes", {})["sha256"] = digest.hexdigest()

    import concurrent.futures

    progress(f"hashing {len(todo)} files the index gave no size or hash for")
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(one, todo))
    except httpx.HTTPError as e:
        raise LockError(f"could not download a locked file to hash it: {e}") from None


def build_lock(inputs: LockInputs, uv_lock: dict[str, Any], progress: Callable[[str], None] = lambda _: None) -> Lock:
    """The lock cognix writes: one wheel per package, sorted, with [tool.cognix]."""
    ranking = {tag: i for i, tag in enumerate(target_tags(inputs.python))}
    entries = []
    for pkg in sorted(uv_lock.get("packages", []), key=lambda p: canonicalize_name(p["name"])):
        entry: dict[str, Any] = {"name": pkg["name"], "version": pkg["version"]}
        if "index" in pkg:
            entry["index"] = pkg["index"]
        if "archive" in pkg:
            entry.update(_local_artifact(pkg, ranking, inputs.allow_sdist))
            entries.append(entry)
            continue
        wheel = _best_wheel(pkg.get("wheels", []), ranking)
        if wheel is not None:
            entry["wheels"] = [_artifact(wheel)]
        elif "sdist" in pkg and canonicalize_name(pkg["name"]) in inputs.allow_sdist:
            entry["sdist"] = _artifact(pkg["sdist"])
        else:
            raise _uv_error(f"Wheels are required for `{pkg['name']}`")
        entries.append(entry)
    measure([a for p in entries for a in p.get("wheels", []) + ([p["sdist"]] if "sdist" in p else [])], progress)
    s = inputs.selection
    from cognix.project.debian import wants_compiler

    names = {canonicalize_name(e["name"]) for e in entries}
    if cuda_wheels := sorted(filter(is_cuda_library, names)):
        if not s.gpu:
            s.warn(
                f"build.gpu is false, but the lock holds {len(cuda_wheels)} CUDA library wheels ({cuda_wheels[0]}, …) "
                "that a package depends on (PyPI's torch wheel is its CUDA build): pin torch==VERSION to get "
                "its CPU build from the PyTorch index"
            )
    if {"torch", "triton"} & names and not wants_compiler(inputs.system_packages):
        s.warn(
            "torch.compile and triton compile C code when they run, and the image has no C compiler: "
            "add build-essential to build.system_packages to use them"
        )
    nixpkgs = compat.load_matrix().nixpkgs
    table = CognixTable(
        cognix_version=__version__,
        inputs_hash=inputs.digest,
        python=inputs.python,
        platform=PLATFORM,
        gpu=s.gpu,
        cuda=s.cuda or None,
        cudnn=s.cudnn if s.cuda else None,
        torch_variant=s.torch.variant if s.torch is not None else None,
        nixpkgs=NixpkgsPin(url=f"github:NixOS/nixpkgs/{nixpkgs['rev']}", nar_hash=nixpkgs["nar-hash"]),
        system_packages=inputs.system_packages,
        run_steps=inputs.run_steps,
        indexes=[inputs.index_url, *inputs.extra_index_urls],
        build_from_source=inputs.allow_sdist or None,
        toolchain=inputs.toolchain,
        explanation=s.explanation + [f"warning: {w}" for w in s.warnings],
    )
    return Lock(
        requires_python=f"=={inputs.python}.*",
        packages=[Package.model_validate(entry) for entry in entries],
        tool=ToolTable(cognix=table),
    )


def _local_artifact(pkg: dict[str, Any], ranking: dict[Tag, int], allow_sdist: list[str]) -> dict[str, Any]:
    """A file of the project's as the lock's ``wheels`` (one the image can install) or, opted
    into, ``sdist``; any other file is named, with what to do instead."""
    archive = pkg["archive"]
    path = archive["path"]
    if path.endswith(".whl"):
        if _best_wheel([{"url": path}], ranking) is None:
            raise LockError(
                f"{path} is not a wheel for the image (CPython on linux x86_64)",
                hint="build the wheel for linux x86_64 (manylinux), or name a wheel of the package from an index",
            )
        return {"wheels": [archive]}
    if canonicalize_name(pkg["name"]) in allow_sdist:
        return {"sdist": archive}
    raise LockError(
        f"{path} ({pkg['name']}) is a source distribution, and cognix images are built from wheels only",
        hint=f"build its wheel (`pip wheel --no-deps {path} -w wheels`) and name the .whl in the requirements; "
        f"`cognix lock --allow-sdist {pkg['name']}` locks the sdist itself, for local use",
    )


def _artifact(item: dict[str, Any]) -> dict[str, Any]:
    artifact: dict[str, Any] = {"url": item["url"]}
    if "size" in item:
        artifact["size"] = item["size"]
    if "sha256" in item.get("hashes", {}):
        artifact["hashes"] = {"sha256": item["hashes"]["sha256"]}
    return artifact


def write_lock(
    project: Project,
    *,
    upgrade: bool = False,
    upgrade_packages: list[str] | None = None,
    allow_sdist: list[str] | None = None,
    toolchain: str | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> tuple[Path, Lock]:
    """Lock ``project``; write and return its pylock.toml. Opt-ins recorded in an earlier lock
    (source builds, the toolchain) are kept unless given anew."""
    try:
        previous = read_lock(project)
    except LockFileError as error:  # e.g. an older cognix's format: nothing in it can be kept
        progress(f"{error.message}; locking anew")
        previous = None
    kept_sdists = (previous.cognix.build_from_source if previous else None) or []
    inputs = read_inputs(project, allow_sdist=allow_sdist or kept_sdists)
    recorded = previous.cognix.toolchain if previous else None
    inputs.toolchain = toolchain_name(toolchain) if toolchain else recorded
    target = project.dir / LOCK_NAME
    pinned_debs = {p.name for p in previous.cognix.debian.packages} if previous and previous.cognix.debian else set()
    deb_upgrades = [name for name in upgrade_packages or [] if name in pinned_debs]
    options: dict[str, Any] = {"upgrade": upgrade, "upgrade_packages": upgrade_packages}
    options["runtime"] = runtime_requirements()
    with Resolution(inputs, target, **options) as resolution:
        progress(f"resolving for Python {inputs.python} on {PLATFORM} with uv")
        pin = None
        if (inputs.toolchain or DEFAULT_TOOLCHAIN) == "offline":  # while uv runs; an unshipped Python stops it
            kept = previous.cognix.debian if previous and not (upgrade or deb_upgrades) else None
            pin = debian_pin(
                inputs.python, inputs.system_packages, kept, refresh=upgrade or bool(deb_upgrades), progress=progress
            )
        uv_lock = resolution.result()
    if userland := cuda_userland(inputs.selection, uv_lock):
        progress("adding NVIDIA's CUDA runtime, NVRTC, cuBLAS, cuFFT, cuRAND, cuSOLVER, cuSPARSE and cuDNN wheels")
        inputs.requirements = [*inputs.requirements, *userland]
        try:
            uv_lock = resolve(inputs, target, **options)
        except LockError as error:
            raise LockError(
                f"cognix adds NVIDIA's CUDA userland wheels for build.gpu ({', '.join(userland)}), since no "
                "package brings its own, and they cannot be resolved",
                details="\n".join(filter(None, [error.message, error.details])),
                hint="serve them from your index (they are on PyPI), set build.cuda to a CUDA they exist for, "
                "or add a package that brings CUDA (torch)",
            ) from None
    if undeclared := undeclared_requirements(inputs.selection, uv_lock):
        progress(f"adding {', '.join(undeclared)}, which a locked package imports without declaring it")
        inputs.requirements = [*inputs.requirements, *undeclared]
        uv_lock = resolve(inputs, target, **options)
    document = build_lock(inputs, uv_lock, progress).with_cognix(debian=pin)
    progress("writing the lock")
    document.write(target)
    return target, document


# Packages that import another without declaring it, which pip users have from their virtualenv
# and Cog's images from their base: triton (`import triton` needs setuptools before 3.2).
UNDECLARED = {"triton": "setuptools"}


def undeclared_requirements(selection: compat.Selection, uv_lock: dict[str, Any]) -> list[str]:
    """What a locked package needs but does not declare (``UNDECLARED``), when nothing else
    brought it."""
    names = {canonicalize_name(p["name"]) for p in uv_lock.get("packages", [])}
    missing = sorted({needed for package, needed in UNDECLARED.items() if package in names and needed not in names})
    for needed in missing:
        users = ", ".join(sorted(p for p, n in UNDECLARED.items() if n == needed and p in names))
        selection.because(f"{needed}: {users} imports it without declaring it, so cognix adds it")
    return missing


_CUDA_LIBRARIES_13 = {"nvidia-cuda-runtime", "nvidia-cublas", "nvidia-cudnn", "nvidia-cufft", "nvidia-curand"}


def is_cuda_library(name: str) -> bool:
    """A wheel of NVIDIA's CUDA libraries: ``nvidia-cublas-cu12`` (CUDA 11, 12) or, from CUDA 13,
    the unsuffixed ``nvidia-cublas``."""
    name = canonicalize_name(name)
    return name.endswith(("-cu11", "-cu12")) and name.startswith("nvidia-") or name in _CUDA_LIBRARIES_13


def cuda_userland(selection: compat.Selection, uv_lock: dict[str, Any]) -> list[str]:
    """For a GPU image whose packages bring no CUDA libraries (onnxruntime-gpu, cupy, TensorFlow
    without ``[and-cuda]``): NVIDIA's redistributable wheels of the chosen CUDA and cuDNN, what
    Cog's CUDA base images hold as system libraries. None when a framework's own nvidia-* wheels
    are there (torch's): never a second copy."""
    cuda = selection.cuda
    names = {canonicalize_name(p["name"]) for p in uv_lock.get("packages", [])}
    if not selection.gpu or cuda is None or any(n.startswith("nvidia-cuda-runtime") for n in names):
        return []
    major, minor = (int(part) for part in cuda.split(".")[:2])
    suffix = f"-cu{major}" if major < 13 else ""  # CUDA 13's wheels dropped the suffix
    # NVIDIA publishes CUDA 11 wheels from 11.7 on; an 11.0-11.6 build (TensorFlow 2.4-2.11) runs
    # on them by CUDA's minor-version compatibility (the sonames are 11's)
    exact = "" if (major, minor) < (11, 7) else f"=={cuda}.*"
    # cuBLAS has CUDA's version from 12.0 on (CUDA 11.8 shipped cuBLAS 11.11); cuFFT, cuRAND,
    # cuSOLVER and cuSPARSE have versions of their own: the newest for this CUDA major, as
    # NVIDIA's minor-version compatibility allows
    same = "" if major == 11 else exact
    wheels = [f"nvidia-cuda-runtime{suffix}{exact}", f"nvidia-cuda-nvrtc{suffix}{exact}"]
    wheels.append(f"nvidia-cublas{suffix}{same}")
    wheels += [f"nvidia-{name}{suffix}" for name in ("cufft", "curand", "cusolver", "cusparse")]
    if selection.cudnn:
        wheels.append(f"nvidia-cudnn{suffix}=={selection.cudnn}.*")
    selection.because(
        f"CUDA {cuda} userland: no package brings its own CUDA libraries, so NVIDIA's wheels are added "
        f"({', '.join(w.split('=')[0] for w in wheels)})"
    )
    return wheels


def debian_pin(
    python: str, system: list[str], kept: DebianPin | None, *, refresh: bool, progress: Callable[[str], None]
) -> DebianPin:
    """The offline toolchain's Debian packages for ``python`` and cog.yaml's ``system`` packages:
    ``kept`` (the previous lock's) while it is for the same suite and the same request, so a
    relock moves no pin; else all of them resolved anew from the suite's index."""
    from cognix.project import debian

    suite = debian.suite_for(python)
    requested = debian_request(python, system)
    if kept is not None and kept.suite == suite and kept.requested == requested:
        return kept
    return debian.resolve(suite, requested, refresh=refresh, progress=progress)


def debian_request(python: str, system: list[str]) -> dict[DebianRole, list[str]]:
    """The Debian names the offline toolchain resolves: its interpreter and tools, and the
    image's system packages (the base tools every image has, then cog.yaml's)."""
    from cognix.project import debian

    headers = debian.wants_compiler(system)
    return {
        "toolchain": [*debian.python_packages(python, headers=headers), *debian.TOOL_PACKAGES, *debian.LEAF_PACKAGES],
        "system": [*debian.BASE_PACKAGES, *(name for name in system if name not in debian.BASE_PACKAGES)],
    }


def toolchain_name(name: str) -> ToolchainName:
    """``name`` as a toolchain the lock can record, or a clear error."""
    for known in TOOLCHAINS:
        if name == known:
            return known
    raise LockError(f"unknown toolchain {name!r}", hint=f"use one of: {', '.join(TOOLCHAINS)}")


def record_toolchain(project: Project, document: Lock, toolchain: ToolchainName) -> Lock:
    """Record the toolchain that builds the image (``cognix build --toolchain``) in the lock;
    nothing that was resolved changes, but build.run's hashes are the old toolchain's (its
    Python and tools made those files), so they are cleared for the steps to run again."""
    steps = document.cognix.run_steps
    if toolchain != document.cognix.builds_with:
        steps = [step.model_copy(update={"output_hash": None}) for step in steps]
    updated = document.with_cognix(toolchain=toolchain, run_steps=steps)
    updated.write(project.dir / LOCK_NAME)
    return updated


def read_lock(project: Project) -> Lock | None:
    """The project's lock, or None when it has none."""
    return read_lock_file(project.dir / LOCK_NAME)


def stale_reason(project: Project, document: Lock | None, *, toolchain: str | None = None) -> str | None:
    """Why ``document`` (the project's lock, as read) no longer matches the project, or can't
    build with ``toolchain`` (None: the one it records), or None when it is current."""
    if document is None:
        return f"{LOCK_NAME} does not exist"
    if document.cognix.inputs_hash != inputs_digest(project):
        return f"cog.yaml or the requirements changed since {LOCK_NAME} was written"
    if missing := uncovered(project, document):
        return (
            f"{LOCK_NAME} lacks {', '.join(missing)}, which the requirements or cognix's server name (was it edited?)"
        )
    offline = (toolchain or document.cognix.builds_with) == "offline"
    tool = document.cognix
    if offline and tool.debian is None:
        return f"{LOCK_NAME} pins no Debian packages, which the offline toolchain is made of"
    if offline and tool.debian and tool.debian.requested != debian_request(tool.python, tool.system_packages):
        return f"the Debian packages this cognix builds images from differ from those {LOCK_NAME} pins"
    if any(step.output_hash is None for step in document.cognix.run_steps):
        return f"cognix lock has not run the build.run steps, whose output hashes {LOCK_NAME} records"
    return None


def uncovered(project: Project, document: Lock) -> list[str]:
    """The top-level requirements (the project's, and the server's own) with no package in the
    lock; their own dependencies are checked when the image's Python imports the server."""
    locked = {canonicalize_name(p.name) for p in document.packages}
    wanted = {
        canonicalize_name(requirement.name)
        for requirement in compat.parsed_requirements([*project.requirements, *runtime_requirements()])
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""})
    }
    return sorted(wanted - locked)


def environment_drift(project: Project) -> list[str]:
    """How this Python differs from the lock, for the packages the project names itself."""
    document = read_lock(project)
    if document is None:
        return []
    if reason := stale_reason(project, document):
        return [f"{reason}; run `cognix lock`"]
    locked = {canonicalize_name(p.name): p.version for p in document.packages}
    wanted = compat.pinned_versions(project.requirements)
    drift = []
    for name in sorted(wanted):
        version = locked.get(canonicalize_name(name))
        if version is None:
            continue
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed is None or installed.split("+")[0] != version.split("+")[0]:
            drift.append(f"{name} is {installed or 'not installed'} here but {version} in {LOCK_NAME}")
    return drift
