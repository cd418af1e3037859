"""Malformed answers get a clear 4xx in the project's one error shape, over HTTP and over the
socket (whose acknowledgement carries the same ``error`` as the HTTP body): never a 500, and
never a save left without an acknowledgement."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from examsvc.attempts.events import NAMESPACE
from examsvc.attempts.models import Attempt, AttemptItem
from examsvc.extensions import db, socketio
from tests.attempts.test_attempts import start

ERROR_KEYS = {"code", "message", "details"}


@pytest.fixture
def attempt(candidate, exam) -> dict[str, Any]:
    """The started attempt's id and the position of its first single and first case question."""
    attempt_id = start(candidate, exam["paper"].id).get_json()["id"]
    items = db.session.scalars(
        sa.select(AttemptItem).where(AttemptItem.attempt_id == attempt_id)
    ).all()
    position = {i.question.qtype: i.position for i in sorted(items, key=lambda i: i.position)}
    return {"id": attempt_id, "single": position["single"], "case": position["case"]}


@pytest.fixture
def channel(app, candidate):
    client = socketio.test_client(app, namespace=NAMESPACE, flask_test_client=candidate)
    assert client.is_connected(NAMESPACE)
    yield client
    client.disconnect(NAMESPACE)


def over_http(candidate, attempt_id: int, position: int, body: Any) -> tuple[int, dict]:
    response = candidate.put(f"/api/v1/exam/attempts/{attempt_id}/answers/{position}", json=body)
    return response.status_code, response.get_json()


def over_socket(channel, attempt_id: int, position: int, body: Any) -> dict:
    data = (
        {"attempt_id": attempt_id, "position": position, **body} if isinstance(body, dict) else body
    )
    ack = channel.emit("answer", data, namespace=NAMESPACE, callback=True)
    assert ack is not None, "the socket left the save without an acknowledgement"
    return ack


# (case, question, body, HTTP status and code)
CASES = [
    ("seq at 2^63", "single", {"response": None, "seq": 2**63}, 422, "invalid"),
    ("seq past the database's integer", "single", {"seq": 2**31}, 422, "invalid"),
    ("seq far below zero", "single", {"seq": -(2**63)}, 422, "invalid"),
    ("seq a word", "single", {"seq": "x"}, 422, "invalid"),
    ("marked a list", "single", {"seq": 1, "marked": [1]}, 422, "invalid"),
    (
        "a list inside a group answer",
        "case",
        {"seq": 1, "response": {"x": ["A"]}},
        409,
        "bad_response",
    ),
    ("a group answer that is a list", "case", {"seq": 1, "response": ["A"]}, 409, "bad_response"),
    ("a body that is a list", "single", [1, 2], 422, "invalid"),
    # Never reaches the database (which on PostgreSQL would refuse it): not an option.
    (
        "a NUL character in the response",
        "single",
        {"seq": 1, "response": "A\x00"},
        409,
        "bad_response",
    ),
]


@pytest.mark.parametrize(
    ("case", "question", "body", "status", "code"), CASES, ids=[c[0] for c in CASES]
)
def test_malformed_saves_are_refused_the_same_way_over_http_and_the_socket(
    candidate, attempt, channel, case, question, body, status, code
):
    position = attempt[question]
    if case == "a list inside a group answer":  # a real sub-question id, with a list for its key
        state = candidate.get(f"/api/v1/exam/attempts/{attempt['id']}").get_json()
        item = next(i for i in state["items"] if i["position"] == position)
        body = {**body, "response": {item["sub_questions"][0]["id"]: ["A"]}}
    got_status, got = over_http(candidate, attempt["id"], position, body)
    assert (got_status, set(got), set(got["error"])) == (status, {"error"}, ERROR_KEYS)
    assert got["error"]["code"] == code and got["error"]["message"]
    ack = over_socket(channel, attempt["id"], position, body)
    assert ack == {"ok": False, "status": status, "error": got["error"]}


@pytest.mark.parametrize(
    "field", ["attempt_id", "position"], ids=["attempt id at 2^63", "position at 2^63"]
)
def test_ids_beyond_the_databases_integers_are_refused(candidate, attempt, channel, field):
    target = {"attempt_id": attempt["id"], "position": attempt["single"], field: 2**63}
    got_status, got = over_http(candidate, target["attempt_id"], target["position"], {"seq": 1})
    # In a URL an id that no row can have names nothing: 404 in the one shape.
    assert (got_status, set(got["error"]), got["error"]["code"]) == (404, ERROR_KEYS, "not_found")
    ack = channel.emit("answer", {**target, "seq": 1}, namespace=NAMESPACE, callback=True)
    assert ack["ok"] is False and ack["status"] == 422 and ack["error"]["code"] == "invalid"
    assert [d["field"] for d in ack["error"]["details"]] == [field]
    # Nothing was stored, and a good save still works afterwards.
    good = {"attempt_id": attempt["id"], "position": attempt["single"], "seq": 1}
    assert channel.emit("answer", good, namespace=NAMESPACE, callback=True)["code"] == "saved"


