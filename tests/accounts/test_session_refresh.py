"""The session cookie is signed again when it is a few minutes old, not at every request;
the 12-hour session counts from its last signing, at most ``REFRESH_SECONDS`` before the
last request (``examsvc.accounts.sessions``)."""

from __future__ import annotations

import time

import pytest

from examsvc.accounts.sessions import REFRESH_SECONDS
from examsvc.extensions import db
from tests.factories import create_cycle, create_physician

LIFETIME = 12 * 3600


@pytest.fixture
def seconds(app):
    """The session cookie's clock (seconds since the epoch), moved by the test."""
    now = [float(int(time.time()))]
    app.session_interface.clock = lambda: now[0]
    return now


def _logged_in(app):
    physician = create_physician(create_cycle(), password="Right-Pass1")
    physician.user.must_change_password = False
    db.session.commit()
    client = app.test_client()
    client.post("/login", data={"login": physician.id_number, "password": "Right-Pass1"})
    client.get("/api/v1/session")  # its CSRF token put in the session (a change: signed)
    return client


def _ask(client):
    """``(logged in?, the response's Set-Cookie for the session or None)``."""
    response = client.get("/api/v1/session")
    signed = [v for v in response.headers.getlist("Set-Cookie") if v.startswith("session=")]
    return response.get_json()["user"] is not None, (signed[0] if signed else None)


def test_the_cookie_is_signed_again_only_once_it_is_a_few_minutes_old(app, seconds):
    client = _logged_in(app)
    login_cookie = client.get_cookie("session").value
    assert _ask(client) == (True, None)  # at once
    seconds[0] += REFRESH_SECONDS - 1
    assert _ask(client) == (True, None)
    seconds[0] += 1
    logged_in, signed = _ask(client)
    assert logged_in and signed is not None
    assert client.get_cookie("session").value != login_cookie  # a new timestamp
    assert _ask(client) == (True, None)  # and not again at the next request


def test_a_session_lasts_12_hours_from_its_last_signing(app, seconds):
    client = _logged_in(app)
    seconds[0] += REFRESH_SECONDS  # signed again here
    assert _ask(client)[1] is not None
    signed_at = seconds[0]
    seconds[0] += REFRESH_SECONDS - 1  # the last request: not signed again
    assert _ask(client) == (True, None)
    copy = app.test_client()  # the same cookie in another browser, for the boundary
    copy.set_cookie("session", client.get_cookie("session").value)
    seconds[0] = signed_at + LIFETIME
    assert _ask(copy)[0]  # 12 hours after the signing: still in
    seconds[0] = signed_at + LIFETIME + 1
    # Past 12 hours from the signing, less than 12 hours after the last request (by at most
    # REFRESH_SECONDS): ended, as a cookie not signed again for 12 hours always was.
    assert _ask(client) == (False, None)


def test_a_changed_session_is_signed_at_once(app, seconds):
    client = _logged_in(app)
    assert _ask(client) == (True, None)
    response = client.post("/logout")
    assert any(v.startswith("session=") for v in response.headers.getlist("Set-Cookie"))
    assert _ask(client)[0] is False
