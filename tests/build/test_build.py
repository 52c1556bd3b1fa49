"""``cognix build`` for real: lock from PyPI → Nix (offline toolchain, sandboxed) → OCI archive →
skopeo → podman (runc) → HTTP prediction → ``cognix verify`` from an empty store.

Needs Nix (``apt-get install nix-bin``), and podman/runc/skopeo for the container checks; CI
installs them all. Wheels come from PyPI, hence the ``network`` mark.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cognix.image.archive import layer_files
from tests.conftest import EXAMPLES, copy_example, run_cli
from tests.server_helpers import free_port

pytestmark = [
    pytest.mark.network,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("nix") is None, reason="Nix is not installed (apt-get install nix-bin)"),
]
needs_skopeo = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
needs_podman = pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed")
# docs/machines.md#podman: crun fails on this kernel's hybrid cgroups; runc needs explicit rlimits
PODMAN = [
    "podman",
    "--storage-driver",
    "vfs",
    "--cgroup-manager",
    "cgroupfs",
    "--events-backend",
    "file",
    "--runtime",
    "runc",
]
RUN_FLAGS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


def build(project: Path, *args: str) -> tuple[str, subprocess.CompletedProcess]:
    result = run_cli("build", "--toolchain", "offline", "-o", str(project / "image.tar"), *args, cwd=project)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip(), result


def inspect(archive: Path, *flags: str) -> dict:
    out = subprocess.run(["skopeo", "inspect", *flags, f"oci-archive:{archive}"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def layers(archive: Path) -> list[tuple[str, str]]:
    """(name, digest) of each layer, from the archive's manifest (cognix names its layers)."""
    from cognix.image.archive import read_image

    return [(layer.name, layer.digest) for layer in read_image(archive).layers]


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    project = tmp_path_factory.mktemp("hello") / "hello-world"
    copy_example("hello-world", project)
    digest, result = build(project)
    assert "Built" in result.stderr and "site-packages" in result.stderr
    return project, digest


def test_build_writes_an_oci_archive_with_named_layers(hello: tuple[Path, str]) -> None:
    project, digest = hello
    assert digest.startswith("sha256:")
    assert [name for name, _ in layers(project / "image.tar")] == [
        "base",
        "python",
        "system-packages",
        "cognix",
        "site-packages",
        "src",
    ]
    assert (project / "flake.nix").is_file() and (project / ".cognix" / "build.nix").is_file()


