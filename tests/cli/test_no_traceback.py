"""No command prints a Python traceback for bad input (issue 12): every reader validates.

Each case is a small broken project (cog.yaml, predict.py, the requirements, pylock.toml, an
image archive) or a bad argument; each runs the real CLI in a subprocess, as a user would, and
must exit nonzero with a message on stderr that names the problem, and no traceback.

Every command here fails at validation, before any long work: a real ``nix build``, a
resolution or a download, a push. Pairs that would really start one are left out, each with its
reason where the pairs are chosen. As a guard, the subprocesses get a proxy that refuses every
connection and uv runs offline: a pair that slipped through to the network would fail at once
(and is caught by the network check below) rather than wait on PyPI or Debian.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import run_cli

TRACEBACK = "Traceback (most recent call last)"
REFUSED = "http://127.0.0.1:9"  # the discard port: nothing listens there
GUARD = {
    "HTTP_PROXY": REFUSED,
    "HTTPS_PROXY": REFUSED,
    "ALL_PROXY": REFUSED,
    "http_proxy": REFUSED,
    "https_proxy": REFUSED,
    "all_proxy": REFUSED,
    "NO_PROXY": "",
    "no_proxy": "",
    "UV_OFFLINE": "1",
    "COGNIX_TOOLCHAIN": "",  # the option's envvar: whatever the caller's shell says, not tested here
}
NETWORK_HINTS = ("127.0.0.1:9", "network connectivity is disabled", "ProxyError", "Connection refused")

COG_YAML = 'build:\n  python_version: "3.11"\nrun: "predict.py:Runner"\n'
PREDICT_PY = """\
from cog import BaseRunner


class Runner(BaseRunner):
    def run(self, text: str = "hi", n: int = 1) -> str:
        return text * n
"""
DIR = None  # a files value: make a directory there
Files = Mapping[str, "str | bytes | None"]


@dataclass(frozen=True)
class Case:
    """A project (``files`` over the valid one; a ``../`` name lands beside it) and what stderr
    must say about it. ``args`` go after the command's own."""

    files: Files = field(default_factory=dict)
    expect: str = ""
    args: tuple[str, ...] = ()


def _write(root: Path, files: Files) -> None:
    for name, content in {"cog.yaml": COG_YAML, "predict.py": PREDICT_PY, **files}.items():
        path = root / name
        if content is DIR:
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def _tar(members: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


GARBAGE = bytes(range(256)) * 8  # NUL bytes, control characters, not UTF-8
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
)
LOCK = """\
lock-version = "1.0"
requires-python = "==3.11.*"
created-by = "cognix"

[[packages]]
name = "cog"
version = "0.1"

[tool.cognix]
cognix-version = "0.1.0"
inputs-hash = "sha256:00"
python = "3.11"
platform = "x86_64-manylinux_2_28"
gpu = false
nixpkgs = { url = "https://example.invalid/nixpkgs.tar.gz", nar-hash = "sha256-AAAA" }
"""

# --- the corpus -------------------------------------------------------------------------

