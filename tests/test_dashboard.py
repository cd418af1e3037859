"""Every staff role lands on a working dashboard after logging in."""

from __future__ import annotations

import pytest

from examsvc.enums import Role
from examsvc.extensions import db
from tests.factories import create_cycle, create_physician, create_user


@pytest.mark.parametrize("role", [Role.ADMIN, Role.INVIGILATOR, Role.VIEWER])
def test_staff_land_on_the_dashboard(client, role):
    cycle = create_cycle()
    create_physician(cycle)
    user = create_user(role, password="Right-Pass1")
    db.session.commit()
    response = client.post(
        "/login", data={"login": user.login, "password": "Right-Pass1"}, follow_redirects=True
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "报名人数" in html and cycle.name in html


def test_physicians_cannot_open_the_dashboard(client):
    physician = create_physician(create_cycle(), password="Right-Pass1")
    physician.user.must_change_password = False
    db.session.commit()
    client.post("/login", data={"login": physician.id_number, "password": "Right-Pass1"})
    assert client.get("/admin").status_code == 403


def test_socketio_uses_the_redis_message_queue_when_configured(migrated_database, tmp_path):
    from examsvc import create_app
    from examsvc.extensions import socketio

    create_app(
        {
            "TESTING": True,
            "DATABASE_URL": migrated_database,
            "DATA_DIR": str(tmp_path),
            "REDIS_URL": "redis://127.0.0.1:6379/13",
        }
    )
    assert type(socketio.server.manager).__name__ == "RedisManager"
    create_app({"TESTING": True, "DATABASE_URL": migrated_database, "DATA_DIR": str(tmp_path)})
    assert type(socketio.server.manager).__name__ != "RedisManager"