@needs_skopeo
def test_skopeo_reads_the_image_and_its_cog_config(hello: tuple[Path, str]) -> None:
    project, digest = hello
    archive = project / "image.tar"
    assert inspect(archive)["Digest"] == digest
    config = inspect(archive, "--config")["config"]
    assert config["WorkingDir"] == "/src" and config["User"] == "1000:1000"
    assert config["ExposedPorts"] == {"5000/tcp": {}}
    assert config["Entrypoint"][1:] == ["-m", "cognix.server"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["COG_PREDICT_TYPE_STUB"] == "predict.py:Runner" and env["PYTHONUNBUFFERED"] == "1"
    labels = config["Labels"]
    expected_schema = run_cli("schema", "--compact", cwd=project).stdout.strip()
    assert labels["run.cog.openapi_schema"] == expected_schema
    assert json.loads(labels["run.cog.config"])["run"] == "predict.py:Runner"
    assert labels["run.cog.version"]


@pytest.fixture(scope="module")
def blur(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pillow: a manylinux wheel whose bundled libraries (pillow.libs) load each other."""
    project = tmp_path_factory.mktemp("blur") / "blur"
    copy_example("blur", project)
    build(project)
    return project


def serve_in_podman(archive: Path | str, request: dict, image_ref: str | None = None) -> dict:
    """Run the image (runc flags of docs/machines.md#podman) on a loopback port; one prediction."""
    port = free_port()
    name = f"cognix-test-{port}"
    started = subprocess.run(
        [
            *PODMAN,
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "host",
            "-e",
            f"PORT={port}",
            *RUN_FLAGS,
            image_ref or f"oci-archive:{archive}",
        ],
        capture_output=True,
        text=True,
    )
    assert started.returncode == 0, started.stderr
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health-check").json()["status"] == "READY":
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, subprocess.run([*PODMAN, "logs", name], capture_output=True, text=True)
            time.sleep(0.2)
        response = httpx.post(f"http://127.0.0.1:{port}/predictions", json=request, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()
    finally:
        subprocess.run([*PODMAN, "rm", "-f", "-t", "1", name], capture_output=True)
        prune_images()


def prune_images() -> None:
    """Drop the images podman imported from archives: with vfs storage each is a full copy, and a
    suite's worth (the 1.8 GB CUDA image among them) would fill a CI machine's disk."""
    subprocess.run([*PODMAN, "image", "prune", "-a", "-f"], capture_output=True)


@needs_podman
def test_podman_runs_the_image_and_serves_predictions(hello: tuple[Path, str]) -> None:
    prediction = serve_in_podman(hello[0] / "image.tar", {"input": {"text": "container"}})
    assert prediction["status"] == "succeeded" and prediction["output"] == "hello container"


@needs_podman
def test_a_wheel_with_bundled_native_libraries_works_in_the_image(blur: Path) -> None:
    from PIL import Image

    image = base64.b64encode((EXAMPLES / "blur" / "input.png").read_bytes()).decode()
    prediction = serve_in_podman(
        blur / "image.tar", {"input": {"image": f"data:image/png;base64,{image}", "radius": 3}}
    )
    assert prediction["status"] == "succeeded", prediction
    header, data = prediction["output"].split(",", 1)
    assert header == "data:image/png;base64"
    with (
        Image.open(io.BytesIO(base64.b64decode(data))) as blurred,
        Image.open(EXAMPLES / "blur" / "input.png") as original,
    ):
        assert blurred.size == original.size


@needs_podman
def test_the_image_runs_as_a_non_root_user_with_a_writable_tmp(hello: tuple[Path, str]) -> None:
    project, _ = hello
    archive = project / "image.tar"
    python = inspect(archive, "--config")["config"]["Entrypoint"][0]
    probe = "import os, tempfile, ssl; tempfile.TemporaryFile().write(b'x'); print(os.getuid(), os.getcwd(), ssl.get_default_verify_paths().cafile)"
    out = subprocess.run(
        [
            *PODMAN,
            "run",
            "--rm",
            "--network",
            "none",
            *RUN_FLAGS,
            "--entrypoint",
            python,
            f"oci-archive:{archive}",
            "-c",
            probe,
        ],
        capture_output=True,
        text=True,
    )
    prune_images()
    assert out.returncode == 0, out.stderr
    uid, cwd, _ = out.stdout.split()
    assert (uid, cwd) == ("1000", "/src")


def test_verify_rebuilds_from_an_empty_store_to_the_same_digest(hello: tuple[Path, str]) -> None:
    project, digest = hello
    result = run_cli("verify", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == digest
    assert "identical" in result.stderr


def test_editing_predict_py_changes_exactly_the_src_layer(hello: tuple[Path, str], tmp_path: Path) -> None:
    project = tmp_path / "edited"
    shutil.copytree(hello[0], project, ignore=shutil.ignore_patterns("image.tar", ".cognix", "flake.nix"))
    before = layers(hello[0] / "image.tar")
    (project / "predict.py").write_text((project / "predict.py").read_text() + "\n# a comment\n")
    build(project)
    after = layers(project / "image.tar")
    changed = [name for (name, a), (_, b) in zip(before, after, strict=True) if a != b]
    assert changed == ["src"]


def six_project(project, six: str) -> Path:
    """A project whose one requirement is a small pure-Python wheel."""
    return project(
        """
        build:
          python_version: "3.11"
          python_requirements: requirements.txt
        run: "predict.py:Runner"
        """,
        requirements__txt=f"six=={six}\n",
        predict__py="""
        import six
        from cog import BasePredictor

        class Runner(BasePredictor):
            def predict(self) -> str:
                return six.__version__
        """,
    )


def test_a_new_package_version_changes_only_the_layer_holding_it(project) -> None:
    root = six_project(project, "1.16.0")
    build(root)
    before = layers(root / "image.tar")
    old_archive = shutil.copy(root / "image.tar", root.parent / "before.tar")
    (root / "requirements.txt").write_text("six==1.17.0\n")
    build(root)
    after = layers(root / "image.tar")
    changed = [(name, a, b) for (name, a), (_, b) in zip(before, after, strict=True) if a != b]
    # the wheel's layer, and /src because requirements.txt (model source, as in Cog) names the version
    assert [name for name, _, _ in changed] == ["site-packages", "src"]
    old_src, new_src = layer_files(old_archive, changed[1][1]), layer_files(root / "image.tar", changed[1][2])
    assert [path for path in sorted(old_src) if old_src[path] != new_src.get(path)] == ["src/requirements.txt"]


def test_a_wheel_that_does_not_match_its_locked_hash_is_named(project) -> None:
    root = six_project(project, "1.16.0")
    assert run_cli("lock", cwd=root).returncode == 0
    lock = root / "pylock.toml"
    text = lock.read_text()
    start = text.index('sha256 = "', text.index("six-1.16.0")) + len('sha256 = "')
    lock.write_text(text[:start] + "0" * 64 + text[start + 64 :])
    result = run_cli("build", "--toolchain", "offline", "--locked", "-o", str(root / "image.tar"), cwd=root)
    assert result.returncode == 1
    assert (
        "six-1.16.0-py2.py3-none-any.whl does not match the sha256 in pylock.toml (locked " + "0" * 64 in result.stderr
    )
    assert "cognix lock --upgrade-package" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_nix_is_a_clear_error(project) -> None:
    root = project('build:\n  python_version: "3.11"\nrun: "predict.py:Runner"\n')
    result = run_cli("build", "--toolchain", "offline", cwd=root, env={"PATH": "/nonexistent"})
    assert result.returncode == 1
    assert "`nix` is not on PATH" in result.stderr and "apt-get install nix-bin" in result.stderr
    assert "Traceback" not in result.stderr


def test_develop_runs_commands_in_the_image_environment(hello: tuple[Path, str]) -> None:
    """With no flags: the default toolchain needs no nixpkgs."""
    project, _ = hello
    probe = "import sys, fastapi, cognix; print(sys.prefix); print(cognix.__file__)"
    # as root, a Python that may write bytecode must still leave the store untouched
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    result = subprocess.run(
        [sys.executable, "-m", "cognix", "develop", "python", "-c", probe],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    prefix, cognix_file = result.stdout.split()
    assert prefix.startswith("/nix/store/") and prefix.endswith("-python-env")
    assert cognix_file.startswith(prefix)  # the image's cognix, not this checkout's
    closure = subprocess.run(["nix-store", "-qR", prefix], capture_output=True, text=True).stdout.split()
    verified = subprocess.run(["nix-store", "--verify-path", *closure], capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr


def test_exec_passes_stdin_environment_and_exit_status(hello: tuple[Path, str], tmp_path: Path) -> None:
    """`cognix exec` (Cog's `exec`) with the default toolchain: the image's Python, cog.yaml's
    environment and `-e`, stdin piped through, and the command's own exit status."""
    project = tmp_path / "hello-world"
    shutil.copytree(hello[0], project, symlinks=True, ignore=shutil.ignore_patterns("image.tar"))
    with (project / "cog.yaml").open("a") as f:
        f.write("environment:\n  - GREETING=from-cog-yaml\n")
    probe = (
        "import os, sys; print(sys.stdin.read().strip(), os.environ['GREETING'], os.environ['EXTRA'], sys.prefix);"
        "sys.exit(7)"
    )
    result = subprocess.run(
        [sys.executable, "-m", "cognix", "exec", "-e", "EXTRA=x=1", "python", "-c", probe],
        cwd=project,
        input="piped in\n",
        capture_output=True,
        text=True,
    )
    assert result.returncode == 7, result.stderr
    *words, prefix = result.stdout.split()
    assert words == ["piped", "in", "from-cog-yaml", "x=1"]
    assert prefix.startswith("/nix/store/") and prefix.endswith("-python-env")


def test_exec_gives_the_command_the_terminal(hello: tuple[Path, str]) -> None:
    """On a terminal (a pseudo-terminal here), the command sees one: `cognix exec python` is interactive."""
    import pty

    seen: list[bytes] = []

    def read(fd: int) -> bytes:
        data = os.read(fd, 4096)
        seen.append(data)
        return data

    probe = "import sys; print('tty:', sys.stdin.isatty() and sys.stdout.isatty())"
    here = os.getcwd()
    os.chdir(hello[0])
    try:
        status = pty.spawn([sys.executable, "-m", "cognix", "exec", "python", "-c", probe], read)
    finally:
        os.chdir(here)
    assert os.waitstatus_to_exitcode(status) == 0
    assert b"tty: True" in b"".join(seen)


def test_exec_refuses_a_malformed_variable(hello: tuple[Path, str]) -> None:
    result = run_cli("exec", "-e", "NOEQUALS", "true", cwd=hello[0])
    assert result.returncode == 1
    assert "-e 'NOEQUALS' is not NAME=VALUE" in result.stderr and "Traceback" not in result.stderr


def test_a_concurrency_a_synchronous_run_cannot_take_fails_the_build(hello: tuple[Path, str], tmp_path: Path) -> None:
    """Cog refuses `concurrency.max > 1` on a sync run() at build time; so does cognix, before packing."""
    project = tmp_path / "hello-world"
    shutil.copytree(hello[0], project, symlinks=True, ignore=shutil.ignore_patterns("image.tar"))
    with (project / "cog.yaml").open("a") as f:
        f.write("concurrency:\n  max: 2\n")
    result = run_cli("build", "--toolchain", "offline", "-o", str(tmp_path / "image.tar"), cwd=project)
    assert result.returncode == 1
    assert "cog.yaml: concurrency.max > 1 requires an async run() or predict() method" in result.stderr
    assert "make predict.py:Runner's run() an `async def`" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "image.tar").exists()


def test_a_wheel_file_of_the_project_is_built_into_the_image(hello: tuple[Path, str], tmp_path: Path) -> None:
    """`./wheels/x.whl` in the requirements: locked by its sha256, copied into the store by Nix
    from the project (no index involved) and installed in the image's environment."""
    from tests.package_index import build_wheel

    project = tmp_path / "hello-world"
    shutil.copytree(hello[0], project, symlinks=True, ignore=shutil.ignore_patterns("image.tar"))
    (project / "wheels").mkdir()
    build_wheel(project / "wheels", "localpkg", "1.0")
    (project / "requirements.txt").write_text("./wheels/localpkg-1.0-py3-none-any.whl\n")
    cog_yaml = (project / "cog.yaml").read_text()
    (project / "cog.yaml").write_text(cog_yaml.replace("build:\n", "build:\n  python_requirements: requirements.txt\n"))
    build(project)
    env_python = project / ".cognix" / "python-env" / "bin" / "python"
    probe = subprocess.run([str(env_python), "-c", "import localpkg; print(localpkg.__version__)"], capture_output=True)
    assert probe.stdout.decode().strip() == "1.0", probe.stderr


@needs_skopeo
def test_docker_archive_output_for_docker_load(hello: tuple[Path, str]) -> None:
    project, digest = hello
    out = project.parent / "docker.tar"
    result = run_cli("build", "--toolchain", "offline", "--format", "docker-archive", "-o", str(out), cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == digest  # the image is the same; only its container format differs
    seen = subprocess.run(["skopeo", "inspect", f"docker-archive:{out}"], capture_output=True, text=True)
    assert seen.returncode == 0, seen.stderr
    assert len(json.loads(seen.stdout)["Layers"]) == 6


def test_too_old_nix_is_a_clear_error(project, tmp_path: Path) -> None:
    root = project('build:\n  python_version: "3.11"\nrun: "predict.py:Runner"\n')
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "nix").write_text("#!/bin/sh\necho 'nix (Nix) 2.3.16'\n")
    (fake / "nix").chmod(0o755)
    result = run_cli("build", "--toolchain", "offline", cwd=root, env={"PATH": f"{fake}:/usr/bin:/bin"})
    assert result.returncode == 1
    assert "Nix 2.3.16 is too old (cognix needs 2.8 or newer)" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture
def podman_conf(tmp_path: Path) -> dict[str, str]:
    """What lets a plain `podman` (as cognix load runs it) work here: the files of docs/machines.md#podman."""
    conf, storage = tmp_path / "containers.conf", tmp_path / "storage.conf"
    conf.write_text(
        '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'
        '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
    )
    storage.write_text(
        '[storage]\ndriver = "vfs"\nrunroot = "/run/containers/storage"\ngraphroot = "/var/lib/containers/storage"\n'
    )
    return {"CONTAINERS_CONF": str(conf), "CONTAINERS_STORAGE_CONF": str(storage)}


@needs_podman
def test_load_into_podman_once(hello: tuple[Path, str], podman_conf: dict[str, str]) -> None:
    project, _ = hello
    name = f"localhost/cognix-load-test:{time.monotonic_ns()}"
    subprocess.run([*PODMAN, "rmi", "-f", "localhost/cog-hello-world:latest"], capture_output=True)
    first = run_cli("load", "--archive", str(project / "image.tar"), "-t", name, cwd=project, env=podman_conf)
    assert first.returncode == 0, first.stderr
    assert f"Loaded {name} into podman" in first.stderr
    built_name = subprocess.run([*PODMAN, "image", "exists", "localhost/cog-hello-world:latest"], capture_output=True)
    assert built_name.returncode == 1  # only the name asked for
    again = run_cli("load", "--archive", str(project / "image.tar"), "-t", name, cwd=project, env=podman_conf)
    assert again.returncode == 0 and "nothing to load" in again.stderr
    subprocess.run([*PODMAN, "rmi", "-f", name], capture_output=True)


@needs_podman
@pytest.mark.skipif(shutil.which("docker-registry") is None, reason="apt-get install docker-registry")
def test_push_to_a_registry_then_podman_pulls_and_runs_it(hello: tuple[Path, str], tmp_path: Path) -> None:
    from tests.image.test_push import start_registry

    project, digest = hello
    process, reg = start_registry(tmp_path / "registry")
    try:
        target = f"{reg.host}/models/hello:v1"
        env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
        pushed = run_cli("push", target, "--toolchain", "offline", "--insecure", cwd=project, env=env)
        assert pushed.returncode == 0, pushed.stderr
        assert pushed.stdout.strip() == f"{reg.host}/models/hello@{digest}"
        again = run_cli("push", target, "--archive", str(project / "image.tar"), "--insecure", cwd=project, env=env)
        assert "0 blobs uploaded" in again.stderr
        pulled = subprocess.run([*PODMAN, "pull", "--tls-verify=false", target], capture_output=True, text=True)
        assert pulled.returncode == 0, pulled.stderr
        prediction = serve_in_podman(target, {"input": {"text": "registry"}}, image_ref=target)
        assert prediction["output"] == "hello registry"
    finally:
        process.terminate()
        process.wait()
        subprocess.run([*PODMAN, "rmi", "-f", f"{reg.host}/models/hello:v1"], capture_output=True)


def test_locked_refuses_a_stale_lock(project) -> None:
    root = six_project(project, "1.16.0")
    assert run_cli("lock", cwd=root).returncode == 0
    (root / "requirements.txt").write_text("six==1.17.0\n")
    result = run_cli("build", "--toolchain", "offline", "--locked", cwd=root)
    assert result.returncode == 1
    assert "pylock.toml is stale: cog.yaml or the requirements changed" in result.stderr
    assert "run `cognix lock`, or drop --locked" in result.stderr


def test_a_copied_project_rebuilds(hello: tuple[Path, str], tmp_path: Path) -> None:
    """`cp -rL` of a built project turns .cognix's store links into folders; building still works."""
    project, digest = hello
    copy = tmp_path / "hello-world"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("image.tar"))  # follows the links
    assert (copy / ".cognix" / "python-env").is_dir() and not (copy / ".cognix" / "python-env").is_symlink()
    rebuilt, _ = build(copy)
    assert rebuilt == digest and (copy / ".cognix" / "python-env").is_symlink()


def missing_group_conf(tmp_path: Path) -> dict[str, str]:
    """A Nix config naming a build-users group this machine lacks: what `apt-get install
    --no-install-recommends nix-bin` leaves (Nix's compiled-in default is group nixbld, and only
    the recommended nix-setup-systemd creates it)."""
    conf = tmp_path / "nix-conf"
    conf.mkdir()
    (conf / "nix.conf").write_text("build-users-group = cognix-no-such-group\n")
    return {"NIX_CONF_DIR": str(conf)}


@pytest.mark.skipif(os.geteuid() != 0, reason="single-user Nix without build users is root's")
def test_a_missing_build_users_group_still_builds_as_root(hello: tuple[Path, str], tmp_path: Path) -> None:
    _, digest = hello
    root = copy_example("hello-world", tmp_path / "hello-world")
    result = run_cli("build", "-o", str(root / "image.tar"), cwd=root, env=missing_group_conf(tmp_path))  # no flags
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("build-users-group 'cognix-no-such-group' does not exist") == 1  # said once
    assert result.stdout.strip() == digest  # the same image as with build users


def test_a_missing_build_users_group_with_a_daemon_says_what_to_install(project, tmp_path: Path) -> None:
    root = project('build:\n  python_version: "3.11"\nrun: "predict.py:Runner"\n')
    env = {**missing_group_conf(tmp_path), "NIX_REMOTE": "daemon"}  # the daemon's builds need the group
    result = run_cli("build", cwd=root, env=env)
    assert result.returncode == 1
    assert "group 'cognix-no-such-group', which does not exist" in result.stderr
    assert "apt-get install nix-setup-systemd" in result.stderr and "Traceback" not in result.stderr


def test_the_toolchain_is_recorded_in_the_lock(project) -> None:
    root = six_project(project, "1.16.0")
    assert run_cli("lock", cwd=root).returncode == 0
    assert 'toolchain = "' not in (root / "pylock.toml").read_text()  # cognix build's default, offline
    assert run_cli("lock", "--toolchain", "nixpkgs", cwd=root).returncode == 0
    assert 'toolchain = "nixpkgs"' in (root / "pylock.toml").read_text()
    assert run_cli("lock", cwd=root).returncode == 0  # a later lock keeps it
    assert 'toolchain = "nixpkgs"' in (root / "pylock.toml").read_text()
    refused = run_cli("build", "--toolchain", "offline", "--locked", cwd=root)
    assert refused.returncode == 1 and "pylock.toml records the nixpkgs toolchain" in refused.stderr
    unknown = run_cli("lock", "--toolchain", "guix", cwd=root)
    assert unknown.returncode == 2 and "unknown toolchain 'guix'" in unknown.stderr  # a usage error, as typer gives


def _drop_package(lock: Path, name: str) -> None:
    """Remove one [[packages]] table from a lock, as a hand edit would."""
    blocks = lock.read_text().split("\n[[packages]]\n")
    kept = [b for b in blocks if not b.startswith(f'name = "{name}"\n')]
    assert len(kept) == len(blocks) - 1, f"{name} is not in the lock"
    lock.write_text("\n[[packages]]\n".join(kept))


def test_a_lock_edited_to_drop_a_package_is_stale_or_stops_the_build(project) -> None:
    """Issue 12 (17): a top-level requirement missing from the lock makes it stale; a dependency
    of the server missing (anyio, under starlette) stops the build when the image's Python
    imports the server, not the image when it starts."""
    root = six_project(project, "1.16.0")
    assert run_cli("lock", cwd=root).returncode == 0
    lock = root / "pylock.toml"
    original = lock.read_text()
    _drop_package(lock, "six")
    stale = run_cli("lock", "--check", cwd=root)
    assert stale.returncode == 1 and "pylock.toml lacks six" in " ".join(stale.stderr.split())
    lock.write_text(original)
    _drop_package(lock, "anyio")
    assert run_cli("lock", "--check", cwd=root).returncode == 0  # not a top-level requirement
    refused = run_cli("build", "--locked", "-o", str(root / "image.tar"), cwd=root, timeout=600)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "the image's Python cannot import cognix's server: ModuleNotFoundError: No module named 'anyio'" in (
        " ".join(refused.stderr.split())
    )
    assert not (root / "image.tar").exists()
