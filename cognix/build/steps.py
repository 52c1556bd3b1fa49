"""``build.run`` at lock time: run each step as its Nix build will, record the hash of what it wrote.

Each step is a fixed-output derivation (``nix/run-steps.nix``): it may use the network, and its
output must have the hash the lock records. ``cognix lock`` learns that hash by running the
step's own builder (``nix/builders/runstep.py``) on this host with the exact attributes Nix
would give it, twice: a step whose two runs differ is refused, naming the files that differ,
since no later build could match its hash. The first run's output is then added to the store as
that derivation's output, so the build does not run the step a third time; a build on another
machine runs it in Nix's sandbox and must get the same bytes.

Secrets (``--secret id=NAME,src=FILE``) are bound read-only into the step for the run and are
never copied by cognix: not into the store, the lock, a layer or cognix's messages (what the
step itself prints is the step's own output).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cognix.build.sources import GENERATED
from cognix.errors import CognixError
from cognix.project import lock as locking
from cognix.project.config import Project, RunCommand
from cognix.project.pylock import LOCK_NAME, Lock, RunStep

if TYPE_CHECKING:
    from cognix.build.generate import Toolchain

# the same bytes Nix runs (generate copies the package's nix/ folder into .cognix/)
RUNNER = Path(__file__).resolve().parent.parent / "nix" / "builders" / "runstep.py"
SANDBOX_SECRETS = "/cognix-secrets"  # runstep.py's SECRETS


class StepError(CognixError):
    """A build.run step failed, or does not write the same files twice."""


def lock_project(
    project: Project,
    *,
    toolchain: str | None,
    secrets: dict[str, Path],
    progress: Callable[[str], None],
    **options: Any,
) -> Lock:
    """``cognix lock``: wheels and Debian packages pinned (:mod:`cognix.project.lock`), then the
    build.run steps run to record what they write. The build machinery is imported only when
    there are steps: a lock without them stays as quick as uv."""
    check_secrets(project.config.build_or_default.run_commands, secrets)  # before the slow part
    document = locking.write_lock(project, toolchain=toolchain, progress=progress, **options)[1]
    if not document.cognix.run_steps:
        return document
    from cognix.build import pipeline

    chosen = pipeline.toolchain_for(document.cognix.builds_with, document, progress)
    return record_hashes(project, document, chosen, secrets=secrets, progress=progress)


def parse_secrets(specs: list[str]) -> dict[str, Path]:
    """Cog's ``--secret id=NAME,src=FILE`` flags, by id."""
    secrets: dict[str, Path] = {}
    for spec in specs:
        fields = dict(part.split("=", 1) for part in spec.split(",") if "=" in part)
        if set(fields) != {"id", "src"}:
            raise CognixError(f"--secret {spec!r} is not id=NAME,src=FILE", hint="e.g. --secret id=hf,src=~/.hf-token")
        source = Path(fields["src"]).expanduser().resolve()
        if not source.is_file():
            raise CognixError(f"--secret {fields['id']}: {fields['src']} is not a file", hint="give the secret's file")
        if any(char.isspace() for char in str(source)):  # Nix's sandbox-paths are separated by spaces
            raise CognixError(f"--secret {fields['id']}: {source} has a space in its path", hint="move the file")
        secrets[fields["id"]] = source
    return secrets


def check_secrets(commands: list[RunCommand], secrets: dict[str, Path]) -> None:
    """Every secret a step mounts must be given (Cog's ``--secret id=…,src=…``)."""
    for index, step in enumerate(commands, start=1):
        for mount in step.mounts:
            if mount.id not in secrets:
                raise StepError(
                    f"build.run step {index} ({step.command!r}) mounts the secret {mount.id!r} at {mount.target}",
                    hint=f"pass --secret id={mount.id},src=FILE",
                )


def sandbox_options(secrets: dict[str, Path]) -> list[str]:
    """Nix options that bind each secret's file where ``runstep.py`` looks for it in Nix's
    sandbox, for this build only: the file is never added to the store. (A Nix daemon takes
    ``extra-sandbox-paths`` from trusted users only.)"""
    paths = " ".join(f"{SANDBOX_SECRETS}/{name}={source}" for name, source in sorted(secrets.items()))
    return ["--option", "extra-sandbox-paths", paths] if secrets else []


