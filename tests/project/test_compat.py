"""CUDA/cuDNN/torch/TensorFlow selection with Cog's rules, over the whole of Cog's data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cognix.project.compat import CompatibilityError, load_matrix, select
from tests.conftest import REPO

COG_DATA = REPO / "tools" / "cog-data"  # Cog's own matrices, vendored


def test_compat_toml_is_generated_from_cog_data() -> None:
    result = subprocess.run([sys.executable, "tools/gen_compat.py", "--check"], cwd=REPO)
    assert result.returncode == 0, "compat.toml is stale: run python tools/gen_compat.py"


def _cog(name: str) -> list[dict]:
    return json.loads((COG_DATA / name).read_text())


def test_every_torch_version_gets_a_choice_cog_accepts() -> None:
    m = load_matrix()
    versions = sorted({e["Torch"].split("+")[0] for e in _cog("torch_compatibility.json")})
    assert len(versions) >= 27  # 1.11.0 … 2.11.0
    for version in versions:
        rows = [e for e in _cog("torch_compatibility.json") if e["Torch"].split("+")[0] == version]
        cudas_with_images = {e["CUDA"] for e in rows if e["CUDA"] and e["CUDA"] in m.cudnn_by_cuda}
        python = rows[0]["Pythons"][0]
        if not cudas_with_images:  # Cog drops these variants and then refuses, as cognix does
            with pytest.raises(CompatibilityError, match="doesn't know what CUDA version"):
                select(gpu=True, python=python, requirements=[f"torch=={version}"])
            continue
        s = select(gpu=True, python=python, requirements=[f"torch=={version}"])
        assert s.cuda == max(cudas_with_images, key=lambda v: tuple(map(int, v.split(".")))), version
        assert s.cudnn == m.cudnn_by_cuda[s.cuda][0]
        assert s.torch is not None and s.torch.torch == version and s.torch.cuda == s.cuda
        assert s.torch.index_url is None or s.torch.index_url.startswith("https://download.pytorch.org/whl/")


def test_every_tensorflow_version_gets_its_tested_cuda() -> None:
    m = load_matrix()
    for entry in _cog("tf_compatibility.json"):
        s = select(gpu=True, python="3.11", requirements=[f"tensorflow=={entry['TF']}", "torch==2.6.0"])
        assert s.cuda == ".".join(entry["CUDA"].split(".")[:2])  # TensorFlow decides before torch
        assert s.cudnn == entry["CuDNN"].split(".")[0]
        assert s.cuda in m.cudnn_by_cuda


def test_local_suffix_pins_cuda() -> None:
    s = select(gpu=True, python="3.11", requirements=["torch==2.0.1+cu118"])
    assert (s.cuda, s.cudnn) == ("11.8", "8")
    assert "local version suffix" in s.explanation[0]


def test_default_cuda_without_frameworks() -> None:
    s = select(gpu=True, python="3.12", requirements=["numpy==2.0.0"])
    assert s.cuda == "11.8" and s.cudnn == "8"


def test_cpu_image_gets_the_cpu_torch_build() -> None:
    s = select(gpu=False, python="3.11", requirements=["torch==2.6.0"])
    assert s.cuda is None and s.torch is not None
    assert s.torch.variant == "cpu" and s.torch.index_url == "https://download.pytorch.org/whl/cpu/"


def test_explicit_cuda_outside_torch_set_warns() -> None:
    s = select(gpu=True, python="3.11", requirements=["torch==2.6.0"], cuda="12.1")
    assert s.cuda == "12.1"
    assert (
        s.warnings[0]
        == "Cog doesn't know if CUDA 12.1 is compatible with PyTorch 2.6.0. This might cause CUDA problems."
    )
    assert s.torch is not None and s.torch.cuda == "11.8"  # the highest build not above 12.1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"requirements": ["torch"]}, "torch version must be specified when using CUDA"),
        ({"requirements": ["torch==0.4.1"]}, "Cog doesn't know what CUDA version is compatible with torch==0.4.1."),
        (
            {"requirements": ["tensorflow==0.4.1"]},
            "Cog doesn't know what CUDA version is compatible with tensorflow==0.4.1.",
        ),
        (
            {"requirements": [], "cuda": "12.4", "cudnn": "7"},
            "CUDA 12.4 is incompatible with CuDNN 7: compatible CuDNN versions are: 9",
        ),
        (
            {"requirements": ["tensorflow==2.12.0"], "cuda": "12.1"},
            "TensorFlow 2.12.0 is incompatible with CUDA 12.1: TensorFlow 2.12.0 requires CUDA 11.8",
        ),
        (
            {"requirements": ["tensorflow==2.12.0"], "cudnn": "9"},
            "The specified cuDNN version 9 is not compatible with tensorflow==2.12.0.",
        ),
    ],
)
def test_cog_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(CompatibilityError) as info:
        select(gpu=True, python="3.11", **kwargs)
    assert message in info.value.message


def test_unknown_torch_with_explicit_cuda_is_accepted() -> None:
    s = select(gpu=True, python="3.11", requirements=["torch==0.4.1"], cuda="11.8")
    assert (s.cuda, s.cudnn) == ("11.8", "8")


def test_matrix_is_valid_toml_for_nix_too() -> None:
    text = (Path(REPO) / "cognix" / "project" / "compat.toml").read_text()
    assert text.startswith("# The CUDA")
    m = load_matrix()
    assert m.default_cuda == "11.8" and "12.4" in m.cudnn_by_cuda


def test_pypi_torch_cuda_is_recorded_for_every_torch_since_1_13() -> None:
    m = load_matrix()
    versions = {t.torch for t in m.torch if tuple(map(int, t.torch.split("."))) >= (1, 13)}
    assert versions <= set(m.torch_pypi)
    assert (m.torch_pypi["2.0.0"]["cuda"], m.torch_pypi["2.6.0"]["cuda"]) == ("11.7", "12.4")
    assert all(
        row["source"].startswith(f"PyPI: torch=={v} requires nvidia-cuda-runtime") for v, row in m.torch_pypi.items()
    )
