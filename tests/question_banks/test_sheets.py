"""Spreadsheet limits, enforced while streaming: rows, columns, cell length, zip bombs."""

from __future__ import annotations

import io
import itertools
import re
import zipfile

import pytest
from openpyxl import load_workbook

from question_banks import BankImportError, parse_bank
from question_banks.parsing import MAX_COLUMNS
from question_banks.sheets import MAX_CELL_CHARS, SheetLimit, capped_rows, check_archive
from question_banks.template import build_template

SHEET = "xl/worksheets/sheet1.xml"


def with_sheet(data: bytes, edit) -> bytes:
    """``data`` (an XLSX) with its first sheet's XML changed by ``edit``."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for member in source.infolist():
            body = source.read(member)
            target.writestr(member.filename, edit(body) if member.filename == SHEET else body)
    return out.getvalue()


def problem(data: bytes):
    with pytest.raises(BankImportError) as refused:
        parse_bank(data, "bank.xlsx")
    [only] = refused.value.problems
    return only


def test_rows_are_counted_while_streaming_and_the_first_past_the_limit_stops_reading():
    endless = itertools.repeat(["题干"])
    with pytest.raises(SheetLimit) as refused:
        list(capped_rows(endless, max_rows=11, max_columns=5, cell=str))
    assert (refused.value.row, refused.value.code) == (12, "too_many_rows")
    assert refused.value.message == "一次最多导入 10 行"


def test_an_over_long_cell_is_refused_where_it_is():
    rows = [["a", "b"], ["a", "x" * (MAX_CELL_CHARS + 1)]]
    with pytest.raises(SheetLimit) as refused:
        list(capped_rows(rows, max_rows=10, max_columns=5, cell=str))
    assert (refused.value.row, refused.value.column, refused.value.code) == (
        2,
        "B",
        "cell_too_long",
    )


def test_a_million_cell_sheet_in_a_small_file_is_refused_before_parsing():
    """The issue's attack: 61 rows of 16,384 cells, some 30 KB compressed."""
    cells = "<c><v>1</v></c>" * 16_384  # cells need no reference: each is the next column
    rows = "".join(f'<row r="{n}">{cells}</row>' for n in range(2, 63))

    def bomb(xml: bytes) -> bytes:
        return xml.replace(b"</sheetData>", rows.encode() + b"</sheetData>")

    data = with_sheet(build_template(), bomb)
    assert len(data) < 100_000
    found = problem(data)
    assert found.code == "archive_too_large" and "已拒绝" in found.message
    with pytest.raises(SheetLimit):
        check_archive(data)


def test_a_wide_row_is_refused_at_its_row_and_first_extra_column():
    workbook = load_workbook(io.BytesIO(build_template()))
    sheet = workbook["题目"]
    sheet.cell(3, MAX_COLUMNS + 1, "多余")
    buffer = io.BytesIO()
    workbook.save(buffer)
    found = problem(buffer.getvalue())
    assert (found.sheet, found.row, found.column, found.code) == (
        "题目",
        3,
        "AY",
        "too_many_columns",
    )
    assert found.where() == "工作表「题目」第 3 行「AY」列"


def test_a_sheet_that_declares_a_million_rows_is_read_for_the_rows_it_has():
    def huge(xml: bytes) -> bytes:
        return re.sub(rb'<dimension ref="[^"]+"', b'<dimension ref="A1:XFD1048576"', xml)

    data = with_sheet(build_template(), huge)
    assert parse_bank(data, "bank.xlsx").questions == parse_bank(build_template(), "t").questions


def test_a_wide_csv_is_refused_at_its_row():
    header = "题目编号,题型,知识点,难度,题干,答案,解析"
    data = f"{header}\nQ1,单选,伦理,1,题干,A,解析{',x' * 60}\n".encode()
    with pytest.raises(BankImportError) as refused:
        parse_bank(data, "bank.csv")
    [found] = refused.value.problems
    assert (found.row, found.code) == (2, "too_many_columns")
