"""Writing a bank back out: XLSX rows in the template's layout, or JSON. parse(export(b)) == b.

Text that a spreadsheet would read as a formula (starting with = + - @, or a tab or carriage
return) is written as a text cell with Excel's quote prefix — what typing a leading
apostrophe does in Excel: shown and edited as the text itself, never evaluated, and read
back unchanged by any reader (no character is added to the text, so the import needs no
unescaping)."""

from __future__ import annotations

import json
from typing import Any

from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from question_banks.parsing import COLUMNS, BankMeta
from question_banks.sheets import new_sheet, workbook_bytes
from question_banks.types import KEYS

TYPE_ZH = {
    "single": "单选",
    "multiple": "多选",
    "true_false": "判断",
    "case": "病例组",
    "matching": "配伍",
}
HEADER = [headers[0] for headers in COLUMNS.values()]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ORDER = list(COLUMNS)


def _answer_text(kind: str, answer: Any) -> str:
    if kind == "true_false":
        return "对" if answer is True else "错" if answer is False else str(answer)
    if isinstance(answer, list):
        return "".join(answer)
    return str(answer)


def rows(questions: list[dict[str, Any]]) -> list[list[Any]]:
    """One row per scoring question; a group's first row carries its shared stem and options."""
    out: list[list[Any]] = []
    for q in questions:
        kind = q["type"]
        if kind in ("case", "matching"):
            for i, sub in enumerate(q["sub_questions"]):
                cells: dict[str, Any] = {
                    "external_id": sub["external_id"],
                    "type": TYPE_ZH[kind],
                    "group_id": q["external_id"],
                    "tag": q["tag"],
                    "difficulty": q["difficulty"],
                    "stem": sub["stem"],
                    "answer": sub["answer"],
                    "explanation": sub["explanation"],
                }
                if i == 0:
                    cells |= {
                        "group_stem": q.get("stem", ""),
                        "group_explanation": q.get("explanation", ""),
                    }
                options = sub.get("options") if kind == "case" else (q["options"] if i == 0 else {})
                cells |= dict(options or {})
                out.append([cells.get(k, "") for k in ORDER])
            continue
        cells = {
            "external_id": q["external_id"],
            "type": TYPE_ZH[kind],
            "tag": q["tag"],
            "difficulty": q["difficulty"],
            "stem": q["stem"],
            "answer": _answer_text(kind, q["answer"]),
            "explanation": q["explanation"],
        }
        cells |= dict(q.get("options") or {})
        out.append([cells.get(k, "") for k in ORDER])
    return out


def style_sheet(sheet: Worksheet) -> None:
    widths = {
        "external_id": 14,
        "type": 8,
        "group_id": 12,
        "group_stem": 30,
        "group_explanation": 20,
        "tag": 12,
        "difficulty": 6,
        "stem": 40,
        "answer": 8,
        "explanation": 40,
    } | {k: 18 for k in KEYS}
    for i, key in enumerate(ORDER, start=1):
        sheet.column_dimensions[sheet.cell(1, i).column_letter].width = widths[key]
    sheet.freeze_panes = "A2"
    type_col = sheet.cell(1, ORDER.index("type") + 1).column_letter
    level_col = sheet.cell(1, ORDER.index("difficulty") + 1).column_letter
    for column, formula in ((type_col, '"单选,多选,判断,病例组,配伍"'), (level_col, '"1,2,3,4,5"')):
        rule = DataValidation(type="list", formula1=formula, allow_blank=True)
        rule.add(f"{column}2:{column}20001")
        sheet.add_data_validation(rule)


def escape_formula(cell: Any) -> None:
    """Make a cell that openpyxl took for a formula plain, quote-prefixed text."""
    cell.data_type = "s"
    cell.quotePrefix = True


def export_xlsx(meta: BankMeta | None, questions: list[dict[str, Any]]) -> bytes:
    workbook, sheet = new_sheet("题目", HEADER, rows(questions))
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            if isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS):
                escape_formula(cell)
    style_sheet(sheet)
    return workbook_bytes(workbook)


def export_json(meta: BankMeta | None, questions: list[dict[str, Any]]) -> bytes:
    bank = (
        None
        if meta is None
        else {
            "code": meta.code,
            "name": meta.name,
            "kind": meta.kind,
            "practice_category": meta.practice_category,
        }
    )
    return json.dumps({"bank": bank, "questions": questions}, ensure_ascii=False, indent=2).encode()
