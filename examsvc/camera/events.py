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
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from flask import current_app, g, request, session
from flask_socketio import ConnectionRefusedError, join_room
from pydantic import AwareDatetime, BaseModel, Field

from examsvc import uow
from examsvc.accounts.auth import current_user, session_login
from examsvc.admission import events as admission
from examsvc.attempts.events import NAMESPACE
from examsvc.audit.operations import record
from examsvc.camera import analysis, faces, operations, queries, rules
from examsvc.camera.models import ClientEventKind, EntryOutcome
from examsvc.clock import now
from examsvc.enums import Role
from examsvc.errors import Refused
from examsvc.extensions import db, socketio
from examsvc.marks import N_
from examsvc.papers.models import Paper
from examsvc.roster.models import Physician
from examsvc.roster.queries import PhysicianFace, logged_in_face, logged_in_physician
from examsvc.web.errors import (
    ApiError,
    busy,
    error_ack,
    error_body,
    failure,
    validate,
)
from examsvc.web.i18n import current_language, gettext
from examsvc.web.inputs import MAX_INT
from examsvc.web.sockets import acknowledged, refused_when_busy
from proctoring.config import FaceConfig
from proctoring.pool import Busy, Priority

log = logging.getLogger(__name__)
MAX_FRAME = FaceConfig().max_bytes


class CameraFrame(BaseModel):
    image: bytes = Field(min_length=1, max_length=MAX_FRAME)


Frame = Annotated[bytes, Field(min_length=1, max_length=MAX_FRAME)]


class EntryFrames(BaseModel):
    paper_id: int = Field(ge=1, le=MAX_INT)
    frames: list[Frame] = Field(min_length=rules.MIN_FRAMES, max_length=rules.MAX_FRAMES)
    # 活体检测: the frames of the movement asked for (the last still frames first).
    motion: list[Frame] = Field(default_factory=list, max_length=rules.MOTION_FRAMES[1])


class ClaimFrames(BaseModel):
    frames: list[Frame] = Field(min_length=rules.MIN_FRAMES, max_length=rules.MAX_FRAMES)
    motion: list[Frame] = Field(default_factory=list, max_length=rules.MOTION_FRAMES[1])


def _me() -> Physician:
    physician = logged_in_physician()
    if physician is None:
        raise ApiError(401, "unauthorized", N_("请先登录"))
    return physician


def _my_face() -> PhysicianFace:
    """``_me()``'s decision, and only what a verification reads of the physician, in one
    statement (not the user and the physician loaded, and loaded again after the
    admission's commit)."""
    face = logged_in_face()
    if face is None:
        raise ApiError(401, "unauthorized", N_("请先登录"))
    return face


def _said(result: dict[str, Any], zh: str, en: str) -> str:
    """The engine's sentence in the page's language."""
    return str(result.get(en) if current_language() == "en" else result.get(zh))


def _answered(work: Callable[[], dict[str, Any]], what: str) -> dict[str, Any]:
    """A face event's answer, refusals and failures, acknowledged in the one error shape;
    the session ends with it (the face work ran outside any transaction)."""
    try:
        return work()
    except (Busy, TimeoutError):  # the face pool is full, or too slow for this frame
        return busy("face_pool").to_ack()
    except Exception as exc:  # as any event's (``web.sockets.acknowledged``)
        return error_ack(failure(exc, what))
    finally:
        db.session.remove()


CHECK_WAIT_SECONDS = 10
"""How long a device check waits for the face pool before it is answered busy: the page
asks again every 1–3 s, and an answer about an older frame would only mislead."""


