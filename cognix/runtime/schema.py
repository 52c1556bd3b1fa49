"""A :class:`Signature` as the OpenAPI document Cog serves and bakes into image labels.

The shape follows Cog's static generator (``pkg/schema/openapi_spec.go``): component
names and order, ``x-order``, titles, enum components referenced through ``allOf``,
``x-cog-*`` extensions, and the same bytes when serialised with :func:`dumps`, so existing
clients and tooling read cognix images unchanged.
"""

from __future__ import annotations

import json
from typing import Any

from cognix._version import __version__
from cognix.runtime.signature import MISSING, InputField, Kind, OutputKind, OutputSpec, Signature, TypeSpec

OPENAPI_VERSION = "3.0.2"
_REF = "#/components/schemas/"


class Ordered(dict):  # type: ignore[type-arg]
    """A mapping whose key order is meaningful (Cog keeps these in insertion order)."""


def title(name: str) -> str:
    """``my_arg`` → ``My Arg``, as Cog titles properties."""
    return " ".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


_SIMPLE: dict[Kind, dict[str, Any]] = {
    Kind.STRING: {"type": "string"},
    Kind.INTEGER: {"type": "integer"},
    Kind.FLOAT: {"type": "number"},
    Kind.BOOL: {"type": "boolean"},
    Kind.PATH: {"type": "string", "format": "uri"},
    Kind.FILE: {"type": "string", "format": "uri"},
    Kind.SECRET: {"type": "string", "format": "password", "writeOnly": True, "x-cog-secret": True},
    Kind.OBJECT: {"type": "object"},
}


def type_schema(spec: TypeSpec) -> dict[str, Any]:
    """JSON schema of ``spec``: items for lists, anyOf for unions, inlined model fields."""
    schema: dict[str, Any]
    if spec.is_list:
        schema = {"type": "array", "items": type_schema(spec.item)}
    elif spec.kind is Kind.UNION:
        schema = {"anyOf": [_with_null(type_schema(m), spec.nullable) for m in spec.members]}
    elif spec.kind is Kind.MODEL:
        schema = {"type": "object", "properties": Ordered()}
        for f in spec.fields:
            schema["properties"][f.name] = {**type_schema(f.type), "title": title(f.name)}
        required = [f.name for f in spec.fields if f.required]
        if required:
            schema["required"] = required
    elif spec.values is not None:
        schema = {"type": "object", "additionalProperties": type_schema(spec.values)}
    else:
        schema = dict(_SIMPLE[spec.kind])
    return _with_null(schema, spec.nullable)


def _with_null(schema: dict[str, Any], nullable: bool) -> dict[str, Any]:
    return {**schema, "nullable": True} if nullable else schema


def input_property(field: InputField) -> dict[str, Any]:
    if field.choices is not None:
        prop: dict[str, Any] = {"allOf": [{"$ref": _REF + field.name}]}
        if field.type.nullable:
            prop["nullable"] = True
    else:
        prop = {"title": title(field.name), **type_schema(field.type)}
    prop["x-order"] = field.order
    if field.default is not MISSING:
        prop["default"] = field.default
    optional = {
        "description": field.description,
        "minimum": field.ge,
        "maximum": field.le,
        "minLength": field.min_length,
        "maxLength": field.max_length,
        "pattern": field.regex,
        "deprecated": field.deprecated or None,
        "x-cog-accept": field.accept,
    }
    prop.update({k: v for k, v in optional.items() if v is not None})
    return prop


def enum_component(field: InputField) -> dict[str, Any]:
    assert field.choices is not None
    return {
        "title": field.name,
        "description": "An enumeration.",
        "enum": list(field.choices),
        "type": _SIMPLE.get(field.type.kind, _SIMPLE[Kind.STRING])["type"],
    }


def output_schema(output: OutputSpec) -> dict[str, Any]:
    if output.kind is OutputKind.SINGLE:
        schema = type_schema(output.type)
    else:
        schema = {"type": "array", "items": type_schema(output.type)}
        if output.is_iterator:
            schema["x-cog-array-type"] = "iterator"
        if output.kind is OutputKind.CONCAT_ITERATOR:
            schema["x-cog-array-display"] = "concatenate"
    return {**schema, "title": "Output"}


