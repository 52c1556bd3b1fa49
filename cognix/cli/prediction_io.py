"""Command-line inputs (``-i``, ``--json``) into JSON values, and outputs onto disk/stdout,
following ``cog run``'s rules so that scripts written for Cog keep working."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from cognix.errors import CognixError, UsageError
from cognix.runtime.signature import Kind, OutputKind, Signature, TypeSpec


def _coerce(spec: TypeSpec, text: str) -> Any:
    """One ``-i`` value as the JSON value the input's type asks for (else left as a string)."""
    if spec.is_list:
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        return parsed if isinstance(parsed, list) else [_coerce(spec.item, text)]
    try:
        if spec.kind is Kind.INTEGER:
            return int(text)
        if spec.kind is Kind.FLOAT:
            return float(text)
        if spec.kind is Kind.BOOL:
            return {"true": True, "false": False}[text.lower()]
        if spec.kind in (Kind.OBJECT, Kind.UNION):
            return json.loads(text)
    except (ValueError, KeyError):
        pass  # validation names the problem
    return text


def _file_arg(name: str, text: str, cwd: Path, spec: TypeSpec | None) -> Any:
    path = (cwd / text[1:]).expanduser()
    if not path.is_file():
        raise UsageError(f'input "{name}": file not found: {text[1:]}', hint="give @PATH relative to this directory")
    if spec is None or spec.is_file:
        return str(path.resolve())
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f'input "{name}": cannot read {text[1:]} as text: {e}', hint="give UTF-8 text") from None


def parse_input_args(items: list[str], signature: Signature, cwd: Path) -> dict[str, Any]:
    """``-i name=value`` pairs; repeating a name builds a list; ``@file`` names a file."""
    grouped: dict[str, list[str]] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep:
            raise UsageError(f"Failed to parse input '{item}', expected format is 'name=value'")
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1]
        grouped.setdefault(name, []).append(text)
    check_known(grouped, signature)
    values: dict[str, Any] = {}
    for name, texts in grouped.items():
        spec = signature.input(name).type  # type: ignore[union-attr]
        if len(texts) == 1 and not texts[0].startswith("@"):
            values[name] = _coerce(spec, texts[0])
            continue
        parsed = [_file_arg(name, t, cwd, spec.item) if t.startswith("@") else _coerce(spec.item, t) for t in texts]
        values[name] = parsed if len(parsed) > 1 or spec.is_list else parsed[0]
    return values


def check_known(values: dict[str, Any], signature: Signature) -> None:
    """Cog's message for input names the predictor does not take."""
    unknown = sorted(n for n in values if signature.input(n) is None)
    if not unknown:
        return
    valid = sorted(f.name for f in signature.inputs)
    names = ", ".join(f'"{n}"' for n in unknown)
    tail = f"valid inputs are: {', '.join(valid)}" if valid else "model does not accept inputs"
    raise UsageError(f"unknown input{'s' if len(unknown) > 1 else ''} {names}; {tail}")


def check_no_nulls(values: dict[str, Any]) -> None:
    for name, value in values.items():
        if value is None:
            raise UsageError(f'invalid input "{name}": must not be null (omit the input to use its default)')


def _files_in_json(value: Any, cwd: Path) -> Any:
    """In ``--json``, any string starting with ``@`` names a local file (recursively, as Cog)."""
    if isinstance(value, str) and value.startswith("@"):
        return _file_arg("--json", value, cwd, None)
    if isinstance(value, list):
        return [_files_in_json(v, cwd) for v in value]
    if isinstance(value, dict):
        return {k: _files_in_json(v, cwd) for k, v in value.items()}
    return value


