"""`cognix lock` against a package index on loopback: determinism, targets, errors, staleness."""

from __future__ import annotations

import hashlib
import urllib.request
from pathlib import Path

import pytest
import tomllib

from tests.conftest import run_cli
from tests.package_index import build_sdist, build_wheel, package_index

COG_YAML = 'build:\n  python_version: "3.11"\n  python_requirements: requirements.txt\nrun: "run.py:Runner"\n'


@pytest.fixture
def index(tmp_path: Path):
    with package_index(tmp_path / "index") as idx:
        yield idx


@pytest.fixture
def project(tmp_path: Path, index):
    root = tmp_path / "project"
    root.mkdir()
    (root / "cog.yaml").write_text(COG_YAML)
    (root / "run.py").write_text(
        "from cog import BaseRunner\nclass Runner(BaseRunner):\n    def run(self) -> str:\n        return ''\n"
    )

    def requirements(*lines: str) -> Path:
        (root / "requirements.txt").write_text(
            f"--index-url {index.url}/simple\n" + "".join(f"{line}\n" for line in lines)
        )
        return root

    return requirements


def _lock(root: Path, *args: str) -> dict:
    result = run_cli("lock", *args, cwd=root, env={"UV_CACHE_DIR": str(root.parent / "uv-cache")})
    assert result.returncode == 0, result.stderr
    return tomllib.loads((root / "pylock.toml").read_text())


def _versions(document: dict) -> dict[str, str]:
    return {p["name"]: p["version"] for p in document["packages"]}


def test_lock_picks_one_wheel_for_the_image_target(index, project) -> None:
    index.wheel("fastlib", "1.0", tag="cp311-cp311-manylinux_2_17_x86_64")
    index.wheel("fastlib", "1.0", tag="cp312-cp312-manylinux_2_17_x86_64")
    index.wheel("fastlib", "1.0", tag="cp311-cp311-macosx_11_0_arm64")
    index.wheel("fastlib", "1.0")  # the pure-Python fallback
    index.wheel("helper", "2.1", requires=("fastlib>=1",))
    root = project("helper==2.1")
    document = _lock(root)
    packages = {p["name"]: p for p in document["packages"]}
    assert packages["helper"]["version"] == "2.1"
    wheels = packages["fastlib"]["wheels"]
    assert len(wheels) == 1 and wheels[0]["url"].endswith("fastlib-1.0-cp311-cp311-manylinux_2_17_x86_64.whl")
    assert [p["name"] for p in document["packages"]] == sorted(p["name"] for p in document["packages"])
    for package in document["packages"]:
        (wheel,) = package["wheels"]
        data = urllib.request.urlopen(wheel["url"]).read()
        assert wheel["size"] == len(data)
        assert wheel["hashes"]["sha256"] == hashlib.sha256(data).hexdigest()
    tool = document["tool"]["cognix"]
    assert tool["python"] == "3.11" and tool["platform"] == "x86_64-manylinux_2_28" and tool["gpu"] is False
    assert tool["indexes"] == [f"{index.url}/simple"]
    assert tool["inputs-hash"].startswith("sha256:")
    assert tool["nixpkgs"]["url"].startswith("github:NixOS/nixpkgs/") and tool["nixpkgs"]["nar-hash"].startswith(
        "sha256-"
    )
    assert document["lock-version"] == "1.0" and document["requires-python"] == "==3.11.*"
    assert {"fastapi", "uvicorn", "pydantic"} <= set(_versions(document))  # the server's own packages


def test_lock_is_byte_identical_for_identical_inputs(index, project) -> None:
    index.wheel("alpha", "1.0")
    index.wheel("beta", "3.0", requires=("alpha",))
    root = project("beta")
    _lock(root)
    first = (root / "pylock.toml").read_bytes()
    (root / "pylock.toml").unlink()
    _lock(root)
    assert (root / "pylock.toml").read_bytes() == first


def test_a_package_without_a_wheel_for_the_target_is_named(index, project) -> None:
    index.wheel("maconly", "1.0", tag="cp311-cp311-macosx_11_0_arm64")
    root = project("maconly==1.0")
    result = run_cli("lock", cwd=root)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "maconly" in result.stderr


