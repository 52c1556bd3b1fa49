"""Pick CUDA, cuDNN and the torch/TensorFlow wheel variant for a project, as Cog does.

The data is ``compat.toml`` (generated from Cog's matrices by ``tools/gen_compat.py``); the
rules are Cog's ``validateAndCompleteCUDA`` (TensorFlow before torch, a ``+cuXYZ`` suffix
wins, else the highest CUDA the torch version was built for, cuDNN the latest for that
CUDA, 11.8 when neither framework is present) with Cog's error texts. Every decision is
recorded, so ``cognix lock --explain`` can say why.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib
from packaging.requirements import InvalidRequirement, Requirement

from .errors import CognixError

_HERE = Path(__file__).resolve().parent
COMPAT_PATHS = (_HERE / "compat.toml", _HERE.parent / "compat.toml")  # installed wheel, source checkout


class CompatibilityError(CognixError):
    """No CUDA/cuDNN/framework combination satisfies the project."""

    exit_code = 2


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("+")[0].split(".") if p.isdigit())


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


@dataclass(frozen=True)
class TorchVariant:
    torch: str
    variant: str  # "cu124", "cpu", or "default" (the PyPI wheel)
    cuda: str | None
    torchvision: str
    torchaudio: str
    index_url: str | None
    pythons: tuple[str, ...]


@dataclass(frozen=True)
class Matrix:
    """compat.toml, loaded, with Cog's load-time filtering applied."""

    cudnn_by_cuda: dict[str, tuple[str, ...]]  # "12.4" → ("9", "8"), highest first
    torch: tuple[TorchVariant, ...]
    tensorflow: dict[str, dict[str, Any]]
    torch_pypi: dict[str, dict[str, Any]]
    default_cuda: str
    nixpkgs: dict[str, str]

    @classmethod
    def from_toml(cls, data: dict[str, Any]) -> Matrix:
        cudnn: dict[str, set[str]] = {}
        for row in data["cuda"]:
            cudnn.setdefault(_minor(row["version"]), set()).update(row["cudnn"])
        by_cuda = {cuda: tuple(sorted(v, key=int, reverse=True)) for cuda, v in cudnn.items()}
        torch = tuple(
            TorchVariant(
                r["torch"],
                r["variant"],
                r.get("cuda"),
                r["torchvision"],
                r["torchaudio"],
                r.get("index_url"),
                tuple(r["pythons"]),
            )  # fmt: skip
            for r in data["torch"]
            if r.get("cuda") is None or r["cuda"] in by_cuda  # Cog drops CUDAs it has no image for
        )
        return cls(
            cudnn_by_cuda=by_cuda,
            torch=torch,
            tensorflow={r["tensorflow"]: r for r in data["tensorflow"]},
            torch_pypi={r["torch"]: r for r in data.get("torch_pypi", [])},
            default_cuda=data["defaults"]["cuda"],
            nixpkgs=data["nixpkgs"],
        )

    def torch_cudas(self, version: str) -> list[str]:
        return sorted({t.cuda for t in self.torch if t.torch == version and t.cuda}, key=_key)

    def latest_cudnn(self, cuda: str) -> str | None:
        found = self.cudnn_by_cuda.get(_minor(cuda))
        return found[0] if found else None


@functools.cache
def load_matrix() -> Matrix:
    for path in COMPAT_PATHS:
        if path.exists():
            return Matrix.from_toml(tomllib.loads(path.read_text()))
    raise CognixError("compat.toml is missing from this cognix installation", hint="reinstall cognix")


@dataclass
class Selection:
    """What a project's image gets, and why."""

    gpu: bool
    cuda: str | None = None
    cudnn: str | None = None
    torch: TorchVariant | None = None
    tensorflow: str | None = None
    explanation: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def because(self, text: str) -> None:
        self.explanation.append(text)

    def warn(self, text: str) -> None:
        self.warnings.append(text)


def pinned_versions(requirements: list[str]) -> dict[str, str]:
    """Name → the first version in each requirement's specifier (Cog's reading); local
    artifacts, options and unparsable lines are skipped."""
    versions: dict[str, str] = {}
    for line in requirements:
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        specs = list(req.specifier)
        versions[req.name.lower()] = specs[0].version if specs else ""
    return versions


def select(
    *,
    gpu: bool,
    python: str,
    requirements: list[str],
    cuda: str | None = None,
    cudnn: str | None = None,
    matrix: Matrix | None = None,
) -> Selection:
    """Cog's CUDA selection (§2 of Cog's behaviour) for a project's build settings."""
    m = matrix or load_matrix()
    pins = pinned_versions(requirements)
    s = Selection(gpu=gpu)
    torch_version = pins.get("torch")
    tf_version = pins.get("tensorflow")
    if not gpu:
        s.because("build.gpu is false: no CUDA")
        if torch_version:
            s.torch = _torch_variant(m, torch_version, None, python, s)
        return s
    if cuda and cudnn:
        known = m.cudnn_by_cuda.get(_minor(cuda))
        if known is not None and cudnn.split(".")[0] not in known:
            raise CompatibilityError(
                f"CUDA {cuda} is incompatible with CuDNN {cudnn}: compatible CuDNN versions are: {', '.join(known)}",
                hint="remove build.cudnn to get the latest one for this CUDA",
            )
    if tf_version is not None:
        _select_for_tensorflow(m, tf_version, cuda, cudnn, s)
    elif torch_version is not None:
        _select_for_torch(m, torch_version, cuda, s)
    elif cuda:
        s.cuda = _minor(cuda)
        s.because(f"CUDA {s.cuda}: set by build.cuda")
    else:
        s.cuda = m.default_cuda
        s.because(f"CUDA {s.cuda}: Cog's default when neither torch nor tensorflow is listed")
    if s.cudnn is None:
        if cudnn:
            s.cudnn = cudnn.split(".")[0]
            s.because(f"cuDNN {s.cudnn}: set by build.cudnn")
        else:
            s.cudnn = m.latest_cudnn(s.cuda or "")
            if s.cudnn is None:
                raise CompatibilityError(
                    f"CUDA {s.cuda} is not supported by Cog", hint="set build.cuda to a known version"
                )
            s.because(f"cuDNN {s.cudnn}: the latest for CUDA {s.cuda}")
    if torch_version and s.torch is None:
        s.torch = _torch_variant(m, torch_version, s.cuda, python, s)
    return s


