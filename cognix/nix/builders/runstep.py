"""Nix builder (offline toolchain) and host probe: run one cog.yaml ``build.run`` step as Cog
does, as root in the image's own file system, and keep what it writes.

The step sees the image's base (its users, /bin/sh, /usr and /etc of the system packages, the
CA bundle), the Python environment on PATH, and what the earlier steps wrote, in a root made by
bubblewrap (a user namespace: no privileges needed, inside Nix's sandbox or out). It runs in
``/src``, which is empty: as in Cog, the model source is added after the steps. ``$out`` holds
every file the steps have written so far, outside the base, /tmp and the mounts: the image's
run layer, at its own paths. As in the store, files keep only their executable bit.

Each step is a fixed-output derivation whose hash ``cognix lock`` recorded by running this same
script on the host (twice, to name any file that differs), so a step may use the network, and a
secret (``mounts: [{type: secret}]``) is bound read-only at its target for that step only and
removed before ``$out`` is collected. Run with ``probe``, the script writes its own attributes
instead, for the host to run it with.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # layering.py and oci.py, beside this script
import layering

attrs = json.loads(Path(".attrs.json").read_text())  # Nix 2.8: NIX_ATTRS_JSON_FILE is the host path
out = Path(attrs["outputs"]["out"])
SECRETS = "/cognix-secrets"  # where `cognix build --secret` puts each secret in Nix's sandbox
MOUNTS = ("nix", "dev", "proc", "tmp")  # never part of the layer
HOST_FILES = ("etc/resolv.conf", "etc/hosts")  # the network as the build sees it, for this run only


def fail(message: str) -> SystemExit:
    print(f"error: {message}", file=sys.stderr)
    return SystemExit(1)


if attrs.get("probe"):  # the host runs the step itself: give it exactly these attributes
    out.write_text(json.dumps({k: v for k, v in attrs.items() if k not in ("probe", "outputs")}, sort_keys=True))
    sys.exit(0)

step = f"build.run step {attrs['index']} ({attrs['command']!r})"
root = Path("root").absolute()


def prepare(scratch: Path) -> dict[str, layering.oci.Entry]:
    """The root the step sees: the image's base, the mount points, what earlier steps wrote.
    Returns the base's entries by path."""
    base = layering.base_entries(attrs["dirs"], attrs["files"], scratch)
    layering.materialise(base, root)
    for folder in (*MOUNTS, "nix/store", "src", "root"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    if attrs["previous"]:  # what the earlier steps wrote, replacing (never writing through) the base's links
        previous = Path(attrs["previous"])
        for source in sorted(previous.rglob("*")):
            target = root / source.relative_to(previous)
            if source.is_dir() and not source.is_symlink():
                if target.is_symlink() or (target.exists() and not target.is_dir()):
                    target.unlink()
                target.mkdir(exist_ok=True)
                target.chmod(0o755)
                continue
            if target.is_symlink() or target.exists():
                target.unlink()
            if source.is_symlink():
                target.symlink_to(os.readlink(source))
            else:
                shutil.copyfile(source, target)
                target.chmod(0o755 if os.access(source, os.X_OK) else 0o644)
    return {entry.path: entry for entry in layering.oci.unique_sorted(base)}


def run() -> None:
    """The step, in bubblewrap, with the host's resolver files and its secrets bound read-only."""
    binds: list[str] = []
    placeholders: list[Path] = []  # mount points and the folders made for them, removed afterwards

    def bind(source: str, target: str) -> None:
        place = root / target.lstrip("/")
        if place.is_symlink() or place.exists():
            raise fail(f"{step}: cannot mount over /{target.lstrip('/')}, which the image already has")
        made = [folder for folder in reversed(place.parents) if folder.is_relative_to(root) and not folder.exists()]
        place.parent.mkdir(parents=True, exist_ok=True)
        place.touch()
        placeholders.extend([place, *reversed(made)])
        binds.extend(["--ro-bind", source, "/" + target.lstrip("/")])

    for name in HOST_FILES:
        if Path("/" + name).exists() and not (root / name).exists():
            bind("/" + name, name)
    for secret in attrs["secrets"]:
        source = attrs.get("secretSources", {}).get(secret["id"], f"{SECRETS}/{secret['id']}")
        if not Path(source).is_file():
            raise fail(
                f"{step} mounts the secret {secret['id']!r}, which was not given: "
                f"pass --secret id={secret['id']},src=FILE"
            )
        bind(source, secret["target"])
    # the image's own environment, HOME included: what a step caches in ~ the model finds there
    environment = attrs["environment"]
    namespaces = ["--unshare-user", "--uid", "0", "--gid", "0", "--unshare-ipc", "--unshare-pid", "--die-with-parent"]
    namespaces.append("--new-session")  # no access to the terminal cognix runs in
    mounts = ["--bind", str(root), "/", "--ro-bind", "/nix/store", "/nix/store", "--dev", "/dev", "--proc", "/proc"]
    command = [
        f"{attrs['bwrap']}/bin/bwrap",
        *namespaces,
        *mounts,
        "--tmpfs",
        "/tmp",
        *binds,
        "--chdir",
        "/src",
        "--clearenv",
        *(arg for name, value in sorted(environment.items()) for arg in ("--setenv", name, value)),
        "/bin/sh",
        "-c",
        attrs["command"],
    ]
    try:
        ran = subprocess.run(command, stdin=subprocess.DEVNULL)
    finally:
        for place in placeholders:
            if place.is_dir():
                if not any(place.iterdir()):
                    place.rmdir()
            else:
                place.unlink()
    if ran.returncode != 0:
        raise fail(f"{step} failed with exit status {ran.returncode}")


def collect(base: dict[str, layering.oci.Entry]) -> None:
    """Everything in the root but the mounts and the base as the image has it."""

    def unchanged(rel: str, path: Path) -> bool:
        entry = base.get(rel)
        if entry is None:
            return False
        if entry.kind == "dir":
            return path.is_dir() and not path.is_symlink()
        if entry.kind == "symlink":
            return path.is_symlink() and os.readlink(path) == entry.target
        assert entry.source is not None
        return path.is_file() and not path.is_symlink() and path.read_bytes() == entry.source.read_bytes()

    out.mkdir()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel.split("/")[0] in MOUNTS or unchanged(rel, path):
            continue
        target = out / rel
        if path.is_symlink():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(os.readlink(path))
        elif path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.is_file():  # sockets and FIFOs a step left behind have no place in an image
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


with tempfile.TemporaryDirectory(dir=".") as scratch:
    base = prepare(Path(scratch))
    run()
    collect(base)
