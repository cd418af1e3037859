"""The candidate's side of an invigilator's warning: ``warning_seen`` {id} on the exam channel
(``/exam``) → {ok}, which records when the candidate acknowledged it (``seen_at``).

Here, not in ``camera``, because warnings belong to invigilation (a lower feature may not
import them). One unit of work; refusals acknowledged in the one error shape.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import g
from pydantic import BaseModel, Field

from examsvc import uow
from examsvc.accounts.auth import current_user
from examsvc.attempts.models import Attempt
from examsvc.clock import now
from examsvc.enums import Role
from examsvc.errors import DomainError, Refused
from examsvc.extensions import db, socketio
from examsvc.invigilation.models import ProctorWarning
from examsvc.marks import N_
from examsvc.roster.models import Physician
from examsvc.signals import attempt_changed
from examsvc.web.errors import ApiError, error_ack, validate
from examsvc.web.inputs import MAX_INT

NAMESPACE = "/exam"
log = logging.getLogger(__name__)


class SeenMessage(BaseModel):
    id: int = Field(ge=1, le=MAX_INT)


def mark_warning_seen(warning_id: int, user_id: int, *, now: datetime) -> ProctorWarning:
    """The candidate saw the warning (the first time counts)."""
    warning = db.session.scalar(
        sa.select(ProctorWarning)
        .join(Attempt, Attempt.id == ProctorWarning.attempt_id)
        .join(Physician, Physician.id == Attempt.physician_id)
        .where(ProctorWarning.id == warning_id, Physician.user_id == user_id)
    )
    if warning is None:
        raise Refused("not_found", N_("没有这条提醒"), status=404)
    if warning.seen_at is None:
        warning.seen_at = now
        db.session.flush()
        attempt_changed.send(warning.attempt_id)
    return warning


@uow.socket_event
def _seen(message: SeenMessage) -> dict[str, Any]:
    g.pop("user", None)  # read for each event: a unit's end detaches what it loaded
    user = current_user()
    if user is None or user.role != Role.PHYSICIAN:
        raise ApiError(401, "unauthorized", N_("请先登录"))
    mark_warning_seen(message.id, user.id, now=now())
    return {"ok": True}


@socketio.on("warning_seen", namespace=NAMESPACE)
def warning_seen(data: Any = None) -> dict[str, Any]:
    try:
        return _seen(validate(SeenMessage, data))
    except DomainError as exc:
        return error_ack(exc)
    except Exception:
        log.exception("warning_seen failed")
        return ApiError(500, "internal_server_error", N_("服务器繁忙，请稍后再试")).to_ack()
    finally:
        g.pop("user", None)  # loaded by this unit, detached at its end: not for the next
