"""Run Nix for cognix: find it, check its version, build an attribute with progress.

cognix's Nix code is kept 2.8-safe (Debian 12 and Ubuntu 22.04 ship 2.8), so only "no Nix at
all" and "older than 2.8" are refused. Builds run ``nix build -f .cognix/build.nix ATTR --json``
(no flake, so only the model's files are copied to the store) and stream Nix's log into
``progress``; a failure shows Nix's own error lines, never a Python traceback.
"""

from __future__ import annotations

import base64
import functools
import grp
import json
import os
import re
import shutil
import subprocess
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cognix.errors import CognixError

MIN_VERSION = (2, 8)
INSTALL_HINT = (
    "install Nix 2.8 or newer: `apt-get install nix-bin` on Debian/Ubuntu, or https://nixos.org/download; "
    "then run the command again"
)
FEATURES = ["--extra-experimental-features", "nix-command flakes"]


class NixError(CognixError):
    """Nix is missing, too old, or a build failed."""


@functools.cache
def version() -> tuple[int, ...]:
    """The installed Nix's version, or a clear error (asked once per run)."""
    if shutil.which("nix") is None:
        raise NixError("cognix builds images with Nix, and `nix` is not on PATH", hint=INSTALL_HINT)
    out = subprocess.run(["nix", "--version"], capture_output=True, text=True).stdout
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out)
    if match is None:
        raise NixError(f"cannot read the Nix version from `nix --version`: {out.strip()!r}", hint=INSTALL_HINT)
    found = tuple(int(part or 0) for part in match.groups())
    if found[:2] < MIN_VERSION:
        raise NixError(f"Nix {'.'.join(map(str, found))} is too old (cognix needs 2.8 or newer)", hint=INSTALL_HINT)
    return found


@functools.cache
def show_config() -> dict[str, str]:
    """Nix's effective settings (``nix show-config``: nix.conf, ``NIX_CONFIG`` and defaults)."""
    version()
    done = subprocess.run(["nix", *FEATURES, "show-config"], capture_output=True, text=True)
    pairs = (line.split(" = ", 1) for line in done.stdout.splitlines() if " = " in line)
    return {key.strip(): value.strip() for key, value in pairs}


@functools.cache
def build_users_options() -> list[str]:
    """Build as root without build users when the configured group does not exist.

    Nix's compiled-in default is ``build-users-group = nixbld``; Debian's ``nix-bin`` without its
    recommended ``nix-setup-systemd`` (``apt-get install --no-install-recommends``) never creates
    that group, and every build then fails. Root using the local store directly (single-user mode)
    may build as itself, which is Nix's own ``build-users-group =``; anyone else needs the group.
    Said once per run, on stderr.
    """
    group = show_config().get("build-users-group", "")
    if not group or _group_exists(group):
        return []
    store = os.environ.get("NIX_REMOTE") or show_config().get("store", "auto")
    if os.geteuid() == 0 and store.split("?", 1)[0] in ("auto", "local", ""):  # local?root=… too
        print(
            f"note: Nix's build-users-group {group!r} does not exist; building as root without build users "
            "(single-user mode, `--option build-users-group ''`)",
            file=sys.stderr,
        )
        return ["--option", "build-users-group", ""]
    raise _missing_group(group)


def _missing_group(group: str) -> NixError:
    """Said before a build (this process's Nix) or after one failed (a daemon's Nix)."""
    return NixError(
        f"Nix is configured to build as the users of group {group!r}, which does not exist",
        hint="create the build users (Debian/Ubuntu: `apt-get install nix-setup-systemd`, which adds group nixbld "
        "and its users), or, building as root with no daemon, set `build-users-group =` in /etc/nix/nix.conf",
    )


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def options(offline: bool) -> list[str]:
    """What every Nix command cognix runs is given: the experimental commands it uses, build users
    as this machine can have them, the sandbox on for every toolchain, for the reproducibility
    claims (Debian's nix.conf turns it off), as many builds at once as there are cores (wheel
    installs and layers are independent; Nix's default is one), and for the offline toolchain no
    binary cache (the lookup times out without network)."""
    offline_options = ["--option", "substituters", ""] if offline else []
    parallel = ["--option", "max-jobs", "auto"]
    return [*FEATURES, *build_users_options(), "--option", "sandbox", "true", *parallel, *offline_options]


