"""Spreadsheets in and out, for every file the service reads or writes (question banks,
rosters, templates): a CSV's text in the encodings offices in China save, a cell as text,
a workbook built from a header and rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

# UTF-8 (Excel's "CSV UTF-8" adds a BOM), else GBK/GB18030 (Excel's plain "CSV" in China).
ENCODINGS = ("utf-8-sig", "gb18030")


def csv_rows(data: bytes) -> list[list[str]] | None:
    """The rows of a CSV file, each cell stripped; None when no known encoding reads it."""
    for encoding in ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return [[c.strip() for c in row] for row in csv.reader(io.StringIO(text))]
    return None


def cell_text(value: Any) -> str:
    """A workbook cell as text: empty for nothing, ``3`` for the 3.0 a number cell holds."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def new_sheet(
    title: str, header: list[str], rows: Iterable[list[Any]]
) -> tuple[Workbook, Worksheet]:
    """A workbook whose first sheet, ``title``, holds the header and the rows."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    return workbook, sheet


def workbook_bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
