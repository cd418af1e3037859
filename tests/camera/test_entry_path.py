"""The admitted candidate's own path at a synchronised start, kept lean (issue #14,
bench/bench_entry.py): the logged-in physician read in one statement that decides as
``current_user`` and ``logged_in_physician`` do, and the statements of the queue's ask, the
entry verification and the page's join held to what they need. The face pool is a
stand-in here (its workers are other processes); tests/camera/test_gate.py runs the engine."""

from __future__ import annotations

import struct
from concurrent.futures import Future
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import session

from examsvc.accounts.models import User
from examsvc.camera import faces
from examsvc.camera.models import ClientEvent, ClientEventKind, EntryCheck, EntryOutcome
from examsvc.enums import PhotoStatus, Procedure
from examsvc.extensions import db
from examsvc.roster.models import Physician
from examsvc.roster.queries import PhysicianFace, logged_in_face, logged_in_physician_id
from tests.camera.conftest import emit, log_in, socket_of
from tests.camera.test_gate import consent
from tests.factories import create_cycle, create_physician
from tests.factories_exam import create_bank, create_paper, create_window
from tests.statements import recorded_statements

ENCODING = struct.pack("<128d", *(i / 256 for i in range(128)))
FRAMES = [b"\xff\xd8frame-%d\xff\xd9" % i for i in range(3)]


