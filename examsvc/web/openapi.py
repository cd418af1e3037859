"""The OpenAPI document of the JSON API, served at /api/v1/openapi.json.

The shell knows no feature: each feature describes its own endpoints in its ``openapi.py``
and adds that part with :func:`add_part` from its ``init_app``; the document is assembled
from the parts when asked for. :func:`operation` writes one operation the same way for all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from pydantic import BaseModel

from examsvc.web.inputs import MAX_INT

PARTS = "examsvc.openapi_parts"  # app.extensions key: the features' parts, in order
ERROR = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "array", "items": {"type": "object"}},
                "retry_after": {
                    "type": "integer",
                    "description": "503 only: seconds to wait before sending the same"
                    " request again (also the Retry-After header)",
                },
            },
        }
    },
}


@dataclass(frozen=True)
class Part:
    """One feature's endpoints: paths and the request bodies they name."""

    paths: dict[str, dict[str, Any]]
    bodies: tuple[type[BaseModel], ...] = field(default=())


def operation(
    summary: str,
    body: type[BaseModel] | None = None,
    ok: int = 200,
    params: tuple[str, ...] = (),
    *,
    answer: dict[str, Any] | None = None,
    query: dict[str, dict[str, Any]] | None = None,
    form: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One operation: its summary, integer path parameters, the one error shape; with
    ``answer`` the schema of its success's JSON, ``query`` optional query parameters (name:
    schema), ``form`` a multipart body's schema (an upload, answered 413 when too large)."""
    success: dict[str, Any] = {"description": "OK"}
    if answer is not None:
        success["content"] = {"application/json": {"schema": answer}}
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": [
            {
                "name": p,
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_INT},
            }
            for p in params
        ]
        + [
            {"name": name, "in": "query", "required": False, "schema": schema}
            for name, schema in (query or {}).items()
        ],
        "responses": {
            str(ok): success,
            **{
                status: {"description": why, "content": {"application/json": {"schema": ERROR}}}
                for status, why in (
                    ("400", "bad_json: the body is not JSON, or nests more than 32 levels"),
                    ("401", "not logged in"),
                    ("403", "another role's call, or the initial password not changed yet"),
                    ("404", "no such resource (or an id beyond the maximum)"),
                    ("409", "refused by the rules"),
                    ("422", "invalid: a field of the wrong type or out of range (details)"),
                    ("429", "throttled: too many attempts, the message says how long to wait"),
                    (
                        "503",
                        "busy (a CPU pool's queue is full, or no database connection came"
                        " free in time) or database_unavailable: nothing was done, send it"
                        " again after Retry-After seconds",
                    ),
                )
            },
        },
    }
    if form is not None:
        op["responses"]["413"] = {
            "description": "the file is larger than the upload limit",
            "content": {"application/json": {"schema": ERROR}},
        }
        op["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": form}}}
    if body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{body.__name__}"}}
            },
        }
    return op


def add_part(app: Flask, part: Part) -> None:
    """A feature's ``init_app`` adds its endpoints to the document."""
    app.extensions.setdefault(PARTS, []).append(part)


def spec(parts: list[Part]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for part in parts:
        for path, operations in part.paths.items():
            paths.setdefault(path, {}).update(operations)
        for body in part.bodies:
            # Nested models and enums become components of their own (a $ref resolves
            # against the whole document).
            schema = body.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[body.__name__] = schema
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "examsvc API",
            "version": "1",
            "description": "Session cookie auth; send X-CSRFToken (from GET /api/v1/session) "
            "on every state-changing request.",
        },
        "paths": paths,
        "components": {"schemas": {**schemas, "Error": ERROR_SCHEMA}},
    }


def openapi_json() -> dict[str, Any]:
    """GET /api/v1/openapi.json."""
    return spec(current_app.extensions.get(PARTS, []))


def init_app(app: Flask) -> None:
    app.add_url_rule("/api/v1/openapi.json", "openapi", openapi_json)
