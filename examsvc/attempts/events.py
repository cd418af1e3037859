"""The exam's Socket.IO channel: answers saved at once, acknowledged with their seq.

Auth at connect from the Flask session; each save runs the same code as the HTTP fallback.
Every event with an acknowledgement id is acknowledged: with the result, or with the HTTP
error body plus ``ok: false`` and the HTTP status (``web.errors.error_ack``, the same
mapping of domain errors as the HTTP error handler).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from flask_socketio import ConnectionRefusedError, join_room

from examsvc import metrics, uow
from examsvc.accounts.auth import current_user
from examsvc.attempts.api import AnswerMessage, save
from examsvc.enums import Role
from examsvc.errors import DomainError
from examsvc.extensions import socketio
from examsvc.marks import N_
from examsvc.web.errors import ApiError, error_body
from examsvc.web.sockets import acknowledged, refused_when_busy, unknown_event

NAMESPACE = "/exam"
log = logging.getLogger(__name__)


def _refuse(error: DomainError) -> ConnectionRefusedError:
    """A refused connection: the code as its message, the one error shape as its data."""
    return ConnectionRefusedError(error.code, error_body(error)["error"])


@socketio.on("connect", namespace=NAMESPACE)
@refused_when_busy
def connect(auth: Any = None) -> None:
    user = current_user()
    if user is None or user.role != Role.PHYSICIAN or user.must_change_password:
        raise _refuse(ApiError(401, "unauthorized", N_("请先登录")))
    room = f"user:{user.id}"
    # Counted and joined without yielding to another greenlet: the cap holds under gevent.
    # The server's manager knows this process's connections only: the cap is per process.
    limit = current_app.config["SOCKETS_PER_USER"]
    if limit and sum(1 for _ in socketio.server.manager.get_participants(NAMESPACE, room)) >= limit:
        raise _refuse(
            ApiError(
                429,
                "too_many_connections",
                N_("同一账号最多同时打开 {limit} 个考试页面，请关闭其他页面"),
                limit=limit,
            )
        )
    join_room(room)


@uow.socket_event
@uow.retry_conflicts
def answer(message: AnswerMessage) -> dict[str, Any]:
    """``{attempt_id, position, response, marked, seq, journaled_at}`` → ``{ok, code, seq}``:
    the HTTP fallback's save, as the event's unit of work."""
    return save(message.attempt_id, message.position, message)


socketio.on_event(
    "answer",
    metrics.timed_answer("socket")(acknowledged(answer, AnswerMessage)),
    namespace=NAMESPACE,
)
socketio.on_event("*", unknown_event, namespace=NAMESPACE)
