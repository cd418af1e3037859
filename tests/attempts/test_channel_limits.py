"""Who may open the exam channel: the page's own origin (and the configured ones) only, and
a few connections per physician at a time. The real-server test is tests/e2e/test_socket_channel.py."""

from __future__ import annotations

import pytest
from flask import g

from examsvc import create_app
from examsvc.attempts.events import NAMESPACE
from examsvc.extensions import db, socketio
from examsvc.web.inputs import allowed_origins
from tests.factories import create_physician

HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


@pytest.fixture
def proxied_app(migrated_database, clock, tmp_path):
    """An app configured as behind a proxy that serves it at https://exam.example.cn."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": migrated_database,
            "DATA_DIR": str(tmp_path / "data"),
            "CLOCK": clock,
            "ALLOWED_ORIGINS": "https://exam.example.cn, https://backup.example.cn/",
        }
    )
    with app.app_context():
        yield app


@pytest.mark.parametrize(
    ("headers", "accepted"),
    [
        ({}, True),  # not a browser: nothing to check
        ({"Origin": "http://localhost"}, True),  # the page's own origin
        ({"Origin": "https://exam.example.cn"}, True),  # configured
        ({"Origin": "https://backup.example.cn"}, True),  # configured, written with a slash
        ({"Origin": "https://exam.example.cn:8443"}, False),  # another port is another origin
        ({"Origin": "http://localhost:8080"}, False),  # a page on another port of this host
        ({"Origin": "https://evil.example"}, False),
        ({"Origin": "null"}, False),  # a sandboxed frame or a file
        ({"Origin": "https://localhost", "X-Forwarded-Proto": "https"}, True),  # TLS at the proxy
        ({"Origin": "https://localhost"}, False),
    ],
)
def test_only_the_own_and_configured_origins_may_open_the_channel(proxied_app, headers, accepted):
    response = proxied_app.test_client().get(HANDSHAKE, headers=headers)
    assert (response.status_code == 200) is accepted, response.get_data(as_text=True)


def test_the_default_is_the_page_s_own_origin_only(app):
    client = app.test_client()
    assert client.get(HANDSHAKE, headers={"Origin": "http://localhost"}).status_code == 200
    assert client.get(HANDSHAKE, headers={"Origin": "http://localhost:5001"}).status_code == 400


@pytest.mark.parametrize("setting", ["*", "exam.example.cn", "https://*.example.cn"])
def test_a_wildcard_or_a_bare_host_is_refused_at_startup(setting):
    with pytest.raises(ValueError, match="EXAMSVC_ALLOWED_ORIGINS"):
        allowed_origins(setting)


def test_a_physician_holds_at_most_three_exam_connections(app, candidate):
    assert app.config["SOCKETS_PER_USER"] == 3
    clients = [
        socketio.test_client(app, namespace=NAMESPACE, flask_test_client=candidate)
        for _ in range(4)
    ]
    assert [c.is_connected(NAMESPACE) for c in clients] == [True, True, True, False]
    clients[0].disconnect(NAMESPACE)  # a tab closed: another may connect
    again = socketio.test_client(app, namespace=NAMESPACE, flask_test_client=candidate)
    assert again.is_connected(NAMESPACE)
    for client in [*clients[1:3], again]:
        client.disconnect(NAMESPACE)


def connect(app, http_client):
    """A socket test client on ``http_client``'s session. The tests share one app context, so
    the user a previous request cached in ``g`` is dropped first (a server has one per event)."""
    g.pop("user", None)
    return socketio.test_client(app, namespace=NAMESPACE, flask_test_client=http_client)


def test_the_cap_is_per_physician_and_configurable(app, candidate, exam):
    app.config["SOCKETS_PER_USER"] = 1
    other = create_physician(exam["cycle"], password="Right-Pass1")
    other.user.must_change_password = False
    db.session.commit()
    colleague = app.test_client()
    colleague.post("/login", data={"login": other.id_number, "password": "Right-Pass1"})
    first, second, theirs = (connect(app, c) for c in (candidate, candidate, colleague))
    connected = [c.is_connected(NAMESPACE) for c in (first, second, theirs)]
    assert connected == [True, False, True]
    first.disconnect(NAMESPACE)
    theirs.disconnect(NAMESPACE)
