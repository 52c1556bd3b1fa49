"""Check prediction inputs against a :class:`Signature`, then turn them into Python values.

Two steps, so that bad input is refused *before* ``setup()`` runs (CLI) or before a
worker slot is taken (server): :func:`validate` works on JSON values only;
:func:`materialize` downloads/decodes files and wraps secrets.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any, Literal, Union

from cognix.errors import CognixError
from cognix.runtime.signature import MISSING, InputField, Kind, Signature, TypeSpec
from cognix.sdk.types import Path, Secret, decode_data_url, download_headers, filename_from_url


@functools.cache
def _json_types() -> dict[Kind, Any]:
    # pydantic is imported on first validation only: the worker process never needs it
    from pydantic import StrictBool, StrictFloat, StrictInt, StrictStr

    return {
        Kind.STRING: StrictStr,
        Kind.INTEGER: StrictInt,
        Kind.FLOAT: Union[StrictFloat, StrictInt],  # noqa: UP007 - JSON numbers: an int is a valid float
        Kind.BOOL: StrictBool,
        Kind.PATH: StrictStr,
        Kind.FILE: StrictStr,
        Kind.SECRET: StrictStr,
        Kind.OBJECT: dict[str, Any],
    }


_EXPECTED = {
    Kind.STRING: "string",
    Kind.INTEGER: "integer",
    Kind.FLOAT: "number",
    Kind.BOOL: "boolean",
    Kind.PATH: "string",
    Kind.FILE: "string",
    Kind.SECRET: "string",
    Kind.OBJECT: "object",
}


def json_kind(value: Any) -> str:
    """JSON type name of a value, for messages (an int is a JSON number)."""
    if value is None:
        return "null"
    for py, name in ((bool, "boolean"), (int, "number"), (float, "number"), (str, "string"), (list, "array")):
        if isinstance(value, py):
            return name
    return "object"


def _expected(spec: TypeSpec) -> str:
    if spec.is_list:
        return "array"
    if spec.kind is Kind.UNION:
        names = list(dict.fromkeys(_expected(m) for m in spec.members))
        return ", ".join(names[:-1]) + " or " + names[-1]
    return _EXPECTED[spec.kind]


def _number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


@dataclass(frozen=True)
class InputIssue:
    """One invalid input. ``type`` uses Cog's 422 vocabulary."""

    field: str
    msg: str
    type: str = "value_error"

    @property
    def missing(self) -> bool:
        return self.type == "value_error.missing"

    def cli_message(self) -> str:
        if self.missing:
            return f'missing required input "{self.field}"'
        return f'invalid input "{self.field}": {self.msg}'


class InvalidInputs(CognixError):
    """The request's inputs do not match the predictor's signature."""

    def __init__(self, issues: list[InputIssue]) -> None:
        lines = [i.cli_message() for i in issues]
        super().__init__(lines[0] if len(lines) == 1 else "input validation failed:\n- " + "\n- ".join(lines))
        self.issues = issues


def _python_type(spec: TypeSpec) -> Any:
    """The pydantic type of an input's JSON value. Never Optional: an explicit ``null`` is
    refused even where the schema says ``nullable`` (an omitted input gets its default), as
    coglet's strict JSON Schema validation ignores OpenAPI's ``nullable``."""
    if spec.kind is Kind.UNION:
        t: Any = Union[tuple(_python_type(m) for m in spec.members)]  # noqa: UP007 - built at runtime
    elif spec.literal:
        t = Literal[spec.literal]
    else:
        t = _json_types()[spec.kind]
    return list[t] if spec.is_list else t


def _field(f: InputField) -> tuple[Any, Any]:
    t = _python_type(f.type)
    if f.choices is not None and not f.type.literal:
        t = Literal[f.choices]
    default = ... if f.required else (None if f.default is MISSING else f.default)
    from pydantic import Field

    return t, Field(
        default,
        ge=f.ge,
        le=f.le,
        min_length=f.min_length,
        max_length=f.max_length,
        pattern=f.regex,
    )


@functools.lru_cache(maxsize=64)
def _model(signature: Signature) -> Any:
    from pydantic import ConfigDict, create_model

    config = ConfigDict(strict=True, extra="ignore", regex_engine="python-re")
    fields: dict[str, Any] = {f.name: _field(f) for f in signature.inputs}
    return create_model("Input", __config__=config, **fields)


