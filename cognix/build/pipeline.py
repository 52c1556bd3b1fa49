"""``cognix build``: lock → .cognix/ → nix build → OCI archive.

The image's Python environment is built first and asked for the predictor's OpenAPI schema
(the ``run.cog.openapi_schema`` label): user code is imported outside the sandbox, by exactly
the Python and packages the image will run, and never inside a Nix build.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from cognix.build import generate, nixcli, sbom, sources, steps
from cognix.errors import CognixError
from cognix.image.archive import Image, read_image
from cognix.nix.builders import oci
from cognix.project import lock as locking
from cognix.project.config import Project
from cognix.project.pylock import LOCK_NAME, Lock

SBOM_NAME = "sbom.cdx.json"  # in .cognix/, beside the image it describes


def ensure_lock(
    project: Project,
    *,
    toolchain: str | None,
    locked: bool,
    progress: Callable[[str], None],
    secrets: dict[str, Path] | None = None,
) -> Lock:
    """The current lock for ``toolchain`` (None: the recorded one): made or refreshed when stale,
    unless ``locked`` (then refused)."""
    current = locking.read_lock(project)
    # --locked keeps the recorded toolchain: choose_toolchain refuses another one by name
    reason = locking.stale_reason(project, current, toolchain=None if locked else toolchain)
    if reason is None and current is not None:
        return current
    if locked:
        raise CognixError(f"{LOCK_NAME} is stale: {reason}", hint="run `cognix lock`, or drop --locked")
    progress(f"locking ({reason})")
    return steps.lock_project(project, toolchain=toolchain, secrets=secrets or {}, progress=progress)


def choose_toolchain(project: Project, lock: Lock, requested: str | None, *, locked: bool) -> Lock:
    """The lock, with ``requested`` recorded as its toolchain when one is given, so that a rebuild
    without flags uses the same one."""
    if requested is None or requested == lock.cognix.toolchain:
        return lock
    name = locking.toolchain_name(requested)
    if not locked:
        return locking.record_toolchain(project, lock, name)
    recorded = lock.cognix.builds_with
    if name != recorded:
        raise CognixError(
            f"{LOCK_NAME} records the {recorded} toolchain, and --locked keeps the lock as is",
            hint=f"drop --toolchain to build with {recorded}, or drop --locked to record {requested}",
        )
    return lock  # the default, asked for by name: nothing to record while the lock is kept as is


def toolchain_for(kind: str, lock: Lock, progress: Callable[[str], None]) -> generate.Toolchain:
    if kind == "offline":
        from cognix.build import toolchain

        prefix = toolchain.prepare(lock.cognix.python, lock.cognix.debian, progress)
        toolchain.store_system_debs(lock.cognix.debian, progress)
        return generate.Toolchain("offline", path=prefix)
    pin = lock.cognix.nixpkgs
    return generate.Toolchain("nixpkgs", nixpkgs_url=pin.url, nixpkgs_nar_hash=pin.nar_hash)


def prepare(
    project: Project,
    *,
    toolchain: str | None,
    tag: str,
    locked: bool,
    progress: Callable[[str], None],
    secrets: dict[str, Path] | None = None,
) -> tuple[Lock, generate.Toolchain]:
    """Everything before Nix builds: Nix present, a current lock of wheels, the toolchain, the
    system packages it can provide, and ``flake.nix`` + ``.cognix/`` written."""
    nixcli.build_users_options()  # before any slow step: no (usable) Nix, no build
    for key in project.entry_keys:
        project.entry(key)  # a missing predictor file, named at its cog.yaml line
    lock = ensure_lock(project, toolchain=toolchain, locked=locked, progress=progress, secrets=secrets)
    if sdists := [f"{p.name} {p.version}" for p in lock.packages if p.wheel is None]:
        raise CognixError(
            f"cognix build installs wheels only, and {', '.join(sdists)} is locked as a source distribution",
            hint="pin a version that ships a wheel for linux x86_64 and this Python, then run `cognix lock`",
        )
    lock = choose_toolchain(project, lock, toolchain, locked=locked)
    chosen = toolchain_for(lock.cognix.builds_with, lock, progress)
    if any(step.output_hash is None for step in lock.cognix.run_steps):  # another toolchain's, cleared
        lock = steps.record_hashes(project, lock, chosen, secrets=secrets or {}, progress=progress)
    generate.check_system_packages(lock.cognix.system_packages, chosen)
    generate.write(project, lock, chosen, tag=tag)
    return lock, chosen


def build_image(
    project: Project,
    *,
    tag: str | None,
    toolchain: str | None,
    locked: bool = False,
    secrets: dict[str, Path] | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> Image:
    """Build the project's image; the archive is kept at ``.cognix/image.tar`` (a store link)."""
    tag = tag or generate.default_tag(project)
    lock, chosen = prepare(project, toolchain=toolchain, tag=tag, locked=locked, progress=progress, secrets=secrets)
    offline = chosen.kind == "offline"
    folder = project.dir / sources.GENERATED
    # a build.run step that Nix runs itself (not yet in this store) reads its secrets from the sandbox
    extra = steps.sandbox_options(secrets or {})
    nix_build = functools.partial(nixcli.build, project.dir, offline=offline, progress=progress, extra=extra)
    env = nix_build("pythonEnv", out_link=folder / "python-env")
    roots = nix_build("imageClosure", out_link=folder / "image-closure")
    src = nixcli.source_path(project.dir)
    check_server_starts(env)
    progress("computing the OpenAPI schema with the image's Python")
    runner = project.config.runner
    concurrency = project.config.concurrency
    slots = concurrency.max if concurrency else None
    labels = {"run.cog.openapi_schema": openapi_schema(runner, env, src, slots)} if runner else {}
    progress("writing the SBOM")
    document = write_sbom(lock, env, roots, src, folder / SBOM_NAME)
    labels[sbom.LABEL] = hashlib.sha256(document.encode()).hexdigest()
    generate.add_labels(project, labels)
    result = nix_build("image", out_link=folder / "image.tar" if offline else folder / "stream-image")
    if offline:
        return read_image(result)
    progress("streaming the image")  # nixpkgs: a script that writes a docker-archive
    return read_image(stream_to_oci(result, folder / "image.tar", tag))