def test_an_error_found_while_uv_resolves_stops_uv(tmp_path: Path, index, project) -> None:
    """uv starts as soon as the requirements are known and the Debian pins are made while it
    runs; when those fail (no suite ships Python 3.12), uv is stopped and its files removed."""
    index.wheel("steady", "1.0")
    root = project("steady==1.0")
    (root / "cog.yaml").write_text(COG_YAML.replace('"3.11"', '"3.12"'))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    result = run_cli("lock", cwd=root, env={"TMPDIR": str(scratch)})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "no Debian suite ships Python 3.12" in result.stderr
    running = [p for p in Path("/proc").glob("[0-9]*/cmdline") if str(scratch).encode() in _read(p)]
    assert not running and not any(scratch.iterdir())


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:  # the process ended meanwhile
        return b""


def test_sdist_only_package_needs_an_explicit_opt_in(index, project) -> None:
    index.sdist("oldlib", "0.9")
    root = project("oldlib==0.9")
    result = run_cli("lock", cwd=root)
    assert result.returncode == 1
    assert "oldlib has no wheel for the image" in result.stderr
    assert "cognix lock --allow-sdist oldlib" in result.stderr
    assert not (root / "pylock.toml").exists()
    document = _lock(root, "--allow-sdist", "oldlib")
    oldlib = next(p for p in document["packages"] if p["name"] == "oldlib")
    assert oldlib["sdist"]["url"].endswith("oldlib-0.9.tar.gz") and "wheels" not in oldlib
    assert document["tool"]["cognix"]["build-from-source"] == ["oldlib"]
    assert _lock(root)["tool"]["cognix"]["build-from-source"] == ["oldlib"]  # the opt-in is kept


def test_a_wheel_file_of_the_project_is_locked_by_its_sha256(index, project) -> None:
    """Cog 0.22's local artifacts: `./wheels/x.whl` in the requirements, pinned by content, found
    by its path in the project (PEP 751's `path`), wherever cognix is run from."""
    root = project("./wheels/localpkg-1.0-py3-none-any.whl")
    (root / "wheels").mkdir()
    wheel = build_wheel(root / "wheels", "localpkg", "1.0")
    result = run_cli(
        "lock", "-f", str(root / "cog.yaml"), cwd=root.parent, env={"UV_CACHE_DIR": str(root.parent / "uvc")}
    )
    assert result.returncode == 0, result.stderr
    locked = next(p for p in tomllib.loads((root / "pylock.toml").read_text())["packages"] if p["name"] == "localpkg")
    assert locked["wheels"] == [
        {
            "path": "wheels/localpkg-1.0-py3-none-any.whl",
            "size": wheel.stat().st_size,
            "hashes": {"sha256": hashlib.sha256(wheel.read_bytes()).hexdigest()},
        }
    ]
    assert run_cli("lock", "--check", cwd=root).returncode == 0
    build_wheel(root / "wheels", "localpkg", "1.0", requires=("alpha",))  # rebuilt: same name, new bytes
    stale = run_cli("lock", "--check", cwd=root)
    assert stale.returncode == 1 and "stale" in stale.stderr


def test_a_source_distribution_of_the_project_is_named_when_refused(index, project) -> None:
    root = project("./wheels/localpkg-1.0.tar.gz")
    (root / "wheels").mkdir()
    build_sdist(root / "wheels", "localpkg", "1.0")
    refused = run_cli("lock", cwd=root)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "wheels/localpkg-1.0.tar.gz (localpkg) is a source distribution" in refused.stderr
    assert "pip wheel --no-deps wheels/localpkg-1.0.tar.gz -w wheels" in refused.stderr
    assert not (root / "pylock.toml").exists()
    locked = next(p for p in _lock(root, "--allow-sdist", "localpkg")["packages"] if p["name"] == "localpkg")
    assert locked["sdist"]["path"] == "wheels/localpkg-1.0.tar.gz" and "wheels" not in locked


def test_a_wheel_file_the_image_cannot_use_or_build_from_is_refused(tmp_path: Path, index, project) -> None:
    root = project("./wheels/maclib-1.0-cp311-cp311-macosx_11_0_arm64.whl")
    (root / "wheels").mkdir()
    build_wheel(root / "wheels", "maclib", "1.0", tag="cp311-cp311-macosx_11_0_arm64")
    wrong = run_cli("lock", cwd=root)
    assert wrong.returncode == 1
    assert "wheels/maclib-1.0-cp311-cp311-macosx_11_0_arm64.whl is not a wheel for the image" in wrong.stderr
    (tmp_path / "elsewhere").mkdir()
    outside = build_wheel(tmp_path / "elsewhere", "farpkg", "1.0")
    project(str(outside))
    far = run_cli("lock", cwd=root)
    assert far.returncode == 1 and f"farpkg: {outside} is outside the project" in far.stderr
    assert "copy the file into the project" in far.stderr


