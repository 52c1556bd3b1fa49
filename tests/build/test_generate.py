"""What ``cognix build`` generates (flake.nix, .cognix/), for CPU, GPU torch, TensorFlow and
system_packages projects, and the pure Nix parts evaluated by the real Nix 2.8: lock reading,
the layer plan, and the nixpkgs toolchain wired into the library.

nixpkgs cannot be fetched here, so the last test instantiates (never builds) the production
toolchain against a stand-in ``pkgs`` that has only the attributes it uses; that checks the
wiring and the derivation graph, not nixpkgs itself.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
import zipfile
from pathlib import Path

import pytest

from cognix.build import generate, server_wheel, sources
from cognix.build.nixcli import nix32_to_hex
from cognix.project import config
from cognix.project.pylock import Lock, Package

needs_nix = pytest.mark.skipif(shutil.which("nix-instantiate") is None, reason="Nix is not installed")
PIN = {
    "url": "github:NixOS/nixpkgs/f9f0d5c5380be0a599b1fb54641fa99af8281539",
    "nar-hash": "sha256-En+gSoVJ3iQKPDU1FHrR6zIxSLXKjzKY+pnh9tt+Yts=",
}
NIXPKGS = generate.Toolchain("nixpkgs", nixpkgs_url=PIN["url"], nixpkgs_nar_hash=PIN["nar-hash"])
MB = 1024 * 1024


def wheel(name: str, version: str, size: int = 1000) -> dict:
    filename = f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    return {
        "name": name,
        "version": version,
        "wheels": [{"url": f"https://files.example/{filename}", "size": size, "hashes": {"sha256": "ab" * 32}}],
    }


def lock_doc(gpu: bool = False, packages: list[dict] | None = None, **tool: object) -> Lock:
    table = {"python": "3.11", "gpu": gpu, "nixpkgs": PIN, "system-packages": [], **tool}
    table |= {"cognix-version": "0", "inputs-hash": "sha256:" + "0" * 64, "platform": "x86_64-manylinux_2_28"}
    document = {
        "requires-python": "==3.11.*",
        "packages": packages or [wheel("six", "1.17.0")],
        "tool": {"cognix": table},
    }
    return Lock.model_validate(document)


def make(tmp_path: Path, cog_yaml: str, **files: str) -> config.Project:
    (tmp_path / "cog.yaml").write_text(textwrap.dedent(cog_yaml))
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return config.load_project(tmp_path, None)


def parse_all(project_dir: Path) -> None:
    for path in [project_dir / "flake.nix", *sorted((project_dir / ".cognix").rglob("*.nix"))]:
        out = subprocess.run(["nix-instantiate", "--parse", str(path)], capture_output=True, text=True)
        assert out.returncode == 0, f"{path}: {out.stderr}"


@needs_nix
def test_cpu_project_offline(tmp_path: Path) -> None:
    project = make(tmp_path, 'build:\n  python_version: "3.11"\nrun: "predict.py:Runner"\n', **{"predict.py": ""})
    toolchain = generate.Toolchain("offline", path=Path("/opt/toolchain"))
    generate.write(project, lock_doc(), toolchain, tag="cog-x:latest")
    flake = (tmp_path / "flake.nix").read_text()
    assert 'inputs.toolchain = { url = "path:/opt/toolchain"; flake = false; };' in flake
    assert "nixpkgs" not in flake.split("outputs")[0].replace("without nixpkgs", "")
    assert "builtins.path { path = /opt/toolchain;" in (tmp_path / ".cognix" / "build.nix").read_text()
    spec = json.loads((tmp_path / ".cognix" / "image.json").read_text())
    assert spec["env"] == {"COG_PREDICT_TYPE_STUB": "predict.py:Runner"}
    assert spec["name"] == "cog-x" and spec["tag"] == "cog-x:latest"
    parse_all(tmp_path)


@needs_nix
def test_gpu_torch_project_pins_nixpkgs_and_records_cuda(tmp_path: Path) -> None:
    project = make(
        tmp_path,
        """
        build:
          gpu: true
          python_version: "3.11"
          python_packages: ["torch==2.1.0"]
        run: "predict.py:Runner"
        concurrency:
          max: 4
        environment:
          - HF_HOME=/src/.hf
        """,
        **{"predict.py": ""},
    )
    generate.write(project, lock_doc(gpu=True, cuda="12.1", cudnn="8"), NIXPKGS, tag="r/torch:v1")
    flake = (tmp_path / "flake.nix").read_text()
    assert f'inputs.nixpkgs.url = "{PIN["url"]}";' in flake
    toolchain = (tmp_path / ".cognix" / "toolchain.nix").read_text()
    assert "config.allowUnfree = true;" in toolchain and "toolchains/nixpkgs.nix" in toolchain
    build = (tmp_path / ".cognix" / "build.nix").read_text()
    assert 'url = "https://github.com/NixOS/nixpkgs/archive/f9f0d5c5380be0a599b1fb54641fa99af8281539.tar.gz"' in build
    assert f'sha256 = "{PIN["nar-hash"]}"' in build
    spec = json.loads((tmp_path / ".cognix" / "image.json").read_text())
    assert spec["env"] == {
        "COG_MAX_CONCURRENCY": "4",
        "COG_PREDICT_TYPE_STUB": "predict.py:Runner",
        "HF_HOME": "/src/.hf",
    }
    assert (spec["name"], spec["tag"]) == ("torch", "r/torch:v1")  # name: for store paths
    assert not any(
        key.startswith("org.opencontainers.image.") for key in spec["labels"]
    )  # the name is not in the digest
    effective = json.loads(spec["labels"]["run.cog.config"])
    assert effective["build"]["cuda"] == "12.1" and effective["build"]["cudnn"] == "8"
    parse_all(tmp_path)


@needs_nix
def test_tensorflow_and_system_packages_project(tmp_path: Path) -> None:
    project = make(
        tmp_path,
        """
        build:
          gpu: true
          python_version: "3.11"
          python_packages: ["tensorflow==2.14.0"]
          system_packages: ["ffmpeg", "libgl1"]
        predict: "predict.py:Predictor"
        """,
        **{"predict.py": ""},
    )
    generate.write(
        project,
        lock_doc(gpu=True, cuda="11.8", cudnn="8", **{"system-packages": ["ffmpeg", "libgl1"]}),
        NIXPKGS,
        tag="cog-tf:latest",
    )
    assert "allowUnfree = true" in (tmp_path / ".cognix" / "toolchain.nix").read_text()
    labels = json.loads((tmp_path / ".cognix" / "image.json").read_text())["labels"]
    assert json.loads(labels["run.cog.config"])["build"]["system_packages"] == ["ffmpeg", "libgl1"]
    parse_all(tmp_path)


def test_source_files_follow_dockerignore_and_skip_cognix_output(tmp_path: Path) -> None:
    project = make(
        tmp_path,
        'build:\n  python_version: "3.11"\nrun: "predict.py:Runner"\n',
        **{
            "predict.py": "",
            "weights/a.bin": "x",
            "notes/skip.md": "",
            ".git/HEAD": "",
            "pylock.toml": "",
            ".dockerignore": "notes\n*.log\n",
            "run.log": "",
            "lib/util.py": "",
        },
    )
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "image.tar").write_text("")
    generate.write(project, lock_doc(), NIXPKGS, tag="t:latest")
    sources.remember_output(project, tmp_path / "out" / "image.tar")
    files = sources.source_files(tmp_path, [])
    assert files == ["cog.yaml", "lib/", "lib/util.py", "predict.py", "weights/", "weights/a.bin"]


def test_the_server_wheel_is_deterministic_and_complete(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = server_wheel.server_wheel(tmp_path / "a"), server_wheel.server_wheel(tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        names = archive.namelist()
        record = archive.read(next(n for n in names if n.endswith("RECORD"))).decode()
    assert "cognix/server/__main__.py" in names and "cognix_cog_alias.pth" in names
    assert not any(n.startswith(("cognix/nix/", "cognix/project/templates/")) or "__pycache__" in n for n in names)
    assert all(line.split(",")[0] in names for line in record.splitlines())


def nix_eval(expression: str, cwd: Path) -> object:
    out = subprocess.run(
        ["nix-instantiate", "--eval", "--strict", "--json", "-E", expression], capture_output=True, text=True, cwd=cwd
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@needs_nix
def test_nix_reads_the_lock_as_cognix_wrote_it(tmp_path: Path) -> None:
    own = {"name": "mine", "version": "1.0", "wheels": [{"path": "wheels/mine-1.0-py3-none-any.whl", "size": 5}]}
    own["wheels"][0]["hashes"] = {"sha256": "ef" * 32}
    doc = lock_doc(packages=[own, wheel("six", "1.17.0", 11000), wheel("torch", "2.5.1", 900 * MB)])
    (tmp_path / "pylock.toml").write_text(doc.render())
    lib = generate.NIX_LIBRARY
    got = nix_eval(f"(import {lib}/lock.nix {{ }}).read (builtins.readFile ./pylock.toml)", tmp_path)
    assert got["python"] == "3.11" and got["gpu"] is False and got["cuda"] is None
    assert got["wheels"][2] == {
        "name": "torch",
        "version": "2.5.1",
        "url": "https://files.example/torch-2.5.1-py3-none-any.whl",
        "path": None,
        "sha256": "ab" * 32,
        "size": 900 * MB,
        "filename": "torch-2.5.1-py3-none-any.whl",
    }
    assert got["wheels"][0] == {  # a file of the project's: by its path, with the same checks
        "name": "mine",
        "version": "1.0",
        "url": None,
        "path": "wheels/mine-1.0-py3-none-any.whl",
        "sha256": "ef" * 32,
        "size": 5,
        "filename": "mine-1.0-py3-none-any.whl",
    }
    sdist = {"name": "only-sdist", "version": "1.0", "sdist": {"url": "x", "size": 1, "hashes": {"sha256": "cd" * 32}}}
    doc = doc.model_copy(update={"packages": [*doc.packages, Package.model_validate(sdist)]})
    (tmp_path / "pylock.toml").write_text(doc.render())
    out = subprocess.run(
        [
            "nix-instantiate",
            "--eval",
            "--strict",
            "-E",
            f"(import {lib}/lock.nix {{ }}).read (builtins.readFile ./pylock.toml)",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode != 0 and "only-sdist 1.0 has no wheel" in out.stderr


@needs_nix
def test_layer_plan_puts_the_interpreter_first_then_each_big_wheel(tmp_path: Path) -> None:
    lib = generate.NIX_LIBRARY
    plan = nix_eval(
        f"""(import {lib}/layers.nix {{ }}).plan {{
              wheels = [ {{ name = "six"; size = 11000; drv = "six"; }}
                         {{ name = "torch"; size = {900 * MB}; drv = "torch"; }}
                         {{ name = "nvidia-cudnn-cu12"; size = {600 * MB}; drv = "cudnn"; }} ];
              python = "py"; cacert = "ca"; shell = "sh"; server = "cognix"; env = "env"; systemPackages = [ "ffmpeg" ];
            }}""",
        tmp_path,
    )
    assert [(layer["name"], layer["roots"]) for layer in plan] == [
        ("python", ["py", "ca", "sh"]),
        ("system-packages", ["ffmpeg"]),  # before the wheels, whose RUNPATHs name it
        ("torch", ["torch"]),
        ("nvidia-cudnn-cu12", ["cudnn"]),
        ("cognix", ["cognix"]),
        ("site-packages", ["env"]),
    ]


STUB_PKGS = """
# A stand-in for nixpkgs with only what toolchains/nixpkgs.nix uses (nixpkgs cannot be fetched
# here); its derivations are instantiated, never built.
let
  system = "x86_64-linux";
  drv = name: derivation { inherit name system; builder = "/bin/sh"; args = [ "-c" "echo > $out" ]; };
  stub = drv "stub";
