"""Command-line inputs (``-i``, ``--json``) into JSON values, and outputs onto disk/stdout."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any, TextIO

from .errors import UsageError
from .signature import Kind, OutputKind, Signature, TypeSpec


def _coerce(spec: TypeSpec, name: str, text: str, cwd: Path) -> Any:
    """One ``-i`` value as the JSON value the input's type asks for."""
    if text.startswith("@"):
        path = (cwd / text[1:]).resolve()
        if not path.is_file():
            raise UsageError(f'input "{name}": file not found: {text[1:]}', hint="give @PATH relative to this directory")
        if spec.is_file:
            return str(path)
        return path.read_text()
    kind = spec.kind
    if kind is Kind.INTEGER:
        try:
            return int(text)
        except ValueError:
            return text  # validation names the problem
    if kind is Kind.FLOAT:
        try:
            return float(text)
        except ValueError:
            return text
    if kind is Kind.BOOL:
        lowered = text.lower()
        return True if lowered in ("true", "1", "yes") else False if lowered in ("false", "0", "no") else text
    if kind in (Kind.OBJECT, Kind.UNION):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text


def parse_input_args(items: list[str], signature: Signature, cwd: Path) -> dict[str, Any]:
    """``-i name=value`` pairs; repeating a name builds a list; ``@file`` reads a file."""
    values: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise UsageError(f"invalid input {item!r}: expected name=value", hint='e.g. -i prompt="a photo"')
        field = signature.input(name)
        if field is None:
            raise UsageError(f'unknown input "{name}"', hint=_known(signature))
        value = _coerce(field.type, name, text, cwd)
        if field.type.is_list:
            values.setdefault(name, []).append(value)
        elif name in values:
            raise UsageError(f'input "{name}" given more than once', hint=f"{name} takes a single value")
        else:
            values[name] = value
    return values


def _known(signature: Signature) -> str:
    names = ", ".join(f.name for f in signature.inputs)
    return f"inputs: {names}" if names else "this predictor takes no inputs"


def load_json_input(arg: str, stdin: TextIO, cwd: Path) -> dict[str, Any]:
    """``--json '{...}'``, ``--json @file.json`` or ``--json -`` / ``@-`` (stdin)."""
    if arg in ("-", "@-"):
        text, where = stdin.read(), "stdin"
    elif arg.startswith("@"):
        path = cwd / arg[1:]
        if not path.is_file():
            raise UsageError(f"--json: file not found: {arg[1:]}")
        text, where = path.read_text(), arg[1:]
    else:
        text, where = arg, "--json"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"--json: invalid JSON in {where}: {e}") from None
    if not isinstance(data, dict):
        raise UsageError(f"--json: expected a JSON object of inputs in {where}")
    return data


def check_known(values: dict[str, Any], signature: Signature) -> None:
    for name in values:
        if signature.input(name) is None:
            raise UsageError(f'unknown input "{name}"', hint=_known(signature))


class OutputWriter:
    """Cog's CLI rules: Path → ``output.<ext>`` (lists: ``output.<i>.<ext>``); ``-o`` overrides."""

    def __init__(self, signature: Signature, output_path: str | None, cwd: Path, stdout: TextIO) -> None:
        self.output_path = output_path
        self.cwd = cwd
        self.stdout = stdout
        self.many = signature.output.kind is not OutputKind.SINGLE and signature.output.kind is not OutputKind.OBJECT
        self.count = 0
        self.written: list[Path] = []

    def __call__(self, path: Path) -> str:
        """File sink for :func:`cognix.outputs.encode`: copy the file into place."""
        ext = path.suffix
        if self.output_path and not self.many:
            target = self.cwd / self.output_path
        elif self.output_path:
            stem = Path(self.output_path)
            target = self.cwd / stem.with_name(f"{stem.stem}.{self.count}{stem.suffix or ext}")
        else:
            target = self.cwd / (f"output.{self.count}{ext}" if self.many else f"output{ext}")
        self.count += 1
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        self.written.append(target)
        print(f"Written output to {target.relative_to(self.cwd) if target.is_relative_to(self.cwd) else target}", file=sys.stderr)
        return str(target)

    def emit(self, encoded: Any, spec_kind: OutputKind) -> None:
        """Print or write a non-file output."""
        if self.written:
            return
        if isinstance(encoded, str):
            text = encoded
        elif spec_kind is OutputKind.CONCAT_ITERATOR and isinstance(encoded, list):
            text = "".join(str(x) for x in encoded)
        else:
            text = json.dumps(encoded, indent=2)
        if self.output_path:
            target = self.cwd / self.output_path
            target.write_text(text + ("" if text.endswith("\n") else "\n"))
            print(f"Written output to {self.output_path}", file=sys.stderr)
        else:
            print(text, file=self.stdout)
