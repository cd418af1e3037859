"""The OpenAPI part of the papers and windows API (assembled by ``examsvc.web.openapi``)."""

from __future__ import annotations

from typing import Any

from examsvc.enums import PaperKind, PhysicianLevel, PracticeCategory
from examsvc.papers.schemas import PaperSpec, WindowChange
from examsvc.web.inputs import MAX_INT
from examsvc.web.openapi import Part, operation

SECTION = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "bank": {"type": ["string", "null"]},
        "qtype": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "count": {"type": "integer"},
        "points_per_item": {"type": "number"},
    },
}
SPEC: dict[str, Any] = {
    "id": {"type": "integer"},
    "code": {"type": "string"},
    "name": {"type": "string"},
    "kind": {"enum": [k.value for k in PaperKind]},
    "practice_categories": {
        "type": "array",
        "items": {"enum": [c.value for c in PracticeCategory]},
    },
    "physician_levels": {"type": "array", "items": {"enum": [v.value for v in PhysicianLevel]}},
    "duration_minutes": {"type": "integer"},
    "pass_mark": {"type": "number"},
    "shuffle_questions": {"type": "boolean"},
    "shuffle_options": {"type": "boolean"},
    "attempt_limit_simple": {"type": "integer"},
    "attempt_limit_general": {"type": "integer"},
    "prerequisite": {"type": ["string", "null"]},
    "sections": {"type": "array", "items": SECTION},
}
PAPER = {
    "type": "object",
    "required": ["id", "code", "name", "kind", "sections"],
    "properties": SPEC,
}
SLOT = {
    "type": "object",
    "properties": {"practice_category": {"type": "string"}, "physician_level": {"type": "string"}},
}

PART = Part(
    paths={
        "/api/v1/admin/papers": {
            "get": operation(
                "The cycle's papers, with the slots each is assigned to (administrators, viewers)",
                answer={
                    "type": "object",
                    "required": ["papers"],
                    "properties": {
                        "papers": {
                            "type": "array",
                            "items": {
                                **PAPER,
                                "properties": {
                                    **SPEC,
                                    "in_use": {"type": "array", "items": SLOT},
                                },
                            },
                        }
                    },
                },
            ),
            "post": operation(
                "Create or change a paper of the cycle (administrators)",
                PaperSpec,
                201,
                answer=PAPER,
            ),
        },
        "/api/v1/admin/papers/{paper_id}/assign": {
            "post": operation(
                "Assign the paper to its categories and levels (administrators)",
                params=("paper_id",),
                answer={
                    "type": "object",
                    "required": ["id", "code", "replaced"],
                    "properties": {
                        "id": {"type": "integer"},
                        "code": {"type": "string"},
                        "replaced": {"type": "array", "items": {"type": "string"}},
                    },
                },
            )
        },
        "/api/v1/admin/papers/{paper_id}/preview": {
            "get": operation(
                "A sample draw of the paper as a candidate sees it, without keys"
                " (administrators, viewers)",
                params=("paper_id",),
                query={"seed": {"type": "integer", "minimum": 0, "maximum": MAX_INT}},
                answer={
                    "type": "object",
                    "required": ["questions"],
                    "properties": {"questions": {"type": "array", "items": {"type": "object"}}},
                },
            )
        },
        "/api/v1/admin/windows/{window_id}": {
            "patch": operation(
                "Move an exam window; never cuts a running attempt short (administrators)",
                WindowChange,
                params=("window_id",),
                answer={
                    "type": "object",
                    "required": ["id", "opens_at", "closes_at"],
                    "properties": {
                        "id": {"type": "integer"},
                        "opens_at": {"type": "string", "format": "date-time"},
                        "closes_at": {"type": "string", "format": "date-time"},
                    },
                },
            )
        },
    },
    bodies=(PaperSpec, WindowChange),
)
