"""An administrator's overrides for one physician (个人特殊安排) and makeup admission, over
HTTP: the roster page's forms, then the physicians' own starts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from examsvc.attempts.models import Attempt, PaperOverride
from examsvc.audit.models import AuditEvent
from examsvc.clock import beijing_time
from examsvc.enums import Procedure, Role, WindowRound
from examsvc.extensions import db
from examsvc.roster.models import Physician
from tests.factories import create_cycle, create_physician, login_as
from tests.factories_exam import (
    create_attempt,
    create_bank,
    create_paper,
    create_window,
    let_in,
)

REASON = "考试当天住院，凭医院证明"


@pytest.fixture
def setting(app, clock) -> dict[str, Any]:
    """A humanities paper with one attempt (simple procedure) and two physicians."""
    cycle = create_cycle()
    create_bank(now=clock.now())
    paper = create_paper(cycle.id, clock.now(), attempt_limit_simple=1)
    people = [create_physician(cycle, Procedure.SIMPLE, password="Right-Pass1") for _ in range(2)]
    db.session.commit()
    return {"cycle": cycle, "paper": paper, "people": people}


def physician_client(app, physician: Physician):
    client = app.test_client()
    client.post("/login", data={"login": physician.id_number, "password": "Right-Pass1"})
    let_in(client, physician)
    return client


def start(client, paper_id: int):
    return client.post(
        f"/api/v1/exam/papers/{paper_id}/attempts", json={"rules_acknowledged": True}
    )


def grant(admin, physician: Physician, kind: str, **form: Any):
    return admin.post(
        f"/admin/roster/{physician.id}/overrides/{kind}", data=form, follow_redirects=True
    )


def local(when) -> str:
    """A ``datetime-local`` value, in Beijing time as the forms take it."""
    return beijing_time(when, "%Y-%m-%dT%H:%M")


def test_one_more_attempt_for_one_physician_and_nobody_else(app, client, setting, clock):
    paper, (ill, other) = setting["paper"], setting["people"]
    window = create_window(paper, clock.now() - timedelta(hours=2), hours=24)
    for p in (ill, other):
        create_attempt(p, paper, window, "failed")
    db.session.commit()
    login_as(client)
    page = grant(client, ill, "extra_attempts", paper_id=paper.id, attempts=1, reason=REASON)
    html = page.get_data(as_text=True)
    assert "个人特殊安排已保存" in html and "增加可考次数" in html and "增加1次" in html
    assert REASON in html
    assert start(physician_client(app, ill), paper.id).status_code == 201
    refused = start(physician_client(app, other), paper.id)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "failed"
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "override.grant"))
    assert [e.detail["reason"] for e in event] == [REASON]


def test_the_reason_is_required_and_viewers_only_read(app, client, setting, clock):
    paper, (ill, _) = setting["paper"], setting["people"]
    create_window(paper, clock.now() - timedelta(hours=2), hours=24)
    db.session.commit()
    login_as(client)
    html = grant(client, ill, "extra_attempts", paper_id=paper.id, attempts=1).get_data(True)
    assert "原因：必须填写" in html and "个人特殊安排已保存" not in html
    html = grant(client, ill, "extra_attempts", paper_id=paper.id, attempts=0, reason=REASON)
    assert "增加次数：不能小于 1" in html.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PaperOverride)) == 0
    grant(client, ill, "extra_attempts", paper_id=paper.id, attempts=1, reason=REASON)
    viewer = app.test_client()
    login_as(viewer, Role.VIEWER)
    page = viewer.get(f"/admin/roster/{ill.id}").get_data(as_text=True)
    assert REASON in page and "撤销" not in page and "/overrides/" not in page
    refused = viewer.post(
        f"/admin/roster/{ill.id}/overrides/extra_attempts",
        data={"paper_id": paper.id, "attempts": 1, "reason": REASON},
    )
    assert refused.status_code == 403


def test_a_personal_window_admits_only_its_physician_until_revoked(app, client, setting, clock):
    paper, (ill, other) = setting["paper"], setting["people"]
    create_window(paper, clock.now() - timedelta(days=3), hours=24)  # over: both 缺考
    db.session.commit()
    login_as(client)
    opens, closes = clock.now() - timedelta(hours=1), clock.now() + timedelta(hours=3)
    form = {"paper_id": paper.id, "round": "regular", "reason": REASON}
    html = grant(client, ill, "window", **form, opens_at=local(closes), closes_at=local(opens))
    assert "结束：须晚于开始时间" in html.get_data(as_text=True)
    html = grant(client, ill, "window", **form, opens_at=local(opens), closes_at=local(closes))
    assert "个人考试时间" in html.get_data(as_text=True)
    ill_client = physician_client(app, ill)
    home = ill_client.get("/home").get_data(as_text=True)
    assert "进入测评" in home and "考核机构为您单独安排" in home
    assert start(physician_client(app, other), paper.id).get_json()["error"]["code"] == "closed"
    override = db.session.scalars(sa.select(PaperOverride)).one()
    client.post(f"/admin/roster/{ill.id}/overrides/{override.id}/revoke")
    assert start(ill_client, paper.id).get_json()["error"]["code"] == "closed"
    db.session.refresh(override)
    assert override.revoked_at is not None and override.revoked_by is not None


def test_a_makeup_window_admits_the_failed_not_the_voided_until_the_agency_says(
    app, client, setting, clock
):
    paper, (failed, cheated) = setting["paper"], setting["people"]
    regular = create_window(paper, clock.now() - timedelta(days=3), hours=24)
    create_window(paper, clock.now() - timedelta(hours=1), hours=24, round=WindowRound.MAKEUP)
    create_attempt(failed, paper, regular, "failed")
    create_attempt(cheated, paper, regular, "voided")
    db.session.commit()
    failed_client, cheated_client = physician_client(app, failed), physician_client(app, cheated)
    assert "进入测评（补考）" in failed_client.get("/home").get_data(as_text=True)
    home = cheated_client.get("/home").get_data(as_text=True)
    assert "违纪终止，不能参加补考" in home and "进入测评（补考）" not in home
    refused = start(cheated_client, paper.id)
    assert refused.get_json()["error"]["message"] == "违纪终止，不能参加补考"
    assert start(failed_client, paper.id).status_code == 201
    login_as(client)
    html = grant(client, failed, "makeup_after_void", paper_id=paper.id, reason=REASON)
    assert "该考生此试卷的测评未被违纪终止，无需准许补考" in html.get_data(as_text=True)
    grant(client, cheated, "makeup_after_void", paper_id=paper.id, reason="复核后认定非本人违纪")
    assert "进入测评（补考）" in cheated_client.get("/home").get_data(as_text=True)
    assert start(cheated_client, paper.id).status_code == 201


def test_a_makeup_window_may_have_its_own_limit(client, setting, clock):
    paper = setting["paper"]
    regular = create_window(paper, clock.now() + timedelta(days=1), hours=24)
    makeup = create_window(
        paper, clock.now() + timedelta(days=5), hours=24, round=WindowRound.MAKEUP
    )
    db.session.commit()
    login_as(client)
    times = {"opens_at": local(makeup.opens_at), "closes_at": local(makeup.closes_at)}
    page = client.post(
        f"/admin/windows/{regular.id}",
        data={
            "opens_at": local(regular.opens_at),
            "closes_at": local(regular.closes_at),
            "attempt_limit": 2,
        },
        follow_redirects=True,
    )
    assert "只有补考时间可以单独设置可考次数" in page.get_data(as_text=True)
    page = client.post(
        f"/admin/windows/{makeup.id}", data={**times, "attempt_limit": 2}, follow_redirects=True
    )
    assert "补考可考次数：2次" in page.get_data(as_text=True)
    db.session.refresh(makeup)
    assert makeup.attempt_limit == 2


def test_extra_time_never_goes_past_the_agencys_cap(app, client, setting, clock):
    paper, (slow, _) = setting["paper"], setting["people"]
    create_window(paper, clock.now() - timedelta(hours=1), hours=24)
    db.session.commit()
    login_as(client)
    html = grant(client, slow, "extra_time", paper_id=paper.id, minutes=90, reason=REASON)
    assert "延长分钟数：不能超过上限 60 分钟" in html.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PaperOverride)) == 0
    grant(client, slow, "extra_time", paper_id=paper.id, minutes=30, reason=REASON)
    body = start(physician_client(app, slow), paper.id).get_json()
    assert body["remaining_seconds"] == (60 + 30) * 60
    # An allowance stored beyond the cap (set before it, or by hand) is cut to the cap.
    db.session.execute(sa.update(PaperOverride).values(revoked_at=clock.now()))
    db.session.execute(sa.update(Physician).values(time_allowance_minutes=200))
    db.session.execute(
        sa.update(Attempt).values(status="voided", open_slot=None, submitted_at=clock.now())
    )
    paper.attempt_limit_simple = 5
    db.session.commit()
    body = start(physician_client(app, slow), paper.id).get_json()
    assert body["remaining_seconds"] == (60 + 60) * 60