def _reason(err: Mapping[str, Any], spec: TypeSpec | None) -> str:
    """A pydantic error in the words Cog's input validation uses."""
    kind, ctx, value = err["type"], err.get("ctx", {}), err.get("input")
    if value is None:  # Cog's words for an explicit null (its preflight's; its server refuses one too)
        return "must not be null (omit the input to use its default)"
    if kind == "greater_than_equal":
        return f"number must be at least {_number(ctx['ge'])}"
    if kind == "less_than_equal":
        return f"number must be at most {_number(ctx['le'])}"
    if kind == "string_too_short":
        return f"minimum string length is {ctx['min_length']}"
    if kind == "string_too_long":
        return f"maximum string length is {ctx['max_length']}"
    if kind == "string_pattern_mismatch":
        return f'string doesn\'t match the regular expression "{ctx["pattern"]}"'
    if kind == "literal_error":
        return "must be one of: " + ", ".join(
            str(v).strip("'") for v in str(ctx["expected"]).replace(" or ", ", ").split(", ")
        )
    if kind.endswith("_type") or kind in ("int_from_float", "dict_type"):
        expected = _expected(spec) if spec is not None else kind.removesuffix("_type")
        return f"expected {expected}, got {json_kind(value)}"
    return str(err["msg"])


def _issues(signature: Signature, errors: Sequence[Mapping[str, Any]]) -> list[InputIssue]:
    issues: dict[str, InputIssue] = {}
    for err in errors:
        loc = err["loc"]
        name = str(loc[0]) if loc else "__root__"
        if err["type"] == "missing":
            issues[name] = InputIssue(name, "Field required", "value_error.missing")
            continue
        field = signature.input(name)
        spec = field.type if field is not None else None
        index = next((p for p in loc[1:] if isinstance(p, int)), None)
        if index is not None and spec is not None:
            reason = f"item {index}: {_reason(err, spec.item)}"
        elif spec is not None and spec.kind is Kind.UNION:
            reason = _reason({**err, "type": "union_type"}, spec)
        else:
            reason = _reason(err, spec)
        issues.setdefault(name, InputIssue(name, reason))  # one per input, like Cog
    return list(issues.values())


def validate(signature: Signature, raw: dict[str, Any]) -> dict[str, Any]:
    """Validated JSON values with defaults filled in; unknown keys are dropped, as Cog does."""
    if not isinstance(raw, dict):
        raise InvalidInputs([InputIssue("__root__", f"expected object, got {json_kind(raw)}")])
    from pydantic import ValidationError

    try:
        model = _model(signature).model_validate(raw)
    except ValidationError as e:
        raise InvalidInputs(_issues(signature, e.errors(include_url=False))) from None
    return {f.name: getattr(model, f.name) for f in signature.inputs}


# --- materialize ------------------------------------------------------------------------


class InputFileError(CognixError):
    """A file input could not be read or fetched."""


def _fetch(url: str, dest_dir: FsPath) -> Path:
    target = FsPath(tempfile.mkdtemp(dir=dest_dir)) / filename_from_url(url)
    scheme = urllib.parse.urlparse(url).scheme
    try:
        if scheme == "data":
            target.write_bytes(decode_data_url(url))
        else:
            req = urllib.request.Request(url, headers=download_headers())
            with urllib.request.urlopen(req, timeout=60) as resp, target.open("wb") as out:
                shutil.copyfileobj(resp, out)
    except (OSError, ValueError) as e:
        raise InputFileError(f"could not fetch {url[:80]}: {e}") from None
    return Path(target)


def _file_value(kind: Kind, value: str, dest_dir: FsPath) -> Any:
    if urllib.parse.urlparse(value).scheme in ("http", "https", "data"):
        path = _fetch(value, dest_dir)
    elif FsPath(value).is_file():
        path = Path(value)
    else:
        raise InputFileError(f"file not found: {value}")
    return path.open("rb") if kind is Kind.FILE else path


def _convert(spec: TypeSpec, value: Any, dest_dir: FsPath) -> Any:
    if value is None:
        return None
    if spec.is_list:
        return [_convert(spec.item, v, dest_dir) for v in value]
    if spec.is_file:
        return _file_value(spec.kind, value, dest_dir)
    if spec.kind is Kind.SECRET:
        return Secret(value)
    if spec.kind is Kind.FLOAT:
        return float(value)
    return value


def materialize(signature: Signature, values: dict[str, Any], dest_dir: FsPath) -> dict[str, Any]:
    """Python values for ``run()``: URLs and ``data:`` URIs fetched into ``dest_dir``, local
    files as they are, secrets wrapped. (The server accepts only URLs: it fetches them first.)"""
    return {f.name: _convert(f.type, values[f.name], dest_dir) for f in signature.inputs}


def close_files(values: dict[str, Any]) -> None:
    """Close the file objects ``materialize`` opened for legacy ``File`` inputs."""
    for value in values.values():
        for item in value if isinstance(value, list) else [value]:
            if hasattr(item, "close") and hasattr(item, "read"):
                item.close()
