"""The OpenAPI description of the physician's exam API, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from examsvc.attempts.api import AnswerBody, StartBody
from examsvc.web.inputs import MAX_INT

ERROR = {"$ref": "#/components/schemas/Error"}


def _op(
    summary: str, body: type | None = None, ok: int = 200, params: tuple[str, ...] = ()
) -> dict[str, Any]:
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
        ],
        "responses": {
            str(ok): {"description": "OK"},
            **{
                status: {"description": why, "content": {"application/json": {"schema": ERROR}}}
                for status, why in (
                    ("400", "bad_json: the body is not JSON, or nests more than 32 levels"),
                    ("401", "not logged in"),
                    ("404", "no such resource (or an id beyond the maximum)"),
                    ("409", "refused by the rules"),
                    ("422", "invalid: a field of the wrong type or out of range (details)"),
                )
            },
        },
    }
    if body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{body.__name__}"}}
            },
        }
    return op


def spec() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "examsvc exam API",
            "version": "1",
            "description": "The physician's side of an exam. Session cookie auth; send X-CSRFToken "
            "(from GET /api/v1/session) on every state-changing request.",
        },
        "paths": {
            "/api/v1/session": {
                "get": _op("Who is logged in, and the CSRF token"),
                "post": _op("Log in with an ID number or user name"),
                "delete": _op("Log out"),
            },
            "/api/v1/exam": {
                "get": _op("The papers to sit, their states in the manuals' words, the verdict")
            },
            "/api/v1/exam/consent": {"post": _op("人脸信息采集授权 (consent to face data)")},
            "/api/v1/exam/papers/{paper_id}/attempts": {
                "post": _op(
                    "Start an attempt, or resume the open one", StartBody, 201, ("paper_id",)
                )
            },
            "/api/v1/exam/attempts/{attempt_id}": {
                "get": _op(
                    "The attempt: questions without keys, saved answers, remaining seconds",
                    params=("attempt_id",),
                )
            },
            "/api/v1/exam/attempts/{attempt_id}/answers/{position}": {
                "put": _op(
                    "Save one answer (HTTP fallback of the socket's `answer`)",
                    AnswerBody,
                    params=("attempt_id", "position"),
                )
            },
            "/api/v1/exam/attempts/{attempt_id}/submit": {
                "post": _op(
                    "Submit (idempotent); the score and 合格/未达到分数线", params=("attempt_id",)
                )
            },
        },
        "components": {
            "schemas": {
                "StartBody": StartBody.model_json_schema(),
                "AnswerBody": AnswerBody.model_json_schema(),
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "details": {"type": "array", "items": {"type": "object"}},
                            },
                        }
                    },
                },
            }
        },
    }


def openapi_json() -> dict[str, Any]:
    """GET /api/v1/openapi.json (registered by the feature's init_app)."""
    return spec()
