"""CSRF protection on forms and JSON requests."""

from __future__ import annotations

import re

import pytest

from examsvc import create_app
from examsvc.config import ConfigError
from examsvc.extensions import db
from tests.factories import create_cycle, create_physician


@pytest.fixture
def csrf_client(app):
    app.config["WTF_CSRF_ENABLED"] = True
    return app.test_client()


def _token(client) -> str:
    html = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def test_form_post_without_token_is_refused(csrf_client):
    response = csrf_client.post("/login", data={"login": "x", "password": "y"})
    assert response.status_code == 400
    assert "页面已过期" in response.get_data(as_text=True)


def test_form_post_with_token_is_accepted(csrf_client):
    physician = create_physician(create_cycle(), password="Right-Pass1")
    db.session.commit()
    token = _token(csrf_client)
    response = csrf_client.post(
        "/login",
        data={"login": physician.id_number, "password": "Right-Pass1", "csrf_token": token},
    )
    assert response.status_code == 302


def test_json_request_needs_the_header(csrf_client):
    refused = csrf_client.post("/api/v1/session", json={"login": "a", "password": "b"})
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "csrf"
    token = csrf_client.get("/api/v1/session").get_json()["csrf_token"]
    allowed = csrf_client.post(
        "/api/v1/session", json={"login": "a", "password": "b"}, headers={"X-CSRFToken": token}
    )
    assert allowed.status_code == 401  # past CSRF, refused on the credentials


def test_cookie_flags_outside_demo(tmp_path):
    app = create_app(
        {"SECRET_KEY": "k", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "DATA_DIR": str(tmp_path)}
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_secret_key_is_required_outside_demo(tmp_path, monkeypatch):
    monkeypatch.delenv("EXAMSVC_SECRET_KEY", raising=False)
    monkeypatch.delenv("EXAMSVC_DEMO_MODE", raising=False)
    with pytest.raises(ConfigError, match="EXAMSVC_SECRET_KEY"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "DATA_DIR": str(tmp_path)})
