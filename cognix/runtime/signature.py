"""Read a predictor's ``run``/``predict``/``train`` signature into a plain description.

Everything downstream (OpenAPI schema, input validation, output encoding, the server)
works from :class:`Signature`, never from raw annotations, so Cog's typing rules live
here once. Invalid signatures raise :class:`SignatureError` with Cog's wording.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import os
import re
import sys
import typing
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from types import NoneType, UnionType
from typing import Any, Literal

from cognix.sdk.input import NO_DEFAULT, FieldInfo
from cognix.sdk.model import BaseModel as CogBaseModel
from cognix.sdk.opaque import Opaque
from cognix.sdk.types import AsyncConcatenateIterator, ConcatenateIterator, File, Path, Secret


def _is_pydantic_model(tpe: Any) -> bool:
    """Without importing pydantic: a model class means its module is already loaded."""
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(tpe, type) and issubclass(tpe, pydantic.BaseModel)


class SignatureError(ValueError):
    """A predictor signature Cog would refuse to build."""


class Kind(str, enum.Enum):
    STRING = "str"
    INTEGER = "int"
    FLOAT = "float"
    BOOL = "bool"
    PATH = "Path"
    FILE = "File"
    SECRET = "Secret"
    OBJECT = "dict"  # dict, Dict[str, X], Any, TypedDict inputs, Opaque
    UNION = "Union"
    MODEL = "BaseModel"  # outputs only: BaseModel / pydantic model / TypedDict, fields inlined


PRIMITIVES: dict[Any, Kind] = {
    str: Kind.STRING,
    int: Kind.INTEGER,
    float: Kind.FLOAT,
    bool: Kind.BOOL,
    Path: Kind.PATH,
    File: Kind.FILE,
    Secret: Kind.SECRET,
    Any: Kind.OBJECT,
    dict: Kind.OBJECT,
}
JSON_NATIVE = {Kind.STRING, Kind.INTEGER, Kind.FLOAT, Kind.BOOL, Kind.OBJECT}


@dataclass(frozen=True)
class ModelField:
    name: str
    type: TypeSpec
    required: bool


@dataclass(frozen=True)
class TypeSpec:
    """One input or output field type, flattened to what Cog can express."""

    kind: Kind
    is_list: bool = False
    nullable: bool = False
    members: tuple[TypeSpec, ...] = ()  # UNION
    literal: tuple[Any, ...] = ()  # Literal[...]
    fields: tuple[ModelField, ...] = ()  # MODEL
    values: TypeSpec | None = None  # dict[str, V] outputs
    opaque: bool = False

    @property
    def is_file(self) -> bool:
        return self.kind in (Kind.PATH, Kind.FILE)

    @property
    def item(self) -> TypeSpec:
        """The element type of a list (the type itself otherwise)."""
        return dataclasses.replace(self, is_list=False, nullable=False)

    def describe(self) -> str:
        base = " | ".join(m.describe() for m in self.members) if self.kind is Kind.UNION else self.kind.value
        base = f"list[{base}]" if self.is_list else base
        return f"{base} | None" if self.nullable else base


MISSING: Any = NO_DEFAULT  # one "no default" marker for the SDK and the signature


@dataclass(frozen=True, kw_only=True)
class InputField(FieldInfo):
    """An ``Input()`` resolved against its parameter: default and choices normalised."""

    name: str
    order: int
    type: TypeSpec

    @property
    def required(self) -> bool:
        return self.default is MISSING and not self.type.nullable


class OutputKind(str, enum.Enum):
    SINGLE = "single"
    LIST = "list"
    ITERATOR = "iterator"
    CONCAT_ITERATOR = "concatenate_iterator"


@dataclass(frozen=True)
class OutputSpec:
    kind: OutputKind
    type: TypeSpec  # the value's type; the element type for list and iterator outputs

    @property
    def is_iterator(self) -> bool:
        return self.kind in (OutputKind.ITERATOR, OutputKind.CONCAT_ITERATOR)


@dataclass(frozen=True, eq=False)  # identity-hashed: defaults may be lists or dicts
class Signature:
    """What a predictor takes and returns, plus how it must be called."""

    inputs: tuple[InputField, ...]
    output: OutputSpec
    is_async: bool
    is_generator: bool
    streaming: bool = False
    concurrency: int | None = None

    def input(self, name: str) -> InputField | None:
        return next((f for f in self.inputs if f.name == name), None)

    def concurrency_error(self, slots: int | None, source: str) -> str | None:
        """Cog's refusal of ``slots`` > 1 for a synchronous ``run()`` (``source`` names who asked:
        ``COG_MAX_CONCURRENCY`` at run time, ``concurrency.max`` at build time); None when it fits."""
        if slots is not None and slots > 1 and not self.is_async:
            return f"{source} > 1 requires an async run() or predict() method"
        return None


def _name(tpe: Any) -> str:
    return getattr(tpe, "__name__", None) or repr(tpe).replace("typing.", "")


def _is_union(tpe: Any) -> bool:
    return typing.get_origin(tpe) in (typing.Union, UnionType)


def _typing_modules() -> tuple[Any, ...]:
    """``typing``, and ``typing_extensions`` once model code has loaded it: before Python 3.13
    its ``TypedDict`` (and on 3.10 its ``Required``/``NotRequired``) are its own."""
    extensions = sys.modules.get("typing_extensions")
    return (typing,) if extensions is None else (typing, extensions)


def _is_typeddict(tpe: Any) -> bool:
    return isinstance(tpe, type) and any(module.is_typeddict(tpe) for module in _typing_modules())


def _key_qualifier(hint: Any) -> tuple[Any, bool | None]:
    """A TypedDict key's type without ``Required[...]``/``NotRequired[...]``, and whether that
    made it required (None: neither was written)."""
    origin = typing.get_origin(hint)
    for module in _typing_modules():
        for qualifier, required in (("Required", True), ("NotRequired", False)):
            if origin is not None and origin is getattr(module, qualifier, None):
                return typing.get_args(hint)[0], required
    return hint, None


def _unwrap_annotated(tpe: Any) -> tuple[Any, bool]:
    """Strip ``Annotated``; report whether it carried ``Opaque``."""
    if typing.get_origin(tpe) is typing.Annotated:
        base, *meta = typing.get_args(tpe)
        return base, any(m is Opaque or isinstance(m, Opaque) for m in meta)
    return tpe, False


def _is_model(tpe: Any) -> bool:
    return isinstance(tpe, type) and (issubclass(tpe, CogBaseModel) or _is_pydantic_model(tpe) or _is_typeddict(tpe))


def _model_fields(tpe: type) -> tuple[ModelField, ...]:
    """Fields of an output model in class order; required = no default and not Optional, but
    a TypedDict's keys are required as its totality and ``Required``/``NotRequired`` say, Optional
    or not (Cog's ``KeyRequired``)."""
    hints = typing.get_type_hints(tpe, include_extras=True)
    optional_is_not_required = True
    if _is_pydantic_model(tpe):
        model_fields = tpe.model_fields  # type: ignore[attr-defined]  # a pydantic model, checked above
        names = list(model_fields)
        required = {n for n, fi in model_fields.items() if fi.is_required()}
    elif dataclasses.is_dataclass(tpe):
        names = [f.name for f in dataclasses.fields(tpe)]
        required = {
            f.name
            for f in dataclasses.fields(tpe)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }
    else:  # TypedDict: the qualifiers are read from the hints too: with `from __future__
        # import annotations`, Python (3.11 at least) leaves them out of __required_keys__
        names = list(hints)
        by_totality = set(getattr(tpe, "__required_keys__", names))
        qualified = {n: _key_qualifier(hint) for n, hint in hints.items()}
        hints = {n: hint for n, (hint, _) in qualified.items()}
        required = {n for n, (_, key) in qualified.items() if (n in by_totality if key is None else key)}
        optional_is_not_required = False
    out = []
    for n in names:
        try:
            spec = parse_type(hints[n], output=True)
        except SignatureError as e:
            raise SignatureError(f'field "{n}": {e}') from None
        out.append(ModelField(n, spec, n in required and not (optional_is_not_required and spec.nullable)))
    return tuple(out)


def _primitive(tpe: Any, output: bool) -> TypeSpec:
    if tpe in PRIMITIVES:
        return TypeSpec(PRIMITIVES[tpe])
    origin = typing.get_origin(tpe)
    if origin is dict or tpe is typing.Dict:  # noqa: UP006
        args = typing.get_args(tpe)
        values = parse_type(args[1], output=True) if output and len(args) == 2 and args[1] is not Any else None
        return TypeSpec(Kind.OBJECT, values=values)
    if origin is Literal:
        choices = typing.get_args(tpe)
        kinds = {PRIMITIVES.get(type(v)) for v in choices}
        kind = kinds.pop() if len(kinds) == 1 else None
        if kind not in (Kind.STRING, Kind.INTEGER):
            raise SignatureError(f"Literal values must all be str or all int: {_name(tpe)}")
        return TypeSpec(kind, literal=choices)
    if _is_model(tpe):
        if output:
            return TypeSpec(Kind.MODEL, fields=_model_fields(tpe))
        if _is_typeddict(tpe):
            return TypeSpec(Kind.OBJECT)
    if isinstance(tpe, type):
        if issubclass(tpe, Secret):
            return TypeSpec(Kind.SECRET)
        if issubclass(tpe, os.PathLike):
            return TypeSpec(Kind.PATH)
        if issubclass(tpe, enum.Enum):
            return _primitive(Literal[tuple(m.value for m in tpe)], output)
    if origin is not None:
        raise SignatureError(f"{_name(origin)}[...] is not a supported {'output' if output else 'input'} type")
    raise SignatureError(f"unsupported type: {_name(tpe)}")


def parse_type(tpe: Any, output: bool = False) -> TypeSpec:
    """Map a Python annotation to a :class:`TypeSpec` (Cog's type rules; ``output`` allows models)."""
    tpe, opaque = _unwrap_annotated(tpe)
    nullable = False
    if _is_union(tpe):
        args = typing.get_args(tpe)
        nullable = NoneType in args
        rest = [a for a in args if a is not NoneType]
        if len(rest) > 1:
            if output:
                raise SignatureError("union types are not supported as output")
            members = tuple(parse_type(a) for a in rest)
            for m in members:
                if m.kind is Kind.UNION:
                    raise SignatureError("nested union inputs are not supported")
                if m.nullable:
                    raise SignatureError("nested nullable variants are not supported in union inputs")
                if m.kind not in JSON_NATIVE:
                    raise SignatureError(f"{m.kind.value} is not supported in union inputs")
            return TypeSpec(Kind.UNION, nullable=nullable, members=members)
        tpe, inner_opaque = _unwrap_annotated(rest[0])
        opaque = opaque or inner_opaque
    if opaque:
        is_list = typing.get_origin(tpe) in (list, typing.List) or tpe in (list, typing.List)  # noqa: UP006
        return TypeSpec(Kind.OBJECT, is_list=is_list, nullable=nullable, opaque=True)
    if typing.get_origin(tpe) in (list, typing.List) or tpe in (list, typing.List):  # noqa: UP006
        args = typing.get_args(tpe)
        if len(args) > 1:
            raise SignatureError("List must have one type argument")
        elem, elem_opaque = _unwrap_annotated(args[0] if args else Any)
        if elem_opaque:
            return TypeSpec(Kind.OBJECT, is_list=True, nullable=nullable, opaque=True)
        if typing.get_origin(elem) in (list, typing.List) or _is_union(elem):  # noqa: UP006
            raise SignatureError("nested generics like List[Optional[X]] are not supported")
        return dataclasses.replace(_primitive(elem, output), is_list=True, nullable=nullable)
    return dataclasses.replace(_primitive(tpe, output), nullable=nullable)


# --- inputs -----------------------------------------------------------------------------


def _check_default(spec: TypeSpec, value: Any) -> Any:
    """Normalise a default to its JSON form, refusing one of the wrong type."""
    if isinstance(value, enum.Enum):
        value = value.value
    if spec.is_list:
        if not isinstance(value, (list, tuple)):
            value = [value]
        return [_check_default(dataclasses.replace(spec, is_list=False), v) for v in value]
    kind = spec.kind
    ok: Callable[[Any], bool] = {
        Kind.STRING: lambda v: isinstance(v, str),
        Kind.INTEGER: lambda v: isinstance(v, int) and not isinstance(v, bool),
        Kind.FLOAT: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        Kind.BOOL: lambda v: isinstance(v, bool),
        Kind.PATH: lambda v: isinstance(v, (str, os.PathLike)),
        Kind.FILE: lambda v: isinstance(v, str),
        Kind.SECRET: lambda v: isinstance(v, (str, Secret)),
        Kind.OBJECT: lambda v: True,
        Kind.UNION: lambda v: True,
    }[kind]
    if not ok(value):
        raise SignatureError(f"failed to normalize value as {kind.value}")
    if kind is Kind.FLOAT:
        return float(value)
    if kind is Kind.PATH:
        return str(value)
    if kind is Kind.SECRET and isinstance(value, Secret):
        return value.get_secret_value()
    return value


def _check_constraints(f: InputField) -> None:
    """Cog's static checks on Input() options (same wording as Cog's inspector)."""
    t = f.type
    shown = f"{f.name}: {t.describe()}"
    defaults = [] if f.default in (MISSING, None) else (f.default if t.is_list else [f.default])
    if f.accept is not None and not t.is_file:
        raise SignatureError(f"accept is only valid on Path or File inputs: {shown}")
    if f.ge is not None or f.le is not None:
        if t.kind not in (Kind.INTEGER, Kind.FLOAT) or t.is_list:
            raise SignatureError(f"incompatible input type for ge/le: {shown}")
        if f.ge is not None and any(d < f.ge for d in defaults):
            raise SignatureError(f"invalid default for {shown}: must be at minimum {f.ge}")
        if f.le is not None and any(d > f.le for d in defaults):
            raise SignatureError(f"invalid default for {shown}: must be at maximum {f.le}")
    if f.min_length is not None or f.max_length is not None:
        if t.kind is not Kind.STRING:
            raise SignatureError(f"incompatible input type for min_length/max_length: {shown}")
        if f.min_length is not None and any(len(d) < f.min_length for d in defaults):
            raise SignatureError(f"default conflicts with min_length={f.min_length} for input: {shown}")
        if f.max_length is not None and any(len(d) > f.max_length for d in defaults):
            raise SignatureError(f"default conflicts with max_length={f.max_length} for input: {shown}")
    if f.regex is not None:
        if t.kind is not Kind.STRING:
            raise SignatureError(f"incompatible input type for regex: {shown}")
        if any(not re.match(f.regex, d) for d in defaults):
            raise SignatureError(f"default not a regex match for input: {shown}")
    if f.choices is not None:
        if t.kind not in (Kind.STRING, Kind.INTEGER) or t.is_list:
            raise SignatureError(f"incompatible input type for choices: {shown}")
        if len(f.choices) < 2:
            raise SignatureError(f"choices={list(f.choices)!r} must have >= 2 elements: {shown}")
        if f.ge is not None or f.le is not None:
            raise SignatureError(f"choices and ge/le are mutually exclusive: {shown}")
        if f.min_length is not None or f.max_length is not None:
            raise SignatureError(f"choices and min_length/max_length are mutually exclusive: {shown}")
        if any(PRIMITIVES.get(type(c)) is not t.kind for c in f.choices):
            raise SignatureError(f"not all choices have the same type as input: {shown}")
        if any(d not in f.choices for d in defaults):
            raise SignatureError(f"default is not one of the choices for input: {shown}")


def _input_field(order: int, name: str, annotation: Any, default: Any) -> InputField:
    try:
        spec = parse_type(annotation)
    except SignatureError as e:
        raise SignatureError(f"invalid input field {name}: {e}") from None
    info = default if isinstance(default, FieldInfo) else FieldInfo(default=default)
    value = info.default
    if value is inspect.Parameter.empty or value is MISSING:
        value = MISSING
    elif value is None and not spec.nullable and spec.kind is not Kind.SECRET:
        value = MISSING  # as Cog's static generator: default=None on a non-Optional type is no default
    elif value is None:
        spec = dataclasses.replace(spec, nullable=True)
    else:
        try:
            value = _check_default(spec, value)
        except SignatureError as e:
            raise SignatureError(f"invalid default for input {name}: {e}") from None
    choices = list(spec.literal) if spec.literal else info.choices
    options = {fi.name: getattr(info, fi.name) for fi in dataclasses.fields(FieldInfo)}
    options.update(
        default=value,
        choices=tuple(c.value if isinstance(c, enum.Enum) else c for c in choices) if choices is not None else None,
    )
    f = InputField(**options, name=name, order=order, type=spec)
    _check_constraints(f)
    return f


# --- outputs ----------------------------------------------------------------------------

_ITERATORS = {
    typing.get_origin(Iterator[int]),
    typing.get_origin(AsyncIterator[int]),
    typing.get_origin(typing.Generator[int, None, None]),
    typing.get_origin(typing.AsyncGenerator[int, None]),
}


def parse_output(tpe: Any) -> OutputSpec:
    """Map a return annotation to an :class:`OutputSpec` (Cog's output rules)."""
    origin = typing.get_origin(tpe)
    concat = origin in (ConcatenateIterator, AsyncConcatenateIterator) or tpe in (
        ConcatenateIterator,
        AsyncConcatenateIterator,
    )
    if concat or origin in _ITERATORS:
        args = typing.get_args(tpe)
        if not args:
            raise SignatureError(f"{_name(origin or tpe)} expects exactly 1 type argument")
        elem = parse_type(args[0], output=True)
        if elem.nullable or elem.is_list:
            raise SignatureError("iterator element type must not be Optional or List")
        if concat and elem.kind is not Kind.STRING:
            raise SignatureError(f"ConcatenateIterator element type must be str, got {_name(args[0])}")
        return OutputSpec(OutputKind.CONCAT_ITERATOR if concat else OutputKind.ITERATOR, elem)
    if _is_union(tpe) and NoneType in typing.get_args(tpe):
        raise SignatureError("unsupported output type: Optional is not allowed as a return type")
    spec = parse_type(tpe, output=True)
    return OutputSpec(OutputKind.LIST if spec.is_list else OutputKind.SINGLE, spec.item)


# --- the whole callable -----------------------------------------------------------------


def inspect_callable(fn: Callable[..., Any], *, method: bool, what: str = "run") -> Signature:
    """Describe ``fn`` (an unbound method when ``method``; else a plain function)."""
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except NameError as e:
        raise SignatureError(f"cannot resolve type annotation of {what}(): {e}") from None
    params = list(inspect.signature(fn).parameters.values())
    if method:
        params = params[1:]
    inputs = []
    for order, p in enumerate(params):
        if p.kind is p.VAR_POSITIONAL:
            raise SignatureError(f"{what}() must not have *args")
        if p.kind is p.VAR_KEYWORD:
            raise SignatureError(f"{what}() must not have **kwargs")
        if p.name not in hints:
            raise SignatureError(f"missing type annotation for input: {p.name}")
        inputs.append(_input_field(order, p.name, hints[p.name], p.default))
    if "return" not in hints:
        raise SignatureError(f"missing return type annotation for {what} method")
    try:
        output = parse_output(hints["return"])
    except SignatureError as e:
        raise SignatureError(f"invalid output type: {e}") from None
    is_gen = inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn)
    streaming = bool(getattr(fn, "__cog_streaming__", False))
    if streaming and not output.is_iterator:
        raise SignatureError("@streaming requires an iterator return type (Iterator[T] or ConcatenateIterator[str])")
    return Signature(
        inputs=tuple(inputs),
        output=output,
        is_async=inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn),
        is_generator=is_gen,
        streaming=streaming,
        concurrency=getattr(fn, "__cog_concurrent_max__", None),
    )
