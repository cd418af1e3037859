"""CSRF on every state-changing route (generated from the matrix's table, so a new one is
covered), and the Origin check of the Socket.IO handshake (every namespace shares it)."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.security.conftest import ROLES, World, client_of, fresh
from tests.security.test_matrix import ALLOW, ROUTES, STATE_CHANGING, _url, refused_on_csrf

CHANGING = sorted(key for key in ROUTES if key[1] in STATE_CHANGING)


def _allowed_role(endpoint: str, method: str) -> str:
    decision = ROUTES[(endpoint, method)]
    return next(role for role in ROLES[::-1] if decision[role] == ALLOW)


@pytest.mark.parametrize(("endpoint", "method"), CHANGING)
def test_a_state_changing_request_without_a_valid_token_is_refused(
    app: Flask, world: World, endpoint: str, method: str
) -> None:
    role = _allowed_role(endpoint, method)
    client = client_of(app, world.users[role])
    path = _url(app, endpoint, world)
    api = "/api/" in path
    for headers in ({}, {"X-CSRFToken": "forged"}, {"X-CSRFToken": client_of(app, None).token}):
        fresh()
        kwargs = {"json": {}} if api else {"data": {}}
        response = client.http.open(path, method=method, headers=headers, **kwargs)
        assert refused_on_csrf(response), (role, headers, response.status_code)
        if api:
            assert response.get_json()["error"]["code"] == "csrf"


def test_the_table_covers_every_form_and_api_write(app: Flask) -> None:
    writes = {
        (rule.endpoint, m)
        for rule in app.url_map.iter_rules()
        for m in rule.methods or ()
        if m in STATE_CHANGING
    }
    assert writes == set(CHANGING)


HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        ("http://localhost", True),
        ("https://evil.example", False),
        ("http://localhost.evil.example", False),
        ("http://evil.example/http://localhost", False),
        ("null", False),
    ],
)
def test_the_socket_handshake_refuses_a_foreign_origin_for_every_role(
    app: Flask, world: World, role: str, origin: str, accepted: bool
) -> None:
    client = client_of(app, world.users[role])
    fresh()
    response = client.http.get(HANDSHAKE, headers={"Origin": origin})
    assert (response.status_code == 200) is accepted, response.get_data(as_text=True)