# cog.yaml and what it names: each is refused by `load_project` (or `Project.entry`) before a command
# does anything else
CONFIG_CASES: dict[str, Case] = {
    "not-yaml": Case({"cog.yaml": "build: [unclosed\n  : : {\n"}, "invalid YAML"),
    "binary": Case({"cog.yaml": GARBAGE}, "cog.yaml"),
    "ascii-control": Case({"cog.yaml": "build:\n  gpu: \x01\x02\x7f\n"}, "cog.yaml"),
    "not-utf8": Case({"cog.yaml": b'build:\n  python_version: "3.11"\n# caf\xe9 \xff\xfe\n'}, "utf-8"),
    "top-list": Case({"cog.yaml": "- build\n- run\n"}, "top level must be a mapping"),
    "top-scalar": Case({"cog.yaml": "just a sentence\n"}, "top level must be a mapping"),
    "build-3": Case({"cog.yaml": "build: 3\n"}, "build"),
    "unknown-keys": Case({"cog.yaml": 'biuld:\n  gpu: true\nbuild:\n  python_version: "3.11"\n  gppu: 1\n'}, "biuld"),
    "wrong-types": Case(
        {
            "cog.yaml": (
                "build:\n  gpu: 'yes'\n  python_version: [3, 11]\n  python_packages: 5\n"
                "  system_packages: {a: 1}\n  run: 7\n  cuda: 12.4\n  python_requirements: [r.txt]\n"
                "run: 12\ntrain: {a: b}\nenvironment: A=1\nconcurrency: []\nweights: {}\nimage: 1.5\n"
            )
        },
        "build.gpu",
    ),
    "wrong-types-in-lists": Case(
        {
            "cog.yaml": (
                'build:\n  python_version: "3.11"\n  run: [1, [a], {command: 2, mounts: 3}]\n'
                "  system_packages: [1, null]\nenvironment: [1, null, [A=1]]\n"
                "weights: [1, {name: 2, target: [], source: [1, {uri: 3, include: 4}]}]\n"
            )
        },
        "build.run",
    ),
    "odd-keys": Case({"cog.yaml": '~: 1\n1.5: x\ntrue: y\n[1, 2]: z\nbuild:\n  python_version: "3.11"\n'}, "cog.yaml"),
    "null-key": Case({"cog.yaml": '~: 1\n2: x\nbuild:\n  python_version: "3.11"\n'}, "cog.yaml"),
    "odd-python": Case({"cog.yaml": "build:\n  python_version: .inf\n"}, "python_version"),
    "timestamp-python": Case({"cog.yaml": "build:\n  python_version: 2001-12-14\n"}, "python_version"),
    "binary-tag": Case({"cog.yaml": "build:\n  python_version: !!binary aGVsbG8=\n"}, "python_version"),
    "python-tag": Case({"cog.yaml": "build: !!python/object:os.system {}\n"}, "cog.yaml"),
    "alias-bomb": Case({"cog.yaml": ALIAS_BOMB}, "alias"),
    "alias-cycle": Case({"cog.yaml": "a: &a [*a]\n"}, "cog.yaml"),
    "deep-flow": Case({"cog.yaml": "build: " + "[" * 5000 + "]" * 5000 + "\n"}, "nested deeper"),
    "deep-block": Case({"cog.yaml": "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "x\n"}, "nested"),
    "duplicate-keys": Case({"cog.yaml": 'build:\n  gpu: true\n  gpu: false\n  python_version: "3.11"\n'}, "gpu"),
    "run-not-a-ref": Case({"cog.yaml": 'build:\n  python_version: "3.11"\nrun: "predict"\n'}, "run"),
    "run-outside": Case(
        {"cog.yaml": 'build:\n  python_version: "3.11"\nrun: "../outside.py:Runner"\n', "../outside.py": PREDICT_PY},
        "inside the project",
    ),
    "run-absolute": Case({"cog.yaml": 'build:\n  python_version: "3.11"\nrun: "/etc/passwd.py:Runner"\n'}, "run"),
    "requirements-missing": Case(
        {
            "cog.yaml": 'build:\n  python_version: "3.11"\n  python_requirements: requirements.txt\nrun: "predict.py:Runner"\n'
        },
        "requirements.txt",
    ),
    "requirements-outside": Case(
        {
            "cog.yaml": 'build:\n  python_version: "3.11"\n  python_requirements: ../r.txt\nrun: "predict.py:Runner"\n',
            "../r.txt": "numpy\n",
        },
        "inside the project",
    ),
    "requirements-a-directory": Case(
        {
            "cog.yaml": 'build:\n  python_version: "3.11"\n  python_requirements: reqs\nrun: "predict.py:Runner"\n',
            "reqs": DIR,
        },
        "reqs",
    ),
    "cog-yaml-a-directory": Case({"cog.yaml": DIR}, "cog.yaml"),
}

# the file run: names, checked (`Project.entry`) by each command that runs or builds it, before anything
# long; not by lock, train (its own entry) and inspect, which have no use for it
ENTRY_CASES: dict[str, Case] = {
    "run-missing-file": Case(
        {"cog.yaml": 'build:\n  python_version: "3.11"\nrun: "missing.py:Runner"\n'}, "missing.py"
    ),
    "run-a-directory": Case(
        {"cog.yaml": 'build:\n  python_version: "3.11"\nrun: "pkg.py:Runner"\n', "pkg.py": DIR}, "pkg.py"
    ),
}

# the predictor itself: refused when it is imported (predict, run, schema)
IMPORT_CASES: dict[str, Case] = {
    "missing-class": Case({"cog.yaml": 'build:\n  python_version: "3.11"\nrun: "predict.py:Nope"\n'}, "Nope"),
    "syntax-error": Case({"predict.py": "def run(:\n"}, "SyntaxError"),
    "not-a-class": Case({"predict.py": "Runner = 3\n"}, "Runner"),
    "import-error": Case({"predict.py": "import no_such_module_cognix\n"}, "no_such_module_cognix"),
    "predict-not-utf8": Case({"predict.py": b"text = 'caf\xe9'\n"}, "predict.py"),
    "predict-binary": Case({"predict.py": GARBAGE}, "predict.py"),
}

REQUIREMENTS_YAML = (
    'build:\n  python_version: "3.11"\n  python_requirements: requirements.txt\nrun: "predict.py:Runner"\n'
)
# the requirements: read when locking, before uv or Debian is asked anything
REQUIREMENTS_CASES: dict[str, Case] = {
    "requirements-not-utf8": Case({"cog.yaml": REQUIREMENTS_YAML, "requirements.txt": b"numpy\ncaf\xe9\n"}, "UTF-8"),
    "requirements-binary": Case({"cog.yaml": REQUIREMENTS_YAML, "requirements.txt": GARBAGE}, "requirements"),
    "requirements-bad-line": Case(
        {"cog.yaml": REQUIREMENTS_YAML, "requirements.txt": "numpy==1.26.4\nthis is not ==== a requirement\n"},
        "this is not ==== a requirement",
    ),
    "requirements-bad-line-with-torch": Case(
        {"cog.yaml": REQUIREMENTS_YAML, "requirements.txt": "torch==2.5.1\nnumpy>=>1\n"}, "numpy>=>1"
    ),
    "requirements-bad-option": Case(
        {"cog.yaml": REQUIREMENTS_YAML, "requirements.txt": "--no-such-option\nnumpy\n"}, "--no-such-option"
    ),
}

# pylock.toml, beside a valid cog.yaml: refused by the one reader, wherever it is read
LOCK_CASES: dict[str, Case] = {
    "lock-garbage": Case({"pylock.toml": GARBAGE}, "pylock.toml"),
    "lock-not-toml": Case({"pylock.toml": "lock-version = \n[[packages\n"}, "not valid TOML"),
    "lock-empty": Case({"pylock.toml": ""}, "pylock.toml"),
    "lock-packages-string": Case(
        {
            "pylock.toml": LOCK.replace('[[packages]]\nname = "cog"\nversion = "0.1"\n', "").replace(
                'created-by = "cognix"\n', 'created-by = "cognix"\npackages = "x"\n'
            )
        },
        "packages",
    ),
    "lock-package-missing-fields": Case({"pylock.toml": LOCK.replace('version = "0.1"\n', "")}, "version"),
    "lock-tool-wrong-types": Case(
        {"pylock.toml": LOCK.replace("gpu = false", 'gpu = "no"').replace('python = "3.11"', "python = 3.11")},
        "gpu",
    ),
    "lock-no-sha256": Case(
        {
            "pylock.toml": LOCK.replace(
                'version = "0.1"\n',
                'version = "0.1"\nwheels = [{url = "https://example.invalid/a.whl", size = 1, hashes = {md5 = "x"}}]\n',
            )
        },
        "sha256",
    ),
    "lock-future-version": Case({"pylock.toml": LOCK.replace('lock-version = "1.0"', 'lock-version = "2.0"')}, "2.0"),
    "lock-future-cognix": Case(
        {"pylock.toml": LOCK.replace('cognix-version = "0.1.0"', 'cognix-version = "99.0.0"\nlock-format = 9')},
        "99.0.0",
    ),
    "lock-a-directory": Case({"pylock.toml": DIR}, "pylock.toml"),
}

INDEX_OK = json.dumps(
    {"manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:ab"}]}
)
# image archives: read by inspect, diff, push --archive and load --archive
ARCHIVES: dict[str, tuple[bytes | None, str]] = {
    "archive-garbage": (GARBAGE, "not an image archive"),
    "archive-empty": (b"", "not an image archive"),
    "archive-no-index": (_tar({"oci-layout": b"{}"}), "index.json"),
    "archive-index-garbage": (_tar({"index.json": b"{not json"}), "index.json"),
    "archive-index-list": (_tar({"index.json": b"[1, 2]"}), "index.json"),
    "archive-index-no-manifests": (_tar({"index.json": b'{"manifests": []}'}), "index.json"),
    "archive-index-bad-digest": (_tar({"index.json": b'{"manifests": [{"digest": "nocolon"}]}'}), "nocolon"),
    "archive-missing-blob": (_tar({"index.json": INDEX_OK.encode()}), "blobs/sha256/ab"),
    "archive-manifest-garbage": (_tar({"index.json": INDEX_OK.encode(), "blobs/sha256/ab": GARBAGE}), "manifest"),
    "archive-manifest-no-layers": (
        _tar({"index.json": INDEX_OK.encode(), "blobs/sha256/ab": b'{"config": {"digest": "sha256:cd"}}'}),
        "blobs/sha256/cd",
    ),
    "archive-a-directory": (DIR, "image.tar"),
}

