"""The OpenAPI part of the physician's exam API (assembled by ``examsvc.web.openapi``)."""

from __future__ import annotations

from examsvc.attempts.api import AnswerBody, StartBody
from examsvc.web.openapi import Part, operation

PART = Part(
    paths={
        "/api/v1/exam": {
            "get": operation("The papers to sit, their states in the manuals' words, the verdict")
        },
        "/api/v1/exam/papers/{paper_id}/attempts": {
            "post": operation(
                "Start an attempt, or resume the open one", StartBody, 201, ("paper_id",)
            )
        },
        "/api/v1/exam/attempts/{attempt_id}": {
            "get": operation(
                "The attempt: questions without keys, saved answers, remaining seconds",
                params=("attempt_id",),
            )
        },
        "/api/v1/exam/attempts/{attempt_id}/answers/{position}": {
            "put": operation(
                "Save one answer (HTTP fallback of the socket's `answer`)",
                AnswerBody,
                params=("attempt_id", "position"),
            )
        },
        "/api/v1/exam/attempts/{attempt_id}/submit": {
            "post": operation(
                "Submit (idempotent); the score and 合格/未达到分数线", params=("attempt_id",)
            )
        },
    },
    bodies=(StartBody, AnswerBody),
)
