"""The audit log records logins, failed logins and submissions, and reads as words."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from examsvc.accounts.ids import mask
from examsvc.admin.audit_labels import ACTION_LABELS
from examsvc.audit.models import AuditEvent
from examsvc.enums import Role
from examsvc.extensions import db
from tests.factories import create_cycle, create_physician, login_as
from tests.factories_exam import create_bank, create_paper, create_window, let_in

ROOT = Path(__file__).resolve().parents[2]


def _rows(html: str) -> list[str]:
    """The table rows' text, tags removed."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.sub(r"<[^>]+>", " ", row) for row in body.split("<tr>") if row.strip()]


def test_logins_failures_and_submissions_are_recorded_and_read_as_words(app, client, clock):
    cycle = create_cycle()
    create_bank(now=clock.now())
    paper = create_paper(cycle.id, clock.now())
    create_window(paper, clock.now() - timedelta(hours=1), hours=48)
    physician = create_physician(cycle, password="Right-Pass1")
    physician.user.must_change_password = False
    db.session.commit()

    client.post("/login", data={"login": physician.id_number, "password": "Wrong-Pass9"})
    client.post("/login", data={"login": physician.id_number, "password": "Right-Pass1"})
    let_in(client, physician)
    attempt = client.post(
        f"/api/v1/exam/papers/{paper.id}/attempts", json={"rules_acknowledged": True}
    ).get_json()
    assert client.post(f"/api/v1/exam/attempts/{attempt['id']}/submit").status_code == 200
    client.post("/logout")

    actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["login.failed", "login", "attempt.submit", "logout"]

    admin = app.test_client()
    login_as(admin, Role.ADMIN)
    html = admin.get("/admin/audit").get_data(as_text=True)
    rows = _rows(html)
    text = " ".join(rows)
    for words in ("登录失败", "交卷", "退出登录", "考生交卷", "证件号码（用户名）或密码错误"):
        assert words in text, words
    assert any(" 登录 " in row for row in rows)
    failed = next(row for row in rows if "登录失败" in row)
    assert "未登录访客" in failed and f"登录名：{mask(physician.id_number)}" in failed
    # No raw keys, no JSON, no full ID number, no password anywhere on the page.
    assert "login.failed" not in html and "attempt.submit" not in html
    assert "{&#34;" not in html and '{"' not in html
    assert physician.id_number not in html
    assert "Wrong-Pass9" not in html and "Right-Pass1" not in html
    # A physician acting is named with a masked ID number.
    assert f"{physician.user.display_name}（{mask(physician.id_number)}）" in text


def test_the_filter_shows_one_group_of_actions(app, client):
    client.post("/login", data={"login": "nobody", "password": "x"})
    admin = app.test_client()
    login_as(admin, Role.ADMIN)
    admin.post("/admin/users", data={"role": "viewer", "login": "v7", "name": "查看七"})
    logins = " ".join(_rows(admin.get("/admin/audit?group=login").get_data(as_text=True)))
    assert "登录失败" in logins and "新建账号" not in logins
    users = " ".join(_rows(admin.get("/admin/audit?group=user").get_data(as_text=True)))
    assert "新建账号" in users and "登录失败" not in users and "角色：只读查看" in users


def test_every_recorded_action_has_a_chinese_label():
    recorded = set()
    for path in (ROOT / "examsvc").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        recorded |= set(re.findall(r'record\(\s*"([a-z_.]+)"', source))
        # Window forms pass their action to a helper that records it.
        recorded |= set(re.findall(r'_window_form\([^"]*"([a-z_.]+)"', source))
    assert recorded, "no record() calls found"
    missing = sorted(a for a in recorded if a not in ACTION_LABELS)
    assert missing == []
    assert all(re.search(r"[\u4e00-\u9fff]", label) for label in ACTION_LABELS.values())


def test_details_read_as_words_scores_in_points_and_id_numbers_masked():
    from examsvc.admin.audit_labels import detail_pairs

    pairs = dict(detail_pairs({"score": 58.0, "passed": False, "login": "430102197001010019"}))
    assert pairs == {"得分": "58分", "是否合格": "不合格", "登录名": "430*****0019"}


def test_details_read_in_english_with_english_points_and_punctuation(app):
    from examsvc.admin.audit_labels import detail_pairs

    details = {"score": 58.0, "status": "mismatch", "replaced": ["A", "B"]}
    with app.test_request_context(headers={"Cookie": "lang=en"}):
        values = [value for _, value in detail_pairs(details)]
    assert values == ["58 points", "Possibly someone else", "A, B"]
