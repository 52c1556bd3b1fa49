"""``cognix load``: an image archive into podman or docker, skipped when that exact image is there.

skopeo copies the archive into podman's storage under exactly the name asked for; docker 20.10
cannot read OCI archives (docs/machines.md#docker), so for docker skopeo converts it to a
docker-archive first. The image ID both engines report is the config digest, which is what
"already there" compares.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from cognix.errors import CognixError
from cognix.image.archive import read_image

ENGINES = ("podman", "docker")


def load(archive: Path, *, engine: str | None = None, name: str | None = None) -> str:
    """Load ``archive`` (as ``name``, default: the name it was built with); returns what happened."""
    if engine is not None and engine not in ENGINES:
        raise CognixError(f"unknown --engine {engine!r}", hint=f"use one of: {', '.join(ENGINES)}")
    engine = engine or next((e for e in ENGINES if shutil.which(e)), None)
    if engine not in ENGINES or shutil.which(engine) is None:
        raise CognixError(
            f"no container engine to load into ({engine or 'neither podman nor docker'} found)",
            hint="install podman or docker, or push to a registry with `cognix push`",
        )
    image = read_image(archive)
    name, config = name or image.ref_name, image.config_digest
    present = subprocess.run([engine, "image", "inspect", "--format", "{{.Id}}", name], capture_output=True, text=True)
    if present.returncode == 0 and present.stdout.strip().removeprefix("sha256:") == config.removeprefix("sha256:"):
        return f"{name} is already in {engine} ({config[:19]}): nothing to load"
    # named exactly `name` on the way in: a plain `podman load` would also apply the built-in name
    if engine == "podman":
        _run(["skopeo", "copy", "--quiet", f"oci-archive:{archive}", f"containers-storage:{name}"], "load")
    else:
        with tempfile.TemporaryDirectory(prefix="cognix-load-") as scratch:
            converted = Path(scratch) / "docker.tar"
            _run(
                ["skopeo", "copy", "--quiet", f"oci-archive:{archive}", f"docker-archive:{converted}:{name}"], "convert"
            )
            _run(["docker", "load", "-i", str(converted)], "load")
    return f"Loaded {name} into {engine} ({config[:19]})"


def _run(command: list[str], what: str) -> None:
    if shutil.which(command[0]) is None:
        raise CognixError(
            f"{command[0]} is needed to {what} the image and is not installed",
            hint=f"install {command[0]} (apt-get install {command[0]})",
        )
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise CognixError(f"`{' '.join(command[:2])}` failed to {what} the image", details=done.stderr.strip()[-3000:])
