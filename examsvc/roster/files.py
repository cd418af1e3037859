"""The file adapter: the roster from CSV or XLSX, one row per physician.

Every row is checked; any problem rejects the whole file (nothing is stored) and the
report names the row, the column and why, in Chinese.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from openpyxl import load_workbook
from openpyxl.worksheet.datavalidation import DataValidation

from examsvc.marks import N_
from examsvc.roster.operations import validate_item
from examsvc.roster.schemas import RosterFileError, RosterItem, RowProblem
from question_banks.sheets import (
    SheetLimit,
    capped_rows,
    cell_text,
    check_archive,
    csv_rows,
    new_sheet,
    workbook_bytes,
    xlsx_rows,
)

T = TypeVar("T")
MAX_ROWS = 100_000
MAX_COLUMNS = 50  # the template has 17

# (key, Chinese header, explanation for the instructions sheet)
COLUMNS: list[tuple[str, str, str]] = [
    ("registration_id", "报名编号", "登记系统中的报名记录编号，必填，唯一"),
    ("status", "状态", "approved/报名完成 或 withdrawn/退出"),
    ("id_type", "证件类型", "居民身份证、护照、港澳通行证、台湾通行证、其他"),
    ("id_number", "证件号码", "15位或18位身份证号，末位X大小写均可"),
    ("name", "姓名", "必填"),
    ("gender", "性别", "男/女（选填）"),
    ("birth_date", "出生日期", "如 1980-01-31（选填）"),
    ("phone", "手机号码", "选填"),
    ("institution_code", "机构编码", "必填"),
    ("institution_name", "机构名称", "必填"),
    ("department", "科室", "选填"),
    ("practice_category", "执业类别", "临床、口腔、公共卫生、中医"),
    ("physician_level", "执业级别", "执业医师、执业助理医师"),
    ("procedure", "考核程序", "简易程序、一般程序"),
    ("exemptions", "免考", "人文、业务，多项用分号分隔；无则留空"),
    ("work_performance", "工作成绩", "合格、不合格、待定"),
    ("ethics", "职业道德", "合格、不合格、待定"),
]
HEADERS = {zh: key for key, zh, _ in COLUMNS} | {key: key for key, _, _ in COLUMNS}

VALUES: dict[str, dict[str, str]] = {
    "status": {
        "报名完成": "approved",
        "报名完成-等待测评": "approved",
        "退出": "withdrawn",
        "调离": "withdrawn",
    },
    "id_type": {
        "居民身份证": "resident_id",
        "身份证": "resident_id",
        "护照": "passport",
        "港澳通行证": "hk_macao_permit",
        "港澳居民来往内地通行证": "hk_macao_permit",
        "台湾通行证": "taiwan_permit",
        "台湾居民来往大陆通行证": "taiwan_permit",
        "其他": "other",
    },
    "gender": {"男": "M", "女": "F"},
    "practice_category": {
        "临床": "clinical",
        "口腔": "dental",
        "公共卫生": "public_health",
        "中医": "tcm",
    },
    "physician_level": {
        "执业医师": "physician",
        "执业助理医师": "assistant",
        "助理医师": "assistant",
    },
    "procedure": {"简易程序": "simple", "简易": "simple", "一般程序": "general", "一般": "general"},
    "exemptions": {
        "人文": "humanities",
        "医学人文": "humanities",
        "业务": "professional",
        "业务水平": "professional",
    },
    "evaluation": {"合格": "pass", "不合格": "fail", "待定": "pending"},
}
FIELD_TO_COLUMN = {
    "institution.code": "institution_code",
    "institution.name": "institution_name",
    "evaluation.work_performance": "work_performance",
    "evaluation.ethics": "ethics",
}


def _text(value: Any) -> str:
    """A cell as text; a date cell as its day (birth dates)."""
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    return cell_text(value)


# A workbook from Excel or WPS has a dozen parts and never a DOCTYPE (entities, external DTDs).
MAX_XLSX_PARTS = 200
NOT_XLSX = N_("文件已损坏或不是有效的 Excel 文件（.xlsx）")
log = logging.getLogger(__name__)


def _check_xlsx(archive: zipfile.ZipFile) -> None:
    """Refuse a workbook with too many parts or with a DOCTYPE before any part's root element."""
    parts = archive.infolist()
    if len(parts) > MAX_XLSX_PARTS:
        raise ValueError(f"{len(parts)} parts")
    for part in parts:
        if part.filename.endswith((".xml", ".rels")):
            with archive.open(part) as stream:
                if b"<!DOCTYPE" in stream.read(4096).upper():
                    raise ValueError(f"DOCTYPE in {part.filename}")


