"""cog.yaml's system_packages and build.run on the offline toolchain, as images served under
podman: Debian packages on PATH with their data where they look for it, run steps that call
them, a step that downloads from a loopback HTTP server (a fixed-output step whose hash the lock
records), a step that mounts a secret whose bytes then appear nowhere, and the errors for a step
that is not reproducible or whose secret is missing.

Real Debian packages from deb.debian.org and wheels from PyPI (the ``network`` mark), real Nix
builds in the sandbox, real podman; the HTTP server is a real one on 127.0.0.1.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import json
import re
import shutil
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cognix.project.pylock import SecretTarget, read
from tests.build.test_build import needs_podman, serve_in_podman
from tests.conftest import copy_example, run_cli

pytestmark = [
    pytest.mark.network,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("nix") is None, reason="Nix is not installed (apt-get install nix-bin)"),
]
BUILD_TIMEOUT = 600  # a first build downloads the Debian packages and wheels


def project_with(tmp_path: Path, predict: str, **build: object) -> Path:
    """hello-world on Python 3.11 (Debian 12, whose packages predate the merged /usr) with
    ``build`` added to cog.yaml's build: (as JSON, which is YAML) and ``predict`` as the
    Runner's body."""
    project = copy_example("hello-world", tmp_path / "model")
    (project / "pylock.toml").unlink()
    config = project / "cog.yaml"
    added = "".join(f"  {key}: {json.dumps(value)}\n" for key, value in build.items())
    config.write_text(config.read_text().replace("build:\n", "build:\n" + added, 1))
    (project / "predict.py").write_text(
        "import subprocess\nfrom pathlib import Path\n\nfrom cog import BaseRunner\n\n\n"
        "class Runner(BaseRunner):\n    def run(self, text: str) -> str:\n" + predict
    )
    return project


def built(project: Path, *args: str) -> Path:
    result = run_cli("build", "-o", str(project / "image.tar"), *args, cwd=project, timeout=BUILD_TIMEOUT)
    assert result.returncode == 0, result.stderr
    return project / "image.tar"


@needs_podman
def test_system_packages_are_on_path_and_run_steps_call_them(tmp_path: Path) -> None:
    project = project_with(
        tmp_path,
        "        git = subprocess.run(['git', '--version'], capture_output=True, text=True, check=True).stdout\n"
        "        zsh = Path('/opt/zsh-version').read_text().split()\n"
        "        templates = Path('/opt/repo/.git/description').is_file()  # git found its templates\n"
        "        tool = subprocess.run(['hello-tool'], capture_output=True, text=True, check=True).stdout.strip()\n"
        "        cache = Path.home() / '.cache' / 'model'\n"
        "        (cache / 'written-by-the-model').write_text('x')  # the model's user owns what steps put in ~\n"
        "        prompt = Path('/etc/bash_completion.d/git-prompt').read_text().splitlines()[0]\n"
        "        return f\"{text} {git.split()[2]} {zsh} {templates} {tool} {(cache / 'w').read_text().strip()} {prompt}\"\n",
        system_packages=["git", "zsh"],
        run=[
            "git init -q /opt/repo && zsh -c 'zmodload zsh/datetime && echo $ZSH_VERSION' > /opt/zsh-version"
            " && sed -i '1i # edited by a step' /etc/bash_completion.d/git-prompt",
            "printf '#!/bin/sh\\necho tool ok\\n' > /usr/bin/hello-tool && chmod +x /usr/bin/hello-tool"
            " && mkdir -p ~/.cache/model && echo cached > ~/.cache/model/w && echo again >> /opt/zsh-version",
        ],
    )
    archive = built(project)
    lock = read(project / "pylock.toml")
    assert lock is not None and lock.cognix.debian is not None
    system = {p.name: p for p in lock.cognix.debian.role("system")}
    assert {"git", "zsh", "coreutils", "perl-base"} <= set(system) and system["git"].roles == ["system"]
    assert [step.output_hash is not None for step in lock.cognix.run_steps] == [True, True]
    prediction = serve_in_podman(archive, {"input": {"text": "hi"}})
    assert prediction["status"] == "succeeded", prediction
    pattern = r"hi 2\.\d+\.\d+ \['5\.\d+', 'again'\] True tool ok cached # edited by a step"
    assert re.fullmatch(pattern, prediction["output"]), prediction["output"]


