"""The file adapter: CSV (UTF-8, GBK) and XLSX, Chinese headers, all rows or none."""

from __future__ import annotations

import io
import zipfile

import pytest
import sqlalchemy as sa
from openpyxl import Workbook, load_workbook

from examsvc.extensions import db
from examsvc.roster import files, operations
from examsvc.roster.models import Physician
from tests.factories import create_cycle, resident_id

HEADER = [
    "报名编号",
    "状态",
    "证件类型",
    "证件号码",
    "姓名",
    "性别",
    "出生日期",
    "手机号码",
    "机构编码",
    "机构名称",
    "科室",
    "执业类别",
    "执业级别",
    "考核程序",
    "免考",
    "工作成绩",
    "职业道德",
]


def row(n: int, **changes: str) -> list[str]:
    values = {
        "报名编号": f"HN2026-{n:07d}",
        "状态": "报名完成",
        "证件类型": "居民身份证",
        "证件号码": resident_id(n),
        "姓名": f"文件医师{n}",
        "性别": "女",
        "出生日期": "1980-01-01",
        "手机号码": "13800000000",
        "机构编码": "HN-1",
        "机构名称": "测试医院",
        "科室": "内科",
        "执业类别": "临床",
        "执业级别": "执业医师",
        "考核程序": "简易程序",
        "免考": "",
        "工作成绩": "合格",
        "职业道德": "合格",
    } | changes
    return [values[h] for h in HEADER]


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8-sig") -> bytes:
    lines = [",".join(HEADER)] + [",".join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode(encoding)


def xlsx_bytes(rows: list[list[str]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for r in rows:
        sheet.append(r)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gbk"])
def test_csv_in_every_encoding_imports(app, clock, encoding):
    cycle = create_cycle()
    items = files.parse(
        csv_bytes([row(1), row(2, 考核程序="一般程序", 免考="业务")], encoding), "名单.csv"
    )
    operations.import_items(cycle, items, now=clock.now())
    db.session.commit()
    stored = db.session.scalars(sa.select(Physician).order_by(Physician.registration_id)).all()
    assert [p.name for p in stored] == ["文件医师1", "文件医师2"]
    assert stored[1].procedure.value == "general" and stored[1].exempt_professional


def test_xlsx_imports(app, clock):
    cycle = create_cycle()
    operations.import_items(cycle, files.parse(xlsx_bytes([row(1)]), "名单.xlsx"), now=clock.now())
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Physician)) == 1


def test_every_problem_is_reported_and_nothing_is_stored(app, clock):
    create_cycle()
    rows = [
        row(1),
        row(2, 执业类别="外科"),
        row(3, 姓名=""),
        row(4, 出生日期="1980-13-45"),
        row(1, 证件号码=resident_id(9)),
    ]
    with pytest.raises(files.RosterFileError) as err:
        files.parse(xlsx_bytes(rows), "名单.xlsx")
    found = {(p.row, p.column) for p in err.value.problems}
    assert found == {(3, "执业类别"), (4, "姓名"), (5, "出生日期"), (6, "报名编号")}
    assert any("外科" in p.message for p in err.value.problems)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Physician)) == 0


def test_duplicate_id_numbers_reject_the_file(app, clock):
    cycle = create_cycle()
    items = files.parse(csv_bytes([row(1), row(2, 证件号码=resident_id(1))]), "x.csv")
    with pytest.raises(files.RosterFileError) as err:
        operations.import_items(cycle, items, now=clock.now())
    assert err.value.problems[0].row == 3
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Physician)) == 0


def test_missing_columns_are_named(app):
    with pytest.raises(files.RosterFileError) as err:
        files.parse("报名编号,姓名\nA,B\n".encode(), "x.csv")
    assert "缺少「证件号码」列" in [p.message for p in err.value.problems]


def test_template_has_instructions_and_parses_its_example(app):
    data = files.template()
    workbook = load_workbook(io.BytesIO(data))
    assert workbook.sheetnames == ["名单", "填写说明"]
    assert len(files.parse(data, "template.xlsx")) == 1


def test_rows_past_the_limit_stop_the_reading_at_that_row(monkeypatch):
    monkeypatch.setattr(files, "MAX_ROWS", 3)
    with pytest.raises(files.RosterFileError) as refused:
        files.parse(csv_bytes([row(n) for n in range(1, 10)]), "名单.csv")
    assert [p.as_dict() for p in refused.value.problems] == [
        {"row": 5, "column": "-", "message": "一次最多导入 3 行"}
    ]


def test_a_wide_row_is_refused_at_its_row_and_column():
    data = xlsx_bytes([row(1), row(2) + [""] * (files.MAX_COLUMNS - len(HEADER)) + ["多余"]])
    with pytest.raises(files.RosterFileError) as refused:
        files.parse(data, "名单.xlsx")
    assert [p.as_dict() for p in refused.value.problems] == [
        {"row": 3, "column": "AY", "message": "最多 50 列，请删除多余的列"}
    ]


def test_a_zip_bomb_is_refused_before_parsing():
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(xlsx_bytes([row(1)]))) as source,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for member in source.infolist():
            target.writestr(member, source.read(member))
        target.writestr("xl/media/padding.bin", b"\0" * (50 * 1024 * 1024))
    with pytest.raises(files.RosterFileError) as refused:
        files.parse(buffer.getvalue(), "名单.xlsx")
    [problem] = refused.value.problems
    assert problem.row == 0 and "已拒绝" in problem.message
