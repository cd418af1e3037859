"""The demo data loads twice without harm, and a demo physician can log in and enrol a photo."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from examsvc import create_app
from examsvc.accounts.ids import to_15
from examsvc.accounts.models import User
from examsvc.demo.data import PHYSICIANS, demo_id
from examsvc.enums import PhotoStatus, Role
from examsvc.extensions import db
from examsvc.roster.models import Physician


def test_demo_load_is_repeatable_and_prints_accounts(runner):
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    assert "admin" in first.output and "666666" in first.output
    second = runner.invoke(args=["demo", "load"])
    assert second.exit_code == 0, second.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Physician)) == len(PHYSICIANS)
    procedures = {p.procedure.value for p in db.session.scalars(sa.select(Physician))}
    assert procedures == {"simple", "general"}
    staff = {u.role for u in db.session.scalars(sa.select(User).where(User.role != Role.PHYSICIAN))}
    assert staff == {Role.ADMIN, Role.INVIGILATOR, Role.VIEWER}


def test_demo_physician_logs_in_with_15_digits_changes_password_and_sees_home(runner, client):
    runner.invoke(args=["demo", "load"])
    n, birth = PHYSICIANS[0][0], PHYSICIANS[0][8]
    response = client.post("/login", data={"login": to_15(demo_id(n, birth)), "password": "666666"})
    assert response.headers["Location"].endswith("/account/password")
    client.post(
        "/account/password", data={"old": "666666", "new": "Demo-Doc-1", "repeat": "Demo-Doc-1"}
    )
    home = client.get("/home")
    html = home.get_data(as_text=True)
    assert home.status_code == 200
    assert "考核安排" in html and "简易程序" in html and "报名完成-等待测评" in html
    assert demo_id(n, birth) not in html  # masked


def test_exempt_paper_shows_exam_free_pass(runner, client):
    runner.invoke(args=["demo", "load"])
    n, birth = PHYSICIANS[2][0], PHYSICIANS[2][8]  # general procedure, professional exempt
    user = db.session.scalars(sa.select(User).where(User.login == demo_id(n, birth))).one()
    user.must_change_password = False
    db.session.commit()
    client.post("/login", data={"login": demo_id(n, birth), "password": "666666"})
    assert "免考通过" in client.get("/home").get_data(as_text=True)


@pytest.fixture
def demo_client(migrated_database, clock, tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "DEMO_MODE": True,
            "DATABASE_URL": migrated_database,
            "DATA_DIR": str(tmp_path / "data"),
            "CLOCK": clock,
            "WTF_CSRF_ENABLED": False,
        }
    )
    with app.app_context():
        from examsvc.clock import now
        from examsvc.demo import data

        data.load(now=now())
        user = db.session.scalars(
            sa.select(User).where(User.login == demo_id(1, PHYSICIANS[0][8]))
        ).one()
        user.must_change_password = False
        db.session.commit()
        client = app.test_client()
        client.post("/login", data={"login": user.login, "password": "666666"})
        yield client
        db.session.remove()
        from tests.conftest import _clear_tables

        _clear_tables()
        db.engine.dispose()


def test_demo_enrolment_stores_a_checked_photo(demo_client, faces_photos):
    assert demo_client.get("/demo/photo").status_code == 200
    bad = demo_client.post(
        "/api/v1/demo/photo",
        data={"photo": (io.BytesIO(faces_photos["two"]), "p.jpg")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "multiple_faces"
    good = demo_client.post(
        "/api/v1/demo/photo",
        data={"photo": (io.BytesIO(faces_photos["obama"]), "p.jpg")},
        content_type="multipart/form-data",
    )
    assert good.status_code == 200
    physician = db.session.scalars(
        sa.select(Physician).where(Physician.registration_id == "DEMO-0001")
    ).one()
    assert physician.photo_status == PhotoStatus.OK and len(physician.face_encoding or b"") == 1024


def test_enrolment_does_not_exist_outside_demo_mode(client):
    assert client.get("/demo/photo").status_code == 404


def test_demo_has_sample_banks_papers_and_windows(runner):
    from examsvc.banks.models import QuestionBank
    from examsvc.papers.models import ExamWindow, Paper

    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["demo", "load"]).exit_code == 0  # again: nothing doubled
    assert db.session.scalar(sa.select(sa.func.count()).select_from(QuestionBank)) == 5
    papers = db.session.scalars(sa.select(Paper).order_by(Paper.code)).all()
    assert len(papers) == 5
    professional = [p for p in papers if p.kind.value == "professional"]
    assert all(p.prerequisite and p.prerequisite.code == "HUM-2026" for p in professional)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ExamWindow)) == 10