class Served(http.server.SimpleHTTPRequestHandler):
    """Files from ``directory``; ``/private/…`` only with the bearer token, as a model hub does."""

    token = ""

    def do_GET(self) -> None:
        if self.path.startswith("/private/") and self.headers.get("Authorization") != f"Bearer {self.token}":
            self.send_error(401)
            return
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def loopback(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on 127.0.0.1 serving a folder: (its URL, the folder)."""
    folder = tmp_path / "served"
    (folder / "private").mkdir(parents=True)

    def handler(*args: object, **kwargs: object) -> Served:
        return Served(*args, directory=str(folder), **kwargs)  # type: ignore[arg-type]

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder
    server.shutdown()


FETCH = (
    "python -c \"import sys, urllib.request as u; r = u.Request(sys.argv[1], headers=dict(a.split(': ', 1) "
    "for a in sys.argv[3:])); open(sys.argv[2], 'wb').write(u.urlopen(r).read())\""
)


@needs_podman
def test_a_run_step_downloads_as_a_fixed_output_step_and_the_model_reads_it(
    tmp_path: Path, loopback: tuple[str, Path]
) -> None:
    url, folder = loopback
    weights = bytes(range(256)) * 4096
    (folder / "weights.bin").write_bytes(weights)
    project = project_with(
        tmp_path,
        "        import hashlib\n        return hashlib.sha256(Path('/opt/weights/w.bin').read_bytes()).hexdigest()\n",
        run=[f"mkdir -p /opt/weights && {FETCH} {url}/weights.bin /opt/weights/w.bin"],
    )
    archive = built(project)
    step = read(project / "pylock.toml").cognix.run_steps[0]
    assert step.output_hash is not None and len(step.output_hash) == 52  # Nix's base-32 sha256
    prediction = serve_in_podman(archive, {"input": {"text": "x"}})
    assert prediction["output"] == hashlib.sha256(weights).hexdigest()

    (folder / "weights.bin").write_bytes(b"other bytes")  # the step now downloads something else
    relocked = run_cli("lock", cwd=project, timeout=BUILD_TIMEOUT)
    assert relocked.returncode == 0, relocked.stderr
    assert read(project / "pylock.toml").cognix.run_steps[0].output_hash != step.output_hash


def test_a_step_that_writes_other_bytes_each_run_is_refused_naming_the_file(tmp_path: Path) -> None:
    project = project_with(
        tmp_path,
        "        return text\n",
        run=["echo same > /opt/same && cat /proc/sys/kernel/random/uuid > /opt/stamp"],
    )
    refused = run_cli("lock", cwd=project, timeout=BUILD_TIMEOUT)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "build.run step 1 (" in refused.stderr and "is not reproducible" in refused.stderr
    assert "is not reproducible: two runs wrote different /opt/stamp\n" in refused.stderr
    built_anyway = run_cli("build", "--locked", cwd=project)  # and no build takes the step without a hash
    assert built_anyway.returncode == 1 and "has not run the build.run steps" in built_anyway.stderr


@needs_podman
def test_a_secret_mounted_step_leaves_its_bytes_nowhere(tmp_path: Path, loopback: tuple[str, Path]) -> None:
    url, folder = loopback
    secret = "cognix-test-secret-" + hashlib.sha256(str(tmp_path).encode()).hexdigest()[:24]
    Served.token = secret
    (folder / "private" / "model.txt").write_text("gated weights\n")
    token_file = tmp_path / "hf-token"
    token_file.write_text(secret)
    download = f"{FETCH} {url}/private/model.txt /opt/model/model.txt 'Authorization: Bearer '$(cat /run/secrets/hf)"
    project = project_with(
        tmp_path,
        "        return Path('/opt/model/model.txt').read_text().strip()\n",
        run=[
            {
                "command": f"mkdir -p /opt/model && {download}",
                "mounts": [{"type": "secret", "id": "hf", "target": "/run/secrets/hf"}],
            }
        ],
    )
    missing = run_cli("lock", cwd=project, timeout=BUILD_TIMEOUT)
    assert missing.returncode == 1 and "mounts the secret 'hf'" in missing.stderr
    assert "--secret id=hf,src=FILE" in missing.stderr

    result = run_cli(
        "build",
        "-o",
        str(project / "image.tar"),
        "--secret",
        f"id=hf,src={token_file}",
        cwd=project,
        timeout=BUILD_TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    assert serve_in_podman(project / "image.tar", {"input": {"text": "x"}})["output"] == "gated weights"

    needle = secret.encode()
    assert needle not in (project / "pylock.toml").read_bytes()
    assert needle not in (result.stdout + result.stderr).encode()
    # every store path of the image, and every run step's output and derivation
    closure = subprocess.run(
        ["nix-store", "-qR", str((project / ".cognix" / "image.tar").resolve())], capture_output=True, text=True
    ).stdout.split()
    steps = [p for p in Path("/nix/store").glob("*-run-step-*") if p.is_dir() or p.suffix == ".drv"]
    assert steps and all(not _contains(Path(p), needle) for p in [*closure, *map(str, steps)])
    with tarfile.open(project / "image.tar") as image:  # every layer, decompressed
        for member in image.getmembers():
            data = image.extractfile(member).read() if member.isfile() else b""
            assert needle not in (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data), member.name
    # a fresh store, where Nix runs the step itself in its sandbox, with the secret bound there
    verified = run_cli("verify", "--secret", f"id=hf,src={token_file}", cwd=project, timeout=BUILD_TIMEOUT)
    assert verified.returncode == 0, verified.stderr
    assert "identical" in verified.stderr and needle not in (verified.stdout + verified.stderr).encode()
    assert read(project / "pylock.toml").cognix.run_steps[0].secrets == [
        SecretTarget(id="hf", target="/run/secrets/hf")
    ]


def _contains(path: Path, needle: bytes) -> bool:
    files = [path] if not path.is_dir() else [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
    return any(needle in f.read_bytes() for f in files)


COMPILE = r'''
import importlib.util, subprocess, sysconfig, tempfile
from pathlib import Path
C = """#include <Python.h>
static PyObject *hi(PyObject *self, PyObject *args) { return PyUnicode_FromString("compiled"); }
static PyMethodDef methods[] = {{"hi", hi, METH_NOARGS, ""}, {0}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "hello", 0, -1, methods};
PyMODINIT_FUNC PyInit_hello(void) { return PyModule_Create(&module); }
"""
'''


@needs_podman
def test_a_compiler_in_system_packages_builds_python_extensions_at_run_time(tmp_path: Path) -> None:
    """What triton and torch.compile do when they run: gcc, Python.h (where sysconfig says), a
    shared object loaded into the server's Python."""
    project = project_with(
        tmp_path,
        "        folder = Path(tempfile.mkdtemp())\n"
        "        (folder / 'hello.c').write_text(C)\n"
        "        include = sysconfig.get_paths()['include']\n"
        "        built = folder / ('hello' + sysconfig.get_config_var('EXT_SUFFIX'))\n"
        "        subprocess.run(['gcc', '-shared', '-fPIC', '-I', include, str(folder / 'hello.c'), '-o', str(built)],"
        " check=True)\n"
        "        spec = importlib.util.spec_from_file_location('hello', built)\n"
        "        module = importlib.util.module_from_spec(spec)\n"
        "        spec.loader.exec_module(module)\n"
        "        return f'{text} {module.hi()}'\n",
        system_packages=["build-essential"],
    )
    predict = project / "predict.py"
    predict.write_text(COMPILE + predict.read_text())
    archive = built(project)
    assert "libpython3.11-dev" in read(project / "pylock.toml").cognix.debian.requested["toolchain"]
    prediction = serve_in_podman(archive, {"input": {"text": "hi"}})
    assert prediction["status"] == "succeeded" and prediction["output"] == "hi compiled", prediction