def build(
    project_dir: Path,
    attribute: str,
    *,
    offline: bool,
    out_link: Path,
    extra: list[str] | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> Path:
    """Build ``attribute`` of ``.cognix/build.nix``; returns the output path (kept by ``out_link``)."""
    version()
    if out_link.exists() and not out_link.is_symlink():  # a copied project's, or the other toolchain's file
        if out_link.is_dir():
            shutil.rmtree(out_link)
        else:
            out_link.unlink()
    command = [
        "nix",
        "build",
        *options(offline),
        "-f",
        ".cognix/build.nix",
        attribute,
        "--json",
        "-L",
        "--out-link",
        str(out_link),
        *(extra or []),
    ]
    return Path(_run(command, project_dir, progress)[0]["outputs"]["out"])


def add_fixed(paths: list[Path], *, recursive: bool = False) -> None:
    """Add ``paths`` to the store as sha256 fixed-output paths: flat, the paths that
    ``<nix/fetchurl.nix>`` makes with the same name and hash; recursive, those of a fixed-output
    derivation of that name (a build.run step). Nix then need not fetch or build them."""
    if paths:
        command = ["nix-store", "--add-fixed", *(["--recursive"] if recursive else []), "sha256", *map(str, paths)]
        added = subprocess.run(command, capture_output=True, text=True)
        if added.returncode != 0:
            names = ", ".join(path.name for path in paths[:5]) + (", …" if len(paths) > 5 else "")
            raise NixError(f"nix-store could not add {names} to the store", details=added.stderr)


def nar_hash(path: Path) -> str:
    """The sha256 of ``path``'s NAR serialisation in Nix's base-32: a recursive fixed-output hash."""
    done = subprocess.run(["nix-hash", "--type", "sha256", "--base32", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        raise NixError(f"nix-hash could not hash {path}", details=done.stderr)
    return done.stdout.strip()


def source_path(project_dir: Path) -> Path:
    """The model source as Nix copied it into the store (what the image's /src holds)."""
    command = ["nix", "eval", *FEATURES, "--raw", "-f", ".cognix/build.nix", "src"]
    done = subprocess.run(command, cwd=project_dir, capture_output=True, text=True)
    if done.returncode != 0:
        raise _failure(done.stderr.splitlines())
    return Path(done.stdout.strip())


def check_closure(output: Path, progress: Callable[[str], None]) -> None:
    """Rebuild cognix's own derivations behind ``output`` (those whose builder runs one of its
    Python scripts: wheel installs, the environment, the conf) and fail if any result differs
    (``nix-store --check``). nixpkgs' own graph (stdenv, gcc, glibc, …) is an input, not rebuilt:
    it was substituted from a cache, and rebuilding it would take hours."""
    deriver = subprocess.run(["nix-store", "-q", "--deriver", str(output)], capture_output=True, text=True)
    drv = deriver.stdout.strip()
    closure = subprocess.run(["nix-store", "-qR", drv], capture_output=True, text=True)
    derivations = [line for line in closure.stdout.split() if line.endswith(".drv")]
    if deriver.returncode != 0 or closure.returncode != 0 or not derivations:
        raise NixError(
            f"cannot find the derivations behind {output} to check them",
            details=deriver.stderr + closure.stderr,
            hint="build the image again (`cognix build`), then verify",
        )
    shown = subprocess.run(["nix", *FEATURES, "show-derivation", *derivations], capture_output=True, text=True)
    if shown.returncode != 0:
        raise NixError("`nix show-derivation` could not read the image's derivations", details=shown.stderr)
    shown_json = json.loads(shown.stdout)
    shown_json = shown_json.get("derivations", shown_json)  # newer Nix nests them
    own = sorted(path for path, info in shown_json.items() if any(str(a).endswith(".py") for a in info.get("args", [])))
    if not own:
        raise NixError(f"none of the derivations behind {output} is cognix's", hint="build the image with cognix build")
    command = ["nix-store", *build_users_options(), "--realise", "--check", *own]
    _run(command, output.parent, progress, json_output=False)


def _run(
    command: list[str], cwd: Path, progress: Callable[[str], None], *, json_output: bool = True
) -> list[dict[str, Any]]:
    tail: deque[str] = deque(maxlen=40)
    with subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stderr is not None and proc.stdout is not None
        for line in proc.stderr:
            line = line.rstrip()
            tail.append(line)
            if line.startswith("building '"):
                progress("building " + line.split("-", 1)[1].split(".drv")[0])
            elif line:
                progress(line[:120])
        stdout = proc.stdout.read()
    if proc.returncode != 0:
        raise _failure(list(tail))
    return json.loads(stdout) if json_output else []


_HASH_MISMATCH = re.compile(r"hash mismatch in fixed-output derivation '[^']*?-([^'/]+?)(?:\.drv)?'")


def _failure(log: list[str]) -> NixError:
    text = "\n".join(log)
    if nixpkgs := re.search(r"unable to download '(https://github.com/NixOS/nixpkgs/[^']+)'", text):
        return NixError(
            f"cannot fetch nixpkgs from {nixpkgs.group(1)} (no network to GitHub here?)",
            hint="build with --toolchain offline (Debian's Python; no nixpkgs needed), "
            "or run where GitHub and cache.nixos.org are reachable",
        )
    mismatch = _HASH_MISMATCH.search(text)
    if mismatch and (step := re.fullmatch(r"run-step-(\d+)", mismatch.group(1))):
        return NixError(
            f"build.run step {step.group(1)} wrote other files than when `cognix lock` ran it "
            "(what it downloads changed, or it is not reproducible)",
            hint="run `cognix lock` to run the steps again and record what they write now",
        )
    if mismatch:
        wanted = re.search(r"specified:\s*(\S+)", text)
        got = re.search(r"got:\s*(\S+)", text)
        return NixError(
            f"{mismatch.group(1)} does not match the sha256 in pylock.toml"
            + (
                f" (locked {sha256_hex(wanted.group(1))}, downloaded {sha256_hex(got.group(1))})"
                if wanted and got
                else ""
            ),
            hint="the index now serves a different file, or the lock was edited: re-lock that package with "
            "`cognix lock --upgrade-package NAME` and review the change",
        )
    if group := re.search(r"the group '([^']*)' specified in 'build-users-group' does not exist", text):
        return _missing_group(group.group(1))
    errors = [line for line in log if line.startswith("error:")]
    message = errors[0].removeprefix("error:").strip() if errors else "nix build failed"
    return NixError(
        f"nix build failed: {message}",
        details=text,
        hint="the Nix log above says which step failed; fix it and run the command again",
    )


def sha256_hex(nix_hash: str) -> str:
    """A sha256 as Nix prints it (SRI ``sha256-<base64>``, or ``sha256:`` with hex or Nix's
    base-32) in hex, as pylock.toml and CycloneDX hold it."""
    if nix_hash.startswith("sha256-"):
        return base64.b64decode(nix_hash.removeprefix("sha256-")).hex()
    value = nix_hash.removeprefix("sha256:")
    return value if len(value) == 64 else nix32_to_hex(value)


_NIX32 = "0123456789abcdfghijklmnpqrsvwxyz"


def nix32_to_hex(text: str) -> str:
    """Nix's base-32 as hex: 5 bits a character, least significant first."""
    value = 0
    for char in text:
        value = (value << 5) | _NIX32.index(char)
    size = len(text) * 5 // 8
    return value.to_bytes(size + 1, "big")[-size:][::-1].hex()


def path_info(root: Path) -> list[dict[str, Any]]:
    """``nix path-info --json --recursive`` of ``root``: every store path with its NAR hash and size."""
    command = ["nix", *FEATURES, "path-info", "--json", "--recursive", str(root)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise NixError(f"`nix path-info` could not list {root}", details=done.stderr.strip()[-2000:])
    data = json.loads(done.stdout)
    if isinstance(data, dict):  # Nix >= 2.19: a map keyed by path
        data = [{"path": path, **info} for path, info in data.items()]
    return sorted(data, key=lambda info: info["path"])