in {
  python311 = drv "python3.11" // { lib = drv "python3.11-lib"; };
  bash = drv "bash";
  python3 = drv "python3";
  patchelf = drv "patchelf";
  cacert = drv "cacert";
  zlib = drv "zlib";
  ffmpeg = drv "ffmpeg";
  libGL = drv "libGL";
  # nixpkgs' shape for openssl: first output `bin`, no `lib` output, the libraries in `out`
  openssl = derivation { name = "openssl"; inherit system; builder = "/bin/sh"; args = [ "-c" "" ]; outputs = [ "bin" "dev" "out" ]; };
  bubblewrap = drv "bubblewrap";
  stdenv = { hostPlatform.system = system; cc.cc = drv "gcc-lib"; cc.bintools.dynamicLinker = "/stub/ld-linux-x86-64.so.2"; };
  pythonManylinuxPackages.manylinux2014 = [ (drv "glibc") ];
  fetchurl = { url, sha256, name }: drv name;
  writeScript = name: text: derivation { inherit name system text; builder = "/bin/sh"; args = [ "-c" "echo > $out" ]; };
  runtimeShell = "/bin/sh";
  mkShell = { name, packages }: drv name;
  path = builtins.toFile "nixpkgs-stub-path" "";
}
"""


@needs_nix
def test_nixpkgs_toolchain_instantiates_with_the_library(tmp_path: Path) -> None:
    project = make(
        tmp_path,
        'build:\n  python_version: "3.11"\n  system_packages: ["ffmpeg", "libgl1", "libssl3"]\nrun: "predict.py:Runner"\n',
        **{"predict.py": ""},
    )
    wanted = {"system-packages": ["ffmpeg", "libgl1", "libssl3"]}
    generate.write(project, lock_doc(**wanted), NIXPKGS, tag="cog-x:latest")
    (tmp_path / "pylock.toml").write_text(lock_doc(**wanted).render())
    (tmp_path / "stub.nix").write_text(STUB_PKGS)
    expression = (
        "let model = import ./.cognix/nix { toolchain = import ./.cognix/nix/toolchains/nixpkgs.nix "
        '{ pkgs = import ./stub.nix; pythonVersion = "3.11"; }; root = ./.; }; '
        "in [ model.image model.pythonEnv model.devShell ]"
    )
    instantiated = subprocess.run(["nix-instantiate", "-E", expression], capture_output=True, text=True, cwd=tmp_path)
    assert instantiated.returncode == 0, instantiated.stderr
    image = instantiated.stdout.split()[0]
    shown = subprocess.run(
        ["nix", "--extra-experimental-features", "nix-command", "show-derivation", "-r", image],
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 0, shown.stderr
    derivations = json.loads(shown.stdout)
    names = sorted(Path(path).name.split("-", 1)[1] for path in derivations)
    # each wheel installed with the shared builder, the conf made by cognix's stream_conf.py
    assert {"six-1.17.0.drv", "python-env.drv", "cog-x-conf.drv", "ffmpeg.drv", "libGL.drv"} <= set(names), names
    conf = next(d for path, d in derivations.items() if path.endswith("-cog-x-conf.drv"))
    assert conf["args"][-1].endswith("/stream_conf.py")
    assert conf["builder"].endswith("python3.11/bin/python3.11")
    # openssl's libraries from its `out` output, its programs from `bin` (nixpkgs' getLib/getBin)
    openssl = next(d for path, d in derivations.items() if path.endswith("-openssl.drv"))["outputs"]
    six = json.loads(next(d for path, d in derivations.items() if path.endswith("-six-1.17.0.drv"))["env"]["__json"])
    assert f"{openssl['out']['path']}/lib" in six["rpath"] and f"{openssl['bin']['path']}/lib" not in six["rpath"]
    env = json.loads(conf["env"]["__json"])["config"]["Env"]
    path = next(item for item in env if item.startswith("PATH="))
    assert f"{openssl['bin']['path']}/bin" in path


@needs_nix
def test_nixpkgs_toolchain_runs_build_steps_as_fixed_output_derivations(tmp_path: Path) -> None:
    """build.run on nixpkgs: each step a fixed-output derivation with the lock's hash, run by
    runstep.py in nixpkgs' bubblewrap, and its files in the customisation layer's conf."""
    project = make(
        tmp_path,
        'build:\n  python_version: "3.11"\n  run: ["echo made > /opt/marker"]\nrun: "predict.py:Runner"\n',
        **{"predict.py": ""},
    )
    step = {"command": "echo made > /opt/marker", "secrets": [], "output-hash": "0" * 52}
    generate.write(project, lock_doc(**{"run-steps": [step]}), NIXPKGS, tag="cog-x:latest")
    (tmp_path / "pylock.toml").write_text(lock_doc(**{"run-steps": [step]}).render())
    (tmp_path / "stub.nix").write_text(STUB_PKGS)
    expression = (
        "let model = import ./.cognix/nix { toolchain = import ./.cognix/nix/toolchains/nixpkgs.nix "
        '{ pkgs = import ./stub.nix; pythonVersion = "3.11"; }; root = ./.; }; in model.image'
    )
    instantiated = subprocess.run(["nix-instantiate", "-E", expression], capture_output=True, text=True, cwd=tmp_path)
    assert instantiated.returncode == 0, instantiated.stderr
    shown = subprocess.run(
        [
            "nix",
            "--extra-experimental-features",
            "nix-command",
            "show-derivation",
            "-r",
            instantiated.stdout.split()[0],
        ],
        capture_output=True,
        text=True,
    )
    derivations = json.loads(shown.stdout)
    run = next(d for path, d in derivations.items() if path.endswith("-run-step-1.drv"))
    assert run["outputs"]["out"]["hash"] == nix32_to_hex("0" * 52)
    attrs = json.loads(run["env"]["__json"])
    assert attrs["command"] == "echo made > /opt/marker" and attrs["bwrap"].endswith("-bubblewrap")
    conf = next(d for path, d in derivations.items() if path.endswith("-cog-x-conf.drv"))
    assert json.loads(conf["env"]["__json"])["trees"] == [run["outputs"]["out"]["path"]]


def test_unknown_apt_names_get_suggestions_before_nix_runs() -> None:
    from cognix.errors import CognixError

    generate.check_system_packages(["ffmpeg", "libgl1=1.7.0-1", "libglib2.0-0t64", "nixpkgs:ffmpeg-full"], NIXPKGS)
    with pytest.raises(CognixError) as raised:
        generate.check_system_packages(["ffmpeg", "ffmpg", "zzzz-nothing"], NIXPKGS)
    assert '"ffmpg" (did you mean: ffmpeg' in raised.value.message and '"zzzz-nothing"' in raised.value.message


@pytest.mark.parametrize(
    ("patterns", "kept"),
    [
        (["*", "!predict.py", "!cog.yaml"], ["cog.yaml", "predict.py"]),  # allow-list style
        (["/data.csv", "**/top.pth"], ["cog.yaml", "predict.py", "sub/model.pth"]),  # rooted and any-depth
        (["*.pth"], ["cog.yaml", "data.csv", "predict.py", "sub/model.pth", "sub/top.pth"]),  # top level only
        (["sub", "!sub/model.pth"], ["cog.yaml", "data.csv", "predict.py", "sub/model.pth", "top.pth"]),
    ],
)
def test_dockerignore_follows_dockers_rules(tmp_path: Path, patterns: list[str], kept: list[str]) -> None:
    for name in ("cog.yaml", "predict.py", "data.csv", "top.pth", "sub/model.pth", "sub/top.pth"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    (tmp_path / ".dockerignore").write_text("\n".join(["# models stay out", *patterns]) + "\n")
    assert [f for f in sources.source_files(tmp_path, []) if not f.endswith("/")] == kept


@needs_nix
def test_layer_plan_stays_within_the_layer_limit(tmp_path: Path) -> None:
    lib = generate.NIX_LIBRARY
    plan = nix_eval(
        f"""(import {lib}/layers.nix {{ }}).plan {{
              wheels = builtins.genList (i: {{ name = "w${{toString i}}"; size = {60 * MB} + i; drv = "w${{toString i}}"; }}) 150;
              python = "py"; cacert = "ca"; shell = "sh"; server = "cognix"; env = "env";
            }}""",
        tmp_path,
    )
    assert len(plan) + 2 == 100  # with the base and /src layers the builders add
    assert [layer["name"] for layer in plan[2:4]] == ["w149", "w148"]  # the largest keep their own layers
