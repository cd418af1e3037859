"""Test sites and exam sessions: their invigilators and candidates (moved from tests/papers)."""

from __future__ import annotations

import sqlalchemy as sa

from examsvc.enums import Role
from examsvc.extensions import db
from tests.factories import create_cycle, login_as
from tests.factories_exam import create_bank, create_paper, create_window, paper_window


def test_sites_and_sessions_with_invigilators_and_candidates(client, clock):
    from examsvc.invigilation.models import ExamSession, session_candidates, session_invigilators
    from tests.factories import create_physician, create_user

    cycle = create_cycle()
    create_bank(now=clock.now())
    paper = create_paper(cycle.id, clock.now())
    window = create_window(paper, clock.now())
    physicians = [create_physician(cycle) for _ in range(2)]
    invigilator = create_user(Role.INVIGILATOR, display_name="监考甲")
    viewer = create_user(Role.VIEWER)
    db.session.commit()
    login_as(client)
    client.post("/admin/sites", data={"code": "S1", "name": "第一考点", "address": "长沙"})
    from examsvc.invigilation.models import Site

    site = db.session.scalars(sa.select(Site)).one()
    client.post(
        "/admin/sessions",
        data={"window_id": str(window.id), "site_id": str(site.id), "name": "第一场"},
    )
    session = db.session.scalars(sa.select(ExamSession)).one()
    # An unknown registration id rejects the whole list; a viewer cannot invigilate.
    client.post(
        f"/admin/sessions/{session.id}",
        data={
            "invigilators": [str(invigilator.id)],
            "candidates": f"{physicians[0].registration_id}\nNOPE",
        },
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(session_candidates)) == 0
    client.post(
        f"/admin/sessions/{session.id}", data={"invigilators": [str(viewer.id)], "candidates": ""}
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(session_invigilators)) == 0
    ids = "，".join(p.registration_id for p in physicians)
    client.post(
        f"/admin/sessions/{session.id}",
        data={"invigilators": [str(invigilator.id)], "candidates": ids},
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(session_candidates)) == 2
    page = client.get("/admin/sessions").get_data(as_text=True)
    assert "第一考点" in page and "监考甲" in page and "考生 2 人" in page


def test_candidates_by_id_number_and_every_bad_line_named(client, clock):
    from examsvc.accounts.ids import to_15
    from examsvc.enums import RegistrationStatus
    from examsvc.invigilation import operations as ops
    from examsvc.invigilation.models import session_candidates, session_invigilators
    from tests.factories import create_physician, create_user

    cycle = create_cycle()
    create_bank(now=clock.now())
    window = create_window(create_paper(cycle.id, clock.now()), clock.now())
    session = ops.create_session(window, "第一场", None)
    by_reg, by_18, by_15 = (create_physician(cycle) for _ in range(3))
    x_id = "11010519491231002X"  # a valid ID number ending in X, given in lower case below
    by_x = create_physician(cycle, id_number=x_id)
    gone = create_physician(cycle, status=RegistrationStatus.WITHDRAWN, name="退出者")
    invigilator = create_user(Role.INVIGILATOR, display_name="监考甲")
    db.session.commit()
    login_as(client)
    good = [
        by_reg.registration_id,
        by_18.id_number,
        to_15(by_15.id_number),
        x_id.lower(),
    ]
    bad = "430102198001010013", "HN-2026-9999999", gone.id_number
    text = "\n".join([*good[:2], bad[0], good[2], bad[1], good[3], bad[2]])
    response = client.post(
        f"/admin/sessions/{session.id}",
        data={"invigilators": [str(invigilator.id)], "candidates": text},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    # Nothing saved, the form comes back as it was sent, each bad line named with its number.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(session_candidates)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(session_invigilators)) == 0
    assert f">{text}</textarea>" in html and f'value="{invigilator.id}" checked' in html
    assert "<td>3</td><td>430102198001010013</td><td>身份证号码最后一位校验码不正确" in html
    assert "<td>5</td><td>HN-2026-9999999</td><td>本周期名单中没有此报名编号或证件号码" in html
    assert f"<td>7</td><td>{gone.id_number}</td><td>退出者已退出本周期考核" in html
    response = client.post(
        f"/admin/sessions/{session.id}",
        data={"invigilators": [str(invigilator.id)], "candidates": "\n".join(good)},
    )
    assert response.status_code == 302
    saved = set(db.session.scalars(sa.select(session_candidates.c.physician_id)))
    assert saved == {by_reg.id, by_18.id, by_15.id, by_x.id}


def test_site_and_session_forms_name_the_bad_field_and_keep_what_was_typed(client, clock):
    from examsvc.invigilation.models import ExamSession, Site

    window = paper_window(clock.now())
    db.session.commit()
    login_as(client)
    refused = client.post("/admin/sites", data={"code": "", "name": "第二考点", "address": "株洲"})
    assert refused.status_code == 302
    page = client.get("/admin/sessions").get_data(as_text=True)
    assert "考点编号：必须填写" in page
    assert 'name="name" required maxlength="200" value="第二考点"' in page
    assert 'value="株洲"' in page
    assert "考点编号：必须填写" not in client.get("/admin/sessions").get_data(as_text=True)
    client.post("/admin/sites", data={"code": "S2", "name": "第二考点"})
    taken = client.post("/admin/sites", data={"code": "S2", "name": "又一考点"})
    page = client.get(taken.location).get_data(as_text=True)
    assert "考点编号 S2 已存在" in page and 'value="又一考点"' in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Site)) == 1

    client.post("/admin/sessions", data={"window_id": str(window.id), "name": "  "})
    page = client.get("/admin/sessions").get_data(as_text=True)
    assert "场次名称：" in page and f'<option value="{window.id}" selected>' in page
    client.post("/admin/sessions", data={"window_id": "abc", "name": "第三场"})
    page = client.get("/admin/sessions").get_data(as_text=True)
    assert "考试时间：应为整数" in page and 'value="第三场"' in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ExamSession)) == 0


def test_assigning_a_bad_invigilator_id_is_named_and_the_candidates_are_kept(client, clock):
    from examsvc.invigilation.models import ExamSession

    window = paper_window(clock.now())
    db.session.add(ExamSession(window_id=window.id, name="第一场", settings={}))
    db.session.commit()
    login_as(client)
    session = db.session.scalars(sa.select(ExamSession)).one()
    page = client.post(
        f"/admin/sessions/{session.id}", data={"invigilators": ["abc"], "candidates": "HN-1\nHN-2"}
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and "监考人员：应为整数" in html
    assert "HN-1\nHN-2</textarea>" in html
