"""The invigilators' Socket.IO channel (namespace ``/invigilate``).

Only a logged-in invigilator or administrator connects (the same session checks as the
pages; Engine.IO's origin check covers every namespace). ``join`` {session_id} joins the
session's room when the user watches that session; the wall then receives ``candidate``
{card} for every change (``live.push_card``). ``warn`` and ``void`` are the same actions as
the timeline's forms. Every refusal is an acknowledgement in the one error shape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import g
from flask_socketio import ConnectionRefusedError, join_room, leave_room
from pydantic import BaseModel, Field

from examsvc import uow
from examsvc.accounts.auth import current_user
from examsvc.accounts.models import User
from examsvc.clock import now
from examsvc.enums import Role
from examsvc.errors import DomainError
from examsvc.extensions import socketio
from examsvc.invigilation import operations as ops
from examsvc.invigilation import queries
from examsvc.invigilation.live import NAMESPACE, session_room
from examsvc.marks import N_
from examsvc.web.errors import ApiError, error_ack, error_body, validate
from examsvc.web.inputs import BAD_JSON, UNREADABLE_EVENT

log = logging.getLogger(__name__)
ID = Field(ge=1, le=2**31 - 1)


class JoinMessage(BaseModel):
    session_id: int = ID


class WarnMessage(BaseModel):
    attempt_id: int = ID
    message: str = Field(max_length=300)


class VoidMessage(BaseModel):
    attempt_id: int = ID
    reason: str = Field(max_length=300)


def _staff() -> User:
    """The connection's user, checked again at every event (a logout ends it at once)."""
    g.pop("user", None)  # an event is not a request: nothing cached from another one
    user = current_user()
    if user is None or user.role not in (Role.INVIGILATOR, Role.ADMIN) or user.must_change_password:
        raise ApiError(401, "unauthorized", N_("请先登录"))
    return user


@socketio.on("connect", namespace=NAMESPACE)
def connect(auth: Any = None) -> None:
    try:
        _staff()
    except DomainError as exc:
        raise ConnectionRefusedError(exc.code, error_body(exc)["error"]) from None


def _acked(handler: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    """Run ``handler`` as one unit; any refusal becomes an error acknowledgement."""

    @uow.socket_event
    def unit(data: Any) -> dict[str, Any]:
        return handler(data)

    def event(data: Any = None) -> dict[str, Any]:
        try:
            return unit(data)
        except DomainError as exc:
            return error_ack(exc)
        except Exception:
            log.exception("invigilation event failed")
            return ApiError(500, "internal_server_error", N_("服务器繁忙，请稍后再试")).to_ack()

    return event


def _join(data: Any) -> dict[str, Any]:
    message = validate(JoinMessage, data)
    session = queries.watched_session(_staff(), message.session_id)
    join_room(session_room(message.session_id))
    # The cards as they are now: a wall that (re)connects missed nothing.
    cards = [c.as_dict() for c in queries.cards(session, now())]
    return {"ok": True, "session_id": session.id, "cards": cards}


def _leave(data: Any) -> dict[str, Any]:
    message = validate(JoinMessage, data)
    leave_room(session_room(message.session_id))
    return {"ok": True}


def _warn(data: Any) -> dict[str, Any]:
    message = validate(WarnMessage, data)
    user = _staff()
    attempt = queries.watched_attempt(user, message.attempt_id)
    warning = ops.send_warning(attempt, user, message.message, now())
    return {"ok": True, "id": warning.id}


def _void(data: Any) -> dict[str, Any]:
    message = validate(VoidMessage, data)
    user = _staff()
    attempt = queries.watched_attempt(user, message.attempt_id)
    ops.void_for_violation(attempt, user, message.reason, now())
    return {"ok": True}


socketio.on("join", namespace=NAMESPACE)(_acked(_join))
socketio.on("leave", namespace=NAMESPACE)(_acked(_leave))
socketio.on("warn", namespace=NAMESPACE)(_acked(_warn))
socketio.on("void", namespace=NAMESPACE)(_acked(_void))


@socketio.on("*", namespace=NAMESPACE)
def unknown(event: Any, *args: Any) -> dict[str, Any]:
    if event == UNREADABLE_EVENT:
        return ApiError(400, "bad_json", BAD_JSON).to_ack()
    return ApiError(400, "unknown_event", N_("不支持此操作")).to_ack()
