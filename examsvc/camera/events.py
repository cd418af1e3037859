"""The camera's events on the exam channel (``/exam``): thin, one unit of work each.

``exam_join`` {attempt_id} → {ok, next_in}: the page (re)joined its attempt; the server says
when to take the first snapshot, and records RECONNECTED after a DISCONNECTED.
``snapshot`` {attempt_id, image (binary JPEG/PNG), taken_at} → {ok, id, next_in}: stored,
then analysed off the event loop after the commit (``camera.analysis``).
``client_event`` {attempt_id, kind, at} → {ok}: hidden/visible, blur/focus, camera stopped or
started, full screen left or entered.
A dropped connection is recorded (DISCONNECTED) for the candidate's attempts in progress.
Refusals are acknowledged in the one error shape (``web.errors.error_ack``).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app, g, request
from pydantic import AwareDatetime, BaseModel, Field

from examsvc import uow
from examsvc.accounts.auth import current_user
from examsvc.camera import analysis, operations, rules
from examsvc.camera.models import ClientEventKind
from examsvc.clock import now
from examsvc.enums import Role
from examsvc.errors import DomainError
from examsvc.extensions import db, socketio
from examsvc.marks import N_
from examsvc.roster.models import Physician
from examsvc.web.errors import ApiError, error_ack, validate
from examsvc.web.inputs import MAX_INT

NAMESPACE = "/exam"  # the exam channel (``examsvc.attempts.events``)
log = logging.getLogger(__name__)
_rng = random.SystemRandom()

# What a page may report of itself; the connection events are the server's own.
PAGE_KINDS = frozenset(ClientEventKind) - set(operations.CONNECTION_KINDS)


class JoinMessage(BaseModel):
    attempt_id: int = Field(ge=1, le=MAX_INT)


class SnapshotMessage(BaseModel):
    attempt_id: int = Field(ge=1, le=MAX_INT)
    image: bytes
    taken_at: AwareDatetime | None = None


class ClientEventMessage(BaseModel):
    attempt_id: int = Field(ge=1, le=MAX_INT)
    kind: ClientEventKind
    at: AwareDatetime | None = None


def _acknowledged(unit: Callable[[Any], dict[str, Any]], model: type[BaseModel]) -> Any:
    """An event handler: the message validated, its unit run, every outcome acknowledged."""

    def handler(data: Any = None) -> dict[str, Any]:
        try:
            return unit(validate(model, data))
        except DomainError as exc:
            return error_ack(exc)
        except Exception:
            log.exception("camera event failed")
            return ApiError(500, "internal_server_error", N_("服务器繁忙，请稍后再试")).to_ack()
        finally:
            g.pop("user", None)  # loaded by this unit, detached at its end: not for the next

    return handler


def _physician_ids() -> list[int]:
    g.pop("user", None)  # read for each event: a unit's end detaches what it loaded
    user = current_user()
    if user is None or user.role != Role.PHYSICIAN:
        raise ApiError(401, "unauthorized", N_("请先登录"))
    return list(db.session.scalars(sa.select(Physician.id).where(Physician.user_id == user.id)))


def _mean() -> float:
    return float(current_app.config["SNAPSHOT_MEAN_SECONDS"])


@uow.socket_event
def _join(message: JoinMessage) -> dict[str, Any]:
    attempt = operations.candidate_attempt(message.attempt_id, _physician_ids())
    operations.record_reconnected(attempt, now=now())
    return {
        "ok": True,
        "next_in": operations.next_in(attempt.id, mean_seconds=_mean(), rng=_rng),
    }


@uow.socket_event
def _snapshot(message: SnapshotMessage) -> dict[str, Any]:
    attempt = operations.candidate_attempt(message.attempt_id, _physician_ids())
    stored = operations.store_snapshot(
        attempt,
        message.image,
        taken_at=message.taken_at,
        now=now(),
        data_dir=Path(current_app.config["DATA_DIR"]),
        mean_seconds=_mean(),
    )
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    uow.after_commit(lambda: analysis.dispatch(app, stored))
    return {
        "ok": True,
        "id": stored.id,
        "next_in": rules.next_snapshot_in(_mean(), stored.flagged, _rng),
    }


@uow.socket_event
def _client_event(message: ClientEventMessage) -> dict[str, Any]:
    if message.kind not in PAGE_KINDS:
        raise ApiError(
            422,
            "invalid",
            N_("提交的内容有误"),
            [{"field": "kind", "message": N_("不允许此项")}],
        )
    attempt = operations.candidate_attempt(message.attempt_id, _physician_ids())
    operations.record_client_event(attempt, message.kind, now=now(), client_at=message.at)
    return {"ok": True}


@uow.socket_event
def _disconnected(sid: str) -> None:
    g.pop("user", None)  # read for each event: a unit's end detaches what it loaded
    user = current_user()
    if user is None or user.role != Role.PHYSICIAN:
        return
    room = f"user:{user.id}"
    others = [
        other
        for other, _ in socketio.server.manager.get_participants(NAMESPACE, room)
        if other != sid
    ]
    if others:  # another page of the candidate is still connected (to this process)
        return
    operations.record_disconnected(_physician_ids(), now=now())


socketio.on_event("exam_join", _acknowledged(_join, JoinMessage), namespace=NAMESPACE)
socketio.on_event("snapshot", _acknowledged(_snapshot, SnapshotMessage), namespace=NAMESPACE)
socketio.on_event(
    "client_event", _acknowledged(_client_event, ClientEventMessage), namespace=NAMESPACE
)


@socketio.on("disconnect", namespace=NAMESPACE)
def disconnect(*reason: Any) -> None:
    try:
        _disconnected(request.sid)  # type: ignore[attr-defined]
    except Exception:
        log.exception("disconnect not recorded")
    finally:
        g.pop("user", None)
