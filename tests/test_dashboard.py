"""Every staff role lands on a working dashboard after logging in."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from socketio import RedisManager

from examsvc.enums import Role
from examsvc.extensions import db
from examsvc.invigilation import operations as invigilation_ops
from tests.factories import create_cycle, create_physician, create_user, login_as
from tests.factories_exam import create_bank, create_paper, create_window


def menu_links(html: str) -> dict[str, str]:
    """The top menu's entries (label -> href), without the language switch."""
    nav = html.split('<nav class="menu">', 1)[1].split("</nav>", 1)[0]
    return {
        label.strip(): href
        for href, label in re.findall(r'<a href="([^"]+)">([^<]+)</a>', nav)
        if not href.startswith("/lang/")
    }


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
    assert isinstance(socketio.server.manager, RedisManager)
    create_app({"TESTING": True, "DATABASE_URL": migrated_database, "DATA_DIR": str(tmp_path)})
    assert not isinstance(socketio.server.manager, RedisManager)


@pytest.fixture
def agency(app, clock):
    """A cycle with a paper, a window, a session and one physician in it."""
    cycle = create_cycle()
    create_bank(now=clock.now())
    paper = create_paper(cycle.id, clock.now())
    window = create_window(paper, clock.now() - timedelta(hours=1))
    physician = create_physician(cycle, password="Right-Pass1", name="张三")
    physician.user.must_change_password = False
    session = invigilation_ops.create_session(window, "第一场", None)
    invigilation_ops.assign_candidates(session, [physician.registration_id])
    db.session.commit()
    return {"cycle": cycle, "session": session, "physician": physician}


MENUS = {
    Role.PHYSICIAN: ["考核安排", "考核结果", "我要学习"],
    Role.ADMIN: [
        "首页",
        "考生名单",
        "考试进度",
        "考核统计",
        "结果回传",
        "题库管理",
        "试卷管理",
        "考试安排",
        "考点与场次",
        "人脸验证异常",
        "账号管理",
        "操作日志",
    ],
    Role.VIEWER: [
        "首页",
        "考生名单",
        "考试进度",
        "考核统计",
        "结果回传",
        "题库管理",
        "试卷管理",
        "考试安排",
        "考点与场次",
        "人脸验证异常",
    ],
    Role.INVIGILATOR: ["首页"],
}


@pytest.mark.parametrize("role", list(MENUS))
def test_every_menu_link_opens_for_its_role(client, agency, role):
    if role == Role.PHYSICIAN:
        client.post(
            "/login", data={"login": agency["physician"].id_number, "password": "Right-Pass1"}
        )
    else:
        login_as(client, role)
    home = client.get("/", follow_redirects=True)
    links = menu_links(home.get_data(as_text=True))
    assert list(links) == MENUS[role]
    for label, href in links.items():
        assert client.get(href).status_code == 200, (role, label, href)


def test_invigilator_sees_the_sessions_assigned_to_them(client, agency):
    user = login_as(client, Role.INVIGILATOR)
    assert "暂无指派的场次" in client.get("/admin").get_data(as_text=True)
    invigilation_ops.assign_invigilators(agency["session"], [user.id])
    db.session.commit()
    html = client.get("/admin").get_data(as_text=True)
    assert "暂无指派的场次" not in html
    assert "第一场" in html and "HUM 测评试卷" in html and "考生 1 人" in html
    assert "张三" in html and agency["physician"].id_number not in html
    assert "<title>首页</title>" in html
