"""The authorisation matrix: every route of ``app.url_map`` (each method) and every event
of every Socket.IO namespace, against every role, anonymous included. The expected decision
of each is written in the tables below; a route or an event the tables do not name fails
the suite, so that a new one cannot ship without a decision.

Decisions: ``ALLOW`` (past the role check: not 401/403, not sent to the login page, and
never a 5xx), ``LOGIN`` (401 for the API, a redirect to /login for a page), ``DENY`` (403).
Requests carry a valid CSRF token (tests/security/conftest.py), so the role check is what
answers."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask_socketio import SocketIOTestClient

from examsvc.extensions import socketio
from examsvc.invigilation import evidence
from tests.security.conftest import ROLES, World, client_of

ALLOW, LOGIN, DENY = "allow", "login", "deny"
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def only(*roles: str) -> dict[str, str]:
    return {
        role: ALLOW if role in roles else LOGIN if role == "anonymous" else DENY for role in ROLES
    }


PUBLIC = dict.fromkeys(ROLES, ALLOW)
LOGGED_IN = only("physician", "invigilator", "admin", "viewer")
PHYSICIAN = only("physician")
STAFF = only("invigilator", "admin", "viewer")
INVIGILATORS = only("invigilator", "admin")
AGENCY = only("admin", "viewer")
ADMIN = only("admin")

# (endpoint, method) → decision per role.
ROUTES: dict[tuple[str, str], dict[str, str]] = {
    ("accounts.index", "GET"): PUBLIC,  # each role to its home, the anonymous to the login
    ("accounts.login", "GET"): PUBLIC,
    ("accounts.login", "POST"): PUBLIC,
    ("accounts.logout", "POST"): PUBLIC,
    ("accounts.session_get", "GET"): PUBLIC,
    ("accounts.session_create", "POST"): PUBLIC,
    ("accounts.session_delete", "DELETE"): PUBLIC,
    ("accounts.change_password", "GET"): LOGGED_IN,
    ("accounts.change_password", "POST"): LOGGED_IN,
    ("accounts.staff_list", "GET"): ADMIN,
    ("accounts.staff_create", "POST"): ADMIN,
    ("accounts.staff_set_active", "POST"): ADMIN,
    ("accounts.reset_password", "GET"): ADMIN,
    ("accounts.reset_password", "POST"): ADMIN,
    ("admin.dashboard", "GET"): STAFF,
    ("admin.healthz", "GET"): PUBLIC,
    ("admin.readyz", "GET"): PUBLIC,
    ("admin.metrics_scrape", "GET"): PUBLIC,  # from loopback (the test's); else a token: tests/ops
    ("statistics.progress", "GET"): AGENCY,
    ("statistics.statistics", "GET"): AGENCY,
    ("statistics.people", "GET"): AGENCY,
    ("statistics.export", "GET"): AGENCY,
    ("audit.index", "GET"): ADMIN,
    ("banks.index", "GET"): AGENCY,
    ("banks.detail", "GET"): AGENCY,
    ("banks.export", "GET"): ADMIN,
    ("banks.set_study", "POST"): ADMIN,
    ("banks.import_page", "POST"): ADMIN,
    ("banks.template", "GET"): AGENCY,
    ("banks.api_list", "GET"): AGENCY,
    ("banks.api_import", "POST"): ADMIN,
    ("camera.blocked", "GET"): AGENCY,
    ("camera.override", "POST"): ADMIN,
    ("camera.calibration_page", "GET"): ADMIN,
    ("camera.calibrate", "POST"): ADMIN,
    ("camera.consent_api", "POST"): PHYSICIAN,
    ("camera.consent", "GET"): PHYSICIAN,
    ("camera.consent", "POST"): PHYSICIAN,
    ("camera.device", "GET"): PHYSICIAN,
    ("camera.verify", "GET"): PHYSICIAN,
    ("papers.index", "GET"): AGENCY,
    ("papers.save", "POST"): ADMIN,
    ("papers.assign", "POST"): ADMIN,
    ("papers.preview_page", "GET"): AGENCY,
    ("papers.windows", "GET"): AGENCY,
    ("papers.add_window", "POST"): ADMIN,
    ("papers.change_window", "POST"): ADMIN,
    ("papers.api_papers", "GET"): AGENCY,
    ("papers.api_save_paper", "POST"): ADMIN,
    ("papers.api_assign", "POST"): ADMIN,
    ("papers.api_preview", "GET"): AGENCY,
    ("papers.api_change_window", "PATCH"): ADMIN,
    ("results.reconciliation", "GET"): AGENCY,
    ("results.resend", "POST"): ADMIN,
    ("results.compare", "GET"): ADMIN,
    ("results.export_csv", "GET"): AGENCY,
    ("results.export_xlsx", "GET"): AGENCY,
    ("results.resend_refused", "POST"): ADMIN,
    # A physician of this world has not passed: 403 by the notice's own rule (a passed
    # physician gets the PDF: tests/results); staff never get one.
    ("results.notice", "GET"): only(),
    ("roster.index", "GET"): AGENCY,
    ("roster.detail", "GET"): AGENCY,
    ("roster.allowance", "POST"): ADMIN,
    ("roster.photo", "GET"): ADMIN,
    ("roster.import_file", "POST"): ADMIN,
    ("roster.pull_now", "POST"): ADMIN,
    ("roster.template", "GET"): AGENCY,
    ("roster.api_list", "GET"): AGENCY,
    ("roster.api_import", "POST"): ADMIN,
    ("roster.api_pull", "POST"): ADMIN,
    ("overrides.grant", "POST"): ADMIN,
    ("overrides.revoke", "POST"): ADMIN,
    ("invigilation.sessions", "GET"): AGENCY,
    ("invigilation.add_session", "POST"): ADMIN,
    ("invigilation.update_session", "POST"): ADMIN,
    ("invigilation.add_site", "POST"): ADMIN,
    ("invigilation.my_sessions", "GET"): INVIGILATORS,
    ("invigilation.timeline", "GET"): INVIGILATORS,
    ("invigilation.void", "POST"): INVIGILATORS,
    ("invigilation.warn", "POST"): INVIGILATORS,
    ("invigilation.review_entry", "POST"): INVIGILATORS,
    ("invigilation.evidence_image", "GET"): INVIGILATORS,
    ("invigilation.wall", "GET"): INVIGILATORS,
    ("invigilation.review_snapshot", "POST"): INVIGILATORS,
    ("attempts_api.overview", "GET"): PHYSICIAN,
    ("attempts_api.state", "GET"): PHYSICIAN,
    ("attempts_api.save_http", "PUT"): PHYSICIAN,
    ("attempts_api.submit", "POST"): PHYSICIAN,
    ("attempts_api.start", "POST"): PHYSICIAN,
    ("attempts.exam", "GET"): PHYSICIAN,
    ("attempts.prepare", "GET"): PHYSICIAN,
    ("attempts.prepare", "POST"): PHYSICIAN,
    ("attempts.home", "GET"): PHYSICIAN,
    ("attempts.results", "GET"): PHYSICIAN,
    ("study.index", "GET"): PHYSICIAN,
    ("study.practice", "GET"): PHYSICIAN,
    ("study.practice", "POST"): PHYSICIAN,
    ("openapi", "GET"): PUBLIC,
    ("web.favicon", "GET"): PUBLIC,
    ("web.set_language", "GET"): PUBLIC,
    ("static", "GET"): PUBLIC,
}

# Socket.IO: who may connect to each namespace, and the events of each (an event is only
# ever reached over a connection, so its decision is its namespace's: ``ALLOW`` for the roles
# that connect, checked by sending it; the refusals of another's objects are the IDOR tests).
CONNECT: dict[str, dict[str, str]] = {
    "/exam": PHYSICIAN,
    "/invigilate": INVIGILATORS,
    # Only a physician who has not set a first password (tests/camera/test_claim.py):
    # none of the matrix's users.
    "/claim": only(),
}
LIFECYCLE = {"connect", "disconnect"}
EVENTS: dict[tuple[str, str], dict[str, Any]] = {
    ("/exam", "answer"): {"attempt_id": 0, "position": 1, "response": ["A"], "seq": 1},
    ("/exam", "warning_seen"): {"id": 999999},
    ("/exam", "camera_check"): {"image": "bm90IGEganBlZw=="},
    ("/exam", "entry_frames"): {"paper_id": 999999, "frames": []},
    ("/exam", "admission"): {},
    ("/exam", "exam_join"): {"attempt_id": 0},
    ("/exam", "snapshot"): {"attempt_id": 0, "image": "bm90IGEganBlZw=="},
    ("/exam", "client_event"): {"attempt_id": 0, "kind": "blur"},
    ("/exam", "*"): {},
    ("/invigilate", "join"): {"session_id": 0},
    ("/invigilate", "leave"): {"session_id": 0},
    ("/invigilate", "warn"): {"attempt_id": 0, "message": "请正视摄像头"},
    ("/invigilate", "void"): {"attempt_id": 0, "reason": ""},
    ("/invigilate", "*"): {},
    ("/claim", "camera_check"): {},
    ("/claim", "claim_frames"): {},
    ("/claim", "admission"): {},
}


def _endpoints(app: Flask) -> set[tuple[str, str]]:
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in {"HEAD", "OPTIONS"}
    }


def _events() -> set[tuple[str, str]]:
    return {
        (namespace, event)
        for namespace, handlers in socketio.server.handlers.items()
        for event in handlers
        if event not in LIFECYCLE
    }


def test_every_route_has_a_decision_for_every_role(app):
    routes = _endpoints(app)
    assert sorted(routes - ROUTES.keys()) == [], "routes without a decision: add them to ROUTES"
    assert sorted(ROUTES.keys() - routes) == [], "decisions for routes that no longer exist"
    assert all(set(decision) == set(ROLES) for decision in ROUTES.values())


def test_every_socket_event_has_a_decision(app):
    events = _events()
    assert sorted(events - EVENTS.keys()) == [], "socket events without a decision: add them"
    assert sorted(EVENTS.keys() - events) == []
    namespaces = set(socketio.server.handlers)
    assert namespaces == set(CONNECT), "a namespace without a connection decision"
    assert all("connect" in socketio.server.handlers[ns] for ns in namespaces), (
        "a namespace without a connect handler accepts anyone"
    )


def _values(world: World, app: Flask) -> dict[str, Any]:
    hall = world.hall
    return {
        "attempt_id": hall.attempt_a.id,
        "bank_id": 1,
        "check_id": 999999,
        "code": "en",
        "delivery_id": 999999,
        "filename": "css/app.css",
        "kind": "extra_attempts",
        "override_id": 999999,
        "paper_id": hall.paper.id,
        "physician_id": hall.a.id,
        "position": 1,
        "session_id": hall.session.id,
        "snapshot_id": 999999,
        "token": evidence.token("snapshot", 999999),
        "user_id": hall.theirs.id,
        "view": "statistics",
        "window_id": hall.window.id,
    }


def _url(app: Flask, endpoint: str, world: World) -> str:
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    values = _values(world, app)
    with app.test_request_context():
        from flask import url_for

        return url_for(endpoint, **{arg: values[arg] for arg in rule.arguments})


def _decided(response: Any) -> str:
    status = response.status_code
    location = response.headers.get("Location", "")
    if status == 401 or (status in (301, 302, 303) and "/login?next=" in location):
        return LOGIN
    if status == 403:
        return DENY
    return ALLOW


def refused_on_csrf(response: Any) -> bool:
    if response.status_code != 400:
        return False
    if response.is_json:
        return bool(response.get_json()["error"]["code"] == "csrf")
    return "页面已过期" in response.get_data(as_text=True)


# The anonymous and the denied first: an allowed role's request may change the world.
ORDER = ("anonymous", "viewer", "physician", "invigilator", "admin")


@pytest.mark.parametrize(("endpoint", "method"), sorted(ROUTES))
def test_route(app, world, endpoint, method):
    path = _url(app, endpoint, world)
    expected = ROUTES[(endpoint, method)]
    got: dict[str, str] = {}
    for role in sorted(ROLES, key=ORDER.index):
        client = client_of(app, world.users[role])
        body: dict[str, Any] = (
            {"json": {}}
            if endpoint.split(".")[0].endswith("api")
            or ("/api/" in path and method in STATE_CHANGING)
            else {"data": {}}
        )
        response = client.open(path, method, **body)
        response.close()
        assert response.status_code < 500, (role, response.get_data(as_text=True)[:500])
        assert not refused_on_csrf(response), (role, "refused on CSRF")
        got[role] = _decided(response)
    assert got == expected


def _socket(app: Flask, world: World, role: str, namespace: str) -> SocketIOTestClient:
    http = client_of(app, world.users[role]).http
    from flask import g

    g.pop("user", None)
    return socketio.test_client(app, namespace=namespace, flask_test_client=http)


@pytest.mark.parametrize("namespace", sorted(CONNECT))
def test_socket_connect(app, world, namespace):
    got = {}
    for role in ROLES:
        client = _socket(app, world, role, namespace)
        got[role] = (
            ALLOW if client.is_connected(namespace) else (LOGIN if role == "anonymous" else DENY)
        )
        if client.is_connected(namespace):
            client.disconnect(namespace)
    assert got == CONNECT[namespace]


@pytest.mark.parametrize(("namespace", "event"), sorted(EVENTS))
def test_socket_event(app, world, namespace, event):
    hall = world.hall
    ids = {"attempt_id": hall.attempt_a.id, "session_id": hall.session.id}
    payload = {k: ids.get(k, v) if v == 0 else v for k, v in EVENTS[(namespace, event)].items()}
    name = "no_such_event" if event == "*" else event
    roles = [r for r in ROLES if CONNECT[namespace][r] == ALLOW]
    for role in roles:
        client = _socket(app, world, role, namespace)
        assert client.is_connected(namespace)
        ack = client.emit(name, payload, namespace=namespace, callback=True)
        assert isinstance(ack, dict), (role, ack)
        assert ack.get("status") not in (401, 403, 500), (role, ack)
        client.disconnect(namespace)
