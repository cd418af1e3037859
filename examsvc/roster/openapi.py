"""The OpenAPI part of the roster API (assembled by ``examsvc.web.openapi``)."""

from __future__ import annotations

from examsvc.enums import PhotoStatus, PracticeCategory, Procedure, RegistrationStatus
from examsvc.web.inputs import MAX_INT
from examsvc.web.openapi import Part, operation

TEXT = {"type": ["string", "null"]}
PHYSICIAN = {
    "type": "object",
    "required": ["id", "registration_id", "name", "masked_id", "status"],
    "properties": {
        "id": {"type": "integer"},
        "registration_id": {"type": "string"},
        "name": {"type": "string"},
        "masked_id": {"type": "string"},
        "institution": TEXT,
        "department": TEXT,
        "status": {"type": "string"},
        "procedure": {"type": "string"},
        "practice_category": {"type": "string"},
        "physician_level": {"type": "string"},
        "photo_status": {"type": "string"},
        "photo_problem": TEXT,
        "exemptions": {"type": "array", "items": {"type": "string"}},
        "current_task": TEXT,
        "tone": TEXT,
        "papers": {"type": "array", "items": {"type": "object"}},
    },
}

PART = Part(
    paths={
        "/api/v1/admin/roster": {
            "get": operation(
                "The cycle's roster, 50 a page, filtered (administrators, viewers)",
                query={
                    "page": {"type": "integer", "minimum": 1, "maximum": MAX_INT},
                    "q": {"type": "string", "description": "name, institution, 报名号 or ID"},
                    "status": {"enum": [s.value for s in RegistrationStatus]},
                    "procedure": {"enum": [p.value for p in Procedure]},
                    "category": {"enum": [c.value for c in PracticeCategory]},
                    "photo": {"enum": [p.value for p in PhotoStatus]},
                },
                answer={
                    "type": "object",
                    "required": ["cycle", "total", "page", "items"],
                    "properties": {
                        "cycle": {"type": ["object", "null"]},
                        "total": {"type": "integer"},
                        "page": {"type": "integer"},
                        "items": {"type": "array", "items": PHYSICIAN},
                    },
                },
            )
        },
        "/api/v1/admin/roster/import": {
            "post": operation(
                "Import a roster file (.xlsx or .csv) into the cycle (administrators)",
                form={
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                },
                answer={
                    "type": "object",
                    "required": ["imported", "summary"],
                    "properties": {"imported": {"type": "integer"}, "summary": {}},
                },
            )
        },
        "/api/v1/admin/roster/pull": {
            "post": operation(
                "Start a pull from the registration system in a process of its own"
                " (administrators; 409 when none is configured)",
                ok=202,
                answer={
                    "type": "object",
                    "required": ["started", "pid"],
                    "properties": {"started": {"type": "boolean"}, "pid": {"type": "integer"}},
                },
            )
        },
    },
)