def _xlsx_rows(data: bytes) -> list[list[str]]:
    """Every row of the first sheet; RosterFileError for a damaged or unsafe workbook."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            _check_xlsx(archive)
        _check(check_archive, data)
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            sheet = workbook.worksheets[0]
            return _check(list, _capped(xlsx_rows(sheet, max_columns=MAX_COLUMNS)))
        finally:
            workbook.close()
    except RosterFileError:
        raise
    except Exception as exc:  # a file from outside: whatever breaks the reader, refuse the file
        log.info("roster workbook refused: %s: %s", type(exc).__name__, exc)
        raise RosterFileError([RowProblem(0, "-", NOT_XLSX)]) from None


def _rows(data: bytes, filename: str) -> tuple[list[str], list[list[str]]]:
    if data[:4] == b"PK\x03\x04":
        rows = _xlsx_rows(data)
    else:
        read = csv_rows(data)
        if read is None:
            raise RosterFileError(
                [RowProblem(0, "-", N_("文件编码无法识别，请保存为 UTF-8 或 GBK 编码的 CSV"))]
            )
        rows = _check(list, _capped(read))
    rows = [r for r in rows if any(r)]
    if not rows:
        raise RosterFileError(
            [RowProblem(0, "-", N_("文件 {filename} 中没有数据", filename=filename))]
        )
    return rows[0], rows[1:]


def _capped(rows: Iterable[Sequence[Any]]) -> Iterator[list[str]]:
    return capped_rows(rows, max_rows=MAX_ROWS + 1, max_columns=MAX_COLUMNS, cell=_text)


def _check(read: Callable[[Any], T], source: Any) -> T:
    """``read(source)``, with a file past the limits refused as a roster problem."""
    try:
        return read(source)
    except SheetLimit as exc:
        raise RosterFileError([RowProblem(exc.row or 0, exc.column or "-", exc.message)]) from None


def _map(column: str, value: str) -> str:
    table = VALUES.get("evaluation" if column in ("work_performance", "ethics") else column, {})
    return table.get(value, value)


def parse(data: bytes, filename: str) -> list[RosterItem]:
    """All rows as roster items, or RosterFileError with every problem."""
    header, rows = _rows(data, filename)
    keys = [HEADERS.get(h.strip()) for h in header]
    problems: list[RowProblem] = []
    required = {
        "registration_id",
        "id_number",
        "name",
        "institution_code",
        "institution_name",
        "practice_category",
        "physician_level",
        "procedure",
        "work_performance",
        "ethics",
    }
    missing = required - {k for k in keys if k}
    for key in sorted(missing):
        zh = next(z for k, z, _ in COLUMNS if k == key)
        problems.append(RowProblem(1, zh, N_("缺少「{column}」列", column=zh)))
    if problems:
        raise RosterFileError(problems)
    zh_of = {k: z for k, z, _ in COLUMNS}
    items: list[RosterItem] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=2):
        values = {k: _map(k, row[i] if i < len(row) else "") for i, k in enumerate(keys) if k}
        raw: dict[str, Any] = {
            "registration_id": values.get("registration_id", ""),
            "status": values.get("status") or "approved",
            "id_type": values.get("id_type") or "resident_id",
            "id_number": values.get("id_number", ""),
            "name": values.get("name", ""),
            "gender": values.get("gender") or None,
            "birth_date": values.get("birth_date") or None,
            "phone": values.get("phone") or None,
            "institution": {
                "code": values.get("institution_code", ""),
                "name": values.get("institution_name", ""),
            },
            "department": values.get("department") or None,
            "practice_category": values.get("practice_category", ""),
            "physician_level": values.get("physician_level", ""),
            "procedure": values.get("procedure", ""),
            "exemptions": [
                VALUES["exemptions"].get(x.strip(), x.strip())
                for x in values.get("exemptions", "")
                .replace("；", ";")
                .replace("、", ";")
                .split(";")
                if x.strip()
            ],
            "evaluation": {
                "work_performance": values.get("work_performance", ""),
                "ethics": values.get("ethics", ""),
            },
        }
        typed = values | {f: values.get(c, "") for f, c in FIELD_TO_COLUMN.items()}
        item, errors = validate_item(raw, typed)
        for fld, why in errors:
            column = FIELD_TO_COLUMN.get(fld, fld.split(".")[0])
            problems.append(RowProblem(number, zh_of.get(column, column), why))
        if item is not None:
            if item.registration_id in seen:
                problems.append(
                    RowProblem(
                        number,
                        "报名编号",
                        N_(
                            "报名编号 {registration} 与第 {row} 行重复",
                            registration=item.registration_id,
                            row=seen[item.registration_id],
                        ),
                    )
                )
            seen.setdefault(item.registration_id, number)
            items.append(item)
    if problems:
        raise RosterFileError(problems)
    return items


def template() -> bytes:
    """The XLSX template with an instructions sheet."""
    workbook, sheet = new_sheet(
        "名单",
        [zh for _, zh, _ in COLUMNS],
        [
            [
                "HN2026-0000001",
                "报名完成",
                "居民身份证",
                "430102198001010011",
                "张三",
                "男",
                "1980-01-01",
                "13800000000",
                "HN-430102-001",
                "演示市人民医院",
                "内科",
                "临床",
                "执业医师",
                "一般程序",
                "",
                "合格",
                "合格",
            ]
        ],
    )
    for i, (_, zh, _) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[sheet.cell(1, i).column_letter].width = max(10, len(zh) * 2 + 4)
    sheet.freeze_panes = "A2"
    for column, options in (
        ("L", "临床,口腔,公共卫生,中医"),
        ("M", "执业医师,执业助理医师"),
        ("N", "简易程序,一般程序"),
        ("P", "合格,不合格,待定"),
        ("Q", "合格,不合格,待定"),
    ):
        rule = DataValidation(type="list", formula1=f'"{options}"', allow_blank=False)
        rule.add(f"{column}2:{column}5000")
        sheet.add_data_validation(rule)
    notes = workbook.create_sheet("填写说明")
    notes.append(["列名", "说明"])
    for _, zh, text in COLUMNS:
        notes.append([zh, text])
    notes.append([])
    notes.append(["注意", "任何一行有错误时整个文件都不会导入，请按错误报告逐行修改后重新上传。"])
    notes.column_dimensions["A"].width = 14
    notes.column_dimensions["B"].width = 60
    return workbook_bytes(workbook)
