"""Check prediction inputs against a :class:`Signature`, then turn them into Python values.

Two steps, so that bad input is refused *before* ``setup()`` runs (CLI) or before a
worker slot is taken (server): :func:`validate` works on JSON values only;
:func:`materialize` downloads/decodes files and wraps secrets.
"""

from __future__ import annotations

import base64
import functools
import os
import shutil
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any, Literal, Optional, Union

from pydantic import ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, ValidationError, create_model

from .errors import CognixError
from .sdk.types import Path, Secret, filename_from_url
from .signature import MISSING, InputField, Kind, Signature, TypeSpec

_JSON_TYPES = {
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
    Kind.PATH: "string (a URL or data: URI)",
    Kind.FILE: "string (a URL or data: URI)",
    Kind.SECRET: "string",
    Kind.OBJECT: "object",
}


def json_kind(value: Any) -> str:
    """JSON type name of a value, for messages."""
    if value is None:
        return "null"
    for py, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "array")):
        if isinstance(value, py):
            return name
    return "object"


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
        super().__init__("\n".join(i.cli_message() for i in issues))
        self.issues = issues


def _python_type(spec: TypeSpec) -> Any:
    if spec.kind is Kind.UNION:
        t: Any = Union[tuple(_python_type(m) for m in spec.members)]  # noqa: UP007
    elif spec.literal:
        t = Literal[spec.literal]  # type: ignore[valid-type]
    else:
        t = _JSON_TYPES[spec.kind]
    if spec.is_list:
        t = list[t]  # type: ignore[valid-type]
    return Optional[t] if spec.nullable else t  # noqa: UP007


def _field(f: InputField) -> tuple[Any, Any]:
    t = _python_type(f.type)
    if f.choices is not None and not f.type.literal:
        t = Literal[f.choices]  # type: ignore[valid-type]
        t = Optional[t] if f.type.nullable else t  # noqa: UP007
    default = ... if f.required else (None if f.default is MISSING else f.default)
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
    config = ConfigDict(strict=True, extra="ignore", regex_engine="python-re")
    return create_model("Input", __config__=config, **{f.name: _field(f) for f in signature.inputs})


def _issue(signature: Signature, err: dict[str, Any]) -> InputIssue:
    name = str(err["loc"][0]) if err["loc"] else "__root__"
    if err["type"] == "missing":
        return InputIssue(name, "Field required", "value_error.missing")
    field = signature.input(name)
    value = err.get("input")
    if err["type"].endswith("_type") and field is not None and len(err["loc"]) == 1:
        expected = "array" if field.type.is_list else _EXPECTED.get(field.type.kind, field.type.describe())
        return InputIssue(name, f"expected {expected}, got {json_kind(value)}")
    where = "".join(f"[{p}]" for p in err["loc"][1:] if isinstance(p, int))
    return InputIssue(name, f"{err['msg']}{' at ' + where if where else ''}")


def validate(signature: Signature, raw: dict[str, Any]) -> dict[str, Any]:
    """Validated JSON values with defaults filled in; unknown keys are dropped, as Cog does."""
    if not isinstance(raw, dict):
        raise InvalidInputs([InputIssue("__root__", f"expected an object, got {json_kind(raw)}")])
    try:
        model = _model(signature).model_validate(raw)
    except ValidationError as e:
        issues = list(dict.fromkeys(_issue(signature, err) for err in e.errors(include_url=False)))
        raise InvalidInputs(issues) from None
    return {f.name: getattr(model, f.name) for f in signature.inputs}


# --- materialize ------------------------------------------------------------------------


class InputFileError(CognixError):
    """A file input could not be read or fetched."""


def _fetch(url: str, dest_dir: FsPath) -> Path:
    target = FsPath(tempfile.mkdtemp(dir=dest_dir)) / filename_from_url(url)
    scheme = urllib.parse.urlparse(url).scheme
    try:
        if scheme == "data":
            header, _, payload = url.partition(",")
            data = base64.b64decode(payload) if header.endswith(";base64") else urllib.parse.unquote_to_bytes(payload)
            target.write_bytes(data)
        else:
            headers = {"User-Agent": os.environ["COG_USER_AGENT"]} if "COG_USER_AGENT" in os.environ else {}
            req = urllib.request.Request(url, headers=headers)
            with urllib.request.urlopen(req, timeout=60) as resp, target.open("wb") as out:  # noqa: S310
                shutil.copyfileobj(resp, out)
    except (OSError, ValueError) as e:
        raise InputFileError(f"could not fetch {url[:80]}: {e}") from None
    return Path(target)


def _file_value(kind: Kind, value: str, dest_dir: FsPath, allow_local: bool) -> Any:
    scheme = urllib.parse.urlparse(value).scheme
    if scheme in ("http", "https", "data"):
        path = _fetch(value, dest_dir)
    elif allow_local and FsPath(value).is_file():
        path = Path(value)
    else:
        raise InputFileError(
            f"{value[:80]!r} is not a valid URL scheme. 'data', 'http', or 'https' is supported."
            if not allow_local
            else f"file not found: {value}"
        )
    return path.open("rb") if kind is Kind.FILE else path


def _convert(spec: TypeSpec, value: Any, dest_dir: FsPath, allow_local: bool) -> Any:
    if value is None:
        return None
    if spec.is_list:
        item = TypeSpec(spec.kind, members=spec.members, literal=spec.literal, properties=spec.properties)
        return [_convert(item, v, dest_dir, allow_local) for v in value]
    if spec.is_file:
        return _file_value(spec.kind, value, dest_dir, allow_local)
    if spec.kind is Kind.SECRET:
        return Secret(value)
    if spec.kind is Kind.FLOAT:
        return float(value)
    return value


def materialize(
    signature: Signature, values: dict[str, Any], dest_dir: FsPath, *, allow_local: bool = False
) -> dict[str, Any]:
    """Python values for ``run()``: files fetched into ``dest_dir``, secrets wrapped.

    ``allow_local`` lets file inputs name local files (the CLI); the server refuses them.
    """
    return {f.name: _convert(f.type, values[f.name], dest_dir, allow_local) for f in signature.inputs}
