"""The OpenAPI part of the question-bank API (assembled by ``examsvc.web.openapi``)."""

from __future__ import annotations

from examsvc.enums import PaperKind, PracticeCategory
from examsvc.web.openapi import Part, operation

NULLABLE_STRING = {"type": ["string", "null"]}
BANK = {
    "type": "object",
    "required": ["id", "code", "name", "kind", "version", "questions", "item_count"],
    "properties": {
        "id": {"type": "integer"},
        "code": {"type": "string"},
        "name": {"type": "string"},
        "kind": {"enum": [k.value for k in PaperKind]},
        "practice_category": {"enum": [c.value for c in PracticeCategory] + [None]},
        "version": {"type": ["integer", "null"]},
        "questions": {"type": "integer"},
        "item_count": {"type": "integer"},
        "open_for_study": {"type": "boolean"},
        "imported_at": NULLABLE_STRING,
    },
}
UPLOAD = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "题库 .xlsx or .docx"},
        "code": {"type": "string", "description": "题库编号 (else the file's own)"},
        "name": {"type": "string"},
        "kind": {"enum": [k.value for k in PaperKind]},
        "category": {"enum": [c.value for c in PracticeCategory]},
    },
}

PART = Part(
    paths={
        "/api/v1/admin/banks": {
            "get": operation(
                "The question banks with their current versions (administrators, viewers)",
                answer={
                    "type": "object",
                    "required": ["banks"],
                    "properties": {"banks": {"type": "array", "items": BANK}},
                },
            )
        },
        "/api/v1/admin/banks/import": {
            "post": operation(
                "Import a bank file as the bank's next version (administrators)",
                ok=201,
                form=UPLOAD,
                answer={
                    "type": "object",
                    "required": ["bank_id", "version", "questions"],
                    "properties": {
                        "bank_id": {"type": "integer"},
                        "version": {"type": "integer"},
                        "questions": {"type": "integer"},
                    },
                },
            )
        },
    },
)