def test_check_detects_a_stale_lock(index, project) -> None:
    index.wheel("alpha", "1.0")
    index.wheel("alpha", "2.0")
    root = project("alpha<3")
    assert run_cli("lock", "--check", cwd=root).returncode == 1
    _lock(root)
    assert run_cli("lock", "--check", cwd=root).returncode == 0
    project("alpha<2")
    stale = run_cli("lock", "--check", cwd=root)
    assert stale.returncode == 1 and "requirements changed" in stale.stderr


def test_a_hand_edited_lock_is_named_not_dropped(index, project) -> None:
    index.wheel("alpha", "1.0")
    root = project("alpha")
    _lock(root)
    text = (root / "pylock.toml").read_text()
    (root / "pylock.toml").write_text(text.replace('python = "3.11"', 'pyhton = "3.11"'))
    result = run_cli("lock", "--check", cwd=root)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "pylock.toml is not a lock cognix can read" in result.stderr
    assert "tool.cognix.python: Field required" in result.stderr and "tool.cognix.pyhton" in result.stderr
    assert "delete" in result.stderr and "cognix lock" in result.stderr
    for edit, named in (
        ('toolchain = "offlnie"', "tool.cognix.toolchain: Input should be 'offline' or 'nixpkgs'"),
        ('system_packages = ["ffmpeg"]', "tool.cognix.system_packages: Extra inputs are not permitted"),  # Nix reads -
    ):
        (root / "pylock.toml").write_text(text.replace('python = "3.11"', f'python = "3.11"\n{edit}'))
        result = run_cli("lock", "--check", cwd=root)
        assert result.returncode == 1 and named in result.stderr, result.stderr


def test_upgrades_only_when_asked(index, project) -> None:
    index.wheel("alpha", "1.0")
    index.wheel("beta", "1.0")
    root = project("alpha", "beta")
    assert _versions(_lock(root))["alpha"] == "1.0"
    index.wheel("alpha", "2.0")
    index.wheel("beta", "2.0")
    assert _versions(_lock(root))["alpha"] == "1.0"  # the lock's versions are kept
    after = _versions(_lock(root, "--upgrade-package", "alpha"))
    assert (after["alpha"], after["beta"]) == ("2.0", "1.0")
    assert _versions(_lock(root, "--upgrade"))["beta"] == "2.0"


def test_extra_index_from_requirements_is_used_and_recorded(tmp_path: Path, index, project) -> None:
    with package_index(tmp_path / "second") as second:
        second.wheel("private-model-utils", "0.3")
        root = project(f"--extra-index-url {second.url}/simple", "private-model-utils==0.3")
        document = _lock(root)
    assert _versions(document)["private-model-utils"] == "0.3"
    assert document["tool"]["cognix"]["indexes"] == [f"{index.url}/simple", f"{second.url}/simple"]


