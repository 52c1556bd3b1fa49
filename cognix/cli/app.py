"""The ``cognix`` command line. Commands are thin: each wires options to a stage module."""

from __future__ import annotations

import gc
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cognix._version import __version__
from cognix.cli.console import err, status, styled
from cognix.errors import CognixError
from cognix.project import config

if TYPE_CHECKING:
    from cognix.image.archive import Image

app = typer.Typer(
    name="cognix",
    help="Build reproducible ML model images with Nix, from Cog projects.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigFile = Annotated[str | None, typer.Option("-f", "--file", help="Path to cog.yaml (default: search upward).")]


def _version(value: bool) -> None:
    if value:
        print(f"cognix {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """cognix: Cog's job, on Nix."""


def _project(config_file: str | None) -> config.Project:
    project = config.load_project(Path.cwd(), config_file)
    for w in project.warnings:
        err.print(f"[yellow]warning:[/] {w}", markup=True)
    return project


def _warn_drift(project: config.Project) -> None:
    """Running locally: say when this Python differs from what the image will have."""
    from cognix.project.lock import environment_drift

    for line in environment_drift(project):
        err.print(styled(("warning: ", "yellow"), line))


def _program() -> str:
    """``cog`` when invoked through a ``cog`` alias (Cog's words then name Cog's command), else ``cognix``."""
    return "cog" if Path(sys.argv[0]).name == "cog" else "cognix"


def _image_environment(project: config.Project, extra: Sequence[str] = ()) -> dict[str, str]:
    """cog.yaml's ``environment`` (which the image sets too), then ``-e NAME=VALUE``: what the model
    sees when it runs here."""
    variables = dict(project.config.environment_dict)
    for item in extra:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CognixError(f"-e {item!r} is not NAME=VALUE", hint="e.g. -e HF_TOKEN=abc")
        variables[name] = value
    return variables


def _predict(
    mode: str, input_args: list[str], json_input: str | None, output: str | None, config_file: str | None
) -> None:
    from cognix.cli.in_process import PredictionFailed, run_once

    project = _project(config_file)
    _warn_drift(project)
    os.environ.update(_image_environment(project))  # as in the image, where it is the process's
    try:
        run_once(project, mode, input_args, json_input, output)
    except PredictionFailed:
        raise typer.Exit(1) from None


Inputs = Annotated[
    list[str], typer.Option("-i", "--input", help="Input as name=value; @path for a file; repeat a name for a list.")
]
JsonInput = Annotated[
    str | None, typer.Option("--json", help="All inputs as JSON: '{...}', @file.json or - for stdin.")
]
OutputOpt = Annotated[str | None, typer.Option("-o", "--output", help="Write the output to this path.")]


@app.command("run")
def run_cmd(
    ctx: typer.Context,
    input_args: Inputs = [],  # noqa: B006 - typer reads the default
    json_input: JsonInput = None,
    output: OutputOpt = None,
    config_file: ConfigFile = None,
) -> None:
    """Run setup and one prediction in this Python environment (no container)."""
    if ctx.info_name == "predict":
        program = _program()
        err.print(styled(("warning: ", "yellow"), f'"{program} predict" is deprecated, use "{program} run"'))
    _predict("predict", input_args, json_input, output, config_file)


app.command("predict", help="Deprecated name of run (as in Cog).")(run_cmd)


@app.command("train")
def train_cmd(
    input_args: Inputs = [],  # noqa: B006
    json_input: JsonInput = None,
    output: OutputOpt = None,
    config_file: ConfigFile = None,
) -> None:
    """Run one training with the 'train:' entry of cog.yaml."""
    if _program() == "cog":  # Cog deprecates train; cognix keeps it, so only Cog's name warns
        err.print(
            styled(
                ("warning: ", "yellow"),
                'Command "train" is deprecated, the train command will be removed in a future version of Cog',
            )
        )
    _predict("train", input_args, json_input, output, config_file)


@app.command("schema")
def schema_cmd(
    config_file: ConfigFile = None,
    train: Annotated[bool, typer.Option("--train", help="Schema of the 'train:' entry.")] = False,
    compact: Annotated[bool, typer.Option("--compact", help="Cog's exact bytes (as in image labels).")] = False,
) -> None:
    """Print the OpenAPI schema of the predictor, as Cog generates it."""
    from cognix.cli import in_process
    from cognix.runtime import schema

    project = _project(config_file)
    mode = "train" if train else "predict"
    with in_process.stdout_to_stderr():
        loaded = in_process.load(project, mode)
    print(schema.dumps(schema.openapi(loaded.signature, mode=mode), indent=None if compact else 2))


@app.command("doctor")
def doctor_cmd(
    fix: Annotated[bool, typer.Option("--fix", help="Apply the safe fixes and show what they changed.")] = False,
    config_file: ConfigFile = None,
) -> None:
    """Check the project for deprecated and broken parts, as Cog's doctor does (exit 1 on errors)."""
    from cognix.project import doctor

    report = doctor.run(config.find_config(Path.cwd(), config_file), fix=fix)
    for line in report.lines(_program()):
        err.print(styled(*line), soft_wrap=True)
    if report.errors:
        raise typer.Exit(1)


@app.command("lock")
def lock_cmd(
    upgrade: Annotated[bool, typer.Option("--upgrade", "-U", help="Take the newest allowed versions.")] = False,
    upgrade_package: Annotated[
        list[str], typer.Option("--upgrade-package", "-P", help="Upgrade only this package (repeatable).")
    ] = [],  # noqa: B006
    allow_sdist: Annotated[
        list[str], typer.Option("--allow-sdist", help="Build this package from source (repeatable; recorded).")
    ] = [],  # noqa: B006
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if pylock.toml is stale; write nothing.")] = False,
    explain: Annotated[bool, typer.Option("--explain", help="Say why this CUDA/cuDNN/torch build was chosen.")] = False,
    toolchain: Toolchain = None,
    secret: Secrets = [],  # noqa: B006
    config_file: ConfigFile = None,
) -> None:
    """Pin everything the image holds into pylock.toml (PEP 751): every wheel and Debian package
    by url and sha256, and what each build.run step writes, by its hash."""
    from cognix.build import steps
    from cognix.project import lock as locking
    from cognix.project.pylock import LOCK_NAME

    project = _project(config_file)
    if check:
        reason = locking.stale_reason(project, locking.read_lock(project))
        if reason:
            err.print(f"[red]stale:[/] {reason}; run [bold]cognix lock[/]")
            raise typer.Exit(1)
        err.print(f"{LOCK_NAME} is up to date")
        return
    given = steps.parse_secrets(secret)
    with status("locking…") as spinner:
        document = steps.lock_project(
            project,
            upgrade=upgrade,
            upgrade_packages=upgrade_package,
            allow_sdist=allow_sdist,
            toolchain=toolchain,
            secrets=given,
            progress=lambda text: spinner.update(f"{text}…"),
        )
        path = project.dir / LOCK_NAME
    tool = document.cognix
    for line in tool.explanation:  # the warnings always, the reasons with --explain
        if explain or line.startswith("warning: "):
            err.print(f"  {line}", markup=False)
    packages = document.packages
    size = sum(artifact.size for package in packages for artifact in package.artifacts)
    cuda_wheels = [p for p in packages if locking.is_cuda_library(p.name)]
    if tool.cuda:
        kind = f", CUDA {tool.cuda} / cuDNN {tool.cudnn}"
    else:
        kind = f", no GPU, yet {len(cuda_wheels)} CUDA library wheels" if cuda_wheels else ", CPU"
    target = f"Python {tool.python}, {tool.platform}{kind}"
    err.print(f"Locked {len(packages)} packages ({size / 1e6:,.1f} MB of wheels) for {target} → {path.name}")


@app.command("serve")
def serve_cmd(
    port: Annotated[int, typer.Option("-p", "--port", min=0, max=65535, help="Port to listen on.")] = 8393,
    host: Annotated[str, typer.Option("--host", help="Address to bind (0.0.0.0 for all).")] = "127.0.0.1",
    upload_url: Annotated[str | None, typer.Option("--upload-url", help="PUT output files here.")] = None,
    queue_depth: Annotated[
        int, typer.Option("--queue-depth", envvar="COGNIX_QUEUE_DEPTH", help="Predictions that may wait for a slot.")
    ] = 64,
    await_explicit_shutdown: Annotated[
        bool, typer.Option("--await-explicit-shutdown", help="Ignore SIGTERM; stop on POST /shutdown.")
    ] = False,
    playground: Annotated[
        bool,
        typer.Option(
            "--playground", envvar="COGNIX_PLAYGROUND", help="Also serve a web page to try the model at /playground/."
        ),
    ] = False,
    config_file: ConfigFile = None,
) -> None:
    """Run Cog's HTTP prediction API for this project, in this Python environment."""
    from cognix import server  # fastapi/uvicorn only when serving

    project = _project(config_file)
    _warn_drift(project)
    config = project.config
    for key in project.entry_keys or ["run"]:  # none at all: the "no run:" error
        project.entry(key)  # a missing predictor file, named at its cog.yaml line, before serving
    os.environ.update(_image_environment(project))  # Cog applies `environment` at run time too
    settings = server.settings_from_env(
        project_dir=project.dir,
        predict_ref=config.runner,
        train_ref=config.train,
        upload_url=upload_url,
        port=port,
        queue_depth=queue_depth,
        concurrency=config.concurrency.max if config.concurrency else None,
        playground=playground,
    )
    err.print(f"Serving {config.runner or config.train} on http://{host}:{port} (Ctrl-C to stop)")
    status = server.serve(settings, host=host, await_explicit_shutdown=await_explicit_shutdown)
    if status:
        raise typer.Exit(status)


TOOLCHAIN_HELP = (
    "offline (Debian's Python; no nixpkgs needed) or nixpkgs (the lock's pinned nixpkgs). "
    "Default: the one pylock.toml records, else offline; a toolchain given here is recorded there."
)


def _check_toolchain(name: str | None) -> str | None:
    """Refuse an unknown ``--toolchain`` as it is parsed, before any project is read."""
    if not name:
        return None  # COGNIX_TOOLCHAIN= (empty) is no choice
    from cognix.project.pylock import TOOLCHAINS

    if name not in TOOLCHAINS:
        raise typer.BadParameter(f"unknown toolchain {name!r}; use one of: {', '.join(TOOLCHAINS)}")
    return name


Toolchain = Annotated[
    str | None,
    typer.Option("--toolchain", envvar="COGNIX_TOOLCHAIN", help=TOOLCHAIN_HELP, callback=_check_toolchain),
]
Secrets = Annotated[
    list[str],
    typer.Option(
        "--secret",
        metavar="id=NAME,src=FILE",
        help="A file a build.run step mounts as a secret (cog.yaml mounts: [{type: secret}]); repeatable.",
    ),
]


def _build_image(
    project: config.Project, tag: str | None, toolchain: str | None, locked: bool, secrets: list[str] | None = None
) -> Image:
    from cognix.build import steps

    given = steps.parse_secrets(secrets or [])
    return _build_with(project, tag, toolchain, locked, given)


def _build_with(
    project: config.Project, tag: str | None, toolchain: str | None, locked: bool, given: dict[str, Path]
) -> Image:
    from cognix.build import pipeline

    with status("building…") as spinner:
        return pipeline.build_image(
            project,
            tag=tag,
            toolchain=toolchain,
            locked=locked,
            secrets=given,
            progress=lambda text: spinner.update(styled(f"{text}…")),
        )


@app.command("build")
def build_cmd(
    tag: Annotated[str | None, typer.Option("-t", "--tag", help="Image name (default: cog-<folder>:latest).")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the image archive.")] = Path(
        "image.tar"
    ),
    fmt: Annotated[str, typer.Option("--format", help="oci-archive or docker-archive.")] = "oci-archive",
    toolchain: Toolchain = None,
    locked: Annotated[bool, typer.Option("--locked", help="Refuse a stale pylock.toml instead of relocking.")] = False,
    secret: Secrets = [],  # noqa: B006
    config_file: ConfigFile = None,
) -> None:
    """Build the model's OCI image with Nix: reproducible, layered, from pylock.toml."""
    from cognix.build import pipeline, sources
    from cognix.image.reference import check_reference

    if fmt not in ("oci-archive", "docker-archive"):
        raise CognixError(f"unknown --format {fmt!r}", hint="use oci-archive or docker-archive")
    if tag:
        check_reference(tag)  # before the lock and the build, not after
    project = _project(config_file)
    image = _build_image(project, tag, toolchain, locked, secret)
    pipeline.export(image, output, fmt, image.ref_name)
    sources.remember_output(project, output)
    err.print(f"Built {output} ({image.size / 1e6:,.1f} MB compressed, {len(image.layers)} layers)")
    for layer in image.layers:
        err.print(f"  {layer.size / 1e6:>10,.1f} MB  {layer.name or '?':<24} {layer.digest[:19]}", markup=False)
    print(image.digest)


@app.command("verify")
def verify_cmd(secret: Secrets = [], config_file: ConfigFile = None) -> None:  # noqa: B006
    """Build the image twice, the second time from nothing in a fresh store, and compare digests.
    It proves the lock as it is: with the toolchain it records, and nothing re-locked."""
    from cognix.build import steps, verify
    from cognix.project.lock import read_lock
    from cognix.project.pylock import DEFAULT_TOOLCHAIN

    project = _project(config_file)
    given = steps.parse_secrets(secret)
    first = _build_with(project, None, None, True, given)
    recorded = read_lock(project)
    built_with = recorded.cognix.builds_with if recorded else DEFAULT_TOOLCHAIN
    with status("rebuilding from nothing in a fresh Nix store…") as spinner:
        report = verify.rebuild_and_compare(
            project,
            first,
            offline=built_with == "offline",
            tag=first.ref_name,
            progress=lambda t: spinner.update(styled(f"{t}…")),
            secrets=given,
        )
    for line in report.lines:
        err.print(line, markup=False)
    if not report.identical:
        raise typer.Exit(1)
    print(first.digest)


ArchiveOpt = Annotated[
    Path | None, typer.Option("--archive", help="An image archive to use as is, instead of building the project.")
]


def _archive(archive: Path | None, tag: str | None, toolchain: str | None, config_file: str | None) -> Path:
    """The given OCI archive, or the project's image, built (or found current) now."""
    if archive is None:
        return _build_image(_project(config_file), tag, toolchain, locked=False).path
    if not archive.is_file():
        problem = "is not a file" if archive.exists() else "does not exist"
        raise CognixError(f"{archive} {problem}", hint="build it with `cognix build -o PATH`")
    return archive


@app.command("push")
def push_cmd(
    reference: Annotated[str, typer.Argument(help="REGISTRY/REPOSITORY[:TAG], e.g. ghcr.io/me/model:v1")],
    insecure: Annotated[bool, typer.Option("--insecure", help="Plain HTTP (a registry on this machine).")] = False,
    archive: ArchiveOpt = None,
    toolchain: Toolchain = None,
    config_file: ConfigFile = None,
) -> None:
    """Build the image (or take --archive) and push it to any OCI registry; unchanged layers are skipped."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    from cognix.image import registry
    from cognix.image.reference import Reference

    host = Reference.parse(reference).registry.rsplit(":", 1)[0]
    if insecure and host not in ("localhost", "127.0.0.1", "[::1]"):
        err.print(f"[yellow]warning:[/] --insecure sends the image and any credentials to {host} unencrypted")
    path = _archive(archive, reference, toolchain, config_file)
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=err.get()) as bars:
        tasks: dict[str, Any] = {}

        def on_blob(blob: registry.Blob, action: str) -> None:
            if blob.digest not in tasks:
                tasks[blob.digest] = bars.add_task(f"{blob.digest[7:19]} {action}", total=blob.size)
            bars.update(
                tasks[blob.digest],
                description=f"{blob.digest[7:19]} {action}",
                completed=blob.size if action != "uploading" else 0,
            )

        report = registry.push(
            path,
            reference,
            insecure=insecure,
            on_blob=on_blob,
            on_bytes=lambda blob, n: bars.advance(tasks[blob.digest], n),
        )
    sent = sum(b.size for b in report.uploaded)
    err.print(
        f"Pushed {report.reference}: {len(report.uploaded)} blobs uploaded ({sent / 1e6:,.1f} MB), "
        f"{len(report.mounted)} mounted, {len(report.skipped)} already there"
    )
    print(f"{report.reference.registry}/{report.reference.repository}@{report.digest}")


@app.command("load")
def load_cmd(
    engine: Annotated[str | None, typer.Option("--engine", help="podman or docker (default: installed one).")] = None,
    archive: ArchiveOpt = None,
    tag: Annotated[str | None, typer.Option("-t", "--tag", help="Image name (default: cog-<folder>:latest).")] = None,
    toolchain: Toolchain = None,
    config_file: ConfigFile = None,
) -> None:
    """Build the image (or take --archive) and load it into podman or docker, unless it is there already."""
    from cognix.image import load
    from cognix.image.reference import check_reference

    if tag:
        check_reference(tag)  # before building

    err.print(load.load(_archive(archive, tag, toolchain, config_file), engine=engine, name=tag))


@app.command("sbom")
def sbom_cmd(
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write it.")] = Path("sbom.cdx.json"),
    toolchain: Toolchain = None,
    config_file: ConfigFile = None,
) -> None:
    """Write the image's CycloneDX 1.6 SBOM: every wheel, the interpreter, CUDA, every Nix store path."""
    from cognix.build import pipeline, sources

    project = _project(config_file)
    image = _build_image(project, None, toolchain, locked=False)
    source = project.dir / sources.GENERATED / pipeline.SBOM_NAME
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(source.read_bytes())
    err.print(f"Wrote {output} (the SBOM of {image.digest}; its sha256 is the image's io.cognix.sbom.sha256 label)")


@app.command("inspect")
def inspect_cmd(
    image: Annotated[Path | None, typer.Argument(help="An image archive (default: this project's last build).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    config_file: ConfigFile = None,
) -> None:
    """Show an image: config, labels, and each layer with its size and what it holds."""
    from rich.table import Table

    from cognix.build import sources
    from cognix.image import audit

    path = image or _project(config_file).dir / sources.GENERATED / "image.tar"  # where cognix build keeps it
    if not path.exists():
        raise CognixError(f"{path} does not exist", hint="build the image first (cognix build), or name an archive")
    info = audit.describe(path)
    if as_json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return
    from rich.console import Console

    out = Console(highlight=False)
    out.print(f"[bold]{info['name'] or path}[/]  {info['digest']}  ({info['size'] / 1e6:,.1f} MB compressed)")
    for key, value in sorted(info["config"].items()):
        out.print(f"  {key}: {json.dumps(value)}", markup=False)
    for key, value in sorted(info["labels"].items()):
        out.print(f"  label {key}: {value}", markup=False)
    table = Table("layer", "MB", "files", "holds", "digest", box=None)
    for layer in info["layers"]:
        holds = ", ".join(layer["holds"][:6]) + (f", … ({len(layer['holds'])})" if len(layer["holds"]) > 6 else "")
        table.add_row(
            layer["name"] or "?", f"{layer['size'] / 1e6:,.1f}", str(layer["files"]), holds, layer["digest"][:19]
        )
    out.print(table)


@app.command("diff")
def diff_cmd(
    old: Annotated[Path, typer.Argument(help="A pylock.toml or an image archive.")],
    new: Annotated[Path, typer.Argument(help="The same kind of file, newer.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """What changed between two locks or two images: packages, Python/CUDA, and layers with their sizes."""
    from cognix.image import audit

    before, after = audit.load_side(old), audit.load_side(new)
    if before.kind != after.kind:
        raise CognixError(f"{old} is a {before.kind} and {new} an {after.kind}", hint="compare two locks or two images")
    changes = audit.diff(before, after)
    if as_json:
        print(json.dumps(changes, indent=2, sort_keys=True))
        return
    from rich.console import Console

    out = Console(highlight=False)
    for key, (a, b) in changes["facts"].items():
        out.print(f"[yellow]~[/] {key}: {a} → {b}")
    for name, version in changes["added"].items():
        out.print(f"[green]+[/] {name} {version}")
    for name, version in changes["removed"].items():
        out.print(f"[red]-[/] {name} {version}")
    for name, (a, b) in changes["changed"].items():
        out.print(f"[yellow]~[/] {name} {a} → {b}")
    for layer in changes.get("layers", []):
        if layer["status"] != "same":
            sizes = " → ".join(f"{s / 1e6:,.1f} MB" for s in (layer["old_size"], layer["new_size"]) if s is not None)
            out.print(f"  layer {layer['layer']}: {layer['status']} ({sizes})")
    same = sum(1 for layer in changes.get("layers", []) if layer["status"] == "same")
    if "layers" in changes:
        out.print(f"  {same} of {len(changes['layers'])} layers unchanged")
    elif not any(changes[k] for k in ("facts", "added", "removed", "changed")):
        out.print("no differences")


@app.command("develop", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def develop_cmd(ctx: typer.Context, toolchain: Toolchain = None, config_file: ConfigFile = None) -> None:
    """Open a shell with exactly the image's Python environment and cog.yaml's environment
    (nix develop; the default toolchain needs no nixpkgs). Arguments after the options run as
    a command instead, as `cognix exec` runs them."""
    _nix_develop(_project(config_file), toolchain, ctx.args)


@app.command("exec", context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True})
def exec_cmd(
    command: Annotated[list[str], typer.Argument(help="The command and its arguments.", show_default=False)],
    env: Annotated[
        list[str], typer.Option("-e", "--env", metavar="NAME=VALUE", help="Set this variable too (repeatable).")
    ] = [],  # noqa: B006
    toolchain: Toolchain = None,
    config_file: ConfigFile = None,
) -> None:
    """Run a command in exactly the image's environment (Cog's `exec`, once `cog run CMD`), with
    stdin and the terminal passed through and its exit status returned, e.g. `cognix exec python train.py`."""
    project = _project(config_file)
    _nix_develop(project, toolchain, command, env)


def _nix_develop(project: config.Project, toolchain: str | None, command: list[str], env: Sequence[str] = ()) -> None:
    """Replace this process with ``nix develop`` on the image's devShell: a shell, or ``command`` in it.
    exec keeps stdin, the terminal and the exit status the command's own."""
    from cognix.build import generate, nixcli, pipeline, sources

    variables = _image_environment(project, env)
    tag = generate.default_tag(project)
    _, chosen = pipeline.prepare(
        project, toolchain=toolchain, tag=tag, locked=False, progress=lambda t: err.print(f"{t}…")
    )
    folder = project.dir / sources.GENERATED
    argv = ["nix", "develop", *nixcli.options(chosen.kind == "offline"), "-f", ".cognix/build.nix", "devShell"]
    if chosen.kind == "offline":  # no registry to look bashInteractive up in: don't wait for GitHub
        registry = folder / "flake-registry.json"
        registry.write_text('{"flakes": [], "version": 2}\n')
        argv += ["--option", "flake-registry", str(registry)]
    if command:
        argv += ["--command", *command]
    os.environ.update(variables)
    os.chdir(project.dir)
    os.execvp("nix", argv)


@app.command("init")
def init_cmd(
    directory: Annotated[Path, typer.Argument(help="Where to create the project.")] = Path("."),
) -> None:
    """Create cog.yaml, predict.py and requirements.txt for a new model."""
    from cognix.project import scaffold

    for path in scaffold.init(directory):
        err.print(f"Wrote {path}")
    err.print("Next: [bold]cognix predict -i prompt=world[/]")


@app.command("install-cog-alias")
def install_cog_alias_cmd(
    bin_dir: Annotated[
        Path | None, typer.Option("--bin-dir", help="Where to put `cog` (default: the folder cognix is in).")
    ] = None,
) -> None:
    """Add a `cog` command that runs cognix, so scripts written for Cog work unchanged; refused
    while a real Cog is on PATH."""
    from cognix.cli import cog_alias

    link, target = cog_alias.install(bin_dir)
    err.print(f"{link} → {target}: `cog run`, `cog serve`, … now run cognix")


def main() -> None:
    try:
        app()
    except CognixError as e:
        err.print(styled(("error: ", "bold red"), e.message), soft_wrap=True)
        if e.details:
            err.print(styled(e.details), soft_wrap=True)
        if e.hint:
            err.print(styled(("hint: ", "cyan"), e.hint), soft_wrap=True)
        sys.exit(e.exit_code)
    finally:
        gc.freeze()  # exiting: the final collection need not walk every module's objects
