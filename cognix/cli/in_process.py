"""Run a predictor once in this Python, as ``cog run`` does in a container: inputs from the
command line, validated before ``setup()``, outputs to stdout or files."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from cognix.cli import prediction_io
from cognix.errors import CognixError
from cognix.project import config
from cognix.runtime import inputs, outputs, predictor
from cognix.runtime.scrub import Scrubber, secret_values
from cognix.sdk.scope import prediction_scope

err = Console(stderr=True, highlight=False)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
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


def load(project: config.Project, mode: str) -> predictor.Predictor:
    """The project's predictor (``mode="train"``: its trainer), imported here. A name its file
    does not define is cog.yaml's error, at the entry's line (exit 2), as a missing file is."""
    key = "train" if mode == "train" else "run"
    ref = project.entry(key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return predictor.load(project.dir, ref, mode=mode)
        except predictor.PredictorNotFound as error:
            raise project.entry_error(key, error.message, error.hint) from None


def run_once(
    project: config.Project, mode: str, input_args: list[str], json_input: str | None, output: str | None
) -> None:
    """One prediction (``mode="train"``: one training); raises CognixError on failure."""
    cwd = Path.cwd()
    loaded = load(project, mode)
    sig = loaded.signature
    raw: dict[str, Any] = {}
    if json_input is not None:
        raw = prediction_io.load_json_input(json_input, sys.stdin, cwd)
        prediction_io.check_known(raw, sig)
        prediction_io.check_no_nulls(raw)
    raw.update(prediction_io.parse_input_args(input_args, sig, cwd))
    values = inputs.validate(sig, raw)  # before setup, as Cog validates before starting
    prediction_io.check_output_path(output, cwd)
    with tempfile.TemporaryDirectory(prefix="cognix-inputs-") as tmp:
        py_inputs = inputs.materialize(sig, values, Path(tmp))
        scrubber = Scrubber()  # as the server's worker does: no secret value in the error
        scrubber.add("prediction", secret_values(py_inputs))
        err.print("[dim]Running setup...[/]")
        with stdout_to_stderr():
            try:
                loaded.setup(weights=os.environ.get("COG_WEIGHTS"))
            except Exception as e:
                raise CognixError(f"setup failed: {type(e).__name__}: {e}", details=_user_traceback(e)) from None
        err.print(f"[dim]Running {'training' if mode == 'train' else 'prediction'}...[/]")
        error: Exception | None = None
        started = time.monotonic()
        with stdout_to_stderr(), prediction_scope() as scope:
            try:
                result = loaded.call(py_inputs)
            except Exception as e:
                error = e
        metrics = {**scope.metrics.as_dict(), "predict_time": round(time.monotonic() - started, 6)}
        # Cog's `train` writes the trained weights to ./weights unless -o says otherwise
        default_output = "weights" if mode == "train" and json_input is None else None
        writer = prediction_io.OutputWriter(sig, output or default_output, cwd)
        if json_input is not None:
            prediction: dict[str, Any] = {"status": "failed" if error else "succeeded"}
            if error:
                prediction["error"] = scrubber.scrub(str(error))
            else:
                writer.output_path = None
                prediction["output"] = _encode(result, sig, writer)
            prediction["metrics"] = metrics
            prediction_io.write_prediction_json(prediction, output, cwd, sys.stdout)
            if error:
                raise PredictionFailed()
            return
        if error is not None:
            raise CognixError(
                scrubber.scrub(f'Prediction failed with status "failed": {error}'),
                details=scrubber.scrub(_user_traceback(error)),
            ) from None
        writer.emit(_encode(result, sig, writer), sys.stdout)


def _encode(result: Any, sig: Any, writer: prediction_io.OutputWriter) -> Any:
    try:
        return outputs.encode_output(result, sig.output, writer)
    except (TypeError, OSError) as e:
        raise CognixError(f"invalid output: {e}", hint="return a value of the annotated output type") from None


def _user_traceback(e: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(e.__traceback__) if "/cognix/" not in f.filename]
    return (
        "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames)) + f"{type(e).__name__}: {e}"
    ).rstrip()


class PredictionFailed(CognixError):
    """The prediction failed and its JSON (with the error) was already printed."""

    def __init__(self) -> None:
        super().__init__("prediction failed")
