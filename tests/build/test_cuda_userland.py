"""CUDA userland for GPU images whose packages bring none: the lock adds NVIDIA's CUDA runtime,
NVRTC, cuBLAS, cuFFT, cuRAND, cuSOLVER, cuSPARSE and cuDNN wheels (pinned with hashes) for onnxruntime-gpu, adds
nothing beside torch's own nvidia-* wheels, and in the image every library onnxruntime's CUDA
provider links is found, all but the driver's (which only a GPU host mounts).

Real PyPI (the ``network`` mark); the image test builds a 1.8 GB image and runs it under podman
on this CPU machine, where the loader traces what would load (``LD_TRACE_LOADED_OBJECTS``, as
``ldd`` does).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cognix.project.pylock import read
from tests.build.test_build import PODMAN, RUN_FLAGS, needs_podman, prune_images
from tests.conftest import copy_example, run_cli

pytestmark = [pytest.mark.network, pytest.mark.slow]
DRIVER = ("libcuda.so.1", "libnvidia-ml.so.1")  # the host's, never in an image


def gpu_project(tmp_path: Path, requirements: str) -> Path:
    project = copy_example("hello-world", tmp_path / "model")
    (project / "pylock.toml").unlink()
    (project / "requirements.txt").write_text(requirements)
    config = project / "cog.yaml"
    config.write_text(
        config.read_text().replace(
            "build:\n", 'build:\n  gpu: true\n  cuda: "12.4"\n  python_requirements: requirements.txt\n', 1
        )
    )
    return project


def test_onnxruntime_gpu_gets_the_cuda_userland_pinned(tmp_path: Path) -> None:
    project = gpu_project(tmp_path, "onnxruntime-gpu==1.20.2\n")
    locked = run_cli("lock", "--explain", cwd=project, timeout=300)
    assert locked.returncode == 0, locked.stderr
    packages = {p.name: p for p in read(project / "pylock.toml").packages}
    for name, version in (
        ("nvidia-cuda-runtime-cu12", "12.4."),
        ("nvidia-cuda-nvrtc-cu12", "12.4."),
        ("nvidia-cublas-cu12", "12.4."),
        ("nvidia-cudnn-cu12", "9."),
        ("nvidia-cufft-cu12", ""),
        ("nvidia-curand-cu12", ""),
        ("nvidia-cusolver-cu12", ""),  # what TensorFlow and cupy load beside the others
        ("nvidia-cusparse-cu12", ""),
    ):
        assert packages[name].version.startswith(version), (name, packages[name].version)
        wheel = packages[name].wheel
        assert wheel is not None and len(wheel.hashes["sha256"]) == 64
    assert "CUDA 12.4 userland: no package brings its own CUDA libraries" in locked.stderr


def test_torchs_own_nvidia_wheels_are_not_doubled(tmp_path: Path) -> None:
    project = gpu_project(tmp_path, "torch==2.5.1\n")
    locked = run_cli("lock", "--explain", cwd=project, timeout=300)
    assert locked.returncode == 0, locked.stderr
    names = [p.name for p in read(project / "pylock.toml").packages]
    assert names.count("nvidia-cuda-runtime-cu12") == 1 and "nvidia-cudnn-cu12" in names
    assert "userland" not in locked.stderr


@needs_podman
@pytest.mark.skipif(shutil.which("nix") is None, reason="Nix is not installed (apt-get install nix-bin)")
def test_the_cuda_provider_finds_every_library_but_the_drivers_in_the_image(tmp_path: Path) -> None:
    project = gpu_project(tmp_path, "onnxruntime-gpu==1.20.2\n")
    built = run_cli("build", "-o", str(project / "image.tar"), cwd=project, timeout=1200)
    assert built.returncode == 0, built.stderr
    script = (
        'lib=$(python -c "import onnxruntime, os; print(os.path.join(os.path.dirname(onnxruntime.__file__),'
        " 'capi', 'libonnxruntime_providers_cuda.so'))\"); "
        'loader=$(readlink /lib64/ld-linux-x86-64.so.2); LD_TRACE_LOADED_OBJECTS=1 "$loader" "$lib"; /sbin/ldconfig -p'
    )
    ran = subprocess.run(
        [
            *PODMAN,
            "run",
            "--rm",
            *RUN_FLAGS,
            "--entrypoint",
            "/bin/sh",
            f"oci-archive:{project / 'image.tar'}",
            "-c",
            script,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    prune_images()
    listed = ran.stdout.splitlines()
    missing = sorted({line.split()[0] for line in listed if "not found" in line})
    assert set(missing) <= set(DRIVER), ran.stdout + ran.stderr
    for soname in ("libcudart.so.12", "libcublas.so.12", "libcublasLt.so.12", "libcudnn.so.9", "libnvrtc.so.12"):
        assert any(line.strip().startswith(soname + " => /nix/store/") for line in listed), (soname, ran.stdout)
    assert "libs found in cache" in ran.stdout  # triton's libcuda_dirs() reads `/sbin/ldconfig -p`