def load_json_input(arg: str, stdin: TextIO, cwd: Path) -> dict[str, Any]:
    """``--json '{...}'``, ``--json @file.json`` or ``--json -`` / ``@-`` (stdin)."""
    if arg in ("-", "@-"):
        text = stdin.read()
    elif arg.startswith("@"):
        path = cwd / arg[1:]
        try:
            text = path.read_text(encoding="utf-8")  # JSON is UTF-8 (RFC 8259)
        except OSError as e:
            raise UsageError(f'Failed to read JSON from file "{arg[1:]}": {e.strerror}') from None
        except UnicodeDecodeError as e:
            raise UsageError(f'Failed to read JSON from file "{arg[1:]}": not UTF-8 ({e})') from None
    else:
        text = arg
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"Failed to parse JSON: {e}") from None
    except RecursionError:  # the decoder recurses once per level
        raise UsageError("Failed to parse JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise UsageError('Failed to parse JSON: expected an object of inputs, e.g. \'{"prompt": "hi"}\'')
    return {name: _files_in_json(value, cwd) for name, value in data.items()}


def check_output_path(output_path: str | None, cwd: Path) -> None:
    """Refuse an ``-o`` that cannot be written before setup() and the prediction run, not after."""
    if not output_path:
        return
    target = cwd / output_path
    if target.is_dir():
        raise UsageError(f"-o {output_path} is a directory", hint="give the path of a file to write")
    parent = next((p for p in target.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise UsageError(f"-o {output_path}: {parent} is not a directory", hint="give the path of a file to write")


def _write(target: Path, write: Callable[[Path], object]) -> None:
    """``write(target)``, its folder made first; a failure names the path (a full disk, a read-only one)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write(target)
    except OSError as e:
        raise CognixError(f"cannot write the output to {target}: {e.strerror or e}") from None


class OutputWriter:
    """Where outputs go: files to ``output.<ext>`` (lists: ``output.<i>.<ext>``) or ``-o``."""

    def __init__(self, signature: Signature, output_path: str | None, cwd: Path) -> None:
        self.output_path = output_path
        self.cwd = cwd
        self.many = signature.output.kind is not OutputKind.SINGLE
        self.count = 0
        self.files_only = signature.output.type.is_file

    def _target(self, ext: str) -> Path:
        if self.output_path:
            base = self.cwd / self.output_path
            if not self.many:
                return base
            return base.with_name(f"{base.stem}.{self.count}{base.suffix or ext}")
        return self.cwd / (f"output.{self.count}{ext}" if self.many else f"output{ext}")

    def __call__(self, path: Path, temporary: bool = False) -> str:
        """File sink for :func:`cognix.runtime.outputs.encode`: copy the file into place."""
        target = self._target(path.suffix)
        self.count += 1
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)  # an OSError here is the output's, reported as an invalid output
        if temporary:
            shutil.rmtree(path.parent, ignore_errors=True)
        return self.note(target)

    def note(self, target: Path) -> str:
        shown = str(target.relative_to(self.cwd) if target.is_relative_to(self.cwd) else target)
        print(f"Written output to: {shown}", file=sys.stderr)
        return shown

    def emit(self, encoded: Any, stdout: TextIO) -> None:
        """Print or write a non-file output: strings raw, everything else as 2-space JSON."""
        if self.files_only:
            return
        if encoded is None:
            print("warning: No output generated", file=sys.stderr)
            return
        text = encoded if isinstance(encoded, str) else json.dumps(encoded, indent=2, ensure_ascii=False)
        if self.output_path and not self.count:  # -o already holds the file(s) of an object output
            target = self.cwd / self.output_path
            _write(target, lambda to: to.write_text(text))
            self.note(target)
        else:
            print(text, file=stdout)


def write_prediction_json(prediction: dict[str, Any], output_path: str | None, cwd: Path, stdout: TextIO) -> None:
    """``--json`` mode: the whole prediction (status, output, error, metrics) as JSON."""
    text = json.dumps(prediction, indent=2, ensure_ascii=False)
    if output_path:
        _write(cwd / output_path, lambda to: to.write_text(text))
        print(f"Written output to: {output_path}", file=sys.stderr)
    else:
        print(text, file=stdout)
