"""IDOR: a physician reaches only their own attempts, answers, snapshots, warnings and
results, over HTTP and over the socket. An invigilator and another session's candidates:
tests/invigilation/test_wall.py (``…refused_another``, ``only_an_invigilator_of_the_attempt_s
_session_may_act``, ``a_snapshot_url_needs_a_valid_token_and_a_viewer_of_that_candidate``,
``entry_frames_and_the_registration_photo_follow_the_same_rule``); a viewer acting: every
write of the matrix (tests/security/test_matrix.py) answers 403 to a viewer."""

from __future__ import annotations

import base64

import sqlalchemy as sa
from flask import Flask, g

from examsvc.attempts.models import Answer
from examsvc.camera.models import ClientEvent, Snapshot
from examsvc.enums import AttemptStatus
from examsvc.extensions import db, socketio
from examsvc.invigilation import operations as invigilation
from examsvc.invigilation.models import ProctorWarning
from tests.security.conftest import World, client_of


def _refused(status: int) -> bool:
    return status in (403, 404)


def test_a_physician_cannot_read_or_write_another_s_attempt_over_http(
    app: Flask, world: World
) -> None:
    theirs = world.hall.attempt_b.id
    me = client_of(app, world.users["physician"])
    reads = [f"/api/v1/exam/attempts/{theirs}", f"/exam/{theirs}"]
    for path in reads:
        response = me.get(path)
        assert _refused(response.status_code), (path, response.status_code)
        assert "李四" not in response.get_data(as_text=True)
    saved = me.put(
        f"/api/v1/exam/attempts/{theirs}/answers/1",
        json={"response": ["A"], "marked": False, "seq": 1},
    )
    assert _refused(saved.status_code)
    submitted = me.post(f"/api/v1/exam/attempts/{theirs}/submit", json={})
    assert _refused(submitted.status_code)
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(Answer.id))) == 0
    assert world.hall.attempt_b.status == AttemptStatus.IN_PROGRESS


def _exam_socket(app: Flask, world: World):  # type: ignore[no-untyped-def]
    http = client_of(app, world.users["physician"]).http
    g.pop("user", None)
    ws = socketio.test_client(app, namespace="/exam", flask_test_client=http)
    assert ws.is_connected("/exam")
    return ws


def test_a_physician_cannot_act_on_another_s_attempt_over_the_socket(
    app: Flask, world: World
) -> None:
    theirs = world.hall.attempt_b.id
    ws = _exam_socket(app, world)
    jpeg = base64.b64encode(b"\xff\xd8\xff\xe0" + bytes(64)).decode()
    for event, payload in [
        ("answer", {"attempt_id": theirs, "position": 1, "response": ["A"], "seq": 1}),
        ("exam_join", {"attempt_id": theirs}),
        ("snapshot", {"attempt_id": theirs, "image": jpeg}),
        ("client_event", {"attempt_id": theirs, "kind": "blur"}),
    ]:
        ack = ws.emit(event, payload, namespace="/exam", callback=True)
        assert ack["ok"] is False and _refused(ack["status"]), (event, ack)
    ws.disconnect("/exam")
    for model in (Answer, Snapshot, ClientEvent):
        rows = sa.select(sa.func.count()).select_from(model).where(model.attempt_id == theirs)
        assert db.session.scalar(rows) == 0, model


def test_a_physician_cannot_mark_another_s_warning_seen(app: Flask, world: World) -> None:
    hall = world.hall
    warning = invigilation.send_warning(
        hall.attempt_b, hall.mine, "请正视摄像头", hall.window.opens_at
    )
    db.session.commit()
    warning_id = warning.id
    ws = _exam_socket(app, world)
    ack = ws.emit("warning_seen", {"id": warning_id}, namespace="/exam", callback=True)
    assert ack["ok"] is False and ack["status"] == 404
    ws.disconnect("/exam")
    assert db.session.get(ProctorWarning, warning_id).seen_at is None


def test_results_and_the_notice_are_only_the_logged_in_physician_s(
    app: Flask, world: World
) -> None:
    """No id in these URLs: a physician cannot name another's (a query string is ignored)."""
    me = client_of(app, world.users["physician"])
    other = world.hall.b
    for path in (
        f"/results?physician_id={other.id}",
        f"/results/notice.pdf?physician_id={other.id}",
        f"/api/v1/exam?physician_id={other.id}",
    ):
        body = me.get(path).get_data(as_text=True)
        assert other.name not in body and other.id_number not in body, path
