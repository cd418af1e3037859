"""Uploads that are too large, malformed or not what they claim, through every door a file
comes in by: the roster import and the bank import (API and page), the registration-photo
folder (CLI) and snapshot frames over the socket. The parsers' own cases (every malformed
workbook, DOCTYPE, too many parts): tests/roster/test_malformed_files.py, tests/roster/
test_files.py, tests/question_banks."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, g
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from examsvc.banks.models import QuestionBank
from examsvc.camera.models import Snapshot
from examsvc.enums import PhotoStatus
from examsvc.extensions import db, socketio
from examsvc.roster.models import Physician
from tests.security.conftest import World, client_of


def _bomb() -> bytes:
    """An .xlsx-looking zip whose sheet unpacks to 60 MB of zeros (about 60 KB packed)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", bytes(60 * 1024 * 1024))
    return out.getvalue()


BOMB = _bomb()
FILES = {
    "zip bomb": BOMB,
    "renamed text": "这不是表格，只是一段文字\n".encode() * 20,
    "truncated workbook": b"PK\x03\x04" + bytes(300),
    "an image": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(500),
}
IMPORTS = [
    ("/api/v1/admin/roster/import", {}),
    ("/admin/roster/import", {}),
    ("/api/v1/admin/banks/import", {"code": "x", "name": "x", "kind": "humanities"}),
    ("/admin/banks/import", {"code": "x", "name": "x", "kind": "humanities"}),
]


def _counts() -> tuple[int, int]:
    return (
        db.session.scalar(sa.select(sa.func.count(Physician.id))) or 0,
        db.session.scalar(sa.select(sa.func.count(QuestionBank.id))) or 0,
    )


@pytest.mark.parametrize(("path", "fields"), IMPORTS)
def test_a_file_over_the_limit_is_answered_413_with_a_message(app, world, path, fields):
    admin = client_of(app, world.users["admin"])
    big = bytes(app.config["MAX_CONTENT_LENGTH"] + 1)
    before = _counts()
    # The body built in memory (the test client would spool it to a file the app never reads).
    boundary, body = encode_multipart({**fields, "file": FileStorage(io.BytesIO(big), "名单.xlsx")})
    response = admin.post(path, data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 413
    if path.startswith("/api/"):
        error = response.get_json()["error"]
        assert error["code"] == "request_entity_too_large"
        assert error["message"] == "上传的文件太大：不能超过 20 MB"
    else:
        assert "上传的文件太大：不能超过 20 MB" in response.get_data(as_text=True)
    assert _counts() == before


@pytest.mark.parametrize("name", sorted(FILES))
@pytest.mark.parametrize(("path", "fields"), IMPORTS)
def test_a_file_that_is_not_what_it_claims_is_refused_and_nothing_imported(
    app, world, path, fields, name
):
    admin = client_of(app, world.users["admin"])
    before = _counts()
    response = admin.post(path, data={**fields, "file": (io.BytesIO(FILES[name]), "名单.xlsx")})
    assert response.status_code in (400, 422), (name, response.status_code)
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "Error" not in text.replace('"error"', "")
    assert _counts() == before
    if path.startswith("/api/"):
        body = response.get_json()["error"]
        assert body["message"], body
        if name == "zip bomb":  # named as such, not as a damaged file
            assert "解压" in str(body) or "Excel" in str(body), body


def test_the_photo_folder_refuses_what_is_not_a_photo(app, world, runner, tmp_path: Path):
    hall = world.hall
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / f"{hall.a.registration_id}.jpg").write_text("我不是照片", encoding="utf-8")
    (folder / f"{hall.b.registration_id}.png").write_bytes(BOMB[:4096])
    result = runner.invoke(args=["roster", "photos", str(folder), "--cycle", hall.a.cycle.code])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    for physician in (hall.a, hall.b):
        assert physician.photo_status == PhotoStatus.FAILED, result.output
        assert physician.face_encoding is None
        assert physician.photo_problem_text


def _exam_socket(app: Flask, world: World) -> Any:
    http = client_of(app, world.users["physician"]).http
    g.pop("user", None)
    ws = socketio.test_client(app, namespace="/exam", flask_test_client=http)
    assert ws.is_connected("/exam")
    return ws


@pytest.mark.parametrize(
    ("image", "code"),
    [
        (b"GIF89a" + bytes(100), "not_an_image"),
        (b"<svg onload=alert(1)>", "not_an_image"),
        (b"\x89PNG\r\n\x1a\n" + bytes(300 * 1024), "snapshot_too_large"),
        (b"", "not_an_image"),
    ],
)
def test_a_snapshot_frame_that_is_not_an_image_or_too_large_is_refused(app, world, image, code):
    ws = _exam_socket(app, world)
    attempt_id = world.hall.attempt_a.id
    ack = ws.emit(
        "snapshot", {"attempt_id": attempt_id, "image": image}, namespace="/exam", callback=True
    )
    ws.disconnect("/exam")
    assert ack["ok"] is False and ack["status"] == 422, ack
    assert ack["error"]["code"] == code
    assert db.session.scalar(sa.select(sa.func.count(Snapshot.id))) == 0