# --- the commands -----------------------------------------------------------------------

COMMANDS: dict[str, tuple[str, ...]] = {
    "diff": ("diff", "pylock.toml", "pylock.toml"),
    "predict": ("predict", "-i", "text=x"),
    "run": ("run",),
    "train": ("train",),
    "schema": ("schema",),
    "lock": ("lock",),
    "lock --check": ("lock", "--check"),
    "serve": ("serve", "--port", "0"),
    "build": ("build", "-o", "out.tar"),
    "build --locked": ("build", "--locked", "-o", "out.tar"),
    "verify": ("verify",),
    "push": ("push", "localhost:9/cognix/model:v1"),
    "load": ("load",),
    "sbom": ("sbom",),
    "inspect": ("inspect",),
    "develop": ("develop",),
    "exec": ("exec", "true"),
    "doctor": ("doctor",),
}
PROJECT_COMMANDS = [c for c in COMMANDS if c != "diff"]  # each reads cog.yaml first (init and diff do not)


def _pairs() -> list[tuple[str, str, Case]]:
    pairs: list[tuple[str, str, Case]] = []

    def add(commands: list[str], cases: Mapping[str, Case]) -> None:
        pairs.extend((command, name, case) for command in commands for name, case in cases.items())

    def some(cases: Mapping[str, Case], *names: str) -> dict[str, Case]:
        return {name: cases[name] for name in names}

    # every command reads cog.yaml through `_project`, so the full product repeats one path: every
    # case for predict and lock (whose next step, past a cog.yaml let through, is the network),
    # a few for every other command
    add(["predict", "lock"], CONFIG_CASES)
    add([c for c in PROJECT_COMMANDS if c not in ("predict", "lock")], some(CONFIG_CASES, "not-yaml", "wrong-types"))
    add(
        ["predict", "run", "schema", "serve", "build --locked", "verify", "sbom", "develop", "exec", "push", "load"],
        ENTRY_CASES,
    )
    # the predictor's import: serve is left out, as Cog's server starts and reports the failed setup
    # on /health-check (that is its API, not a traceback); build & co import it in the image's Python
    # only after `nix build`, so a broken predictor is theirs to report after the long work
    add(["predict", "run", "schema"], IMPORT_CASES)
    # the requirements are read by locking; build, sbom and develop lock a stale project first
    # (`cognix lock` proper then asks uv and Debian, which these cases must never reach)
    add(["lock", "build"], REQUIREMENTS_CASES)
    add(["sbom", "develop", "exec"], some(REQUIREMENTS_CASES, "requirements-not-utf8", "requirements-bad-line"))
    # the lock, wherever it is read: one reader (`pylock.read`), every case through a few commands.
    # `cognix lock` itself is left out: it reads an unreadable lock as none and locks anew, which
    # resolves with uv (the network)
    add(["predict", "lock --check", "build --locked", "diff"], LOCK_CASES)
    add(
        ["serve", "build", "verify", "sbom", "develop", "exec", "push", "load"],
        some(LOCK_CASES, "lock-garbage", "lock-future-version"),
    )
    return pairs


