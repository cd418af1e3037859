"""The queue through the real Socket.IO channel: ``admission`` tells a waiting candidate
their place, ``entry_frames`` refuses a candidate the queue has not admitted, an admitted
candidate's verification frees the slot whatever its outcome, and the next in line is told
at once (``admission_turn``)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from examsvc.admission import operations as ops
from examsvc.admission.models import AdmissionTicket
from examsvc.attempts.events import NAMESPACE
from examsvc.camera.models import EntryCheck
from examsvc.extensions import db
from tests.camera.conftest import emit, log_in, socket_of
from tests.camera.test_gate import BIDEN, OBAMA, consent, shots
from tests.factories import create_physician
from tests.ops.test_metrics import scrape, value


def test_a_candidate_not_admitted_is_refused_and_verified_once_the_slot_frees(
    app, gate, phone, clock, faces_dir
):
    app.config["ADMISSION_SLOTS"] = 1
    policy = ops.Policy.from_config(app.config)
    other = create_physician(gate["cycle"]).id
    db.session.commit()
    holder = ops.request_admission(other, clock.now(), policy)  # another candidate's slot
    db.session.commit()
    paper_id = gate["paper"].id
    consent(phone, paper_id)
    socket = socket_of(app, phone)
    frames = {"paper_id": paper_id, "frames": shots(faces_dir, *OBAMA)}

    refused = emit(socket, "entry_frames", frames)
    assert refused["ok"] is False and refused["status"] == 409
    assert refused["error"]["code"] == "not_admitted"
    assert refused["error"]["message"] == "正在排队等候人脸验证，请稍候"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EntryCheck)) == 0

    place = emit(socket, "admission", {})
    assert place == {
        "ok": True,
        "admitted": False,
        "ahead": 1,
        "wait_seconds": 15,
        "wait_minutes": 1,
        "poll_in": 1.0,  # the first place: asks every second (and is told its turn)
    }
    assert emit(socket, "entry_frames", frames)["error"]["code"] == "not_admitted"
    before = scrape(app.test_client())
    assert value(before, "examsvc_admission_queue", state="waiting") == 1
    assert value(before, "examsvc_admission_queue", state="in_progress") == 1
    assert value(before, "examsvc_admission_slots") == 1

    clock.advance(seconds=12)
    ops.finish(holder.ticket_id, clock.now())
    db.session.commit()
    assert emit(socket, "admission", {})["admitted"] is True
    after = scrape(app.test_client())
    assert value(after, "examsvc_admission_queue", state="waiting") == 0
    waits = ("examsvc_admission_wait_seconds_count", "examsvc_admission_wait_seconds_sum")
    assert [value(after, n) - value(before, n) for n in waits] == [1, 12]
    ack = emit(socket, "entry_frames", frames)
    assert ack["ok"] and ack["admitted"] and ack["outcome"] == "passed", ack
    # The verification ended: the slot is free (the next candidate is admitted at once).
    tickets = db.session.scalars(sa.select(AdmissionTicket).order_by(AdmissionTicket.id)).all()
    assert [t.finished_at is not None for t in tickets] == [True, True]
    assert ops.request_admission(other, clock.now(), policy).admitted


def test_an_empty_queue_admits_with_the_frames_themselves(app, gate, phone, faces_dir):
    """An older page (or one that never waited) sends its frames straight away: admitted,
    verified, the slot freed — the queue's rule applies all the same."""
    paper_id = gate["paper"].id
    consent(phone, paper_id)
    ack = emit(
        socket_of(app, phone),
        "entry_frames",
        {"paper_id": paper_id, "frames": shots(faces_dir, *OBAMA)},
    )
    assert ack["ok"] and ack["outcome"] == "passed", ack
    ticket = db.session.scalars(sa.select(AdmissionTicket)).one()
    assert ticket.admitted_at is not None and ticket.finished_at is not None


def test_admission_refuses_garbage(app, gate, phone):
    ack = emit(socket_of(app, phone), "admission", {"jump": "the queue"})
    assert ack["ok"] is False and ack["error"]["code"] == "invalid"


def _received(socket):
    return [(e["name"], e["args"]) for e in socket.get_received(NAMESPACE)]


@pytest.mark.parametrize("faces", [OBAMA, BIDEN], ids=["passed", "mismatch"])
def test_the_next_in_line_is_told_when_the_slot_frees(app, gate, phone, faces_dir, faces):
    """Two candidates, one slot: the second waits; the moment the first's verification ends
    (whatever its outcome) the second's page is told it is their turn, and its ask, made at
    once, is admitted."""
    app.config["ADMISSION_SLOTS"] = 1
    paper_id = gate["paper"].id
    consent(phone, paper_id)
    second = create_physician(gate["cycle"], password="Right-Pass1")
    second.user.must_change_password = False
    db.session.commit()
    first_socket = socket_of(app, phone)
    second_socket = socket_of(app, log_in(app, second))
    assert emit(first_socket, "admission", {})["admitted"] is True
    waiting = emit(second_socket, "admission", {})
    assert (waiting["admitted"], waiting["ahead"]) == (False, 1)
    _received(first_socket), _received(second_socket)  # the connects' traffic, if any

    ack = emit(
        first_socket, "entry_frames", {"paper_id": paper_id, "frames": shots(faces_dir, *faces)}
    )
    assert ack["ok"], ack
    assert _received(second_socket) == [("admission_turn", [{}])]
    assert _received(first_socket) == []  # only the next in line is told
    assert emit(second_socket, "admission", {})["admitted"] is True
