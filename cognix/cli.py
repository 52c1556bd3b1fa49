"""The ``cognix`` command line. Commands are thin: each wires options to a stage module."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from . import cli_io, config, inputs, outputs, predictor, scaffold, schema
from ._version import __version__
from .errors import CognixError
from .sdk.scope import prediction_scope

app = typer.Typer(
    name="cognix",
    help="Build reproducible ML model images with Nix, from Cog projects.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False)

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
        err.print(f"[yellow]warning:[/] {w}")
    return project


def _ref(project: config.Project, mode: str) -> str:
    ref = project.config.train if mode == "train" else project.config.runner
    if not ref:
        key = "train" if mode == "train" else "run"
        raise CognixError(
            f"cog.yaml has no '{key}:' entry",
            hint=f'add {key}: "{"train.py:train" if mode == "train" else "run.py:Runner"}" to cog.yaml',
        )
    return ref


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Model code's prints (Python and C level) go to stderr; stdout is for the output."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _run_once(
    mode: str, input_args: list[str], json_input: str | None, output: str | None, config_file: str | None
) -> None:
    project = _project(config_file)
    cwd = Path.cwd()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        loaded = predictor.load(project.dir, _ref(project, mode), mode=mode)
    sig = loaded.signature
    raw: dict[str, Any] = {}
    if json_input is not None:
        raw = cli_io.load_json_input(json_input, sys.stdin, cwd)
        cli_io.check_known(raw, sig)
        cli_io.check_no_nulls(raw)
    raw.update(cli_io.parse_input_args(input_args, sig, cwd))
    values = inputs.validate(sig, raw)  # before setup, as Cog validates before starting
    with tempfile.TemporaryDirectory(prefix="cognix-inputs-") as tmp:
        py_inputs = inputs.materialize(sig, values, Path(tmp), allow_local=True)
        err.print("[dim]Running setup...[/]")
        with _stdout_to_stderr():
            try:
                loaded.setup(weights=os.environ.get("COG_WEIGHTS"))
            except Exception as e:
                raise CognixError(f"setup failed: {type(e).__name__}: {e}", details=_user_traceback(e)) from None
        err.print(f"[dim]Running {'training' if mode == 'train' else 'prediction'}...[/]")
        error: Exception | None = None
        started = time.monotonic()
        with _stdout_to_stderr(), prediction_scope() as scope:
            try:
                result = loaded.call(py_inputs)
            except Exception as e:
                error = e
        metrics = {**scope.metrics.as_dict(), "predict_time": round(time.monotonic() - started, 6)}
        # Cog's `train` writes the trained weights to ./weights unless -o says otherwise
        default_output = "weights" if mode == "train" and json_input is None else None
        writer = cli_io.OutputWriter(sig, output or default_output, cwd)
        if json_input is not None:
            prediction: dict[str, Any] = {"status": "failed" if error else "succeeded"}
            if error:
                prediction["error"] = str(error)
            else:
                writer.output_path = None
                prediction["output"] = outputs.encode_output(result, sig.output, writer)
            prediction["metrics"] = metrics
            cli_io.write_prediction_json(prediction, output, cwd, sys.stdout)
            if error:
                raise typer.Exit(1)
            return
        if error is not None:
            raise CognixError(
                f'Prediction failed with status "failed": {error}', details=_user_traceback(error)
            ) from None
        writer.emit(outputs.encode_output(result, sig.output, writer), sys.stdout)


def _user_traceback(e: BaseException) -> str:
    import traceback

    frames = [f for f in traceback.extract_tb(e.__traceback__) if "/cognix/" not in f.filename]
    return (
        "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames)) + f"{type(e).__name__}: {e}"
    ).rstrip()


Inputs = Annotated[
    list[str], typer.Option("-i", "--input", help="Input as name=value; @path for a file; repeat a name for a list.")
]
JsonInput = Annotated[
    str | None, typer.Option("--json", help="All inputs as JSON: '{...}', @file.json or - for stdin.")
]
OutputOpt = Annotated[str | None, typer.Option("-o", "--output", help="Write the output to this path.")]


@app.command("predict")
def predict_cmd(
    input_args: Inputs = [],  # noqa: B006 - typer reads the default
    json_input: JsonInput = None,
    output: OutputOpt = None,
    config_file: ConfigFile = None,
) -> None:
    """Run setup and one prediction in this Python environment (no container)."""
    _run_once("predict", input_args, json_input, output, config_file)


app.command("run", help="Alias of predict (Cog's new name).")(predict_cmd)


@app.command("train")
def train_cmd(
    input_args: Inputs = [],  # noqa: B006
    json_input: JsonInput = None,
    output: OutputOpt = None,
    config_file: ConfigFile = None,
) -> None:
    """Run one training with the 'train:' entry of cog.yaml."""
    _run_once("train", input_args, json_input, output, config_file)


@app.command("schema")
def schema_cmd(
    config_file: ConfigFile = None,
    train: Annotated[bool, typer.Option("--train", help="Schema of the 'train:' entry.")] = False,
    compact: Annotated[bool, typer.Option("--compact", help="Cog's exact bytes (as in image labels).")] = False,
) -> None:
    """Print the OpenAPI schema of the predictor, as Cog generates it."""
    project = _project(config_file)
    mode = "train" if train else "predict"
    with _stdout_to_stderr(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        loaded = predictor.load(project.dir, _ref(project, mode), mode=mode)
    print(schema.dumps(schema.openapi(loaded.signature, mode=mode), indent=None if compact else 2))


@app.command("serve")
def serve_cmd(
    port: Annotated[int, typer.Option("-p", "--port", help="Port to listen on.")] = 8393,
    host: Annotated[str, typer.Option("--host", help="Address to bind (0.0.0.0 for all).")] = "127.0.0.1",
    upload_url: Annotated[str | None, typer.Option("--upload-url", help="PUT output files here.")] = None,
    queue_depth: Annotated[int, typer.Option("--queue-depth", help="Predictions that may wait for a slot.")] = 64,
    await_explicit_shutdown: Annotated[
        bool, typer.Option("--await-explicit-shutdown", help="Ignore SIGTERM; stop on POST /shutdown.")
    ] = False,
    config_file: ConfigFile = None,
) -> None:
    """Run Cog's HTTP prediction API for this project, in this Python environment."""
    from . import server  # fastapi/uvicorn only when serving

    project = _project(config_file)
    config = project.config
    if not config.runner and not config.train:
        _ref(project, "predict")  # raises the "no run:" error
    os.environ.update(config.environment_dict)  # Cog applies `environment` at run time too
    settings = server.settings_from_env(
        project_dir=project.dir,
        predict_ref=config.runner,
        train_ref=config.train,
        upload_url=upload_url,
        queue_depth=queue_depth,
        config_concurrency=config.concurrency.max if config.concurrency else None,
    )
    err.print(f"Serving {config.runner or config.train} on http://{host}:{port} (Ctrl-C to stop)")
    server.serve(settings, host=host, port=port, await_explicit_shutdown=await_explicit_shutdown)


@app.command("init")
def init_cmd(
    directory: Annotated[Path, typer.Argument(help="Where to create the project.")] = Path("."),
) -> None:
    """Create cog.yaml, predict.py and requirements.txt for a new model."""
    for path in scaffold.init(directory):
        err.print(f"Wrote {path}")
    err.print("Next: [bold]cognix predict -i prompt=world[/]")


def main() -> None:
    try:
        app()
    except CognixError as e:
        err.print(Text.assemble(("error: ", "bold red"), e.message), soft_wrap=True)
        if e.details:
            err.print(Text(e.details), soft_wrap=True)
        if e.hint:
            err.print(Text.assemble(("hint: ", "cyan"), e.hint), soft_wrap=True)
        sys.exit(e.exit_code)