PAIRS = _pairs()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "project"


def _check(result: subprocess.CompletedProcess[str], expect: str, root: Path) -> None:
    out, err, code = result.stdout, result.stderr, result.returncode
    # the one traceback allowed is the user's own, of their predictor's import: each frame in the project
    frames = re.findall(r'^\s*File "([^"]+)", line', out + err, flags=re.MULTILINE)
    outside = [f for f in frames if not Path(f).resolve().is_relative_to(root.resolve())]
    assert TRACEBACK not in out + err or (frames and not outside), err
    assert code != 0, f"exit 0\n{err}"
    assert err.strip(), "no message on stderr"
    assert expect.lower() in err.lower(), f"stderr does not name {expect!r}:\n{err}"
    assert not any(hint in err for hint in NETWORK_HINTS), f"reached the network:\n{err}"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    result: subprocess.CompletedProcess[str] = run_cli(
        *args, cwd=cwd, env={**GUARD, "XDG_CACHE_HOME": str(cwd.parent / "cache")}, timeout=60
    )
    return result


@pytest.mark.parametrize(("command", "name", "case"), PAIRS, ids=[f"{c}×{n}" for c, n, _ in PAIRS])
def test_broken_project(command: str, name: str, case: Case, root: Path) -> None:
    _write(root, case.files)
    _check(_cli(*COMMANDS[command], *case.args, cwd=root), case.expect, root)


