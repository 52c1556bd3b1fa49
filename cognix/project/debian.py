"""Debian's archive as the source of the image's interpreter and system packages, pinned.

The offline toolchain builds images from Debian binary packages: the CPython Debian ships
(3.11 in bookworm, 3.13 in trixie, 3.14 in forky), the C libraries it loads, a few tools, and
cog.yaml's ``build.system_packages``. ``cognix lock`` resolves those names against one suite's
package index into the full dependency closure and pins every ``.deb`` by name, version, size,
sha256, its URL on deb.debian.org and its URL on snapshot.debian.org (which keeps every file
Debian ever published, after the main archive drops a superseded point release). A build
fetches exactly those bytes or stops, so two machines make the same image from the same lock.

The index is Debian's ``dists/SUITE/main/binary-amd64/Packages.xz``, checked against the suite's
``Release`` file, parsed once and cached per suite for a day (``cognix lock --upgrade`` fetches
it again). Only Depends and Pre-Depends are followed: Recommends are not installed, as with
``apt-get install --no-install-recommends`` (what Cog's Dockerfiles run), and packages that only
serve maintainer scripts (debconf, adduser, …), which an image build never runs, are left out.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, timedelta
from pathlib import Path

from cognix.cache import cache_dir
from cognix.errors import CognixError
from cognix.project.pylock import DebianPackage, DebianPin, DebianRole

MIRROR = "https://deb.debian.org/debian"
SNAPSHOT = "https://snapshot.debian.org/archive/debian"
ARCHITECTURES = ("amd64", "all")
# the oldest suite that ships each CPython as binary packages: the most settled one
SUITES = {"3.11": "bookworm", "3.13": "trixie", "3.14": "forky", "3.15": "forky"}
INDEX_MAX_AGE = timedelta(days=1)  # like apt's package lists: refreshed daily, or on --upgrade
_INDEX_FORMAT = "1"
# Needed only by maintainer scripts (postinst and friends), which an image build never runs.
MAINTAINER_ONLY = frozenset(
    {"debconf", "debconf-2.0", "adduser", "passwd", "debianutils", "init-system-helpers", "install-info", "dpkg"}
)
# Ubuntu's (or older Debian's) apt names → the Debian package that replaces them. Names that
# only gained or lost Debian 13's "t64" are mapped by rule, see `_debian_name`.
RENAMES = {
    "libgl1-mesa-glx": "libgl1",
    "libegl1-mesa": "libegl1",
    "libgles2-mesa": "libgles2",
    "libtiff5": "libtiff6",
    "libffi7": "libffi8",
    "libssl1.1": "libssl3",
}


class DebianError(CognixError):
    """A package cannot be pinned from Debian's archive."""


def suite_for(python: str) -> str:
    """The Debian suite whose CPython the image runs, or a clear error."""
    if python in SUITES:
        return SUITES[python]
    shipped = ", ".join(f"{v} ({s})" for v, s in SUITES.items())
    raise DebianError(
        f"the offline toolchain builds the interpreter from Debian's packages, and no Debian suite ships "
        f"Python {python}; it can build {shipped}",
        hint="set build.python_version to one of those, or build with the nixpkgs toolchain "
        "(`cognix lock --toolchain nixpkgs`), which has every CPython",
    )


def python_packages(python: str, *, headers: bool = False) -> list[str]:
    """The Debian packages of CPython ``python``: the interpreter and its whole standard library,
    and with ``headers`` its C headers."""
    packages = [f"python{python}-minimal", f"libpython{python}-minimal", f"libpython{python}-stdlib"]
    return [*packages, f"libpython{python}-dev"] if headers else packages


def wants_compiler(names: list[str]) -> bool:
    """Whether cog.yaml's system_packages bring a C compiler."""
    bare = [re.split(r"[=:]", name, maxsplit=1)[0] for name in names]
    return any(name in COMPILERS or re.fullmatch(r"(gcc|g\+\+|clang|cpp)-[0-9.]+", name) for name in bare)


