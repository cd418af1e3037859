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
