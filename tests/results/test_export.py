"""The results export (XLSX and CSV, the same fields), for agencies without the API."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import openpyxl
import pytest
import sqlalchemy as sa

from examsvc.audit.models import AuditEvent
from examsvc.enums import Role, WindowRound
from examsvc.extensions import db
from examsvc.results.export import HEADER
from examsvc.results.models import DeliveryStatus, ResultVerdict
from tests.conftest import T0
from tests.factories import create_cycle, create_physician, login_as
from tests.factories_exam import create_attempt, create_bank, create_paper, create_window
from tests.results.result_factory import create_result, paper

EXPECTED_HEADER = [
    "报名编号",
    "姓名",
    "证件号码",
    "工作单位",
    "结论",
    "轮次",
    "医学人文状态",
    "医学人文得分",
    "医学人文次数",
    "业务水平状态",
    "业务水平得分",
    "业务水平次数",
    "结果认定时间",
    "回传状态",
]


@pytest.fixture
def results():
    cycle = create_cycle()
    a = create_physician(
        cycle,
        name="张三",
        registration_id="HN-2026-A",
        institution_code="I-1",
        institution_name="第一人民医院",
    )
    b = create_physician(
        cycle,
        name="=李四",  # a cell a spreadsheet would take for a formula
        registration_id="HN-2026-B",
        institution_code="I-2",
        institution_name="中心医院",
    )
    create_result(a, DeliveryStatus.SUPERSEDED, ResultVerdict.FAIL)
    create_result(
        a,
        DeliveryStatus.DELIVERED,
        ResultVerdict.PASS,
        WindowRound.MAKEUP,
        papers=[
            paper("humanities", "passed", 86.0, attempts_used=3),
            paper("professional", "passed", 72.5, attempts_used=2),
        ],
        decided_at=T0 + timedelta(days=1),
    )
    create_result(
        b,
        DeliveryStatus.REFUSED,
        ResultVerdict.FAIL,
        papers=[
            paper("humanities", "exempt", None, attempts_used=0),
            paper("professional", "absent", None, attempts_used=0),
        ],
        last_http_status=409,
        last_error="locked",
    )
    db.session.commit()
    return a, b


def expected_rows(a, b, *, masked: bool):
    def number(p):
        n = p.id_number
        return f"{n[:3]}*****{n[-4:]}" if masked else n

    return [
        [
            "HN-2026-A", "张三", number(a), "第一人民医院", "合格", "补考",
            "合格", 86.0, 3, "合格", 72.5, 2, "2026-05-13 09:00:00", "已回传",
        ],
        [
            "HN-2026-B", "=李四", number(b), "中心医院", "不合格", "常规",
            "免考", None, 0, "缺考", None, 0, "2026-05-12 09:00:00", "回传被拒",
        ],
    ]  # fmt: skip


def read_xlsx(data: bytes) -> list[list]:
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    return [list(r) for r in sheet.iter_rows(values_only=True)]


def read_csv(data: bytes) -> list[list]:
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM: Excel opens it as such
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_admin_exports_full_ids_in_xlsx_and_csv_with_the_same_fields(client, results):
    a, b = results
    admin = login_as(client, Role.ADMIN)
    response = client.get("/admin/results/export.xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == "attachment; filename=results-HN-2026.xlsx"
    rows = read_xlsx(response.data)
    assert HEADER == EXPECTED_HEADER
    assert rows[0] == EXPECTED_HEADER
    expected = expected_rows(a, b, masked=False)
    assert rows[1:] == expected  # one row per physician: the newest result, not the replaced one

    response = client.get("/admin/results/export.csv")
    assert response.mimetype == "text/csv"
    lines = read_csv(response.data)
    assert lines[0] == EXPECTED_HEADER
    as_text = [["" if v is None else str(v) for v in row] for row in expected]
    as_text[1][1] = "'=李四"  # quoted in CSV too, so Excel shows it as text
    assert lines[1:] == as_text

    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "results.export").order_by(AuditEvent.id)
    ).all()
    assert [(e.detail["format"], e.detail["rows"], e.detail["full_ids"]) for e in events] == [
        ("xlsx", 2, True),
        ("csv", 2, True),
    ]
    assert all(e.actor_id == admin.id for e in events)


def test_a_formula_like_cell_stays_text_in_the_workbook(client, results):
    login_as(client, Role.ADMIN)
    sheet = openpyxl.load_workbook(io.BytesIO(client.get("/admin/results/export.xlsx").data)).active
    cell = sheet["B3"]
    assert cell.value == "=李四" and cell.data_type == "s"


def test_viewer_exports_masked_ids(client, results):
    a, b = results
    login_as(client, Role.VIEWER)
    rows = read_xlsx(client.get("/admin/results/export.xlsx").data)
    assert rows[1:] == expected_rows(a, b, masked=True)
    text = client.get("/admin/results/export.csv").data.decode("utf-8-sig")
    assert a.id_number not in text and b.id_number not in text
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "results.export")
    ).first()
    assert event.detail["full_ids"] is False


def test_export_by_institution(client, results):
    login_as(client, Role.ADMIN)
    rows = read_xlsx(client.get("/admin/results/export.xlsx?institution=I-2").data)
    assert [r[0] for r in rows[1:]] == ["HN-2026-B"]


def test_export_by_exam_window(client, results):
    """An exam window's export: the physicians who sat in it, with a result of its round."""
    a, b = results
    create_bank(now=T0)
    paper_ = create_paper(a.cycle_id, T0)
    makeup = create_window(paper_, T0 + timedelta(days=20), round=WindowRound.MAKEUP)
    regular = create_window(paper_, T0 - timedelta(days=20))
    create_attempt(a, paper_, makeup, "passed")
    create_attempt(b, paper_, makeup, "failed")  # sat the makeup; its result is the regular's
    create_attempt(b, paper_, regular, "failed")
    db.session.commit()
    login_as(client, Role.ADMIN)
    rows = read_xlsx(client.get(f"/admin/results/export.xlsx?window={makeup.id}").data)
    assert [r[0] for r in rows[1:]] == ["HN-2026-A"]
    rows = read_xlsx(client.get(f"/admin/results/export.xlsx?window={regular.id}").data)
    assert [r[0] for r in rows[1:]] == ["HN-2026-B"]
    page = client.get("/admin/results").get_data(as_text=True)
    assert "HUM 测评试卷 · 补考 · 2026-06-01 09:00" in page  # the window in the filter