# What every image needs besides Python: the C++ runtime and zlib that manylinux wheels link
# without bundling (PEP 599), patchelf and bubblewrap (build.run steps' root) for the Nix build,
# a static bash (the image's /bin/sh and the builder `nix develop` needs) and the Mozilla CA bundle.
TOOL_PACKAGES = ["libstdc++6", "libgcc-s1", "zlib1g", "libnsl2", "patchelf", "bubblewrap", "bash-static"]
# What every image's shell has besides bash, from Debian's essential set: Cog's images are
# Debian's, and build.run steps, os.system and subprocess calls expect mkdir, sed, grep, find,
# tar, gzip, … Installed as system packages are.
BASE_PACKAGES = ["coreutils", "sed", "grep", "findutils", "tar", "gzip"]
LEAF_PACKAGES = ["ca-certificates"]  # its files only: its Depends (openssl) serve update-ca-certificates
# apt names that bring a C compiler: with one, the interpreter's own headers come too (Debian's
# libpython3.X-dev, into the toolchain's prefix where sysconfig points), so that what compiles
# against Python at run time (triton's launcher, torch.compile's inductor, cffi) can
COMPILERS = frozenset({"build-essential", "gcc", "g++", "clang", "cpp", "cc"})
BUILD_ONLY = frozenset({"patchelf", "bubblewrap"})  # run by the Nix build only: not in the image (nor its SBOM)


@dataclass(frozen=True)
class Index:
    """One suite's binary packages for amd64: the fields the resolver reads."""

    suite: str
    release: str  # e.g. "13.8"; "" for testing and unstable
    date: str  # the Release file's Date, RFC 2822
    packages: dict[str, dict[str, str]]  # name → {Version, Filename, Size, SHA256, Depends, …}
    provides: dict[str, list[str]]  # virtual name → real packages providing it

    @property
    def snapshot(self) -> str:
        """A snapshot.debian.org timestamp whose archive holds this index's files: six hours
        after the Release was written, past the snapshot of that archive run (snapshots are taken
        every six hours) and before the next run of a fast-moving suite can replace them."""
        written = email.utils.parsedate_to_datetime(self.date).astimezone(UTC)
        return (written + timedelta(hours=6)).strftime("%Y%m%dT%H%M%SZ")


def resolve(
    suite: str,
    requested: dict[DebianRole, list[str]],
    *,
    refresh: bool = False,
    progress: Callable[[str], None] = lambda _: None,
) -> DebianPin:
    """:func:`pin` against the suite's current index, remembered per index and request: parsing
    Debian's index takes longer than the rest of ``cognix lock``."""
    folder = cache_dir("debian", suite)
    request = json.dumps({"format": _INDEX_FORMAT, "requested": requested}, sort_keys=True)
    if not refresh and _fresh(folder / "index.json.gz"):
        remembered = folder / "pins" / f"{_key(folder, request)}.json"
        if remembered.is_file():
            pinned = DebianPin.model_validate_json(remembered.read_text(), by_alias=True, by_name=False)
            for raw, name in pinned.renames.items():
                progress(f"apt name {raw!r} is {name!r} in Debian {suite}")
            return pinned
    pinned = pin(load_index(suite, refresh=refresh, progress=progress), requested, progress=progress)
    (folder / "pins").mkdir(parents=True, exist_ok=True)
    (folder / "pins" / f"{_key(folder, request)}.json").write_text(pinned.model_dump_json(by_alias=True))
    return pinned


def _key(folder: Path, request: str) -> str:
    """The cached index (rewritten only when fetched anew) and the request, as one name."""
    stat = (folder / "index.json.gz").stat()
    return hashlib.sha256(f"{stat.st_mtime_ns}:{stat.st_size}:{request}".encode()).hexdigest()


def _fresh(path: Path) -> bool:
    return path.is_file() and time.time() - path.stat().st_mtime < INDEX_MAX_AGE.total_seconds()