def stream_to_oci(script: Path, archive: Path, tag: str) -> Path:
    """Run nixpkgs' image stream and re-pack it as an OCI archive (oci.from_docker_archive), its
    layers named after the plan (stream_conf.py writes the names beside the conf)."""
    conf = re.search(r"(/nix/store/[^ ]+)/conf\.json", script.read_text())
    names_file = Path(conf.group(1)) / "layer-names.json" if conf else None
    names = json.loads(names_file.read_text()) if names_file and names_file.is_file() else None
    with tempfile.TemporaryDirectory(prefix="cognix-stream-", dir=archive.parent) as scratch:
        stream = Path(scratch) / "docker.tar"
        with stream.open("wb") as out:
            ran = subprocess.run([str(script)], stdout=out, stderr=subprocess.PIPE, text=True)
        if ran.returncode != 0:
            raise CognixError("streaming the image failed", details=ran.stderr.strip()[-4000:])
        oci.from_docker_archive(stream, Path(scratch) / "layout", tag, names)
        stream.unlink()  # an uncompressed copy of the whole image: gone before the archive is written
        if archive.is_symlink() or archive.exists():
            archive.unlink()
        oci.write_archive(Path(scratch) / "layout", archive)
    return archive


def write_sbom(lock: Lock, env: Path, roots: Path, src: Path, target: Path) -> str:
    """The image's CycloneDX SBOM (cognix.build.sbom), from its closure before it is packed."""
    probe = [str(env / "bin" / "python"), "-I", "-c", "import platform; print(platform.python_version())"]
    version = subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip()
    store_paths = [info for info in nixcli.path_info(roots) if info["path"] != str(roots)]
    document = sbom.build_sbom(
        name="cognix-image",
        lock=lock,
        env=env,
        python_version=version,
        store_paths=store_paths,
        source=nixcli.path_info(src)[0],
    )
    target.write_text(document)
    return document


def check_server_starts(env: Path) -> None:
    """The image's Python imports the server (fastapi, uvicorn and what they import): a lock that
    lacks one of them, say after an edit, stops the build here instead of the image at start."""
    command = [str(env / "bin" / "python"), "-I", "-c", "import cognix.server.app"]
    clean = {"PATH": f"{env}/bin", "HOME": tempfile.gettempdir(), "LANG": "C.UTF-8"}
    result = subprocess.run(command, capture_output=True, text=True, env=clean)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise CognixError(  # the message is the import's own last line: the traceback would only say where
            f"the image's Python cannot import cognix's server: {last}",
            hint=f"{LOCK_NAME} lacks a package the server needs (was it edited?): run `cognix lock`",
        )


def openapi_schema(runner: str, env: Path, src: Path, concurrency: int | None) -> str:
    """Run by the image's Python, isolated from this host's environment, on exactly /src; it also
    refuses a ``concurrency`` (cog.yaml's ``concurrency.max``) the predictor cannot take."""
    from cognix.runtime.schema import CONCURRENCY_REFUSED

    command = [str(env / "bin" / "python"), "-I", "-B", "-m", "cognix.runtime.schema", str(src), runner, "predict"]
    clean = {"PATH": f"{env}/bin", "HOME": tempfile.gettempdir(), "LANG": "C.UTF-8"}
    if concurrency is not None:
        clean["COG_MAX_CONCURRENCY"] = str(concurrency)
    result = subprocess.run(command, cwd=src, capture_output=True, text=True, env=clean)
    if result.returncode == CONCURRENCY_REFUSED:
        raise CognixError(
            f"cog.yaml: {result.stderr.strip().splitlines()[-1]}",
            hint=f"make {runner}'s run() an `async def`, or set concurrency.max to 1",
        )
    if result.returncode != 0:
        raise CognixError(
            f"the image's Python could not load {runner} to compute its schema",
            details=result.stderr.strip()[-4000:],
            hint="fix the error above (cognix predict shows it too), then build again",
        )
    return result.stdout.strip()


def export(image: Image, output: Path, fmt: str, tag: str) -> None:
    """Copy the archive to ``output`` as an ``oci-archive`` or (through skopeo) a ``docker-archive``."""
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.exists() or output.is_symlink():
        output.unlink()
    if fmt == "oci-archive":
        shutil.copyfile(image.path, output)
        return
    if shutil.which("skopeo") is None:
        raise CognixError(
            "--format docker-archive converts with skopeo, which is not installed",
            hint="install skopeo (apt-get install skopeo), or use the default oci-archive",
        )
    command = ["skopeo", "copy", "--quiet", f"oci-archive:{image.path}", f"docker-archive:{output}:{tag}"]
    copied = subprocess.run(command, capture_output=True, text=True)
    if copied.returncode != 0:
        raise CognixError(f"skopeo could not write {output} as a docker-archive", details=copied.stderr.strip())
