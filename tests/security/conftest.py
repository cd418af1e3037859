"""The security suite's world: a hall of two invigilation sessions (tests/invigilation),
an administrator and a viewer, and clients logged in as each role through the session
cookie the app signs (the login itself, argon2 and throttling, is tested in tests/accounts),
with CSRF protection on and a valid token sent, so that the role check is what is tested."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient

# The socket handlers register when their modules are imported: before any app is made.
import examsvc.attempts.events
import examsvc.camera.events
import examsvc.invigilation.events  # noqa: F401
from examsvc.accounts.models import User
from examsvc.enums import Role
from examsvc.extensions import db
from tests.factories import create_user
from tests.invigilation.factories import create_hall

ROLES = ("anonymous", "physician", "invigilator", "admin", "viewer")


@dataclass
class World:
    hall: Any
    users: dict[str, int | None]  # role → user id


@pytest.fixture
def world(app: Flask, clock: Any) -> World:
    app.config["WTF_CSRF_ENABLED"] = True
    hall = create_hall(clock.now())
    admin = create_user(Role.ADMIN, password="Right-Pass1")
    viewer = create_user(Role.VIEWER, password="Right-Pass1")
    for user in (hall.a.user, hall.b.user, hall.c.user):
        user.must_change_password = False
    db.session.commit()
    users: dict[str, int | None] = {
        "anonymous": None,
        "physician": hall.a.user_id,
        "invigilator": hall.mine.id,
        "admin": admin.id,
        "viewer": viewer.id,
    }
    return World(hall=hall, users=users)


class Client:
    """A test client of one user with the CSRF header on every request."""

    def __init__(self, http: FlaskClient, token: str) -> None:
        self.http = http
        self.token = token

    def open(self, path: str, method: str = "GET", **kw: Any) -> Any:
        fresh()
        headers = {"X-CSRFToken": self.token, **kw.pop("headers", {})}
        return self.http.open(path, method=method, headers=headers, **kw)

    def get(self, path: str, **kw: Any) -> Any:
        return self.open(path, "GET", **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.open(path, "POST", **kw)

    def put(self, path: str, **kw: Any) -> Any:
        return self.open(path, "PUT", **kw)


def fresh() -> None:
    """The tests share one app context, whose ``g`` a server has per request: forget the
    user and the CSRF token the previous request (of another client) cached there."""
    g.pop("user", None)
    g.pop("csrf_token", None)


def client_of(app: Flask, user_id: int | None, device: str = "security-suite-device") -> Client:
    http = app.test_client()
    if user_id is not None:
        user = db.session.get(User, user_id)
        assert user is not None
        with http.session_transaction() as session:
            session["uid"] = user.id
            session["sv"] = user.session_version
            session["device"] = device
            session.permanent = True
    fresh()
    token = http.get("/api/v1/session").get_json()["csrf_token"]
    return Client(http, token)


@pytest.fixture
def as_role(app: Flask, world: World) -> Any:
    def make(role: str) -> Client:
        return client_of(app, world.users[role])

    return make