def load_index(suite: str, *, refresh: bool = False, progress: Callable[[str], None] = lambda _: None) -> Index:
    """The suite's index, from the cache when younger than a day (or fetched anew)."""
    folder = cache_dir("debian", suite)
    cached = folder / "index.json.gz"
    if not refresh and _fresh(cached):
        try:
            data = json.loads(gzip.decompress(cached.read_bytes()))
        except (OSError, EOFError, ValueError):  # a damaged cache is a cache miss
            data = {}
        if data.get("format") == _INDEX_FORMAT:
            return Index(data["suite"], data["release"], data["date"], data["packages"], data["provides"])
    progress(f"reading Debian {suite}'s package index")
    release = _get(f"{MIRROR}/dists/{suite}/Release").decode()
    fields = _fields(release)
    member = "main/binary-amd64/Packages.xz"
    listed = re.search(rf"^ ([0-9a-f]{{64}})\s+\d+\s+{re.escape(member)}$", release, re.M)
    if listed is None:
        raise DebianError(f"Debian's {suite} Release file lists no {member}", hint="is the suite name right?")
    compressed = _get(f"{MIRROR}/dists/{suite}/{member}")
    if hashlib.sha256(compressed).hexdigest() != listed.group(1):
        raise DebianError(
            f"Debian {suite}'s {member} does not match its Release file (a mirror in the middle of an update?)",
            hint="run the command again in a few minutes",
        )
    import lzma  # only when the index is fetched anew

    packages: dict[str, dict[str, str]] = {}
    provides: dict[str, list[str]] = {}
    keep = ("Version", "Architecture", "Filename", "Size", "SHA256", "Depends", "Pre-Depends", "Source")
    for paragraph in lzma.decompress(compressed).decode().split("\n\n"):
        entry = _fields(paragraph)
        name = entry.get("Package")
        if not name or entry.get("Architecture") not in ARCHITECTURES:
            continue
        packages[name] = {key: entry[key] for key in keep if key in entry}
        for virtual in _names(entry.get("Provides", "")):
            provides.setdefault(virtual, []).append(name)
    index = Index(
        suite, fields.get("Version", ""), fields["Date"], packages, {k: sorted(v) for k, v in provides.items()}
    )
    folder.mkdir(parents=True, exist_ok=True)
    document = {"format": _INDEX_FORMAT, **index.__dict__}
    partial = cached.with_name(f".index-{os.getpid()}.json.gz")
    partial.write_bytes(gzip.compress(json.dumps(document, sort_keys=True).encode(), mtime=0))
    partial.replace(cached)  # whole or not at all
    return index


def pin(
    index: Index,
    requested: dict[DebianRole, list[str]],
    *,
    progress: Callable[[str], None] = lambda _: None,
) -> DebianPin:
    """The dependency closure of each role's names, every package pinned with the roles that need
    it; ``leaf`` names are taken without their dependencies."""
    renames: dict[str, str] = {}
    chosen: dict[str, list[DebianRole]] = {}
    roles: tuple[DebianRole, ...] = ("toolchain", "system")
    for role in roles:
        roots = []
        for raw in requested.get(role, []):
            name = _debian_name(index, raw, "cog.yaml build.system_packages" if role == "system" else "the toolchain")
            if name != raw.split("=", 1)[0].split(":", 1)[0].strip():
                renames[raw] = name
                progress(f"apt name {raw!r} is {name!r} in Debian {index.suite}")
            _check_version(index, raw, name)
            roots.append(name)
        leaves = set(LEAF_PACKAGES) if role == "toolchain" else set()
        for name in _closure(index, roots, leaves):
            chosen.setdefault(name, []).append(role)
    packages = [_pinned(index, name, needed) for name, needed in sorted(chosen.items())]
    return DebianPin(
        suite=index.suite,
        release=index.release or None,
        snapshot=index.snapshot,
        requested={role: list(requested.get(role, [])) for role in roles},
        renames=renames,
        packages=packages,
    )


def _check_version(index: Index, raw: str, name: str) -> None:
    """apt's ``name=VERSION``: one suite has one version of each package, and it must be that one."""
    if "=" not in raw:
        return
    wanted, shipped = raw.split("=", 1)[1].strip(), index.packages[name]["Version"]
    if wanted != shipped:
        raise DebianError(
            f"cog.yaml build.system_packages asks for {name} {wanted}, and Debian {index.suite} ships {name} {shipped}",
            hint=f'write "{name}" to take {shipped}, or pick the Python version whose Debian suite ships {wanted}',
        )