def _camera_check(data: Any = None) -> dict[str, Any]:
    """``{image: <JPEG>}`` → ``{ok, good, code, message}``: the first thing to fix, if any.
    On the face pool behind the verifications and flagged snapshots, at most
    ``EXAMSVC_DEVICE_CHECKS`` waiting: beyond that, or after ``CHECK_WAIT_SECONDS``, 503
    ``busy`` with ``retry_after``, at once (the page asks again then)."""

    def work() -> dict[str, Any]:
        frame = validate(CameraFrame, data)
        physician = _me()
        result = faces.run(
            "camera",
            {"image": frame.image},
            candidate=str(physician.id),
            priority=Priority.CHECK,
            timeout=CHECK_WAIT_SECONDS,
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

    return _answered(work, "camera check")


camera_check = socketio.on("camera_check", namespace=NAMESPACE)(_camera_check)


def _verified(
    purpose: str,
    paper_id: int | None,
    frames: list[bytes],
    motion: list[bytes],
    physician: PhysicianFace,
) -> dict[str, Any]:
    """The face work of a verification (``entry`` or ``claim``) of ``physician`` (``_my_face``,
    read before the admission), outside any transaction: the frames against the
    registration photo and, when 活体检测 is on, the movement against the challenge this
    device was given; then the check stored in a unit of its own."""
    if not queries.photo_usable(physician):
        raise Refused(
            "no_photo", N_("您的报名照片不能用于人脸验证，暂不能参加测评，请联系考核机构")
        )
    physician_id, reference = physician.id, physician.face_encoding
    device = session.get("device")
    if not device:
        raise ApiError(409, "reload", N_("请刷新页面后重试"))
    challenge = None
    if current_app.config["LIVENESS"]:
        pending = operations.pending_challenge(physician_id, str(device), now=now())
        if pending is None:  # the page's challenge expired or was used: a new page, a new one
            raise ApiError(409, "reload", N_("请刷新页面后重试"))
        challenge = pending.challenge
    candidate = str(physician_id)
    result = faces.run(
        "entry",
        {"frames": frames, "reference": reference},
        candidate=candidate,
        priority=Priority.ENTRY,
    )
    verdict = None
    if challenge is not None:
        verdict = faces.run(
            "liveness",
            {"frames": motion, "challenge": challenge},
            candidate=candidate,
            priority=Priority.ENTRY,
        )
    return _store(
        purpose,
        physician_id,
        paper_id,
        rules.with_liveness(result, verdict),
        frames + (motion if challenge else []),
        str(device),
    )


@socketio.on("entry_frames", namespace=NAMESPACE)
def entry_frames(data: Any = None) -> dict[str, Any]:
    """``{paper_id, frames: [<JPEG>, …], motion: [<JPEG>, …]}`` → ``{ok, outcome, admitted,
    message, failures, challenge}``: the frames against the registration photo (and the
    movement against the challenge); the check is stored either way. Only for a candidate
    the queue admitted (``examsvc.admission``), whose slot frees when it ends."""

    def work() -> dict[str, Any]:
        message = validate(EntryFrames, data)
        physician = _my_face()
        if db.session.get(Paper, message.paper_id) is None:
            raise ApiError(404, "not_found", N_("没有这份试卷"))
        ticket = admission.admit(physician.id)  # 409 not_admitted: the page queues again
        try:
            return _verified("entry", message.paper_id, message.frames, message.motion, physician)
        finally:
            admission.release(ticket)

    return _answered(work, "face verification")


CLAIM = admission.CLAIM  # the channel of 首次登录人脸核验, before the first password


@socketio.on("connect", namespace=CLAIM)
@refused_when_busy
def claim_connect(auth: Any = None) -> None:
    """Only a physician who has not set a first password yet (the exam channel refuses
    them), while the agency asks for the face; in their room ``user:<id>``, where the queue
    tells them their turn (``admission_turn``)."""
    user = current_user()
    if (
        user is None
        or user.role != Role.PHYSICIAN
        or not user.must_change_password
        or not current_app.config["FIRST_LOGIN_FACE"]
    ):
        refused = ApiError(401, "unauthorized", N_("请先登录"))
        raise ConnectionRefusedError(refused.code, error_body(refused)["error"])
    join_room(f"user:{user.id}")


def _claim_frames(data: Any = None) -> dict[str, Any]:
    """``claim_frames`` {frames, motion} → as ``entry_frames``; a pass (or review) lets the
    physician set the first password on this device. Behind the same queue as the entry
    check (排队: ``admission`` on this channel, 409 ``not_admitted`` until admitted)."""

    def work() -> dict[str, Any]:
        message = validate(ClaimFrames, data)
        user = current_user()
        if user is None or not user.must_change_password:
            raise ApiError(409, "claimed", N_("账号已激活，请重新登录"))
        physician = _my_face()
        ticket = admission.admit(physician.id)  # 409 not_admitted: the page queues again
        try:
            return _verified("claim", None, message.frames, message.motion, physician)
        finally:
            admission.release(ticket)

    return _answered(work, "face verification")


socketio.on_event("camera_check", _camera_check, namespace=CLAIM)
socketio.on_event("claim_frames", _claim_frames, namespace=CLAIM)


def challenge_of(challenge: str) -> dict[str, str]:
    """What the page shows for a challenge: its instruction and its visual cue."""
    return {
        "code": challenge,
        "text": gettext(rules.CHALLENGE_TEXT[challenge]),
        "cue": rules.CHALLENGE_CUE[challenge],
    }


@uow.socket_event
def _store(
    purpose: str,
    physician_id: int,
    paper_id: int | None,
    result: dict[str, Any],
    frames: list[bytes],
    device: str,
) -> dict[str, Any]:
    """The decision's unit of work: the check, its frames, the next challenge, and what the
    page is told."""
    check = operations.record_entry_check(
        physician_id,
        paper_id,
        result,
        frames,
        device=device,
        now=now(),
        data_dir=current_app.config["DATA_DIR"],
        purpose=purpose,
    )
    admitted = check.outcome in rules.PASSING
    failures = 0 if admitted else queries.failures(physician_id)
    verdict = result.get("liveness")
    if verdict and not verdict.get("passed") and result.get("identity_code"):
        retry = rules.CHALLENGE_RETRY[verdict["challenge"]]  # marked with N_ in rules
        message = gettext(retry)
    elif purpose == "claim" and check.outcome == EntryOutcome.MISMATCH:
        message = gettext("人脸与报名照片不一致：账号只能由本人激活")
    elif result.get("message_zh"):
        message = _said(result, "message_zh", "message_en")
    else:
        message = gettext("人脸验证未通过，请重试")
    answer: dict[str, Any] = {
        "ok": True,
        "id": check.id,
        "outcome": check.outcome.value,
        "admitted": admitted,
        "message": message,
        "failures": failures,
        "ask_for_help": failures >= rules.FAILURES_BEFORE_HELP,
    }
    if verdict is not None:
        answer["liveness"] = bool(verdict.get("passed"))
        if admitted:
            operations.use_challenges(physician_id, device, now=now())
        else:  # the next try: a new challenge
            answer["challenge"] = challenge_of(
                operations.issue_challenge(physician_id, device, now=now()).challenge
            )
    if purpose == "claim":
        user_id = check.physician.user_id
        record(
            "user.claim_face",
            "user",
            user_id,
            actor_id=user_id,
            now=check.checked_at,
            outcome=check.outcome.value,
            check=check.id,
        )
    return answer


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
    attempt_id, _ = _candidate(message.attempt_id)  # refused as ``candidate_attempt`` refuses
    return {
        "ok": True,
        "next_in": operations.rejoined(attempt_id, now=now(), mean_seconds=_mean(), rng=_rng),
    }


def warm(now: datetime) -> None:
    """Before serving (``examsvc.warm``): the reads of the entry gate and of ``exam_join``
    run once, with ids that no row has (the statements compiled and kept)."""
    queries.gate_reads(0, 0, 0, "warm-up", now, current_app.config["ENTRY_VALID_MINUTES"])
    operations.candidate_ref(0, 0, -1)
    operations.rejoined(0, now=now, mean_seconds=_mean(), rng=_rng)


def _candidate(attempt_id: int) -> tuple[int, int]:
    """``candidate_attempt`` for the snapshot's hot path: (attempt id, physician id) in one
    narrow statement that checks the session's user itself, instead of loading the user,
    the physician's ids and the attempt; a refusal (rare) is decided by
    ``candidate_attempt`` itself, so that it answers with the same error."""
    login = session_login()
    if login is not None:
        found = operations.candidate_ref(attempt_id, *login)
        if found is not None:
            return found
    attempt = operations.candidate_attempt(attempt_id, _physician_ids())  # raises the refusal
    return attempt.id, attempt.physician_id


@uow.socket_event
def _snapshot(message: SnapshotMessage) -> dict[str, Any]:
    attempt_id, physician_id = _candidate(message.attempt_id)
    stored = operations.store_snapshot(
        attempt_id,
        physician_id,
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