def test_explain_and_cuda_choice_are_recorded(index, project) -> None:
    index.wheel("numpy", "2.0.0")
    root = project("numpy==2.0.0")
    (root / "cog.yaml").write_text(COG_YAML.replace("build:\n", "build:\n  gpu: true\n"))
    refused = run_cli("lock", "--explain", cwd=root)  # the index has no CUDA userland wheels
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "cognix adds NVIDIA's CUDA userland wheels for build.gpu" in " ".join(refused.stderr.split())
    for name, version in (("cuda-runtime", "11.8.89"), ("cuda-nvrtc", "11.8.89"), ("cublas", "11.11.3.6")):
        index.wheel(f"nvidia-{name}-cu11", version)
    for name, version in (
        ("cufft", "10.9.0.58"),
        ("curand", "10.3.0.86"),
        ("cudnn", "8.9.6.50"),
        ("cusolver", "11.4.1.48"),
        ("cusparse", "11.7.5.86"),
    ):
        index.wheel(f"nvidia-{name}-cu11", version)
    result = run_cli("lock", "--explain", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "CUDA 11.8: Cog's default when neither torch nor tensorflow is listed" in result.stderr
    assert "CUDA 11.8 userland: no package brings its own CUDA libraries" in " ".join(result.stderr.split())
    tool = tomllib.loads((root / "pylock.toml").read_text())["tool"]["cognix"]
    assert (tool["cuda"], tool["cudnn"], tool["gpu"]) == ("11.8", "8", True)


def test_predict_warns_when_the_local_env_differs_from_the_lock(index, project) -> None:
    index.wheel("pytest", "1.0")  # surely not the installed pytest
    root = project("pytest==1.0")
    _lock(root)
    result = run_cli("predict", cwd=root)
    assert result.returncode == 0, result.stderr
    assert f"pytest is {pytest.__version__} here but 1.0 in pylock.toml" in result.stderr


@pytest.mark.network
def test_lock_a_real_gpu_project_against_pypi(tmp_path: Path) -> None:
    """torch 2.0.0 (CUDA 11.7, PyPI's own build), transformers and Pillow for Python 3.11."""
    (tmp_path / "cog.yaml").write_text(
        'build:\n  gpu: true\n  cuda: "11.7"\n  python_version: "3.11"\n  python_requirements: requirements.txt\n'
    )
    (tmp_path / "requirements.txt").write_text("torch==2.0.0\ntransformers==4.40.0\npillow==10.3.0\n")
    result = run_cli("lock", "--explain", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    document = tomllib.loads((tmp_path / "pylock.toml").read_text())
    versions = _versions(document)
    assert versions["torch"] == "2.0.0" and "nvidia-cudnn-cu11" in versions and "tokenizers" in versions
    assert (document["tool"]["cognix"]["cuda"], document["tool"]["cognix"]["cudnn"]) == ("11.7", "8")
    for package in document["packages"]:
        (wheel,) = package["wheels"]
        name = wheel["url"].rsplit("/", 1)[-1]
        platform = name.rsplit("-", 1)[-1]
        assert platform == "any.whl" or ("x86_64" in platform and "linux" in platform), name
        python = name.split("-")[-3]
        assert python in ("py3", "py2.py3", "cp311") or python.startswith("cp3") and "abi3" in name, name
    small = min((p["wheels"][0] for p in document["packages"]), key=lambda w: w["size"])
    data = urllib.request.urlopen(small["url"], timeout=60).read()
    assert hashlib.sha256(data).hexdigest() == small["hashes"]["sha256"] and len(data) == small["size"]


def test_framework_wheels_are_pinned_to_the_chosen_build() -> None:
    """As Cog rewrites torch lines: the chosen variant, its index; PyPI's build needs no index;
    a mirror of the variant's index in the requirements replaces the PyTorch index."""
    import dataclasses

    from cognix.project import compat
    from cognix.project.lock import _framework_wheels

    m = compat.load_matrix()
    cpu = compat.select(gpu=False, python="3.11", requirements=["torch==2.6.0", "torchvision==0.21.0"])
    lines, extra, added = _framework_wheels(["torch==2.6.0", "torchvision==0.21.0", "numpy"], [], [], cpu, m)
    assert lines == ["torch==2.6.0+cpu", "torchvision==0.21.0+cpu", "numpy"]
    assert extra == [added] == ["https://download.pytorch.org/whl/cpu/"]
    assert cpu.explanation[-1] == (
        "torch 2.6.0: the cpu build from https://download.pytorch.org/whl/cpu/, which cognix adds "
        "(PyPI's torch wheel is another build)"
    )

    gpu = compat.select(gpu=True, python="3.11", requirements=["torch==2.6.0"])
    mirror = ["https://mirror/simple"]
    lines, extra, added = _framework_wheels(["torch==2.6.0", "torchaudio==2.6.0"], mirror, mirror, gpu, m)
    assert lines == [f"torch==2.6.0+{gpu.torch.variant}", f"torchaudio==2.6.0+{gpu.torch.variant}"]
    assert extra == ["https://mirror/simple", gpu.torch.index_url] and added == gpu.torch.index_url

    own = [f"https://mirror.example/pytorch/whl/{gpu.torch.variant}"]  # a mirror of the variant's index
    lines, extra, added = _framework_wheels(["torch==2.6.0"], own, own, gpu, m)
    assert extra == own and added is None and lines == [f"torch==2.6.0+{gpu.torch.variant}"]
    assert "from https://mirror.example/pytorch/whl/" in gpu.explanation[-1]

    mine = ["torch==2.6.0+cu118"]  # the user's own local version is left alone
    assert _framework_wheels(mine, [], [], compat.select(gpu=True, python="3.11", requirements=mine), m)[0] == mine

    pypi_build = dataclasses.replace(m, torch_pypi={"2.6.0": {"torch": "2.6.0", "cuda": gpu.cuda, "source": "test"}})
    same = compat.select(gpu=True, python="3.11", requirements=["torch==2.6.0"], matrix=pypi_build)
    assert _framework_wheels(["torch==2.6.0"], [], [], same, pypi_build) == (["torch==2.6.0"], [], None)
    assert "PyPI's wheel is the CUDA" in same.explanation[-1]
    assert not any("from https://download.pytorch.org" in line for line in same.explanation)  # no contradiction


def test_an_unreachable_pytorch_index_is_named_with_the_mirror_to_use(project) -> None:
    root = project()
    (root / "cog.yaml").write_text(
        'build:\n  python_version: "3.11"\n  python_requirements: requirements.txt\nrun: "predict.py:Runner"\n'
    )
    (root / "requirements.txt").write_text("torch==2.6.0\n")
    dead = "http://127.0.0.1:9/whl"  # nothing listens on the discard port
    result = run_cli("lock", "--toolchain", "nixpkgs", cwd=root, env={"COGNIX_PYTORCH_INDEX": dead})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "cannot reach the PyTorch index http://127.0.0.1:9/whl/cpu/, which cognix adds for torch's cpu build" in (
        " ".join(result.stderr.split())
    )
    assert "--extra-index-url https://MIRROR/whl/cpu" in result.stderr


def test_inline_python_packages_and_the_default_index_from_uv_settings(index, project) -> None:
    index.wheel("alpha", "1.5")
    root = project()
    (root / "cog.yaml").write_text('build:\n  python_version: "3.13"\n  python_packages: ["alpha==1.5"]\n')
    result = run_cli("lock", cwd=root, env={"UV_DEFAULT_INDEX": f"{index.url}/simple"})
    assert result.returncode == 0, result.stderr
    document = tomllib.loads((root / "pylock.toml").read_text())
    assert _versions(document)["alpha"] == "1.5" and document["requires-python"] == "==3.13.*"
    assert document["tool"]["cognix"]["indexes"] == [f"{index.url}/simple"]


@pytest.mark.network
def test_triton_gets_the_setuptools_it_imports_without_declaring(project) -> None:
    root = project()
    (root / "cog.yaml").write_text(
        'build:\n  python_version: "3.11"\n  python_requirements: requirements.txt\nrun: "predict.py:Runner"\n'
    )
    (root / "requirements.txt").write_text("triton==3.1.0\n")
    result = run_cli("lock", "--explain", "--toolchain", "nixpkgs", cwd=root, timeout=300)
    assert result.returncode == 0, result.stderr
    names = {p["name"] for p in tomllib.loads((root / "pylock.toml").read_text())["packages"]}
    assert {"triton", "setuptools"} <= names
    assert "setuptools: triton imports it without declaring it, so cognix adds it" in " ".join(result.stderr.split())


@pytest.mark.parametrize(
    ("lock", "requirements", "command", "message"),
    [
        (b"\xff\xfe\x00garbage", b"numpy\n", "--check", "pylock.toml cannot be read as a lock: 'utf-8' codec"),
        (b'packages = "x"\n', b"numpy\n", "--check", "packages: Input should be a valid list"),
        (None, b"numpy\xff\xfe\n", "--toolchain=nixpkgs", "cannot read build.python_requirements (requirements.txt)"),
    ],
    ids=["garbage-lock", "packages-not-a-list", "requirements-not-utf8"],
)
def test_damaged_locks_and_requirements_are_errors_not_tracebacks(
    tmp_path: Path, lock: bytes | None, requirements: bytes, command: str, message: str
) -> None:
    """Issue 12 (16, 18): bytes that are not what cognix wrote name the file and the fix."""
    (tmp_path / "cog.yaml").write_text(COG_YAML)
    (tmp_path / "requirements.txt").write_bytes(requirements)
    if lock is not None:
        (tmp_path / "pylock.toml").write_bytes(lock)
    result = run_cli("lock", command, cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert message in " ".join(result.stderr.split())