def _closure(index: Index, roots: Iterable[str], leaves: set[str]) -> list[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in leaves:
            continue
        entry = index.packages[name]
        for group in _groups(entry.get("Pre-Depends", "") + ", " + entry.get("Depends", "")):
            choice = _satisfy(index, group, seen)
            if choice is not None and choice not in MAINTAINER_ONLY:
                todo.append(choice)
    return sorted(seen)


def _satisfy(index: Index, alternatives: list[str], seen: set[str]) -> str | None:
    """The package that satisfies ``a | b | c``: one already chosen, else the first alternative
    that exists (a real package, or a virtual one's first provider), in the order listed."""
    candidates = [[name] if name in index.packages else index.provides.get(name, []) for name in alternatives]
    flat = [name for group in candidates for name in group]
    if any(name in MAINTAINER_ONLY for name in alternatives):
        return None
    for name in flat:
        if name in seen:
            return name
    return flat[0] if flat else None


def _debian_name(index: Index, raw: str, wanted_by: str) -> str:
    """cog.yaml's apt name as a package of this suite (Ubuntu names mapped), or an error with suggestions."""
    name = raw.split("=", 1)[0].split(":", 1)[0].strip()
    # Debian 13 renamed libraries with a 64-bit time_t: "t64" after the soname's last digit
    # (libssl3 → libssl3t64, libcurl3-gnutls → libcurl3t64-gnutls); Ubuntu 24.04 uses the new names
    with_t64 = re.sub(r"(\d)(?=[^\d]*$)", r"\1t64", name, count=1) if "t64" not in name else name
    for candidate in (name, RENAMES.get(name, ""), with_t64, name.replace("t64", "", 1)):
        if candidate in index.packages:
            return candidate
        providers = index.provides.get(candidate, [])
        if candidate and len(providers) == 1:
            return providers[0]
    import difflib  # only for the error

    close = difflib.get_close_matches(name, list(index.packages), n=3, cutoff=0.75)
    raise DebianError(
        f"{wanted_by}: Debian {index.suite} has no package {raw!r}"
        + (f" (did you mean: {', '.join(close)}?)" if close else ""),
        hint=f"use a Debian {index.suite} package name (https://packages.debian.org/{index.suite}/), "
        "or build with --toolchain nixpkgs and name a nixpkgs attribute (nixpkgs:NAME)",
    )


def _pinned(index: Index, name: str, roles: list[DebianRole]) -> DebianPackage:
    entry = index.packages[name]
    path = entry["Filename"]
    return DebianPackage(
        name=name,
        version=entry["Version"],
        architecture=entry["Architecture"],
        roles=roles,
        url=f"{MIRROR}/{path}",
        snapshot_url=f"{SNAPSHOT}/{index.snapshot}/{path}",
        size=int(entry["Size"]),
        hashes={"sha256": entry["SHA256"]},
    )


def _fields(paragraph: str) -> dict[str, str]:
    """A deb822 paragraph's single-line fields (continuation lines are dropped: none we read has them)."""
    out = {}
    for line in paragraph.splitlines():
        if line and not line[0].isspace() and ": " in line:
            key, value = line.split(": ", 1)
            out[key] = value
    return out


def _groups(relation: str) -> list[list[str]]:
    """``a (>= 1) | b:any, c`` → [[a, b], [c]]: versions are not compared, since one suite is one
    consistent set."""
    return [_names(group.replace("|", ",")) for group in relation.split(",") if group.strip()]


def _names(relation: str) -> list[str]:
    return [re.split(r"[\s(:\[]", part.strip(), maxsplit=1)[0] for part in relation.split(",") if part.strip()]


def _get(url: str) -> bytes:
    import httpx

    try:
        response = httpx.get(url, follow_redirects=True, timeout=120)
        response.raise_for_status()
    except httpx.HTTPError as error:
        raise DebianError(
            f"cannot read Debian's package index at {url}: {error}",
            hint="cognix lock needs deb.debian.org for the offline toolchain's packages; "
            "check the network, or build with --toolchain nixpkgs",
        ) from None
    return response.content


def download(package: DebianPackage, target: Path) -> Path:
    """``package``'s .deb at ``target``, from Debian's archive or, once it has moved on, from
    snapshot.debian.org; the bytes must have the pinned sha256."""
    import httpx

    failures = []
    for url in (package.url, package.snapshot_url):
        try:
            with httpx.stream("GET", url, follow_redirects=True, timeout=300) as response:
                response.raise_for_status()
                digest = hashlib.sha256()
                with target.open("wb") as out:
                    for chunk in response.iter_bytes(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
        except httpx.HTTPError as error:
            failures.append(f"{url}: {error}")
            continue
        if digest.hexdigest() != package.sha256:
            target.unlink()
            raise DebianError(
                f"{package.name} {package.version}: {url} has sha256 {digest.hexdigest()}, "
                f"but the lock pins {package.sha256}",
                hint=f"if the lock was edited, restore it; to pin what Debian serves now, run "
                f"`cognix lock --upgrade-package {package.name}`",
            )
        return target
    raise DebianError(
        f"cannot download {package.name} {package.version}, which the lock pins:\n  " + "\n  ".join(failures),
        hint=f"Debian may have replaced it in a point release; `cognix lock --upgrade-package {package.name}` "
        "pins the current version",
    )
