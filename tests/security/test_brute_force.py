"""Brute force beyond tests/accounts/test_throttle.py (per pair, per address, spraying over
IDs from one address, unknown IDs answered alike, the current-password guess): an attacker
who rotates ``X-Forwarded-For`` does not become many addresses — neither without a proxy
(the header is ignored) nor behind one (only the address the proxy itself appended counts)."""

from __future__ import annotations

import pytest

from examsvc import create_app
from examsvc.extensions import db
from tests.accounts.test_throttle import ATTACKER, _physician
from tests.factories import resident_id


def _try(client, login: str, password: str, forwarded: str, hops: int):  # type: ignore[no-untyped-def]
    header = f"{forwarded}, {ATTACKER}" if hops else forwarded  # a proxy appends the peer
    return client.post(
        "/api/v1/session",
        json={"login": login, "password": password},
        headers={"X-Forwarded-For": header},
        environ_base={"REMOTE_ADDR": "10.0.0.2" if hops else ATTACKER},
    )


@pytest.fixture(params=[0, 1], ids=["no proxy", "one proxy"])
def hops_app(request, migrated_database, clock, tmp_path):  # type: ignore[no-untyped-def]
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": migrated_database,
            "DATA_DIR": str(tmp_path / "data"),
            "CLOCK": clock,
            "PROXY_HOPS": request.param,
            "LOGIN_FREE_FAILURES": 3,
            "LOGIN_FREE_FAILURES_PER_ADDRESS": 6,
            "ROSTER_PULL_INTERVAL": 0,
            "WTF_CSRF_ENABLED": False,  # the throttle is what is tested here
        }
    )
    with app.app_context():
        yield app, request.param
        db.session.remove()
        from tests.conftest import _clear_tables

        _clear_tables()
        db.engine.dispose()


def test_a_forged_forwarded_address_does_not_escape_the_pair_limit(hops_app) -> None:
    app, hops = hops_app
    physician = _physician()
    client = app.test_client()
    answers = [
        _try(client, physician.id_number, f"Wrong-{n}", f"192.0.2.{n}", hops).status_code
        for n in range(5)
    ]
    assert answers[:3] == [401, 401, 401] and answers[3:] == [429, 429], answers


def test_a_forged_forwarded_address_does_not_escape_the_address_limit(hops_app) -> None:
    app, hops = hops_app
    physician = _physician()
    client = app.test_client()
    for n in range(6):  # spraying six accounts, each try claiming another address
        assert _try(client, resident_id(700 + n), "Wrong", f"192.0.2.{n}", hops).status_code == 401
    refused = _try(client, physician.id_number, "Right-Pass1", "192.0.2.99", hops)
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "throttled"
