"""Administrators manage staff and reset passwords; other roles may not."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from examsvc.accounts.models import User
from examsvc.accounts.passwords import INITIAL_PASSWORD, verify_password
from examsvc.audit.models import AuditEvent
from examsvc.enums import Role
from examsvc.extensions import db
from tests.factories import create_cycle, create_physician, login_as


@pytest.mark.parametrize("role", [Role.PHYSICIAN, Role.INVIGILATOR, Role.VIEWER])
def test_only_admins_reach_account_pages(client, role):
    if role == Role.PHYSICIAN:
        physician = create_physician(create_cycle(), password="Right-Pass1")
        physician.user.must_change_password = False
        db.session.commit()
        client.post("/login", data={"login": physician.id_number, "password": "Right-Pass1"})
    else:
        login_as(client, role)
    assert client.get("/admin/users").status_code == 403
    assert (
        client.post("/admin/users", data={"role": "admin", "login": "x", "name": "x"}).status_code
        == 403
    )


def test_anonymous_is_sent_to_login(client):
    assert client.get("/admin/users").headers["Location"].startswith("/login")


def test_admin_creates_staff_with_one_time_password(client):
    login_as(client, Role.ADMIN)
    response = client.post(
        "/admin/users",
        data={"role": "invigilator", "login": "inv7", "name": "监考七"},
        follow_redirects=True,
    )
    assert "inv7" in response.get_data(as_text=True)
    user = db.session.scalars(sa.select(User).where(User.login == "inv7")).one()
    assert user.role == Role.INVIGILATOR and user.must_change_password
    assert db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "user.create")
    ).first()


def test_admin_resets_a_physician_to_the_initial_password(client):
    physician = create_physician(create_cycle(), password="Changed-Pass1")
    db.session.commit()
    login_as(client, Role.ADMIN)
    page = client.get(f"/admin/users?q={physician.name}").get_data(as_text=True)
    assert physician.id_number not in page  # masked in the list
    assert physician.id_number[:3] + "*****" + physician.id_number[-4:] in page
    client.post(f"/admin/users/{physician.user_id}/reset-password", data={"confirm": "1"})
    user = db.session.get(User, physician.user_id)
    db.session.refresh(user)
    assert verify_password(user.password_hash, INITIAL_PASSWORD) and user.must_change_password


def test_admin_cannot_deactivate_self(client):
    admin = login_as(client, Role.ADMIN)
    client.post(f"/admin/users/{admin.id}/active", data={"active": "0"})
    db.session.refresh(admin)
    assert admin.active


def test_cli_creates_and_resets(runner, monkeypatch):
    monkeypatch.setenv("NEW_PW", "Cli-Pass-1")
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--role",
            "admin",
            "--login",
            "boss",
            "--name",
            "主任",
            "--password-env",
            "NEW_PW",
        ]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalars(sa.select(User).where(User.login == "boss")).one()
    assert verify_password(user.password_hash, "Cli-Pass-1")
    result = runner.invoke(args=["users", "reset-password", "boss"])
    assert result.exit_code == 0
    db.session.refresh(user)
    assert not verify_password(user.password_hash, "Cli-Pass-1") and user.must_change_password
    duplicate = runner.invoke(
        args=["users", "create", "--role", "admin", "--login", "boss", "--name", "x"]
    )
    assert duplicate.exit_code != 0 and "已存在" in duplicate.output
