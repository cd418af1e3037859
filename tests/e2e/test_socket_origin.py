"""The exam channel on a real server (``examsvc serve``, gevent): a page of another origin —
here another port of the same host — cannot open it, over WebSocket or over polling, with a
logged-in physician's cookie; the page's own origin can; and a physician holds at most three
connections, the fourth refused with its reason."""

from __future__ import annotations

import pytest
import requests
import socketio

from examsvc.demo.data import PHYSICIANS, demo_id
from tests.e2e.conftest import cookie_header, physician_session, some_answer, start_first_paper

TRANSPORTS = ("websocket", "polling")


def open_channel(base: str, http: requests.Session, origin: str, transport: str):
    """A Socket.IO client on ``/exam`` sending ``Origin: origin`` as a browser on that origin
    would (the WebSocket library sets it on the handshake, requests on every poll)."""
    client = socketio.Client(reconnection=False, websocket_extra_options={"origin": origin})
    refusals: list[object] = []
    client.on("connect_error", refusals.append, namespace="/exam")
    headers = cookie_header(http) | ({"Origin": origin} if transport == "polling" else {})
    try:
        client.connect(
            base, namespaces=["/exam"], headers=headers, transports=[transport], wait_timeout=10
        )
    except socketio.exceptions.ConnectionError:
        return None, refusals
    return client, refusals


@pytest.fixture(scope="module")
def physician(demo_server):
    base = demo_server.url
    http = physician_session(base, demo_id(PHYSICIANS[4][0], PHYSICIANS[4][8]), "Origin-Doc-2026")
    return http, start_first_paper(base, http)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_page_of_another_origin_cannot_open_the_channel(demo_server, physician, transport):
    http, _ = physician
    port = int(demo_server.url.rsplit(":", 1)[1])
    for foreign in (f"http://127.0.0.1:{port + 1}", "https://evil.example", "null"):
        client, _ = open_channel(demo_server.url, http, foreign, transport)
        assert client is None, f"{foreign} opened the channel over {transport}"
    # Every polling request is checked, not only the handshake.
    raw = requests.get(
        demo_server.url + "/socket.io/?EIO=4&transport=polling",
        headers=cookie_header(http) | {"Origin": f"http://127.0.0.1:{port + 1}"},
        timeout=10,
    )
    assert raw.status_code == 400 and "Not an accepted origin" in raw.text


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_page_s_own_origin_opens_it_and_saves(demo_server, physician, transport):
    http, started = physician
    client, refusals = open_channel(demo_server.url, http, demo_server.url, transport)
    assert client is not None, refusals
    item = started["items"][0]
    seq = TRANSPORTS.index(transport) + 1
    ack = client.call(
        "answer",
        {
            "attempt_id": started["id"],
            "position": item["position"],
            "response": some_answer(item),
            "seq": seq,
        },
        namespace="/exam",
        timeout=10,
    )
    client.disconnect()
    assert ack["ok"] is True and ack["seq"] == seq


def test_a_fourth_connection_is_refused_with_its_reason(demo_server):
    base = demo_server.url
    http = physician_session(base, demo_id(PHYSICIANS[6][0], PHYSICIANS[6][8]), "Four-Tabs-2026")
    opened = [open_channel(base, http, base, "websocket") for _ in range(4)]
    assert [client is not None for client, _ in opened] == [True, True, True, False]
    assert opened[3][1] == [
        {
            "message": "too_many_connections",
            "data": {
                "code": "too_many_connections",
                "message": "同一账号最多同时打开 3 个考试页面，请关闭其他页面",
                "details": [],
            },
        }
    ]
    opened[0][0].disconnect()  # a tab closed: another may open
    again, refusals = open_channel(base, http, base, "websocket")
    assert again is not None, refusals
    for client in [again, opened[1][0], opened[2][0]]:
        client.disconnect()
