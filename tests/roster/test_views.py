"""The agency's roster pages: roles, masking, imports over HTTP, the pull in a child process."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from examsvc.enums import Role
from examsvc.extensions import db
from examsvc.roster.jobs import wait_children
from examsvc.roster.models import Physician
from tests.factories import create_cycle, create_physician, login_as
from tests.roster.fake_registry import TOKEN, item
from tests.roster.test_files import csv_bytes, row


def test_list_masks_id_numbers(client):
    physician = create_physician(create_cycle())
    db.session.commit()
    login_as(client, Role.ADMIN)
    page = client.get("/admin/roster").get_data(as_text=True)
    assert physician.name in page
    assert physician.id_number not in page and physician.id_number[-4:] in page
    api = client.get("/api/v1/admin/roster").get_json()
    assert (
        api["items"][0]["masked_id"] == physician.id_number[:3] + "*****" + physician.id_number[-4:]
    )


@pytest.mark.parametrize("role", [Role.INVIGILATOR, Role.PHYSICIAN])
def test_roster_is_for_the_agency_only(client, role):
    if role == Role.PHYSICIAN:
        p = create_physician(create_cycle(), password="Right-Pass1")
        p.user.must_change_password = False
        db.session.commit()
        client.post("/login", data={"login": p.id_number, "password": "Right-Pass1"})
    else:
        login_as(client, role)
    assert client.get("/admin/roster").status_code == 403
    assert client.get("/api/v1/admin/roster").status_code == 403


def test_viewer_reads_but_cannot_import(client):
    create_cycle()
    db.session.commit()
    login_as(client, Role.VIEWER)
    assert client.get("/admin/roster").status_code == 200
    response = client.post("/admin/roster/import", data={"file": (io.BytesIO(b"x"), "a.csv")})
    assert response.status_code == 403


def test_bad_file_over_http_shows_the_error_table_and_stores_nothing(client):
    create_cycle()
    db.session.commit()
    login_as(client, Role.ADMIN)
    data = csv_bytes([row(1), row(2, 执业类别="外科")])
    response = client.post(
        "/admin/roster/import",
        data={"file": (io.BytesIO(data), "名单.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "未导入任何数据" in html and "执业类别" in html and "<td>3</td>" in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Physician)) == 0
    api = client.post(
        "/api/v1/admin/roster/import",
        data={"file": (io.BytesIO(data), "名单.csv")},
        content_type="multipart/form-data",
    )
    assert api.status_code == 422 and api.get_json()["error"]["details"][0]["row"] == 3


def test_good_file_over_http_imports(client):
    create_cycle()
    db.session.commit()
    login_as(client, Role.ADMIN)
    response = client.post(
        "/admin/roster/import",
        data={"file": (io.BytesIO(csv_bytes([row(1)])), "名单.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Physician)) == 1


def test_photo_is_served_only_to_admins_and_never_cached(app, client, faces_photos):
    from examsvc.roster import photos

    physician = create_physician(create_cycle())
    physician.photo_sha256 = photos.store(app.config["DATA_DIR"], faces_photos["obama"])
    db.session.commit()
    login_as(client, Role.VIEWER)
    assert client.get(f"/admin/roster/{physician.id}/photo").status_code == 403
    admin_client = app.test_client()
    login_as(admin_client, Role.ADMIN)
    response = admin_client.get(f"/admin/roster/{physician.id}/photo")
    assert response.status_code == 200 and response.data == faces_photos["obama"]
    assert response.headers["Cache-Control"] == "private, no-store"


def test_pull_without_a_registry_says_so(client):
    login_as(client, Role.ADMIN)
    response = client.post("/api/v1/admin/roster/pull")
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "no_registry"


def test_pull_now_runs_in_a_child_process(app, client, registry, monkeypatch):
    monkeypatch.setenv("EXAMSVC_REGISTRY_TOKEN", TOKEN)
    app.config.update(
        REGISTRY_BASE_URL=registry.url, REGISTRY_CYCLE="HN-2026", REGISTRY_TOKEN=TOKEN
    )
    registry.add(item(1, id_number="11010519491231002X", updated_at="2026-04-01T10:00:00+08:00"))
    login_as(client, Role.ADMIN)
    response = client.post("/api/v1/admin/roster/pull")
    assert response.status_code == 202
    assert wait_children() == [0]
    db.session.expire_all()
    stored = db.session.scalars(sa.select(Physician)).all()
    assert [p.registration_id for p in stored] == ["HN2026-0000001"]


# --- progress, in the manuals' words ---------------------------------------------------


def _sat(paper, physician, now, *, score: float) -> None:
    """A submitted attempt on ``paper`` with ``score`` (graded as the rules grade it)."""
    from examsvc.attempts import operations as attempt_ops
    from examsvc.enums import SubmitReason
    from tests.papers.test_papers import _running_attempt

    attempt = _running_attempt(paper, paper.windows[0], physician, now)
    attempt_ops.submit_attempt(attempt.id, now=now, reason=SubmitReason.CANDIDATE)
    attempt.score, attempt.passed = score, score >= paper.pass_mark
    db.session.flush()


@pytest.fixture
def exam_cycle(app, clock):
    from datetime import timedelta

    from examsvc.enums import PaperKind, WindowRound
    from tests.factories_exam import create_bank, create_paper, create_window

    cycle = create_cycle()
    create_bank(now=clock.now())
    create_bank("clinical", PaperKind.PROFESSIONAL, now=clock.now())
    hum = create_paper(cycle.id, clock.now(), code="HUM", name="医学人文测评试卷")
    pro = create_paper(
        cycle.id,
        clock.now(),
        code="PRO",
        name="业务水平临床测评试卷",
        kind="professional",
        bank="clinical",
        prerequisite="HUM",
    )
    for paper in (hum, pro):
        create_window(paper, clock.now() - timedelta(hours=1), hours=2)
        create_window(paper, clock.now() + timedelta(days=20), round=WindowRound.MAKEUP)
    return {"cycle": cycle, "hum": hum, "pro": pro}


def test_roster_shows_each_physicians_current_task(client, clock, exam_cycle):
    from examsvc.enums import Procedure

    cycle, hum, pro = exam_cycle["cycle"], exam_cycle["hum"], exam_cycle["pro"]
    passed = create_physician(cycle, Procedure.GENERAL, name="甲合格")
    _sat(hum, passed, clock.now(), score=90)
    _sat(pro, passed, clock.now(), score=80)
    create_physician(cycle, Procedure.SIMPLE, name="乙免考", exempt_humanities=True)
    failed = create_physician(cycle, Procedure.GENERAL, name="丙补考")
    _sat(hum, failed, clock.now(), score=40)
    create_physician(cycle, Procedure.SIMPLE, name="丁新报名")
    db.session.commit()
    login_as(client, Role.ADMIN)
    html = client.get("/admin/roster").get_data(as_text=True)
    rows = {r.split("</tr>")[0] for r in html.split("<tr>")[1:]}

    def row(name: str) -> str:
        return next(r for r in rows if name in r and "程序" in r)  # not the photo table

    assert "测评完成-合格" in row("甲合格") and "业务水平临床测评试卷：合格" in row("甲合格")
    assert "测评完成-合格" in row("乙免考") and "医学人文测评试卷：免考通过" in row("乙免考")
    assert "不合格-等待补考" in row("丙补考")
    assert "报名完成-等待测评" in row("丁新报名") and "医学人文测评试卷：可以测评" in row(
        "丁新报名"
    )
    api = client.get("/api/v1/admin/roster").get_json()
    tasks = {item["name"]: item["current_task"] for item in api["items"]}
    assert tasks["甲合格"] == "测评完成-合格" and tasks["丙补考"] == "不合格-等待补考"


def test_roster_detail_lists_attempts_and_results_in_words(client, clock, exam_cycle):
    from examsvc.enums import Evaluation, Procedure

    physician = create_physician(
        exam_cycle["cycle"], Procedure.GENERAL, eval_ethics=Evaluation.PENDING
    )
    _sat(exam_cycle["hum"], physician, clock.now(), score=90)
    db.session.commit()
    login_as(client, Role.ADMIN)
    html = client.get(f"/admin/roster/{physician.id}").get_data(as_text=True)
    assert "报名完成-等待测评" in html  # the professional paper is still to sit
    assert "医学人文测评试卷" in html and "第1次" in html and "2026-05-12 09:00" in html
    assert ">90.0<" in html and "合格" in html and "可以测评" in html
    assert "待评定" in html and "pending" not in html and ">pass<" not in html
    assert physician.id_number not in html and physician.id_number[-4:] in html


def test_viewers_see_no_link_they_cannot_open(client, exam_cycle):
    physician = create_physician(exam_cycle["cycle"])
    db.session.commit()
    login_as(client, Role.VIEWER)
    html = client.get("/admin/roster").get_data(as_text=True)
    assert f'href="/admin/roster/{physician.id}"' in html  # the physician's page: read-only
    assert "导入名单文件" not in html
    page = client.get(f"/admin/roster/{physician.id}").get_data(as_text=True)
    assert "个人特殊安排" in page and "暂无个人特殊安排" in page
    assert "/overrides/" not in page and "/allowance" not in page and "/photo" not in page


def test_the_allowance_form_names_the_bad_value_and_keeps_it(client):
    physician = create_physician(create_cycle())
    db.session.commit()
    login_as(client)
    url = f"/admin/roster/{physician.id}/allowance"
    page = client.post(url, data={"minutes": "300"}, follow_redirects=True)
    html = page.get_data(as_text=True)
    assert "每次测评延长时间（分钟）：不能大于 240" in html and 'value="300"' in html
    page = client.post(url, data={"minutes": "90"}, follow_redirects=True)  # over the cap
    html = page.get_data(as_text=True)
    assert "每次测评延长时间（分钟）：不能超过上限 60 分钟" in html and 'value="90"' in html
    page = client.post(url, data={"minutes": "三十"}, follow_redirects=True)
    assert "每次测评延长时间（分钟）：应为整数" in page.get_data(as_text=True)
    db.session.refresh(physician)
    assert physician.time_allowance_minutes == 0
    page = client.post(url, data={"minutes": "30"}, follow_redirects=True)
    assert "已保存" in page.get_data(as_text=True) and 'value="30"' in page.get_data(as_text=True)
    db.session.refresh(physician)
    assert physician.time_allowance_minutes == 30