# --- bad arguments ----------------------------------------------------------------------

ARG_CASES: list[tuple[str, tuple[str, ...], str]] = [
    # right after the command's name: exec's arguments after its command are the command's
    *(
        (f"{c} -f missing", (COMMANDS[c][0], "-f", "nope/cog.yaml", *COMMANDS[c][1:]), "nope/cog.yaml")
        for c in PROJECT_COMMANDS
    ),
    *(
        (f"{c} -f directory", (*COMMANDS[c], "-f", "sub"), "sub is not a file")
        for c in ("predict", "lock", "build", "serve")
    ),
    ("predict -i no equals", ("predict", "-i", "text"), "name=value"),
    ("predict -i unknown", ("predict", "-i", "nope=1"), "nope"),
    ("predict -i not an int", ("predict", "-i", "n=abc"), 'invalid input "n"'),
    ("predict -i missing file", ("predict", "-i", "text=@missing.txt"), "missing.txt"),
    ("predict -i a directory", ("predict", "-i", "text=@sub"), "sub"),
    ("predict -i not utf8", ("predict", "-i", "text=@latin1.txt"), "latin1.txt"),
    ("predict --json bad", ("predict", "--json", "{bad"), "JSON"),
    ("predict --json list", ("predict", "--json", "[1]"), "object"),
    ("predict --json missing", ("predict", "--json", "@missing.json"), "missing.json"),
    ("predict --json directory", ("predict", "--json", "@sub"), "sub"),
    ("predict --json not utf8", ("predict", "--json", "@latin1.txt"), "latin1.txt"),
    ("predict --json null", ("predict", "--json", '{"text": null}'), "null"),
    ("predict --json deep", ("predict", "--json", "@deep.json"), "nested too deeply"),
    ("predict -o a directory", ("predict", "-o", "sub"), "-o sub is a directory"),
    ("predict -o under a file", ("predict", "-o", "predict.py/out.txt"), "predict.py/out.txt"),
    ("predict --json -o a directory", ("predict", "--json", "{}", "-o", "sub"), "sub"),
    ("train no train entry", ("train",), "train"),
    ("lock --secret not a spec", ("lock", "--secret", "hf"), "--secret"),
    ("lock --secret missing file", ("lock", "--secret", "id=hf,src=missing"), "missing"),
    ("build --secret not a spec", ("build", "--secret", "id=hf"), "--secret"),
    ("verify --secret a directory", ("verify", "--secret", "id=hf,src=sub"), "sub is not a file"),
    *(
        (f"{c} --toolchain unknown", (*COMMANDS[c], "--toolchain", "guix"), "guix")
        for c in ("lock", "build", "push", "load", "sbom", "develop")
    ),
    ("build --format unknown", ("build", "--format", "tarball"), "tarball"),
    ("build -t invalid", ("build", "-t", "Not A Name"), "Not A Name"),
    ("push invalid reference", ("push", "Not A Name"), "Not A Name"),
    ("push --archive missing", ("push", "localhost:9/m:v1", "--archive", "missing.tar"), "missing.tar"),
    ("load --archive missing", ("load", "--archive", "missing.tar"), "missing.tar"),
    ("load --engine unknown", ("load", "--engine", "lxc", "--archive", "garbage.tar"), "unknown --engine 'lxc'"),
    ("serve --port out of range", ("serve", "--port", "70000"), "--port"),
    ("serve --port not a number", ("serve", "--port", "http"), "--port"),
    ("inspect missing", ("inspect", "missing.tar"), "missing.tar"),
    ("inspect not yet built", ("inspect",), "image.tar"),
    ("diff missing", ("diff", "missing.toml", "pylock.toml"), "missing.toml"),
    ("diff a directory", ("diff", "sub", "pylock.toml"), "sub is not a file"),
    ("diff garbage lock", ("diff", "garbage.toml", "pylock.toml"), "garbage.toml"),
    ("diff not utf8 lock", ("diff", "latin1.toml", "pylock.toml"), "latin1.toml"),
    ("diff lock and image", ("diff", "pylock.toml", "garbage.tar"), "garbage.tar"),
    ("init into a file", ("init", "predict.py"), "predict.py"),
    ("exec -e not NAME=VALUE", ("exec", "-e", "NOEQUALS", "true"), "-e 'NOEQUALS' is not NAME=VALUE"),
    ("exec no command", ("exec",), "COMMAND"),
    ("install-cog-alias --bin-dir a file", ("install-cog-alias", "--bin-dir", "predict.py"), "predict.py"),
    ("init under a file", ("init", "predict.py/new"), "predict.py"),
]


