"""Importing banks through the pages, the API and the command line: all or nothing."""

from __future__ import annotations

import io
import json

import pytest
import sqlalchemy as sa

from examsvc.audit.models import AuditEvent
from examsvc.banks.models import BankVersion, Question, QuestionBank
from examsvc.enums import Role
from examsvc.extensions import db
from question_banks.template import build_template
from tests.factories import login_as
from tests.factories_exam import create_bank, make_parsed
from tests.html_text import visible_text
from tests.question_banks.test_parsing import row, xlsx


def upload(client, data: bytes, name: str, url: str = "/admin/banks/import", **form: str):
    fields = {
        "file": (io.BytesIO(data), name),
        "code": "humanities",
        "name": "医学人文题库",
        "kind": "humanities",
    }
    return client.post(url, data=fields | form, content_type="multipart/form-data")


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_template_downloads_and_imports(client):
    login_as(client)
    template = client.get("/admin/banks/template.xlsx")
    assert template.status_code == 200 and template.data[:2] == b"PK"
    response = upload(client, template.data, "模板.xlsx")
    assert response.status_code == 302
    assert count(Question) == 5 and count(BankVersion) == 1
    assert db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "bank.import")
    ).first()


def test_broken_file_shows_every_problem_and_stores_nothing(client):
    login_as(client)
    data = xlsx(
        [row(), row(题目编号="Q2", 答案="F", 题干="二"), row(题目编号="Q3", 题型="论述", 题干="三")]
    )
    response = upload(client, data, "题库.xlsx")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "未导入任何题目" in html and "不在选项" in html and "未知题型" in html
    assert "<td>3</td><td>答案</td>" in html
    assert count(Question) == 0 and count(QuestionBank) == 0
    api = upload(client, data, "题库.xlsx", url="/api/v1/admin/banks/import")
    details = api.get_json()["error"]["details"]
    assert api.status_code == 422 and [(d["row"], d["column"]) for d in details] == [
        (3, "答案"),
        (4, "题型"),
    ]
    assert count(Question) == 0


def test_reimport_makes_a_new_version_and_browse_searches_it(client):
    login_as(client)
    upload(client, build_template(), "v1.xlsx")
    upload(client, build_template(), "v2.xlsx")
    bank = db.session.scalars(sa.select(QuestionBank)).one()
    assert [
        v.number for v in db.session.scalars(sa.select(BankVersion).order_by(BankVersion.number))
    ] == [1, 2]
    page = client.get(f"/admin/banks/{bank.id}?q=知情同意").get_data(as_text=True)
    assert "第 2 版" in page and "EX-0100" in page and "EX-0001" not in page
    exported = client.get(f"/admin/banks/{bank.id}/export.xlsx")
    assert exported.status_code == 200 and exported.data[:2] == b"PK"


@pytest.mark.parametrize("role", [Role.INVIGILATOR, Role.VIEWER])
def test_only_admins_import(client, role):
    login_as(client, role)
    assert upload(client, build_template(), "t.xlsx").status_code == 403
    assert client.get("/admin/banks").status_code == (200 if role == Role.VIEWER else 403)


def test_the_bank_list_reads_as_numbers(client):
    login_as(client, Role.VIEWER)
    create_bank(per_type=3)  # 30 questions, 42 scoring items (groups count per sub-question)
    db.session.commit()
    text = visible_text(client.get("/admin/banks").get_data(as_text=True))
    assert "humanities 题库 humanities · 第 1 版 未开放学习 医学人文 30 题 计分小题 42 道" in text
    assert "built-in" not in text and "0x" not in text
    assert client.get("/api/v1/admin/banks").get_json()["banks"][0]["item_count"] == 42


def test_only_admins_export_the_keys(client):
    bank = create_bank(per_type=1).bank
    db.session.commit()
    login_as(client, Role.VIEWER)
    assert client.get(f"/admin/banks/{bank.id}/export.xlsx").status_code == 403
    page = visible_text(client.get(f"/admin/banks/{bank.id}").get_data(as_text=True))
    assert "导出 Excel" not in page and "开放学习" not in page.replace("未开放学习", "")
    login_as(client, Role.ADMIN)
    exported = client.get(f"/admin/banks/{bank.id}/export.xlsx")
    assert exported.status_code == 200 and exported.data[:2] == b"PK"
    assert "导出 Excel" in visible_text(
        client.get(f"/admin/banks/{bank.id}").get_data(as_text=True)
    )


def test_cli_import_reports_rows_and_stores_nothing_on_error(runner, tmp_path):
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(xlsx([row(答案="F")]))
    result = runner.invoke(
        args=["banks", "import", str(bad), "--code", "h", "--name", "人文", "--kind", "humanities"]
    )
    assert result.exit_code != 0 and "第 2 行「答案」列" in result.output and count(Question) == 0
    good = tmp_path / "bank.json"
    parsed = make_parsed("cli", ["医学伦理"], per_type=2)
    good.write_text(
        json.dumps(
            {
                "bank": {
                    "code": "cli",
                    "name": "命令行题库",
                    "kind": "humanities",
                    "practice_category": None,
                },
                "questions": parsed.questions,
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    result = runner.invoke(args=["banks", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert count(Question) == 10
    listing = runner.invoke(args=["banks", "list"])
    assert "cli" in listing.output and "v1" in listing.output


def test_a_bank_is_stored_in_chunks_every_question_once(app, monkeypatch):
    from examsvc.banks import operations
    from tests.factories_exam import create_bank

    monkeypatch.setattr(operations, "INSERT_CHUNK", 4)  # 2 tags × 5 types × 1: 10 questions
    version = create_bank(per_type=1)
    stored = db.session.scalars(
        sa.select(Question.external_id).where(Question.version_id == version.id)
    ).all()
    assert len(stored) == len(set(stored)) == version.question_count == 10


def test_import_form_says_what_is_missing_and_keeps_what_was_typed(client):
    login_as(client)
    template = client.get("/admin/banks/template.xlsx").data
    response = client.post(
        "/admin/banks/import",
        data={
            "file": (io.BytesIO(template), "模板.xlsx"),
            "code": "prof-a",
            "name": "业务题库甲",
            "kind": "professional",
        },
        content_type="multipart/form-data",
    )
    page = client.get(response.location).get_data(as_text=True)
    assert response.status_code == 302 and "业务水平题库须选择执业类别" in page
    assert 'value="业务题库甲"' in page and '<option value="professional" selected>' in page
    response = upload(client, template, "模板.xlsx", kind="bogus", code="x" * 65)
    page = client.get(response.location).get_data(as_text=True)
    assert "类型：“bogus” 不是允许的取值" in page and "题库编号：最多 64 个字符" in page
    assert count(Question) == 0 and count(QuestionBank) == 0
