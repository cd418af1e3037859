"""A damaged workbook, or one whose XML carries a DOCTYPE, is refused with the file's one error
(422 with the project's error shape over the API, the error table on the page), never a 500."""

from __future__ import annotations

import io
import zipfile

import pytest
import sqlalchemy as sa

from examsvc.enums import Role
from examsvc.extensions import db
from examsvc.roster.models import Physician
from tests.factories import create_cycle, login_as
from tests.roster.test_files import row, xlsx_bytes

SHEET = "xl/worksheets/sheet1.xml"


def with_doctype(data: bytes, doctype: bytes) -> bytes:
    """The workbook ``data`` with ``doctype`` before its sheet's root element."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            part = source.read(name)
            if name == SHEET:
                part = b'<?xml version="1.0" encoding="UTF-8"?>' + doctype + part
            target.writestr(name, part)
    return out.getvalue()


def too_many_parts(data: bytes) -> bytes:
    out = io.BytesIO(data)
    with zipfile.ZipFile(out, "a") as target:
        for n in range(300):
            target.writestr(f"xl/padding/{n}.xml", b"<x/>")
    return out.getvalue()


GOOD = xlsx_bytes([row(1)])
BROKEN = {
    "truncated": GOOD[: len(GOOD) // 2],
    "zip without a workbook": (lambda b: (zipfile.ZipFile(b, "w").writestr("a.txt", "x"), b)[1])(
        io.BytesIO()
    ).getvalue(),
    "entity declaration": with_doctype(
        GOOD, b'<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
    ),
    "plain doctype": with_doctype(GOOD, b"<!DOCTYPE worksheet>"),
    "external entity": with_doctype(
        GOOD, b'<!DOCTYPE worksheet [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    ),
    "thousands of parts": too_many_parts(GOOD),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_malformed_workbook_is_refused_with_one_error(client, case):
    create_cycle()
    db.session.commit()
    login_as(client, Role.ADMIN)
    upload = {"file": (io.BytesIO(BROKEN[case]), "名单.xlsx")}
    api = client.post(
        "/api/v1/admin/roster/import", data=upload, content_type="multipart/form-data"
    )
    assert api.status_code == 422, api.get_data(as_text=True)
    error = api.get_json()["error"]
    assert set(error) == {"code", "message", "details"} and error["code"] == "invalid_file"
    assert error["details"] == [
        {"row": 0, "column": "-", "message": "文件已损坏或不是有效的 Excel 文件（.xlsx）"}
    ]
    page = client.post(
        "/admin/roster/import",
        data={"file": (io.BytesIO(BROKEN[case]), "名单.xlsx")},
        content_type="multipart/form-data",
    )
    assert page.status_code == 422 and "不是有效的 Excel 文件" in page.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Physician)) == 0


def test_the_good_workbook_still_imports(client):
    create_cycle()
    db.session.commit()
    login_as(client, Role.ADMIN)
    api = client.post(
        "/api/v1/admin/roster/import",
        data={"file": (io.BytesIO(GOOD), "名单.xlsx")},
        content_type="multipart/form-data",
    )
    assert api.status_code == 200 and api.get_json()["imported"] == 1