@pytest.mark.parametrize(("args", "expect"), [c[1:] for c in ARG_CASES], ids=[c[0] for c in ARG_CASES])
def test_bad_argument(args: tuple[str, ...], expect: str, root: Path) -> None:
    _write(
        root,
        {
            "sub": DIR,
            "latin1.txt": b"caf\xe9\n",
            "latin1.toml": b"lock-version = 'caf\xe9'\n",
            "garbage.toml": GARBAGE,
            "garbage.tar": GARBAGE,
            "deep.json": "[" * 100_000 + "]" * 100_000,
            "pylock.toml": LOCK,
        },
    )
    _check(_cli(*args, cwd=root), expect, root)


# image archives, wherever one is read (push and load take --archive: nothing is built)
ARCHIVE_COMMANDS: dict[str, tuple[str, ...]] = {
    "inspect": ("inspect", "image.tar"),
    "diff": ("diff", "image.tar", "image.tar"),
    "push": ("push", "localhost:9/cognix/model:v1", "--archive", "image.tar"),
    "load": ("load", "--archive", "image.tar"),
}
# every case for inspect; diff, push and load read archives with the same reader (`Archive.image`)
ARCHIVE_PAIRS = [("inspect", name) for name in ARCHIVES] + [
    (command, name)
    for command in ("diff", "push", "load")
    for name in ("archive-garbage", "archive-index-garbage", "archive-manifest-no-layers", "archive-a-directory")
]


@pytest.mark.parametrize(("command", "name"), ARCHIVE_PAIRS, ids=[f"{c}×{n}" for c, n in ARCHIVE_PAIRS])
def test_broken_archive(command: str, name: str, root: Path) -> None:
    content, expect = ARCHIVES[name]
    _write(root, {"image.tar": content})
    _check(_cli(*ARCHIVE_COMMANDS[command], cwd=root), expect, root)


def test_the_corpus_covers_every_command() -> None:
    """A new command joins the corpus: every one `cognix --help` lists runs against it."""
    from cognix.cli.app import app

    commands = {info.name or (info.callback.__name__ if info.callback else "") for info in app.registered_commands}
    tested = {c.split()[0] for c, _, _ in PAIRS} | {args[0] for _, args, _ in ARG_CASES} | set(ARCHIVE_COMMANDS)
    assert commands <= tested, f"not run against the corpus: {sorted(commands - tested)}"
