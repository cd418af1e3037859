"""The app builds, the migrations match the models, and the database enforces rules."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from examsvc.enums import Role
from examsvc.extensions import db
from tests.factories import create_cycle, create_physician, login_as


def test_migrations_match_models(app):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


PUBLIC = {"REMOTE_ADDR": "203.0.113.20"}


LOCAL = {"status": "ok", "process": {"draining": False, "in_flight": 1}}  # itself in flight


def test_healthz_says_only_up_to_the_public(client):
    """Liveness only (``/readyz`` checks the dependencies, tests/ops/test_health.py)."""
    assert client.get("/healthz", environ_base=PUBLIC).get_json() == {"status": "ok"}
    # The host's own monitoring (loopback) and staff see the process's details.
    assert client.get("/healthz").get_json() == LOCAL
    login_as(client, Role.VIEWER)
    assert client.get("/healthz", environ_base=PUBLIC).get_json() == LOCAL


def test_healthz_of_a_physician_from_outside_is_only_up(client):
    physician = create_physician(create_cycle(), password="Right-Pass1")
    physician.user.must_change_password = False
    db.session.commit()
    client.post(
        "/login",
        data={"login": physician.id_number, "password": "Right-Pass1"},
        environ_base=PUBLIC,
    )
    assert client.get("/healthz", environ_base=PUBLIC).get_json() == {"status": "ok"}


def test_security_headers_forbid_outside_sources_and_framing(client):
    for path in ("/healthz", "/login"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_logged_in_pages_are_never_cached(client):
    assert "no-store" not in client.get("/login").headers.get("Cache-Control", "")
    login_as(client, Role.ADMIN)
    for path in ("/admin", "/admin/users", "/admin/audit", "/account/password"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
    # Static files are the same for everyone and stay cacheable.
    with client.get("/static/css/app.css") as static:
        assert "no-store" not in static.headers.get("Cache-Control", "")


def test_database_rejects_impossible_state(app):
    cycle = create_cycle()
    physician = create_physician(cycle)
    physician.time_allowance_minutes = -5
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_unknown_api_path_gets_json_error(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def _examsvc(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``examsvc …`` in a fresh process with no EXAMSVC_ configuration but ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EXAMSVC_")}
    clean |= {"EXAMSVC_INSTANCE_PATH": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, "-m", "examsvc.cli", *args],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("args", [("--help",), ("users", "--help"), ("serve", "--help")])
def test_help_works_without_any_configuration(tmp_path, args):
    done = _examsvc(tmp_path, *args)
    assert done.returncode == 0, done.stderr
    assert "Usage: examsvc" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    if args[:1] == ("users",):
        assert "reset-password" in done.stdout


def test_no_command_lists_the_commands_without_configuration(tmp_path):
    done = _examsvc(tmp_path)
    assert "Usage: examsvc" in done.stdout + done.stderr and "users" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_a_missing_secret_key_is_one_clear_line_and_status_2(tmp_path):
    done = _examsvc(tmp_path, "users", "list")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "examsvc: EXAMSVC_SECRET_KEY must be set (or EXAMSVC_DEMO_MODE=true)"
    ]


def test_a_malformed_setting_is_one_clear_line_and_status_2(tmp_path):
    done = _examsvc(tmp_path, "users", "--help", EXAMSVC_LOGIN_FREE_FAILURES="five")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "examsvc: EXAMSVC_LOGIN_FREE_FAILURES: expected a whole number, got 'five'"
    ]


def test_behind_a_proxy_the_forwarded_client_address_counts(migrated_database, tmp_path):
    from examsvc import create_app

    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": migrated_database,
            "DATA_DIR": str(tmp_path),
            "PROXY_HOPS": 1,
        }
    )
    with app.app_context():
        client = app.test_client()
        forwarded = client.get("/healthz", headers={"X-Forwarded-For": "203.0.113.5"})
        assert forwarded.get_json() == {"status": "ok"}  # a public client, not the proxy
        assert client.get("/healthz").get_json()["process"]["draining"] is False
        db.session.remove()
        db.engine.dispose()
