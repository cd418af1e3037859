"""Spreadsheets in and out, for every file the service reads or writes (question banks,
rosters, templates): a CSV's text in the encodings offices in China save, a cell as text, a
workbook built from a header and rows — and hard limits enforced while reading.

A small file can hold a huge sheet: XML compresses a thousandfold, and a sheet may declare
16,384 columns and a million rows. So an XLSX archive is refused before parsing when it
unpacks too large or compresses too well (``check_archive``), and rows are read one at a
time, stopping at the first one past the row or column limit or with a cell longer than
Excel itself allows (``capped_rows``). The caller turns ``SheetLimit`` into its own
located problem.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
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


MAX_UNCOMPRESSED = 100 * 1024 * 1024  # every part of the archive, unpacked
MAX_RATIO = 100  # unpacked size / file size, checked once unpacked is over 1 MiB
MAX_CELL_CHARS = 32_767  # Excel's own limit for one cell


class SheetLimit(Exception):
    """The file goes past a limit; ``row``/``column`` say where (None: the whole file)."""

    def __init__(
        self, row: int | None, column: str | None, code: str, message: str, message_en: str
    ) -> None:
        super().__init__(message_en)
        self.row, self.column, self.code = row, column, code
        self.message, self.message_en = message, message_en

    def __reduce__(self) -> tuple[Any, ...]:
        return (SheetLimit, (self.row, self.column, self.code, self.message, self.message_en))


def check_archive(data: bytes) -> None:
    """Refuse a zip bomb by the sizes its directory declares (reading stops at them)."""
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except zipfile.BadZipFile:
        return  # not a readable archive: the spreadsheet reader says so in its own words
    unpacked = sum(m.file_size for m in members)
    if unpacked > MAX_UNCOMPRESSED or (unpacked > 1024 * 1024 and unpacked > MAX_RATIO * len(data)):
        raise SheetLimit(
            None,
            None,
            "archive_too_large",
            f"文件解压后达 {unpacked // (1024 * 1024)} MB，内容异常，已拒绝"
            f"（上限 {MAX_UNCOMPRESSED // (1024 * 1024)} MB，且不超过文件大小的 {MAX_RATIO} 倍）",
            f"The file unpacks to {unpacked} bytes: refused as a possible zip bomb",
        )


def xlsx_rows(sheet: Any, *, max_columns: int) -> Iterable[Sequence[Any]]:
    """The values of a read-only worksheet's rows, one column past the limit at most, and
    without the padding to the size the sheet declares (which a file can make huge)."""
    sheet.reset_dimensions()
    return sheet.iter_rows(values_only=True, max_col=max_columns + 1)


def capped_rows(
    rows: Iterable[Sequence[Any]],
    *,
    max_rows: int,
    max_columns: int,
    cell: Callable[[Any], str],
) -> Iterator[list[str]]:
    """Each row as text (``cell`` of each value), refusing at the first row past
    ``max_rows`` (the header counts), a value past ``max_columns`` or an over-long cell."""
    for number, values in enumerate(rows, start=1):
        if number > max_rows:
            raise SheetLimit(
                number,
                None,
                "too_many_rows",
                f"一次最多导入 {max_rows - 1} 行",
                f"At most {max_rows - 1} rows",
            )
        row = [cell(v) for v in values[: max_columns + 1]]
        if any(row[max_columns:]) or any(values[max_columns + 1 :]):
            raise SheetLimit(
                number,
                get_column_letter(max_columns + 1),
                "too_many_columns",
                f"最多 {max_columns} 列，请删除多余的列",
                f"At most {max_columns} columns",
            )
        for i, text in enumerate(row):
            if len(text) > MAX_CELL_CHARS:
                raise SheetLimit(
                    number,
                    get_column_letter(i + 1),
                    "cell_too_long",
                    f"单元格超过 {MAX_CELL_CHARS} 字",
                    f"A cell is over {MAX_CELL_CHARS} characters",
                )
        yield row[:max_columns]
