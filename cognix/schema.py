"""A :class:`Signature` as the OpenAPI document Cog serves and bakes into image labels.

The shape (component names and order, ``x-order``, titles, enum components referenced
through ``allOf``, ``x-cog-*`` extensions, nullable collapse) follows Cog's static
generator so that existing clients and tooling read cognix images unchanged.
"""

from __future__ import annotations

from typing import Any

from .signature import InputField, Kind, OutputKind, OutputSpec, Signature, TypeSpec
from ._version import __version__

OPENAPI_VERSION = "3.0.2"
_REF = "#/components/schemas/"


def title(name: str) -> str:
    """``my_arg`` → ``My Arg``, as Cog titles properties."""
    return " ".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


def type_schema(spec: TypeSpec) -> dict[str, Any]:
    """JSON schema of one value of ``spec`` (without title, order or nullability)."""
    if spec.is_list:
        item = TypeSpec(spec.kind, members=spec.members, literal=spec.literal, properties=spec.properties)
        return {"type": "array", "items": type_schema(item)}
    kind = spec.kind
    if kind is Kind.UNION:
        return {"anyOf": [type_schema(m) for m in spec.members]}
    if kind is Kind.OBJECT and spec.properties:
        out: dict[str, Any] = {
            "type": "object",
            "properties": {name: {"title": title(name), **_nullable(t)} for name, t, _ in spec.properties},
        }
        required = [name for name, t, req in spec.properties if req and not t.nullable]
        if required:
            out["required"] = required
        return out
    return dict(_SIMPLE[kind])


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


def _nullable(spec: TypeSpec) -> dict[str, Any]:
    schema = type_schema(spec)
    if spec.nullable:
        schema["nullable"] = True
    return schema


def _enum_name(field: InputField) -> str:
    return field.name


def input_property(field: InputField) -> dict[str, Any]:
    prop: dict[str, Any]
    if field.choices is not None:
        prop = {"allOf": [{"$ref": _REF + _enum_name(field)}]}
    else:
        prop = {"title": title(field.name), **type_schema(field.type)}
    prop["x-order"] = field.order
    if field.default is not None and not (field.default is _missing()):
        prop["default"] = field.default
    if field.type.nullable:
        prop["nullable"] = True
    optional = {
        "description": field.description,
        "minimum": field.ge,
        "maximum": field.le,
        "minLength": field.min_length,
        "maxLength": field.max_length,
        "pattern": field.regex,
        "deprecated": field.deprecated,
        "x-cog-accept": field.accept,
    }
    prop.update({k: v for k, v in optional.items() if v is not None})
    return prop


def _missing() -> Any:
    from .signature import MISSING

    return MISSING


def enum_component(field: InputField) -> dict[str, Any]:
    assert field.choices is not None
    return {
        "title": _enum_name(field),
        "description": "An enumeration.",
        "enum": list(field.choices),
        "type": "integer" if field.type.kind is Kind.INTEGER else "string",
    }


def output_schema(output: OutputSpec, name: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"title": name}
    if output.kind is OutputKind.OBJECT:
        schema["type"] = "object"
        schema["properties"] = {n: {"title": title(n), **_nullable(t)} for n, t, _ in output.fields}
        required = [n for n, _, req in output.fields if req]
        if required:
            schema["required"] = required
        return schema
    if output.type is None:  # Any
        return schema
    item = type_schema(output.type)
    if output.kind is OutputKind.SINGLE:
        schema.update(item)
    else:
        schema.update({"type": "array", "items": item})
        if output.kind in (OutputKind.ITERATOR, OutputKind.CONCAT_ITERATOR):
            schema["x-cog-array-type"] = "iterator"
        if output.kind is OutputKind.CONCAT_ITERATOR:
            schema["x-cog-array-display"] = "concatenate"
    return schema


def _input_component(signature: Signature, name: str) -> dict[str, Any]:
    component: dict[str, Any] = {
        "title": name,
        "type": "object",
        "properties": {f.name: input_property(f) for f in signature.inputs},
    }
    required = [f.name for f in signature.inputs if f.required]
    if required:
        component["required"] = required
    return component


