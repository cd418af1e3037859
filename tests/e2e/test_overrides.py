"""An administrator grants one physician one more attempt on the roster page, with a
reason, and the physician sees the paper open again: in a real browser."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.e2e.conftest import first_login, log_in, look, server_database

pytestmark = pytest.mark.browser

REASON = "考试当天网络中断，经核实准予再考一次"


def test_an_extra_attempt_granted_on_the_roster_page_opens_the_paper_again(demo_server, browser):
    from examsvc.extensions import db
    from examsvc.papers.models import Paper
    from examsvc.roster.models import Physician
    from tests.factories_exam import create_attempt

    with server_database(demo_server.url):
        physician = db.session.scalars(
            sa.select(Physician).where(Physician.name == "演示医师1号")
        ).one()
        paper = db.session.scalars(sa.select(Paper).where(Paper.code == "HUM-2026")).one()
        paper.attempt_limit_simple = 1  # one attempt, used and failed
        create_attempt(physician, paper, paper.windows[0], "failed")
        db.session.commit()
        physician_id, login, paper_id = physician.id, physician.id_number, paper.id

    doctor = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    first_login(doctor, demo_server, login, "Doctor-Pass-2026")
    doctor.goto(demo_server.url + "/home")
    text = doctor.inner_text("body")
    assert "不合格" in text and "进入测评" not in text

    admin = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    log_in(admin, demo_server, "admin", "Demo-Admin-2026")
    admin.goto(f"{demo_server.url}/admin/roster/{physician_id}")
    form = "form[action$='/overrides/extra_attempts']"
    admin.select_option(f"{form} select[name=paper_id]", str(paper_id))
    admin.click(f"{form} button[type=submit]")  # no reason: refused, in the page's words
    assert "原因：必须填写" in admin.inner_text("body")
    admin.fill(f"{form} input[name=reason]", REASON)
    admin.fill(f"{form} input[name=attempts]", "1")
    admin.click(f"{form} button[type=submit]")
    text = look(admin, "overrides-roster-granted")
    assert "个人特殊安排已保存" in text and REASON in text
    assert "增加可考次数" in text and "增加1次" in text and "有效" in text
    admin.eval_on_selector_all("details", "els => els.forEach(e => { e.open = true; })")
    text = look(admin, "overrides-roster-forms")
    assert "个人考试时间" in text and "违纪终止后准许补考" in text and "延长分钟数" in text

    doctor.reload()
    text = look(doctor, "overrides-physician-open-again")
    assert "进入测评" in text and "可考次数：剩余1次" in text
    # The windows page: a makeup window's own attempt limit is set where its times are.
    admin.goto(demo_server.url + "/admin/windows")
    text = look(admin, "overrides-windows")
    assert "补考可考次数" in text
