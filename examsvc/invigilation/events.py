"""The invigilators' Socket.IO channel (namespace ``/invigilate``).

Only a logged-in invigilator or administrator connects (the same session checks as the
pages; Engine.IO's origin check covers every namespace). ``join`` {session_id} joins the
session's room when the user watches that session; the wall then receives ``candidate``
{card} for every change (``live.card_due``). ``warn`` and ``void`` are the same actions as
the timeline's forms. Every refusal is an acknowledgement in the one error shape.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import g
from flask_socketio import ConnectionRefusedError, join_room, leave_room
from pydantic import BaseModel, Field

from examsvc import uow
from examsvc.accounts.auth import current_user
from examsvc.accounts.models import User
from examsvc.attempts.events import NAMESPACE as EXAM
from examsvc.clock import now
from examsvc.enums import Role
from examsvc.errors import DomainError
from examsvc.extensions import socketio
from examsvc.invigilation import operations as ops
from examsvc.invigilation import queries
from examsvc.invigilation.live import NAMESPACE, session_room
from examsvc.marks import N_
from examsvc.web.errors import ApiError, error_body
from examsvc.web.sockets import acknowledged, refused_when_busy, unknown_event

log = logging.getLogger(__name__)
ID = Field(ge=1, le=2**31 - 1)


class JoinMessage(BaseModel):
    session_id: int = ID


class SeenMessage(BaseModel):
    id: int = ID


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
@refused_when_busy
def connect(auth: Any = None) -> None:
    try:
        _staff()
    except DomainError as exc:
        raise ConnectionRefusedError(exc.code, error_body(exc)["error"]) from None


@uow.socket_event
def join(message: JoinMessage) -> dict[str, Any]:
    session = queries.watched_session(_staff(), message.session_id)
    join_room(session_room(message.session_id))
    # The cards as they are now: a wall that (re)connects missed nothing.
    cards = [c.as_dict() for c in queries.cards(session, now())]
    return {"ok": True, "session_id": session.id, "cards": cards}


@uow.socket_event
def leave(message: JoinMessage) -> dict[str, Any]:
    leave_room(session_room(message.session_id))
    return {"ok": True}


@uow.socket_event
def warn(message: WarnMessage) -> dict[str, Any]:
    user = _staff()
    attempt = queries.watched_attempt(user, message.attempt_id)
    warning = ops.send_warning(attempt, user, message.message, now())
    return {"ok": True, "id": warning.id}


@uow.socket_event
def void(message: VoidMessage) -> dict[str, Any]:
    user = _staff()
    attempt = queries.watched_attempt(user, message.attempt_id)
    ops.void_for_violation(attempt, user, message.reason, now())
    return {"ok": True}


@uow.socket_event
def warning_seen(message: SeenMessage) -> dict[str, Any]:
    """The candidate's side, on the exam channel: ``warning_seen`` {id} → {ok} records when
    they acknowledged an invigilator's warning (here, as warnings belong to invigilation)."""
    user = current_user()
    if user is None or user.role != Role.PHYSICIAN:
        raise ApiError(401, "unauthorized", N_("请先登录"))
    ops.mark_warning_seen(message.id, user.id, now=now())
    return {"ok": True}


socketio.on_event("join", acknowledged(join, JoinMessage), namespace=NAMESPACE)
socketio.on_event("leave", acknowledged(leave, JoinMessage), namespace=NAMESPACE)
socketio.on_event("warn", acknowledged(warn, WarnMessage), namespace=NAMESPACE)
socketio.on_event("void", acknowledged(void, VoidMessage), namespace=NAMESPACE)
socketio.on_event("*", unknown_event, namespace=NAMESPACE)
socketio.on_event("warning_seen", acknowledged(warning_seen, SeenMessage), namespace=EXAM)
