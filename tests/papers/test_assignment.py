"""Which paper a physician sits: the paper assigned per kind (and category and level)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from examsvc.attempts import operations as attempt_ops
from examsvc.attempts.models import Attempt
from examsvc.audit.models import AuditEvent
from examsvc.enums import PaperKind, Procedure, Role, SubmitReason
from examsvc.extensions import db
from examsvc.papers import operations as ops
from examsvc.papers.models import PaperAssignment
from tests.factories import create_cycle, create_physician, login_as
from tests.factories_exam import (
    create_bank,
    create_paper,
    create_window,
    entry,
    paper_spec,
    pass_gate,
)
from tests.papers.test_papers import _running_attempt


@pytest.fixture
def two_humanities(app, clock):
    """HUM (assigned, as the first of its kind) and HUM2, both with a window open now."""
    cycle = create_cycle()
    create_bank(now=clock.now())
    old = create_paper(cycle.id, clock.now(), code="HUM")
    new = create_paper(cycle.id, clock.now(), code="HUM2", name="新医学人文测评试卷")
    old_window = create_window(old, clock.now() - timedelta(hours=1))
    create_window(new, clock.now() - timedelta(hours=1))
    physician = create_physician(cycle, Procedure.SIMPLE)
    check = pass_gate(physician, "test-device", clock.now())
    db.session.commit()
    return {
        "cycle": cycle,
        "old": old,
        "new": new,
        "window": old_window,
        "physician": physician,
        "check": check,
    }


def _offered(physician, now) -> list[str]:
    return [s.paper.name for s in attempt_ops.overview(physician, now).states]


def test_the_first_paper_of_a_kind_is_assigned_and_a_second_waits(two_humanities, clock):
    assert _offered(two_humanities["physician"], clock.now()) == ["HUM 测评试卷"]
    rows = db.session.scalars(sa.select(PaperAssignment)).all()
    assert {r.paper_id for r in rows} == {two_humanities["old"].id} and len(rows) == 8


def test_assigning_a_second_paper_offers_it_from_then_on(two_humanities, clock):
    replaced = ops.assign_paper(two_humanities["new"], now=clock.now())
    assert replaced == [two_humanities["old"]]
    assert _offered(two_humanities["physician"], clock.now()) == ["新医学人文测评试卷"]
    attempt = attempt_ops.start_attempt(
        two_humanities["physician"],
        two_humanities["new"].id,
        now=clock.now(),
        rules_acknowledged=True,
        entry=entry(two_humanities["check"]),
        allowance_cap=60,
    )
    assert attempt.paper_id == two_humanities["new"].id


def test_assigning_is_refused_while_attempts_run_on_the_old_paper(two_humanities, clock):
    old, physician = two_humanities["old"], two_humanities["physician"]
    _running_attempt(old, two_humanities["window"], physician, clock.now())
    with pytest.raises(ops.AssignRefused, match="1 场测评正在进行"):
        ops.assign_paper(two_humanities["new"], now=clock.now())


def test_a_physician_who_started_the_old_paper_keeps_it(two_humanities, clock):
    old, physician = two_humanities["old"], two_humanities["physician"]
    attempt = _running_attempt(old, two_humanities["window"], physician, clock.now())
    attempt_ops.submit_attempt(attempt.id, now=clock.now(), reason=SubmitReason.CANDIDATE)
    ops.assign_paper(two_humanities["new"], now=clock.now())
    assert _offered(physician, clock.now()) == ["HUM 测评试卷"]
    newcomer = create_physician(two_humanities["cycle"], Procedure.SIMPLE)
    assert _offered(newcomer, clock.now()) == ["新医学人文测评试卷"]


def test_passing_the_new_humanities_paper_unlocks_the_professional_one(app, clock):
    cycle = create_cycle()
    create_bank(now=clock.now())
    create_bank("clinical", PaperKind.PROFESSIONAL, now=clock.now())
    old = create_paper(cycle.id, clock.now(), code="HUM")
    new = create_paper(cycle.id, clock.now(), code="HUM2")
    pro = create_paper(
        cycle.id, clock.now(), code="PRO", kind="professional", bank="clinical", prerequisite="HUM"
    )
    for paper in (old, new, pro):
        create_window(paper, clock.now() - timedelta(hours=1))
    ops.assign_paper(new, now=clock.now())
    physician = create_physician(cycle, Procedure.GENERAL)
    states = attempt_ops.overview(physician, clock.now()).states
    assert [(s.paper.id, s.code) for s in states] == [(new.id, "open"), (pro.id, "locked")]
    attempt = _running_attempt(new, new.windows[0], physician, clock.now())
    attempt_ops.submit_attempt(attempt.id, now=clock.now(), reason=SubmitReason.CANDIDATE)
    attempt.passed = True
    db.session.flush()
    states = attempt_ops.overview(physician, clock.now()).states
    assert [s.code for s in states] == ["passed", "open"]


def test_the_refusal_to_edit_a_used_paper_names_the_way_out(two_humanities, clock):
    old, physician = two_humanities["old"], two_humanities["physician"]
    _running_attempt(old, two_humanities["window"], physician, clock.now())
    with pytest.raises(ops.PaperRefused) as err:
        ops.save_paper(two_humanities["cycle"].id, paper_spec(duration_minutes=90), now=clock.now())
    assert "设为当前使用" in err.value.problems[0] and "新建试卷" not in err.value.problems[0]


def test_the_papers_page_shows_and_changes_the_paper_in_use(client, two_humanities):
    login_as(client, Role.ADMIN)
    html = client.get("/admin/papers").get_data(as_text=True)
    rows = {r.split("</tr>")[0] for r in html.split("<tr>")[1:]}
    hum = next(r for r in rows if ">HUM<" in r)
    hum2 = next(r for r in rows if ">HUM2<" in r)
    assert "当前使用" in hum and "设为当前使用" not in hum
    assert "未使用" in hum2 and "设为当前使用" in hum2
    response = client.post(f"/admin/papers/{two_humanities['new'].id}/assign")
    assert response.status_code == 302
    page = client.get("/admin/papers").get_data(as_text=True)
    assert "「新医学人文测评试卷」已设为当前使用" in page
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "paper.assign")
    ).one()
    assert event.object_id == str(two_humanities["new"].id)
    assert event.detail["replaced"] == ["HUM"]


def test_viewers_cannot_assign(client, two_humanities):
    login_as(client, Role.VIEWER)
    assert "设为当前使用" not in client.get("/admin/papers").get_data(as_text=True)
    assert client.post(f"/admin/papers/{two_humanities['new'].id}/assign").status_code == 403


def test_assigning_over_the_api_and_the_command_line(client, runner, two_humanities, clock):
    old, new = two_humanities["old"], two_humanities["new"]
    login_as(client, Role.ADMIN)
    listed = {
        p["code"]: p["in_use"] for p in client.get("/api/v1/admin/papers").get_json()["papers"]
    }
    assert len(listed["HUM"]) == 8 and listed["HUM2"] == []
    _running_attempt(old, two_humanities["window"], two_humanities["physician"], clock.now())
    db.session.commit()
    refused = client.post(f"/api/v1/admin/papers/{new.id}/assign")
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "assign_refused"
    result = runner.invoke(args=["papers", "assign", "HUM2"])
    assert result.exit_code != 0 and "1 场测评正在进行" in result.output
    attempt_ops.submit_attempt(
        db.session.scalars(sa.select(Attempt)).one().id,
        now=clock.now(),
        reason=SubmitReason.CANDIDATE,
    )
    db.session.commit()
    assert client.post(f"/api/v1/admin/papers/{new.id}/assign").get_json()["replaced"] == ["HUM"]
    result = runner.invoke(args=["papers", "assign", "HUM"])
    assert result.exit_code == 0 and "replacing HUM2" in result.output
    assert "当前使用" in runner.invoke(args=["papers", "list"]).output
