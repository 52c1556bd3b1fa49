"""Turn a prediction's return value into JSON, handing files to a caller-chosen sink.

The CLI's sink writes ``output.<ext>`` files; the server's makes data URLs or uploads.
"""

from __future__ import annotations

import dataclasses
import enum
import io
import os
import pathlib
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

from cognix.runtime.signature import OutputSpec
from cognix.sdk.types import Secret

FileSink = Callable[..., Any]  # sink(path, temporary=False): temporary files are the sink's to delete


def _spill(stream: io.IOBase) -> pathlib.Path:
    """A file-like output (legacy ``File``) becomes a real file."""
    name = os.path.basename(getattr(stream, "name", "") or "output")
    target = pathlib.Path(tempfile.mkdtemp(prefix="cognix-out-")) / name
    with target.open("wb") as out:
        shutil.copyfileobj(stream, out)
    return target


def encode(value: Any, sink: FileSink, as_file: bool = False) -> Any:
    """JSON-able form of ``value``; every file inside it goes through ``sink``."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return sink(pathlib.Path(value)) if as_file else value
    if isinstance(value, os.PathLike):
        return sink(pathlib.Path(value))
    if isinstance(value, io.IOBase):
        return sink(_spill(value), temporary=True)  # the sink removes it once read
    if isinstance(value, Secret):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): encode(v, sink) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v, sink, as_file) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name), sink) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):  # pydantic v2 model
        return {k: encode(getattr(value, k), sink) for k in type(value).model_fields}
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return encode(value.tolist(), sink)
    raise TypeError(f"cannot encode output of type {type(value).__name__} as JSON")


def encode_output(value: Any, spec: OutputSpec, sink: FileSink) -> Any:
    """Encode a full output (a list for list/iterator outputs) according to its spec."""
    return encode(value, sink, as_file=spec.type.is_file)
