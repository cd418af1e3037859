"""Structured logs: JSON lines with a request id, and nothing personal in them."""

from __future__ import annotations

import io
import json
import logging

import pytest

from examsvc import logs
from examsvc.enums import Role
from question_banks.template import build_template
from tests.factories import create_cycle, create_physician, login_as

PUBLIC = {"REMOTE_ADDR": "203.0.113.77"}


@pytest.fixture
def captured():
    stream = io.StringIO()
    logs.install("json", stream)
    yield stream
    logs.uninstall()


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_failed_login_and_a_bank_import_log_json_with_request_ids_and_nothing_personal(
    client, captured
):
    physician = create_physician(create_cycle(), password="Right-Pass1")
    refused = client.post(
        "/login",
        data={"login": physician.id_number, "password": "Wrong-Secret-9"},
        environ_base=PUBLIC,
        headers={"X-Request-ID": "edge-4f1c2a9b"},
    )
    assert refused.status_code in (401, 403)
    assert refused.headers["X-Request-ID"] == "edge-4f1c2a9b"  # a sane incoming id is kept
    login_as(client, Role.ADMIN)
    imported = client.post(
        "/admin/banks/import",
        data={
            "file": (io.BytesIO(build_template()), "题库.xlsx"),
            "code": "humanities",
            "name": "医学人文题库",
            "kind": "humanities",
        },
        content_type="multipart/form-data",
        headers={"X-Request-ID": "x y"},
    )
    assert imported.status_code in (200, 302)
    generated = imported.headers["X-Request-ID"]
    assert generated != "x y" and len(generated) == 32  # an unsafe one is replaced
    logging.getLogger("examsvc.test").warning(
        "a careless message naming %s, phone 13812345678", physician.id_number
    )

    records = lines(captured)  # every line is one JSON object
    assert records
    for record in records:
        assert {"time", "level", "logger", "message", "request_id"} <= set(record)
    access = [r for r in records if r["logger"] == "examsvc.access"]
    login = next(r for r in access if r["endpoint"] == "accounts.login")
    assert login["request_id"] == "edge-4f1c2a9b" and login["status"] == refused.status_code
    assert login["client"] != PUBLIC["REMOTE_ADDR"] and len(login["client"]) == 12
    assert any(r["request_id"] == generated for r in access)
    careless = next(r for r in records if r["logger"] == "examsvc.test")
    assert "[redacted]" in careless["message"]

    text = captured.getvalue()
    for secret in (
        physician.id_number,
        physician.name,
        "Wrong-Secret-9",
        "Right-Pass1",
        "13812345678",
        PUBLIC["REMOTE_ADDR"],
    ):
        assert secret not in text, secret


def test_text_format_for_people_reading_a_terminal(client):
    stream = io.StringIO()
    logs.install("text", stream)
    try:
        client.get("/healthz", headers={"X-Request-ID": "req-12345678"})
    finally:
        logs.uninstall()
    assert "[req-12345678]" in stream.getvalue()
    assert not stream.getvalue().startswith("{")


def test_each_socket_event_logs_under_its_own_request_id(app, captured):
    """``web.sockets.acknowledged``, the wrapper of every acknowledged event, as Flask-SocketIO
    calls it: in a request context of its own per event."""
    from pydantic import BaseModel

    from examsvc.web.sockets import acknowledged

    class Ping(BaseModel):
        n: int

    def unit(message: Ping) -> dict:
        logging.getLogger("examsvc.test").info("event %d", message.n)
        return {"ok": True}

    handler = acknowledged(unit, Ping)
    for n in (1, 2):
        with app.test_request_context("/socket.io/"):
            assert handler({"n": n}) == {"ok": True}
    events = [r for r in lines(captured) if r["logger"] == "examsvc.test"]
    assert [r["message"] for r in events] == ["event 1", "event 2"]
    ids = {r["request_id"] for r in events}
    assert len(ids) == 2 and all(i and len(i) == 32 for i in ids)