@pytest.mark.parametrize(
    "data", ["not a dict", None, {"attempt_id": "x", "position": "1", "seq": 1}]
)
def test_the_socket_acknowledges_whatever_it_is_sent(channel, attempt, data):
    ack = channel.emit("answer", data, namespace=NAMESPACE, callback=True)
    assert ack["ok"] is False and ack["status"] == 422
    assert set(ack["error"]) == ERROR_KEYS and ack["error"]["code"] == "invalid"


def test_an_unknown_event_is_answered(channel, attempt):
    ack = channel.emit("snapshot?", {"x": 1}, namespace=NAMESPACE, callback=True)
    assert ack == {
        "ok": False,
        "status": 400,
        "error": {"code": "unknown_event", "message": "不支持此操作", "details": []},
    }


DEEP = "[" * 50_000 + "]" * 50_000


def test_json_nested_50000_deep_is_refused_over_http(candidate, attempt, client):
    url = f"/api/v1/exam/attempts/{attempt['id']}/answers/{attempt['single']}"
    for response in (
        candidate.put(
            url, data='{"seq": 1, "response": ' + DEEP + "}", content_type="application/json"
        ),
        client.post("/api/v1/session", data=DEEP, content_type="application/json"),
    ):
        assert response.status_code == 400
        assert response.get_json()["error"] == {
            "code": "bad_json",
            "message": "请求内容不是有效的 JSON，或嵌套过深",
            "details": [],
        }


def test_json_just_deeper_than_the_limit_is_refused_and_the_limit_itself_accepted(
    candidate, attempt
):
    from examsvc.web.inputs import MAX_JSON_DEPTH

    url = f"/api/v1/exam/attempts/{attempt['id']}/answers/{attempt['single']}"

    def nested(depth: int) -> str:  # the body is one level, the response the rest
        inner = "[" * (depth - 1) + "]" * (depth - 1)
        return '{"seq": 1, "response": ' + inner + "}"

    too_deep = candidate.put(url, data=nested(MAX_JSON_DEPTH + 1), content_type="application/json")
    assert too_deep.status_code == 400 and too_deep.get_json()["error"]["code"] == "bad_json"
    deepest = candidate.put(url, data=nested(MAX_JSON_DEPTH), content_type="application/json")
    assert deepest.status_code == 409  # parsed, then refused as an answer
    assert deepest.get_json()["error"]["code"] == "bad_response"


@pytest.mark.parametrize(
    "text",
    [DEEP, '["answer", {"seq": 1,', '["answer", {seq: 1}]', '["answer", NaN]'],
    ids=["deep", "cut", "unquoted", "NaN"],
)
def test_json_the_socket_cannot_read_is_acknowledged(channel, attempt, text):
    """A raw packet (``2`` event, namespace, ack id 7) as a hostile client would send it."""
    channel.acks = None
    socketio.server._handle_eio_message(channel.eio_sid, f"2{NAMESPACE},7{text}")
    assert channel.acks is not None
    ack = channel.acks["args"][0]
    assert ack == {
        "ok": False,
        "status": 400,
        "error": {
            "code": "bad_json",
            "message": "请求内容不是有效的 JSON，或嵌套过深",
            "details": [],
        },
    }
    # The connection survived: the next save is acknowledged.
    good = {"attempt_id": attempt["id"], "position": attempt["single"], "seq": 1}
    assert channel.emit("answer", good, namespace=NAMESPACE, callback=True)["ok"] is True


def test_json_is_not_a_string_of_digits(client):
    """A number with a hundred thousand digits is not a 500 either."""
    response = client.post(
        "/api/v1/session",
        data=json.dumps({"login": 1}).replace("1", "9" * 100_000),
        content_type="application/json",
    )
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_json"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_deadline_refusal_has_one_shape_over_http_and_the_socket(
    candidate, attempt, channel, clock, app, lang
):
    """A domain refusal (the rules', not the input's) reaches both channels through the one
    mapping: the socket's ``error`` is the HTTP body's, in the same language."""
    candidate.set_cookie("lang", lang)
    deadline = db.session.get(Attempt, attempt["id"]).deadline_at
    clock.set(deadline + timedelta(seconds=app.config["ANSWER_GRACE_SECONDS"] + 1))
    got_status, got = over_http(candidate, attempt["id"], attempt["single"], {"seq": 1})
    assert got_status == 409 and got["error"]["code"] == "deadline_passed"
    assert set(got) == {"error"} and set(got["error"]) == ERROR_KEYS
    assert got["error"]["message"].isascii() == (lang == "en")
    ack = over_socket(channel, attempt["id"], attempt["single"], {"seq": 2})
    assert ack == {"ok": False, "status": 409, "error": got["error"]}
