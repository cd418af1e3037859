"""The results export for agencies whose registration system has no API: one row per
physician, the same fields in XLSX and in CSV (UTF-8 with a BOM, so Excel opens it).

The file is the agency's deliverable to the registration system, an official Chinese
document like the result notice: its header and words stay Chinese whatever the page's
language. ``rows()`` reads the database; ``xlsx()``/``csv_bytes()`` are pure and run in a
worker process (``offload.process_call``).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from examsvc.accounts.ids import mask
from examsvc.clock import beijing_time
from examsvc.results.models import ResultDelivery
from examsvc.results.words import (
    DELIVERY_LABELS,
    PAPER_LABELS,
    PAPER_STATUS_LABELS,
    ROUND_LABELS,
    VERDICT_LABELS,
)
from question_banks.export import FORMULA_STARTS, escape_formula
from question_banks.sheets import new_sheet, workbook_bytes

# The Chinese words of the page's tables (words.py), untranslated: N_ gives the source text.
PAPERS = tuple(PAPER_LABELS.items())
HEADER = [
    "报名编号",
    "姓名",
    "证件号码",
    "工作单位",
    "结论",
    "轮次",
    *[f"{name}{what}" for _, name in PAPERS for what in ("状态", "得分", "次数")],
    "结果认定时间",
    "回传状态",
]


def row(delivery: ResultDelivery, *, full_id: bool) -> list[Any]:
    """One physician's result as the export's cells; the ID number masked unless
    ``full_id`` (administrators: the file is their deliverable)."""
    physician = delivery.physician
    payload = delivery.payload or {}
    papers = {p.get("paper"): p for p in payload.get("papers") or [] if isinstance(p, dict)}
    cells: list[Any] = [
        physician.registration_id,
        physician.name,
        physician.id_number if full_id else mask(physician.id_number),
        physician.institution_name,
        VERDICT_LABELS.get(delivery.verdict.value, delivery.verdict.value),
        ROUND_LABELS.get(delivery.round.value, delivery.round.value),
    ]
    for kind, _ in PAPERS:
        paper = papers.get(kind)
        if paper is None:
            cells += ["", None, None]
        else:
            status = str(paper.get("status") or "")
            cells += [
                PAPER_STATUS_LABELS.get(status, status),
                paper.get("score"),
                paper.get("attempts_used"),
            ]
    cells += [
        beijing_time(delivery.decided_at, "%Y-%m-%d %H:%M:%S"),
        DELIVERY_LABELS.get(delivery.status.value, delivery.status.value),
    ]
    return cells


def _plain(value: Any) -> Any:
    """A text cell a spreadsheet would take for a formula, quoted (as the bank export does)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def xlsx(rows: list[list[Any]]) -> bytes:
    workbook, sheet = new_sheet("测评结果", HEADER, rows)
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            if isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS):
                escape_formula(cell)
            elif cell.column in (1, 3):
                cell.number_format = "@"  # IDs as text: no 4.30102E+17
    for letter, width in zip("ABCDEF", (18, 12, 22, 28, 8, 8), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.column_dimensions["M"].width = 20
    sheet.freeze_panes = "A2"
    return workbook_bytes(workbook)


def csv_bytes(rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for cells in rows:
        writer.writerow(["" if v is None else _plain(v) for v in cells])
    return out.getvalue().encode("utf-8-sig")