def input_component(signature: Signature, name: str) -> dict[str, Any]:
    component: dict[str, Any] = {
        "title": name,
        "type": "object",
        "properties": Ordered((f.name, input_property(f)) for f in signature.inputs),
    }
    required = [f.name for f in signature.inputs if f.required]
    if required:
        component["required"] = required
    return component


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _ok(schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": "Successful Response", **_json_content(schema)}


_INVALID = {"description": "Validation Error", **_json_content({"$ref": _REF + "HTTPValidationError"})}


def _paths(train: bool, streaming: bool) -> Ordered:
    kind, op = ("training", "train") if train else ("prediction", "predict")
    prefix = kind.capitalize()
    create: dict[str, Any] = {
        "summary": op.capitalize(),
        "description": f"Run a single {kind} on the model",
        "operationId": f"{op}_{kind}s_post",
        "requestBody": _json_content({"$ref": f"{_REF}{prefix}Request"}),
        "responses": {"200": _ok({"$ref": f"{_REF}{prefix}Response"}), "422": _INVALID},
    }
    if streaming and not train:
        create["x-cog-streaming"] = True
    id_name = f"{kind}_id"
    cancel = {
        "summary": "Cancel",
        "operationId": f"cancel_{kind}s__{id_name}__cancel_post",
        "parameters": [
            {"in": "path", "name": id_name, "required": True, "schema": {"title": title(id_name), "type": "string"}}
        ],
        "responses": {"200": _ok({}), "422": _INVALID},
    }
    return Ordered(
        [
            ("/", {"get": {"summary": "Root", "operationId": "root__get", "responses": {"200": _ok({})}}}),
            (
                "/health-check",
                {
                    "get": {
                        "summary": "Healthcheck",
                        "operationId": "healthcheck_health_check_get",
                        "responses": {"200": _ok({})},
                    }
                },
            ),
            (f"/{kind}s", {"post": create}),
            (f"/{kind}s/{{{id_name}}}/cancel", {"post": cancel}),
        ]
    )


def _str(name: str, fmt: str | None = None) -> dict[str, Any]:
    return {"title": name, "type": "string", **({"format": fmt} if fmt else {})}


def _request_response(prefix: str, input_name: str, output_name: str) -> dict[str, Any]:
    return {
        f"{prefix}Request": {
            "title": f"{prefix}Request",
            "type": "object",
            "properties": {"id": _str("Id"), "input": {"$ref": _REF + input_name}},
        },
        f"{prefix}Response": {
            "title": f"{prefix}Response",
            "type": "object",
            "properties": {
                "input": {"$ref": _REF + input_name},
                "output": {"$ref": _REF + output_name},
                "id": _str("Id"),
                "version": _str("Version"),
                "created_at": _str("Created At", "date-time"),
                "started_at": _str("Started At", "date-time"),
                "completed_at": _str("Completed At", "date-time"),
                "status": _str("Status"),
                "error": _str("Error"),
                "logs": _str("Logs"),
                "metrics": {"title": "Metrics", "type": "object"},
            },
        },
    }


_SHARED_COMPONENTS: dict[str, Any] = {
    "Status": {
        "title": "Status",
        "description": "An enumeration.",
        "enum": ["starting", "processing", "succeeded", "canceled", "failed"],
        "type": "string",
    },
    "HTTPValidationError": {
        "title": "HTTPValidationError",
        "type": "object",
        "properties": {"detail": {"title": "Detail", "type": "array", "items": {"$ref": _REF + "ValidationError"}}},
    },
    "ValidationError": {
        "title": "ValidationError",
        "type": "object",
        "properties": {
            "loc": {
                "title": "Location",
                "type": "array",
                "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            },
            "msg": {"title": "Message", "type": "string"},
            "type": {"title": "Error Type", "type": "string"},
        },
        "required": ["loc", "msg", "type"],
    },
}


def openapi(signature: Signature, *, mode: str = "predict", version: str = __version__) -> dict[str, Any]:
    """The OpenAPI document for a predictor (``mode="train"`` for a trainer)."""
    train = mode == "train"
    prefix = "Training" if train else "Prediction"
    input_name, output_name = ("TrainingInput", "TrainingOutput") if train else ("Input", "Output")
    components = Ordered()
    components[input_name] = input_component(signature, input_name)
    components[output_name] = output_schema(signature.output)
    for field in signature.inputs:
        if field.choices is not None:
            components[field.name] = enum_component(field)
    components.update(_request_response(prefix, input_name, output_name))
    components.update(_SHARED_COMPONENTS)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Cog", "version": version},
        "paths": _paths(train, signature.streaming),
        "components": {"schemas": components},
    }


def _go_order(node: Any) -> Any:
    """Key order as Go's encoding/json writes Cog's schema: sorted, except Ordered maps."""
    if isinstance(node, dict):
        items = node.items() if isinstance(node, Ordered) else sorted(node.items())
        return {k: _go_order(v) for k, v in items}
    if isinstance(node, list):
        return [_go_order(v) for v in node]
    if isinstance(node, float) and node.is_integer() and abs(node) < 1e21:
        return int(node)  # Go prints 2.0 as 2
    return node


def dumps(document: dict[str, Any], *, indent: int | None = None) -> str:
    """Serialise as Cog does (compact, Go key order, HTML-safe escapes); ``indent`` for humans."""
    separators = (",", ":") if indent is None else (",", ": ")
    text = json.dumps(_go_order(document), indent=indent, separators=separators, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


CONCURRENCY_REFUSED = 3  # main()'s exit status when cog.yaml's concurrency.max cannot be honoured


def main(argv: list[str]) -> None:
    """``python -m cognix.runtime.schema DIR REF MODE``: print the compact schema. ``cognix build`` runs
    it with the image's own Python environment, so the label describes what the image serves."""
    import contextlib
    import os
    import sys
    import warnings
    from pathlib import Path

    from cognix.errors import CognixError
    from cognix.runtime import predictor

    project_dir, ref, mode = argv
    try:
        with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            loaded = predictor.load(Path(project_dir), ref, mode=mode)
    except CognixError as e:
        sys.exit(f"{e.message}\n{e.details or ''}".strip())
    # the image's COG_MAX_CONCURRENCY is cog.yaml's concurrency.max: refused at build time, as Cog does
    slots = os.environ.get("COG_MAX_CONCURRENCY")
    refused = loaded.signature.concurrency_error(int(slots) if slots else None, "concurrency.max")
    if refused:
        print(refused, file=sys.stderr)
        sys.exit(CONCURRENCY_REFUSED)
    print(dumps(openapi(loaded.signature, mode=mode)))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