def record_hashes(
    project: Project,
    lock: Lock,
    toolchain: Toolchain,
    *,
    secrets: dict[str, Path],
    progress: Callable[[str], None],
) -> Lock:
    """``lock`` with every build.run step's output hash, each step run twice on this host."""
    from cognix.build import generate, nixcli

    steps = lock.cognix.run_steps
    recorded: list[RunStep] = []
    for index, step in enumerate(steps, start=1):
        current = lock.with_cognix(run_steps=[*recorded, *steps[index - 1 :]])
        current.write(project.dir / LOCK_NAME)  # Nix reads the earlier steps' hashes from it
        generate.write(project, current, toolchain, tag=generate.default_tag(project))
        inputs = nixcli.build(
            project.dir,
            f"runStepInputs.{index - 1}",
            offline=toolchain.kind == "offline",
            out_link=project.dir / GENERATED / "run-step-inputs",
            progress=progress,
        )
        attrs = json.loads(inputs.read_text())
        progress(f"running build.run step {index} ({step.command})")
        with tempfile.TemporaryDirectory(prefix="cognix-run-") as scratch:
            first, second = (_run(attrs, secrets, Path(scratch) / name) for name in ("first", "second"))
            if differing := differences(first, second):
                more = f" and {len(differing) - 10} more" if len(differing) > 10 else ""
                raise StepError(
                    f"build.run step {index} ({step.command!r}) is not reproducible: two runs wrote different "
                    f"{', '.join('/' + path for path in differing[:10])}{more}",
                    hint="make the step write the same bytes every run (pin what it downloads, drop timestamps "
                    "and caches), or move that work into the predictor's setup()",
                )
            if referring := store_references(first):
                raise StepError(
                    f"build.run step {index} ({step.command!r}) wrote files that refer to the Nix store "
                    f"({', '.join('/' + path for path in referring[:10])}), which a fixed-output step cannot hold",
                    hint="refer to programs by their image paths (/usr/bin/…, or `#!/usr/bin/env python`), "
                    "not by their /nix/store paths",
                )
            output_hash = nixcli.nar_hash(first)
            named = first.rename(first.parent / f"run-step-{index}")  # the derivation's name
            nixcli.add_fixed([named], recursive=True)
        recorded.append(step.model_copy(update={"output_hash": output_hash}))
    final = lock.with_cognix(run_steps=recorded)
    final.write(project.dir / LOCK_NAME)
    return final


def _run(attrs: dict[str, Any], secrets: dict[str, Path], out: Path) -> Path:
    """The step's builder, on this host, with the attributes Nix gives it and the secrets' files."""
    work = out.with_name(f"{out.name}-work")
    work.mkdir()
    given = {"outputs": {"out": str(out)}, "secretSources": {k: str(v) for k, v in secrets.items()}}
    (work / ".attrs.json").write_text(json.dumps({**attrs, **given}))
    command = [attrs["python"], "-I", str(RUNNER)]
    ran = subprocess.run(
        command, cwd=work, capture_output=True, text=True, env={"PATH": os.defpath}, stdin=subprocess.DEVNULL
    )
    if ran.returncode != 0:
        lines = (ran.stdout + ran.stderr).strip().splitlines()
        first_error = next((line for line in lines if line.startswith("error: ")), "")
        no_namespace = any(line.startswith("bwrap: ") for line in lines)
        raise StepError(
            first_error.removeprefix("error: ") or f"build.run step {attrs['index']} failed",
            details="\n".join(line for line in lines[-40:] if line != first_error),
            hint="bubblewrap could not make the step's root: it needs unprivileged user namespaces (on Ubuntu "
            "24.04: sysctl kernel.apparmor_restrict_unprivileged_userns=0)"
            if no_namespace
            else "fix the step in cog.yaml (its output is above), then run `cognix lock` again",
        )
    return out


_STORE_PATH = re.compile(rb"/nix/store/[0-9a-df-np-sv-z]{32}-")


def store_references(root: Path) -> list[str]:
    """The files (relative, sorted) that name a store path, as Nix's reference scan finds them: a
    fixed-output derivation's output must have none."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            if _STORE_PATH.search(os.readlink(path).encode()):
                found.append(path.relative_to(root).as_posix())
        elif path.is_file():
            with path.open("rb") as data:
                tail = b""
                while chunk := data.read(1 << 20):
                    if _STORE_PATH.search(tail + chunk):
                        found.append(path.relative_to(root).as_posix())
                        break
                    tail = chunk[-64:]  # a path across two chunks
    return found


def differences(first: Path, second: Path) -> list[str]:
    """The paths (relative, sorted) whose kind, bytes, link target or executable bit differ."""

    def listing(root: Path) -> dict[str, tuple[str, str, bool]]:
        found = {}
        for path in root.rglob("*"):
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[rel] = ("link", os.readlink(path), False)
            elif path.is_dir():
                found[rel] = ("dir", "", False)
            else:
                with path.open("rb") as data:  # weights may be gigabytes: hashed, never held
                    found[rel] = ("file", hashlib.file_digest(data, "sha256").hexdigest(), os.access(path, os.X_OK))
        return found

    a, b = listing(first), listing(second)
    return sorted(rel for rel in a.keys() | b.keys() if a.get(rel) != b.get(rel))