def _paths(kind: str, op: str, streaming: bool) -> dict[str, Any]:
    """``kind`` is "prediction" or "training"; ``op`` the operation word ("predict"/"train")."""
    plural = kind + "s"
    cap = kind.capitalize()
    create: dict[str, Any] = {
        "summary": op.capitalize(),
        "description": f"Run a single {kind} on the model",
        "operationId": f"{op}_{plural}_post",
        "requestBody": {"content": {"application/json": {"schema": {"$ref": f"{_REF}{cap}Request"}}}},
        "responses": {
            "200": {
                "description": "Successful Response",
                "content": {"application/json": {"schema": {"$ref": f"{_REF}{cap}Response"}}},
            },
            "422": {
                "description": "Validation Error",
                "content": {"application/json": {"schema": {"$ref": f"{_REF}HTTPValidationError"}}},
            },
        },
    }
    if streaming:
        create["x-cog-streaming"] = True
    id_name = f"{kind}_id"
    return {
        f"/{plural}": {"post": create},
        f"/{plural}/{{{id_name}}}/cancel": {
            "post": {
                "summary": f"Cancel",
                "operationId": f"cancel_{plural}__{id_name}__cancel_post",
                "parameters": [
                    {
                        "required": True,
                        "schema": {"title": title(id_name), "type": "string"},
                        "name": id_name,
                        "in": "path",
                    }
                ],
                "responses": {
                    "200": {"description": "Successful Response", "content": {"application/json": {"schema": {}}}},
                    "422": {
                        "description": "Validation Error",
                        "content": {"application/json": {"schema": {"$ref": f"{_REF}HTTPValidationError"}}},
                    },
                },
            }
        },
    }


def _common_paths() -> dict[str, Any]:
    ok = {"200": {"description": "Successful Response", "content": {"application/json": {"schema": {}}}}}
    return {
        "/": {"get": {"summary": "Root", "operationId": "root__get", "responses": ok}},
        "/health-check": {
            "get": {"summary": "Healthcheck", "operationId": "healthcheck_health_check_get", "responses": ok}
        },
    }


def _request_response(prefix: str) -> dict[str, Any]:
    return {
        f"{prefix}Request": {
            "title": f"{prefix}Request",
            "type": "object",
            "properties": {
                "id": {"title": "Id", "type": "string"},
                "input": {"$ref": f"{_REF}{'Training' if prefix == 'Training' else ''}Input"},
            },
        },
        f"{prefix}Response": {
            "title": f"{prefix}Response",
            "type": "object",
            "properties": {
                "input": {"$ref": f"{_REF}{'Training' if prefix == 'Training' else ''}Input"},
                "output": {"$ref": f"{_REF}{'Training' if prefix == 'Training' else ''}Output"},
                "id": {"title": "Id", "type": "string"},
                "version": {"title": "Version", "type": "string"},
                "created_at": {"title": "Created At", "type": "string", "format": "date-time"},
                "started_at": {"title": "Started At", "type": "string", "format": "date-time"},
                "completed_at": {"title": "Completed At", "type": "string", "format": "date-time"},
                "status": {"title": "Status", "type": "string"},
                "error": {"title": "Error", "type": "string"},
                "logs": {"title": "Logs", "type": "string", "default": ""},
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
        "properties": {
            "detail": {"title": "Detail", "type": "array", "items": {"$ref": f"{_REF}ValidationError"}}
        },
    },
    "ValidationError": {
        "title": "ValidationError",
        "required": ["loc", "msg", "type"],
        "type": "object",
        "properties": {
            "loc": {"title": "Location", "type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            "msg": {"title": "Message", "type": "string"},
            "type": {"title": "Error Type", "type": "string"},
        },
    },
}


def openapi(signature: Signature, *, mode: str = "predict", version: str = __version__) -> dict[str, Any]:
    """The full OpenAPI document for a predictor (``mode="train"`` for a trainer)."""
    train = mode == "train"
    prefix = "Training" if train else "Prediction"
    names = ("TrainingInput", "TrainingOutput") if train else ("Input", "Output")
    components: dict[str, Any] = {
        names[0]: _input_component(signature, names[0]),
        names[1]: output_schema(signature.output, names[1]),
    }
    for field in signature.inputs:
        if field.choices is not None:
            components[_enum_name(field)] = enum_component(field)
    components.update(_request_response(prefix))
    components.update(_SHARED_COMPONENTS)
    paths = _common_paths()
    paths.update(_paths("training" if train else "prediction", "train" if train else "predict", signature.streaming))
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Cog", "version": version},
        "paths": paths,
        "components": {"schemas": components},
    }
