"""cog.yaml + pylock.toml → what Nix builds: ``flake.nix`` and the ``.cognix/`` folder.

``.cognix/`` holds the Nix library (copied from this package, so the CLI and the Nix code always
match), the toolchain choice, ``build.nix`` (what ``cognix build`` builds), ``image.json`` (the
image's name, environment and labels), ``src.json`` (the model source files, from
:mod:`cognix.build.sources`) and the image's cognix wheel (:mod:`cognix.build.server_wheel`).
Every file is a pure function of its inputs: sorted keys and lists, fixed zip times, no clock.
"""

from __future__ import annotations

import difflib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import jinja2

from cognix._version import __version__
from cognix.build.files import canonical_json, write_if_changed
from cognix.build.server_wheel import server_wheel
from cognix.build.sources import GENERATED, source_files
from cognix.errors import CognixError
from cognix.image.reference import check_reference
from cognix.project.config import Project
from cognix.project.pylock import CognixTable, Lock

PACKAGE = Path(__file__).resolve().parent.parent  # cognix/
NIX_LIBRARY = PACKAGE / "nix"  # self-contained: its builders, the OCI writer and the templates live in it


# What `cognix build` leaves in .cognix/ that is not a source of the build: out-links, the archive,
# the SBOM. The rest (the Nix library, the JSON specs, the cognix wheel) a flake must see.
GITIGNORE = """# written by cognix build: results, not sources (git add the rest for flake users)
image.tar
python-env
image-closure
stream-image
run-step-inputs
sbom.cdx.json
outputs.json
flake-registry.json
"""


@dataclass(frozen=True)
class Toolchain:
    """What builds the image: ``offline`` (a prefix made by cognix.build.toolchain) or ``nixpkgs``."""

    kind: str
    path: Path | None = None  # the offline prefix
    nixpkgs_url: str = ""  # github:NixOS/nixpkgs/<rev>
    nixpkgs_nar_hash: str = ""

    @property
    def nixpkgs_tarball(self) -> str:
        rev = self.nixpkgs_url.rsplit("/", 1)[-1]
        return f"https://github.com/NixOS/nixpkgs/archive/{rev}.tar.gz"


def image_name(project: Project) -> str:
    """Cog's default: ``cog-<folder>``, lowercased to a valid reference."""
    return "cog-" + re.sub(r"[^a-z0-9._-]+", "-", project.dir.resolve().name.lower()).strip("-._")


def write(
    project: Project,
    lock: Lock,
    toolchain: Toolchain,
    *,
    tag: str,
    exclude: list[str] | None = None,
) -> Path:
    """Write ``flake.nix`` and ``.cognix/`` for ``project``; returns the ``.cognix`` folder."""
    out = project.dir / GENERATED
    out.mkdir(exist_ok=True)
    library = out / "nix"
    if library.exists():
        shutil.rmtree(library)
    shutil.copytree(NIX_LIBRARY, library, ignore=shutil.ignore_patterns("__pycache__", "templates", "__init__.py"))
    wheel = server_wheel(out)
    tool = lock.cognix
    repository = check_reference(tag)
    spec = {
        "name": re.sub(r"[^A-Za-z0-9+._-]+", "-", repository.rsplit("/", 1)[-1]),  # for store path names
        "tag": tag,
        "env": image_env(project),
        "labels": image_labels(project, tool),
        "cognixVersion": __version__,
        "cognixWheel": wheel.name,
    }
    write_if_changed(out / "image.json", canonical_json(spec))
    write_if_changed(out / ".gitignore", GITIGNORE)
    write_if_changed(out / "src.json", canonical_json(source_files(project.dir, exclude or [])))
    context = {
        "version": __version__,
        "kind": toolchain.kind,
        "python": tool.python,
        "gpu": tool.gpu,
        "name": spec["name"],
        "toolchain_path": str(toolchain.path) if toolchain.path else "",
        "nixpkgs_url": toolchain.nixpkgs_url,
        "nixpkgs_tarball": toolchain.nixpkgs_tarball,
        "nixpkgs_nar_hash": toolchain.nixpkgs_nar_hash,
    }
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(NIX_LIBRARY / "templates"),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    for name, target in (
        ("toolchain.nix", out / "toolchain.nix"),
        ("build.nix", out / "build.nix"),
        ("flake.nix", project.dir / "flake.nix"),
    ):
        write_if_changed(target, templates.get_template(f"{name}.j2").render(context))
    return out


def add_labels(project: Project, labels: dict[str, str]) -> None:
    """Labels known only once the Python environment is built (schema, SBOM digest): the image
    spec changes, nothing else that ``write`` made."""
    path = project.dir / GENERATED / "image.json"
    spec = json.loads(path.read_text())
    spec["labels"] |= labels
    write_if_changed(path, canonical_json(spec))


def default_tag(project: Project) -> str:
    return f"{image_name(project)}:latest"


def check_system_packages(names: list[str], toolchain: Toolchain) -> None:
    """Refuse, before Nix runs, apt names the nixpkgs toolchain cannot map, with the closest known
    ones. (The offline toolchain resolved them against Debian's index when it locked.)"""
    if not names or toolchain.kind == "offline":
        return
    table = json.loads((NIX_LIBRARY / "system-packages.json").read_text())
    unknown = []
    for raw in names:
        name = raw.split("=", 1)[0].split(":", 1)[0]
        if name.endswith("t64") and name not in table:  # Ubuntu 24.04's time_t renames
            name = name[:-3]
        if not raw.startswith("nixpkgs:") and name not in table:
            close = difflib.get_close_matches(name, list(table), n=3, cutoff=0.6)
            unknown.append(f'"{raw}"' + (f" (did you mean: {', '.join(close)}?)" if close else ""))
    if unknown:
        raise CognixError(
            f"cog.yaml build.system_packages: cognix does not know the apt package {', '.join(unknown)}",
            hint="use an apt name cognix maps (see cognix/nix/system-packages.json), "
            "or name a nixpkgs attribute directly, e.g. nixpkgs:ffmpeg-full",
        )


def image_env(project: Project) -> dict[str, str]:
    """cog.yaml's ``environment`` plus the variables Cog bakes into its images."""
    config = project.config
    env = dict(config.environment_dict)
    if config.runner:
        env["COG_PREDICT_TYPE_STUB"] = config.runner
    if config.train:
        env["COG_TRAIN_TYPE_STUB"] = config.train
    if config.concurrency:
        env["COG_MAX_CONCURRENCY"] = str(config.concurrency.max)
    return env


def image_labels(project: Project, tool: CognixTable) -> dict[str, str]:
    """Cog's ``run.cog.*`` labels (the effective config has the lock's CUDA/cuDNN) and the lock's inputs hash."""
    effective = project.config.model_dump(mode="json", exclude_none=True)
    build = effective.setdefault("build", {})
    for key, value in (("cuda", tool.cuda), ("cudnn", tool.cudnn)):
        if value:
            build[key] = value
    return {
        "run.cog.version": __version__,
        "run.cog.config": json.dumps(effective, sort_keys=True, separators=(",", ":")),
        "io.cognix.lock.inputs-hash": tool.inputs_hash,
    }
