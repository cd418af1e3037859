"""The current view as a workbook (built in a worker process: ``offload.process_call``)."""

from __future__ import annotations

from typing import Any

from question_banks.sheets import new_sheet, workbook_bytes

Table = tuple[str, list[str], list[list[Any]]]


def workbook(tables: list[Table]) -> bytes:
    """One sheet per table: ``(title, header, rows)``, all of plain values."""
    (title, header, rows), *rest = tables
    book, _ = new_sheet(title, header, rows)
    for title, header, rows in rest:
        sheet = book.create_sheet(title)
        sheet.append(header)
        for row in rows:
            sheet.append(row)
    return workbook_bytes(book)