class StandInPool:
    """``faces._pool``: an entry job answered at once, passed, as the engine answers it."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []

    def submit(self, kind: str, payload: dict[str, Any], **_: Any) -> Future[dict[str, Any]]:
        assert kind == "entry"
        self.payloads.append(payload)
        future: Future[dict[str, Any]] = Future()
        future.set_result(
            {
                "passed": True,
                "code": "passed",
                "message_zh": "人脸验证通过",
                "message_en": "Face verification passed",
                "distances": [0.3, 0.31, 0.29],
                "median_distance": 0.3,
                "ok": True,
                "enrolled": [ENCODING] * 3,
            }
        )
        return future


@pytest.fixture
def pool(monkeypatch) -> StandInPool:
    stand_in = StandInPool()
    monkeypatch.setattr(faces, "_pool", stand_in)
    return stand_in


@pytest.fixture
def ready(app, clock):
    """A paper open now and a physician with a usable photo, logged in (``phone``), consent
    given."""
    app.config["LIVENESS"] = False
    cycle = create_cycle()
    create_bank(now=clock.now())
    paper = create_paper(cycle.id, clock.now())
    create_window(paper, clock.now() - timedelta(hours=1), hours=48)
    physician = create_physician(
        cycle,
        Procedure.SIMPLE,
        password="Right-Pass1",
        photo_status=PhotoStatus.OK,
        face_encoding=ENCODING,
    )
    physician.user.must_change_password = False
    db.session.commit()
    phone = log_in(app, physician)
    consent(phone, paper.id)
    return {"cycle": cycle, "paper": paper, "physician": physician, "phone": phone}


def _as(app, uid: int | None, sv: int | None):
    context = app.test_request_context()
    context.push()
    if uid is not None:
        session["uid"] = uid
    if sv is not None:
        session["sv"] = sv
    return context


def test_the_logged_in_physician_is_read_in_one_statement_deciding_as_current_user(app, ready):
    physician = ready["physician"]
    user = physician.user
    uid, sv = user.id, user.session_version

    def read(uid: int | None, sv: int | None) -> tuple[Any, Any, int]:
        context = _as(app, uid, sv)
        try:
            with recorded_statements() as seen:
                found = (logged_in_physician_id(), logged_in_face())
            return found[0], found[1], len(seen)
        finally:
            context.pop()

    assert read(uid, sv) == (
        physician.id,
        PhysicianFace(physician.id, True, ENCODING),
        2,  # one each
    )
    assert read(None, None) == (None, None, 0)  # nobody logged in: nothing read
    assert read(uid, sv + 1)[:2] == (None, None)  # a session ended by a logout elsewhere
    assert read(uid, None)[:2] == (None, None)
    user.active = False  # a deactivated account
    db.session.commit()
    assert read(uid, sv)[:2] == (None, None)
    user.active = True
    # Registered in an earlier cycle only: not the current cycle's physician.
    physician.cycle_id = create_cycle(
        code="HN-2020", starts_on=date(2018, 1, 1), ends_on=date(2020, 12, 31)
    ).id
    db.session.commit()
    assert read(uid, sv)[:2] == (None, None)
    # The configured cycle (REGISTRY_CYCLE) decides when set.
    app.config["REGISTRY_CYCLE"] = "HN-2020"
    assert read(uid, sv)[0] == physician.id


def test_the_ask_the_verification_and_the_join_send_only_the_statements_they_need(
    app, ready, pool, clock
):
    paper_id, physician_id = ready["paper"].id, ready["physician"].id
    socket = socket_of(app, ready["phone"])
    with recorded_statements() as ask:
        place = emit(socket, "admission", {})
    assert place["ok"] and place["admitted"], place
    # The physician (one statement), the ticket looked up, inserted, counted, the write lock
    # (SQLite) or the advisory lock (PostgreSQL), counted again, admitted; the rate.
    assert len(ask) == 7 + 1, ask  # and the measured rate, read once per process for 10 s

    with recorded_statements() as entry:
        ack = emit(socket, "entry_frames", {"paper_id": paper_id, "frames": FRAMES})
    assert ack["ok"] and ack["admitted"] and ack["outcome"] == "passed", ack
    # The physician, the paper, the admitted ticket, the calibration, the check inserted,
    # the slot freed, the queue counted (nobody waits: nobody to tell).
    assert len(entry) == 7, entry
    assert pool.payloads == [{"frames": FRAMES, "reference": ENCODING}]
    check = db.session.scalars(sa.select(EntryCheck)).one()
    assert (check.physician_id, check.paper_id, check.outcome) == (
        physician_id,
        paper_id,
        EntryOutcome.PASSED,
    )
    data_dir = Path(app.config["DATA_DIR"])
    assert [(data_dir / p).read_bytes() for p in check.frames] == FRAMES
    assert check.enrolled == ENCODING * 3

    response = ready["phone"].post(
        f"/api/v1/exam/papers/{paper_id}/attempts", json={"rules_acknowledged": True}
    )
    assert response.status_code == 201, response.get_json()
    attempt_id = response.get_json()["id"]
    with recorded_statements() as join:
        joined = emit(socket, "exam_join", {"attempt_id": attempt_id})
    assert joined["ok"] and joined["next_in"] > 0, joined
    assert len(join) == 2, join  # the attempt with the session's user; then one read
    kinds = db.session.scalars(sa.select(ClientEvent.kind)).all()
    assert kinds == []  # nothing dropped: nothing to record

    db.session.add(
        ClientEvent(attempt_id=attempt_id, kind=ClientEventKind.DISCONNECTED, at=clock.now())
    )
    db.session.commit()
    assert emit(socket, "exam_join", {"attempt_id": attempt_id})["ok"]
    assert emit(socket, "exam_join", {"attempt_id": attempt_id})["ok"]
    kinds = db.session.scalars(sa.select(ClientEvent.kind).order_by(ClientEvent.id)).all()
    assert kinds == [ClientEventKind.DISCONNECTED, ClientEventKind.RECONNECTED]


def test_the_verification_still_refuses_a_logged_out_session_and_a_photo_it_cannot_use(
    app, ready, pool
):
    paper_id, physician_id = ready["paper"].id, ready["physician"].id
    user_id = ready["physician"].user_id
    socket = socket_of(app, ready["phone"])
    assert emit(socket, "admission", {})["admitted"]
    # (The events end the session's objects: the rows are changed by statement.)
    db.session.execute(
        sa.update(Physician).where(Physician.id == physician_id).values(photo_status="failed")
    )
    db.session.commit()
    refused = emit(socket, "entry_frames", {"paper_id": paper_id, "frames": FRAMES})
    assert refused["ok"] is False and refused["error"]["code"] == "no_photo", refused
    assert pool.payloads == []
    db.session.execute(
        sa.update(Physician).where(Physician.id == physician_id).values(photo_status="ok")
    )
    db.session.execute(  # logged out on another device
        sa.update(User).where(User.id == user_id).values(session_version=User.session_version + 1)
    )
    db.session.commit()
    refused = emit(socket, "entry_frames", {"paper_id": paper_id, "frames": FRAMES})
    assert refused["ok"] is False and refused["status"] == 401, refused
    assert emit(socket, "admission", {})["status"] == 401
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EntryCheck)) == 0
