"""A session ends for good: logging out, a password change or a reset ends every copy of
its cookie, over HTTP and on the exam socket."""

from __future__ import annotations

from flask import g

from examsvc.attempts.events import NAMESPACE
from examsvc.enums import Role
from examsvc.extensions import db, socketio
from tests.factories import create_cycle, create_physician, login_as


def _logged_in_physician(app):
    """A physician logged in on a new client: ``(physician, client)``."""
    physician = create_physician(create_cycle(), password="Right-Pass1")
    physician.user.must_change_password = False
    db.session.commit()
    client = app.test_client()
    client.post("/login", data={"login": physician.id_number, "password": "Right-Pass1"})
    return physician, client


def _copy(app, client):
    """Another browser holding a copy of ``client``'s session cookie."""
    thief = app.test_client()
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief.set_cookie("session", cookie.value)
    return thief


def _fresh_context() -> None:
    """In production every socket event runs in its own app context; here the fixture's
    context is shared, so forget the user cached by the previous request or event."""
    g.pop("user", None)


def _socket(app, client):
    _fresh_context()
    return socketio.test_client(app, namespace=NAMESPACE, flask_test_client=client)


def test_a_copied_cookie_stops_working_at_logout_over_http_and_socket(app):
    _, client = _logged_in_physician(app)
    thief = _copy(app, client)
    assert thief.get("/home").status_code == 200
    assert _socket(app, thief).is_connected(NAMESPACE)

    client.post("/logout")

    assert thief.get("/home").headers["Location"].startswith("/login")
    assert thief.get("/api/v1/session").get_json()["user"] is None
    assert not _socket(app, thief).is_connected(NAMESPACE)


def test_the_json_logout_ends_copies_too(app):
    _, client = _logged_in_physician(app)
    thief = _copy(app, client)
    client.delete("/api/v1/session")
    assert thief.get("/api/v1/session").get_json()["user"] is None


def test_an_agency_reset_ends_every_session_of_the_account(app):
    physician, client = _logged_in_physician(app)
    admin = app.test_client()
    login_as(admin, Role.ADMIN)
    admin.post(f"/admin/users/{physician.user_id}/reset-password", data={"confirm": "1"})
    assert client.get("/home").headers["Location"].startswith("/login")
    assert not _socket(app, client).is_connected(NAMESPACE)


def test_a_password_change_keeps_this_session_and_ends_the_copies(app):
    _, client = _logged_in_physician(app)
    thief = _copy(app, client)
    changed = client.post(
        "/account/password",
        data={"old": "Right-Pass1", "new": "Newer-Pass2", "repeat": "Newer-Pass2"},
    )
    assert changed.status_code == 302
    assert client.get("/home").status_code == 200
    assert _socket(app, client).is_connected(NAMESPACE)
    assert thief.get("/home").headers["Location"].startswith("/login")
    assert not _socket(app, thief).is_connected(NAMESPACE)


def test_a_socket_opened_before_logout_can_no_longer_save(app, clock):
    from datetime import timedelta

    from tests.factories_exam import create_bank, create_paper, create_window, let_in

    physician, client = _logged_in_physician(app)
    create_bank(now=clock.now())
    paper = create_paper(physician.cycle_id, clock.now())
    create_window(paper, clock.now() - timedelta(hours=1), hours=48)
    let_in(client, physician)
    started = client.post(
        f"/api/v1/exam/papers/{paper.id}/attempts", json={"rules_acknowledged": True}
    )
    attempt_id = started.get_json()["id"]
    socket = _socket(app, _copy(app, client))

    def save(seq: int):
        _fresh_context()
        return socket.emit(
            "answer",
            {"attempt_id": attempt_id, "position": 1, "response": None, "marked": True, "seq": seq},
            namespace=NAMESPACE,
            callback=True,
        )

    assert save(1)["ok"] is True
    assert save(2)["ok"] is True
    client.post("/logout")
    refused = save(3)
    assert refused["ok"] is False and refused["error"]["code"] == "unauthorized"
