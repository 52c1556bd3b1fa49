"""Load a ``file.py:Name`` reference and call its ``setup`` and ``run``/``predict``/``train``.

The same loader serves ``cognix predict``, ``cognix schema`` and the server's worker, so a
predictor behaves identically everywhere.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import os
import sys
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _cognix_cog_alias
from cognix.errors import CognixError
from cognix.runtime.signature import OutputKind, Signature, SignatureError, inspect_callable
from cognix.sdk.predictor import BasePredictor, BaseRunner


class PredictorError(CognixError):
    """The predictor could not be imported, inspected or set up."""


class PredictorNotFound(PredictorError):
    """The module imported, and holds no object by the name cog.yaml gives."""


@dataclass
class Predictor:
    """A loaded predictor: its signature and how to call it."""

    ref: str
    signature: Signature
    fn: Callable[..., Any]  # run/predict/train, bound when it is a method
    setup_fn: Callable[..., Any] | None
    healthcheck_fn: Callable[..., Any] | None = None

    _loop: asyncio.AbstractEventLoop | None = None

    def _run_async(self, awaitable: Any) -> Any:
        # One loop for the predictor's life: objects made in an async setup() stay usable.
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(awaitable)

    def setup(self, weights: str | None = None) -> None:
        """Run ``setup()`` once; ``weights`` is passed only when setup accepts it."""
        if self.setup_fn is None:
            return
        kwargs = {"weights": weights} if "weights" in inspect.signature(self.setup_fn).parameters else {}
        result = self.setup_fn(**kwargs)
        if inspect.isawaitable(result):
            self._run_async(result)

    def call(self, inputs: dict[str, Any]) -> Any:
        """Run one prediction to completion; iterator outputs are collected into a list."""
        result = self.fn(**inputs)
        if inspect.isasyncgen(result):
            return self._run_async(_collect_async(result))
        if inspect.isawaitable(result):
            return self._run_async(result)
        if self.signature.output.kind in (OutputKind.ITERATOR, OutputKind.CONCAT_ITERATOR):
            return list(result)
        return result


async def _collect_async(agen: Any) -> list[Any]:
    return [item async for item in agen]


def _import_file(project_dir: Path, filename: str) -> Any:
    path = (project_dir / filename).resolve()
    if not path.is_file():
        raise PredictorError(
            f"predictor file {filename!r} not found in {project_dir}",
            hint="check the 'run:'/'predict:' entry of cog.yaml (form: 'run.py:Runner')",
        )
    _cognix_cog_alias.install()
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))  # local imports of the model code
    module_name = path.stem
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as e:
        sys.modules.pop(module_name, None)
        raise PredictorError(
            f"failed to import predictor module {filename}: {type(e).__name__}: {e}", details=user_traceback(e)
        ) from None
    return module


_OWN = f"{Path(__file__).resolve().parent.parent}{os.sep}"  # cognix's package: its frames are not the user's


def user_traceback(error: BaseException) -> str:
    """The traceback of the user's own code: cognix's frames and the import machinery's left out.
    A SyntaxError keeps its file, line and caret (they are not frames)."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if not frame.filename.startswith(("<frozen ", _OWN))
    ]
    header = ["Traceback (most recent call last):\n", *traceback.format_list(frames)] if frames else []
    return "".join([*header, *traceback.format_exception_only(error)]).rstrip()


def _user_method(cls: type, name: str) -> Callable[..., Any] | None:
    for owner in cls.__mro__:
        if owner in (BaseRunner, BasePredictor, object):
            return None
        method: Callable[..., Any] | None = owner.__dict__.get(name)
        if callable(method):
            return method
    return None


def load(project_dir: Path, ref: str, *, mode: str = "predict") -> Predictor:
    """Import ``ref`` from ``project_dir`` and inspect it, without running ``setup``."""
    filename, _, name = ref.partition(":")
    module = _import_file(project_dir, filename)
    if not name:
        candidates = ["Trainer", "train"] if mode == "train" else ["Runner", "Predictor"]
        name = next((c for c in candidates if hasattr(module, c)), "")
        if not name:
            raise PredictorNotFound(f"no {' or '.join(candidates)} found in {filename}", hint=f"use '{filename}:Name'")
    obj = getattr(module, name, None)
    if obj is None:
        raise PredictorNotFound(f"predictor not found: {filename}:{name}", hint=f"define {name} in {filename}")
    try:
        return _from_object(ref, obj, name, mode)
    except SignatureError as e:
        raise PredictorError(f"invalid predictor {ref}: {e}") from None


def _from_object(ref: str, obj: Any, name: str, mode: str) -> Predictor:
    if inspect.isclass(obj):
        methods = ("train",) if mode == "train" else ("run", "predict")
        defined = [m for m in methods if _user_method(obj, m)]
        if len(defined) > 1:
            raise PredictorError(f"{name} must define either run() or predict(), not both")
        if not defined:
            raise PredictorError(f"{' or '.join(methods)} method not found: {name}")
        if defined[0] == "predict":
            warnings.warn(f"{name}.predict() is deprecated; use run() instead", DeprecationWarning, stacklevel=2)
        unbound = _user_method(obj, defined[0])
        assert unbound is not None
        signature = inspect_callable(unbound, method=True, what=defined[0])
        _check_setup(obj)
        instance = obj()
        setup = getattr(instance, "setup", None)
        health = getattr(instance, "healthcheck", None)
        return Predictor(ref, signature, getattr(instance, defined[0]), setup, health if callable(health) else None)
    if callable(obj):
        signature = inspect_callable(obj, method=False, what=getattr(obj, "__name__", name))
        return Predictor(ref, signature, obj, None)
    raise PredictorError(f"invalid predictor {ref}: {name} is neither a class nor a function")


def _check_setup(cls: type) -> None:
    setup = _user_method(cls, "setup")
    if setup is None:
        return
    params = list(inspect.signature(setup).parameters.values())[1:]
    extra = [p.name for p in params if p.name != "weights" and p.default is inspect.Parameter.empty]
    if extra:
        raise PredictorError(
            f"unexpected setup() arguments: {', '.join(extra)}", hint="setup() may only take 'weights'"
        )
