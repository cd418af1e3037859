"""The camera's Socket.IO events on the exam channel (``/exam``; connect and rooms are the
attempts' ``events``), thin, one unit of work each.

Before an attempt: ``camera_check`` (the device check, one frame) and ``entry_frames``
(entry face verification, several frames). Face work runs on the pool outside any
transaction (``faces.run`` ends the reads first); the entry check is written afterwards in
a unit of its own.

During it:

``exam_join`` {attempt_id} → {ok, next_in}: the page (re)joined its attempt; the server says
when to take the first snapshot, and records RECONNECTED after a DISCONNECTED.
``snapshot`` {attempt_id, image (binary JPEG/PNG), taken_at} → {ok, id, next_in}: stored,
then analysed off the event loop after the commit (``camera.analysis``).
``client_event`` {attempt_id, kind, at} → {ok}: hidden/visible, blur/focus, camera stopped or
started, full screen left or entered.
A dropped connection is recorded (DISCONNECTED) for the candidate's attempts in progress.
Refusals are acknowledged in the one error shape (``web.errors.error_ack``)."""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from flask import current_app, g, request, session
from pydantic import AwareDatetime, BaseModel, Field

from examsvc import uow
from examsvc.accounts.auth import current_user
from examsvc.attempts.events import NAMESPACE
from examsvc.camera import analysis, faces, operations, queries, rules
from examsvc.camera.models import ClientEventKind
from examsvc.clock import now
from examsvc.enums import Role
from examsvc.errors import DomainError, Refused
from examsvc.extensions import db, socketio
from examsvc.marks import N_
from examsvc.papers.models import Paper
from examsvc.roster.models import Physician
from examsvc.roster.queries import logged_in_physician
from examsvc.web.errors import ApiError, error_ack, validate
from examsvc.web.i18n import current_language, gettext
from examsvc.web.inputs import MAX_INT
from examsvc.web.sockets import acknowledged
from proctoring.config import FaceConfig
from proctoring.pool import Busy, Priority

log = logging.getLogger(__name__)
MAX_FRAME = FaceConfig().max_bytes


class CameraFrame(BaseModel):
    image: bytes = Field(min_length=1, max_length=MAX_FRAME)


class EntryFrames(BaseModel):
    paper_id: int = Field(ge=1, le=MAX_INT)
    frames: list[Annotated[bytes, Field(min_length=1, max_length=MAX_FRAME)]] = Field(
        min_length=rules.MIN_FRAMES, max_length=rules.MAX_FRAMES
    )


def _me() -> Physician:
    physician = logged_in_physician()
    if physician is None:
        raise ApiError(401, "unauthorized", N_("请先登录"))
    return physician


def _said(result: dict[str, Any], zh: str, en: str) -> str:
    """The engine's sentence in the page's language."""
    return str(result.get(en) if current_language() == "en" else result.get(zh))


def _busy() -> ApiError:
    return ApiError(503, "busy", N_("服务器繁忙，请稍后再试"))


@socketio.on("camera_check", namespace=NAMESPACE)
def camera_check(data: Any = None) -> dict[str, Any]:
    """``{image: <JPEG>}`` → ``{ok, good, code, message}``: the first thing to fix, if any."""
    try:
        frame = validate(CameraFrame, data)
        physician = _me()
        result = faces.run(
            "camera", {"image": frame.image}, candidate=str(physician.id), priority=Priority.ENTRY
        )
        if "error" in result:  # the frame could not be read
            return {
                "ok": True,
                "good": False,
                "code": result["error"],
                "message": _said(result, "message_zh", "message_en"),
            }
        issue = (result["issues"] or [{}])[0]
        return {
            "ok": True,
            "good": result["good"],
            "code": issue.get("code"),
            "message": _said(issue, "message_zh", "message_en") if issue else "",
        }
    except DomainError as exc:
        return error_ack(exc)
    except Busy:
        return _busy().to_ack()
    except Exception:  # acknowledged all the same: the page tries again
        log.exception("camera check failed")
        return ApiError(500, "internal_server_error", N_("服务器繁忙，请稍后再试")).to_ack()
    finally:
        db.session.remove()


@socketio.on("entry_frames", namespace=NAMESPACE)
def entry_frames(data: Any = None) -> dict[str, Any]:
    """``{paper_id, frames: [<JPEG>, …]}`` → ``{ok, outcome, admitted, message, failures}``:
    the frames against the registration photo; the check is stored either way."""
    try:
        message = validate(EntryFrames, data)
        physician = _me()
        if db.session.get(Paper, message.paper_id) is None:
            raise ApiError(404, "not_found", N_("没有这份试卷"))
        if not queries.photo_usable(physician):
            raise Refused(
                "no_photo", N_("您的报名照片不能用于人脸验证，暂不能参加测评，请联系考核机构")
            )
        physician_id, reference = physician.id, physician.face_encoding
        device = session.get("device")
        if not device:
            raise ApiError(409, "reload", N_("请刷新页面后重试"))
        result = faces.run(
            "entry",
            {"frames": message.frames, "reference": reference},
            candidate=str(physician_id),
            priority=Priority.ENTRY,
        )
        return _store(physician_id, message.paper_id, result, message.frames, str(device))
    except DomainError as exc:
        return error_ack(exc)
    except Busy:
        return _busy().to_ack()
    except Exception:
        log.exception("entry verification failed")
        return ApiError(500, "internal_server_error", N_("服务器繁忙，请稍后再试")).to_ack()
    finally:
        db.session.remove()


@uow.socket_event
def _store(
    physician_id: int, paper_id: int, result: dict[str, Any], frames: list[bytes], device: str
) -> dict[str, Any]:
    """The decision's unit of work: the entry check, its frames and what the page is told."""
    check = operations.record_entry_check(
        physician_id,
        paper_id,
        result,
        frames,
        device=device,
        now=now(),
        data_dir=current_app.config["DATA_DIR"],
    )
    admitted = check.outcome in rules.PASSING
    failures = 0 if admitted else queries.failures(physician_id)
    return {
        "ok": True,
        "id": check.id,
        "outcome": check.outcome.value,
        "admitted": admitted,
        "message": _said(result, "message_zh", "message_en")
        if result.get("message_zh")
        else gettext("人脸验证未通过，请重试"),
        "failures": failures,
        "ask_for_help": failures >= rules.FAILURES_BEFORE_HELP,
    }


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


def _physician_ids() -> list[int]:
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


socketio.on_event("exam_join", acknowledged(_join, JoinMessage), namespace=NAMESPACE)
socketio.on_event("snapshot", acknowledged(_snapshot, SnapshotMessage), namespace=NAMESPACE)
socketio.on_event(
    "client_event", acknowledged(_client_event, ClientEventMessage), namespace=NAMESPACE
)


@socketio.on("disconnect", namespace=NAMESPACE)
def disconnect(*reason: Any) -> None:
    try:
        _disconnected(request.sid)  # type: ignore[attr-defined]
    except Exception:
        log.exception("disconnect not recorded")
    finally:
        g.pop("user", None)
