"""Pure Nix checks of cognix/nix: every file parses with the installed Nix (2.8 here, the oldest
we support), and the builtins-only modules evaluate to what the CLI and the toolchains expect.
Nothing is built and no nixpkgs is needed."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

NIX_DIR = Path(__file__).resolve().parents[2] / "cognix" / "nix"
NIX_FILES = [*sorted(NIX_DIR.rglob("*.nix")), NIX_DIR.parent.parent / "flake.nix"]  # the library and cognix's own flake
# evaluation needs no substituter, but a stray build would spend ~5 s timing out on cache.nixos.org
NIX_OPTS = ["--option", "substituters", ""]

pytestmark = pytest.mark.skipif(shutil.which("nix-instantiate") is None, reason="nix-instantiate is not installed")


def nix_eval(expr: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["nix-instantiate", *NIX_OPTS, "--eval", "--strict", "--json", "-E", expr],
        cwd=NIX_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


def eval_json(expr: str):
    result = nix_eval(expr)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


SP = "(import ./system-packages.nix { })"
CUDA = "(import ./cuda.nix)"


def test_nix_files_found():
    assert NIX_DIR / "system-packages.nix" in NIX_FILES


@pytest.mark.parametrize("path", NIX_FILES, ids=lambda p: str(p.relative_to(NIX_DIR.parent.parent)))
def test_parses(path):
    result = subprocess.run(
        ["nix-instantiate", *NIX_OPTS, "--parse", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_table_is_strings_or_null():
    table = json.loads((NIX_DIR / "system-packages.json").read_text())
    assert len([v for v in table.values() if v]) >= 60
    assert all(v is None or (isinstance(v, str) and v) for v in table.values())


def test_known_names_map():
    names = [
        "ffmpeg",
        "libgl1-mesa-glx",
        "libgl1",
        "libglib2.0-0",
        "libsm6",
        "libxext6",
        "libxrender1",
        "git",
        "wget",
        "curl",
        "espeak-ng",
        "libsndfile1",
        "sox",
        "cmake",
        "build-essential",
        "libopenblas-dev",
        "tesseract-ocr",
        "poppler-utils",
        "imagemagick",
        "libmagic1",
        "graphviz",
        "unzip",
        "zip",
        "libcairo2-dev",
        "pkg-config",
        "portaudio19-dev",
    ]
    got = eval_json(f"{SP}.check {json.dumps(names)}".replace(",", " "))
    assert got[:5] == ["ffmpeg", "libGL", "glib.out", "xorg.libSM", "xorg.libXext"]  # libGL once: deduplicated
    assert len(got) == len(set(got))


def test_normalisation_null_and_escape():
    names = ["libglib2.0-0t64", "git=1:2.34.1-1ubuntu1", "libsm6:amd64", "python3-dev", "nixpkgs:hello"]
    assert eval_json(f"{SP}.check {json.dumps(names)}".replace(",", " ")) == ["glib.out", "git", "xorg.libSM", "hello"]


def test_unknown_name_throws_with_suggestion():
    result = nix_eval(f'{SP}.check [ "ffmpeg" "libgl1-mesa-glz" ]')
    assert result.returncode != 0
    assert 'cog.yaml build.system_packages: unknown apt package "libgl1-mesa-glz"; did you mean:' in result.stderr
    assert "libgl1-mesa-glx" in result.stderr


def test_unknown_name_without_suggestion():
    result = nix_eval(f'{SP}.check [ "qqqqzzzz" ]')
    assert result.returncode != 0 and "did you mean" not in result.stderr and '"qqqqzzzz"' in result.stderr


def test_resolve_walks_attribute_paths():
    fake = '{ glib.out = "glib-out"; xorg.libSM = "sm"; ffmpeg = "ff"; }'
    assert eval_json(f'{SP}.resolve {fake} [ "libglib2.0-0" "libsm6" "ffmpeg" ]') == ["glib-out", "sm", "ff"]
    result = nix_eval(f'{SP}.resolve {{ }} [ "libsm6" ]')
    assert result.returncode != 0 and 'no attribute "xorg.libSM"' in result.stderr


def test_image_env_cpu_is_empty():
    assert eval_json(f"{CUDA}.imageEnv {{ gpu = false; }}") == {}


def test_image_env_gpu():
    env = eval_json(f'{CUDA}.imageEnv {{ gpu = true; cuda = "12.1"; }}')
    assert env["LD_LIBRARY_PATH"].split(":") == eval_json(f"{CUDA}.driverDirs")
    assert env["LD_LIBRARY_PATH"].startswith("/usr/local/nvidia/lib64:")
    assert env["NVIDIA_VISIBLE_DEVICES"] == "all"
    assert env["NVIDIA_DRIVER_CAPABILITIES"] == "compute,utility"
    assert env["NVIDIA_REQUIRE_CUDA"] == "cuda>=12.1"
    assert "TRITON_LIBCUDA_PATH" not in env


def test_driver_libs_include_libcuda():
    assert "libcuda.so.1" in eval_json(f"{CUDA}.driverLibs")


def test_native_cuda_packages():
    fake = '{ cudaPackages_12_4 = "cp124"; cudaPackages_11_8 = throw "removed"; lib.version = "24.11"; }'
    assert eval_json(f'{CUDA}.nativeCudaPackages {fake} "12.4.1"') == "cp124"
    result = nix_eval(f'{CUDA}.nativeCudaPackages {fake} "11.8"')
    assert result.returncode != 0
    assert "cudaPackages_11_8" in result.stderr and "it has: cudaPackages_12_4" in result.stderr


def test_every_path_cognix_flake_names_exists() -> None:
    """The flake cannot be evaluated here (no nixpkgs), so a moved folder would go unnoticed."""
    flake = NIX_DIR.parent.parent / "flake.nix"
    paths = re.findall(r"\./[\w./-]+", flake.read_text())
    assert "./cognix/nix" in paths
    assert [p for p in paths if not (flake.parent / p).exists()] == []