def _select_for_tensorflow(m: Matrix, version: str, cuda: str | None, cudnn: str | None, s: Selection) -> None:
    entry = m.tensorflow.get(version)
    s.tensorflow = version
    if entry is None:
        if not cuda:
            raise CompatibilityError(
                f"Cog doesn't know what CUDA version is compatible with tensorflow=={version}.",
                hint="set build.cuda in cog.yaml (TensorFlow's tested configurations list it)",
            )
        s.cuda = _minor(cuda)
        s.because(f"CUDA {s.cuda}: set by build.cuda (tensorflow=={version} is not in the matrix)")
        return
    if not cuda:
        s.cuda = entry["cuda"]
        s.because(f"CUDA {s.cuda}: what tensorflow=={version} was tested with (TensorFlow decides before torch)")
    else:
        s.cuda = _minor(cuda)
        if s.cuda.split(".")[0] != entry["cuda"].split(".")[0]:
            raise CompatibilityError(
                f"TensorFlow {version} is incompatible with CUDA {s.cuda}: "
                f"TensorFlow {version} requires CUDA {entry['cuda']}",
                hint=f'set build.cuda to "{entry["cuda"]}" or remove it',
            )
        if s.cuda != entry["cuda"]:
            s.warn(
                f"Cog doesn't know if CUDA {s.cuda} is compatible with Tensorflow {version}. "
                "This might cause CUDA problems."
            )
        s.because(f"CUDA {s.cuda}: set by build.cuda")
    if cudnn and cudnn.split(".")[0] != entry["cudnn"]:
        raise CompatibilityError(
            f"The specified cuDNN version {cudnn} is not compatible with tensorflow=={version}.\n"
            f"Compatible cuDNN version is: {entry['cudnn']}",
            hint="remove build.cudnn",
        )
    if not cudnn:
        s.cudnn = entry["cudnn"]
        s.because(f"cuDNN {s.cudnn}: what tensorflow=={version} was tested with")


def _select_for_torch(m: Matrix, version: str, cuda: str | None, s: Selection) -> None:
    if not version:
        raise CompatibilityError(
            "torch version must be specified when using CUDA", hint="pin it, e.g. torch==2.6.0, in your requirements"
        )
    base, _, local = version.partition("+")
    if local.startswith("cu") and local[2:].isdigit():
        digits = local[2:]
        s.cuda = f"{digits[:-1]}.{digits[-1]}"
        s.because(f"CUDA {s.cuda}: from the local version suffix of torch=={version}")
        return
    cudas = m.torch_cudas(base)
    if not cudas:
        if cuda:
            s.cuda = _minor(cuda)
            s.because(f"CUDA {s.cuda}: set by build.cuda (torch=={base} is not in the matrix)")
            return
        raise CompatibilityError(
            f"Cog doesn't know what CUDA version is compatible with torch=={base}.",
            hint="set build.cuda in cog.yaml, or use a torch version listed in compat.toml",
        )
    if not cuda:
        s.cuda = cudas[-1]
        s.because(f"CUDA {s.cuda}: the highest CUDA torch=={base} is built for (of {', '.join(cudas)})")
        return
    s.cuda = _minor(cuda)
    if s.cuda not in cudas:
        s.warn(f"Cog doesn't know if CUDA {s.cuda} is compatible with PyTorch {base}. This might cause CUDA problems.")
        s.warn(f"Try CUDA {cudas[-1]} instead?")
    s.because(f"CUDA {s.cuda}: set by build.cuda")


def _torch_variant(m: Matrix, version: str, cuda: str | None, python: str, s: Selection) -> TorchVariant | None:
    """The wheel variant: the highest CUDA ≤ the chosen one, or the CPU build without a GPU."""
    base = version.partition("+")[0]
    candidates = [t for t in m.torch if t.torch == base]
    if cuda is None:
        cpu = [t for t in candidates if t.variant == "cpu"]
        if cpu:
            s.because(f"torch {base}: the CPU build from {cpu[0].index_url} (no CUDA libraries in the image)")
            return cpu[0]
        return None
    usable = [t for t in candidates if t.cuda and _key(t.cuda) <= _key(cuda)]
    if not usable:
        return None
    best = max(usable, key=lambda t: (_key(t.cuda or "0"), t.variant != "default"))
    where = best.index_url or "PyPI"
    s.because(f"torch {base}: the {best.variant} build (CUDA {best.cuda}) from {where}")
    if python not in best.pythons:
        s.warn(f"torch {base} ({best.variant}) lists no wheel for Python {python} (it has {', '.join(best.pythons)})")
    return best
