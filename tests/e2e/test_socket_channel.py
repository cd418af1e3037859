"""The exam channel on a real server (``examsvc serve``, gevent): a page of another origin —
here another port of the same host — cannot open it, over WebSocket or over polling, with a
logged-in physician's cookie; the page's own origin can; a physician holds at most three
connections, the fourth refused with its reason; and the exam page reads a refusal that
comes back over the socket."""

from __future__ import annotations

import pytest
import requests
import socketio

from examsvc.demo.data import PHYSICIANS, demo_id
from tests.e2e.conftest import (
    cookie_header,
    first_login,
    let_in,
    look,
    physician_session,
    some_answer,
    start_first_paper,
)

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


def test_a_closed_websocket_is_not_read_as_an_http_request(demo_server, physician):
    """A client that disconnects ends with a WebSocket close frame. pywsgi kept the
    connection alive after the WebSocket session and read that frame as the next HTTP
    request: ``Invalid HTTP method: '\\x88\\x82…'`` (or ``Invalid http version``,
    ``Expected GET method``) on the server's stderr, once per closing client, and a 400
    written into the closing socket (the client's close then waited out its 3 s for the
    server's answer). ``examsvc serve``'s handler closes the connection instead. The line,
    when it came, was logged before the client's close returned."""
    http, _ = physician
    logged = demo_server.log.stat().st_size
    for _ in range(5):
        client, refusals = open_channel(demo_server.url, http, demo_server.url, "websocket")
        assert client is not None, refusals
        client.disconnect()
    with demo_server.log.open("rb") as log:
        log.seek(logged)
        after = log.read().decode(errors="replace")
    for line in ("Invalid HTTP method", "Invalid http version", "Expected GET method", "\\x88"):
        assert line not in after, after[-2000:]


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


@pytest.mark.browser
def test_the_page_shows_a_refusal_that_came_over_the_socket(demo_server, browser):
    """The attempt is submitted from another device; the page's next save, which can only go
    over the socket here, is refused (409 attempt_closed): the page drops the save from its
    journal instead of sending it for ever, and turns into the result alone."""
    base = demo_server.url
    context = browser.new_context(viewport={"width": 360, "height": 740}, bypass_csp=True)
    page = context.new_page()
    # No HTTP fallback for saves: what is acknowledged was acknowledged over the socket.
    page.route("**/api/v1/exam/attempts/*/answers/*", lambda route: route.abort())
    first_login(page, demo_server, demo_id(PHYSICIANS[0][0], PHYSICIANS[0][8]), "Sock-Page-2026")
    let_in(base, page)  # the camera's steps: test_camera_gate.py
    page.goto(base + "/home")
    page.click("text=进入测评")
    page.check("input[name=rules]")
    page.click("text=我知晓--开始考试")
    page.wait_for_selector("#q1.current")
    attempt_id = int(page.url.rsplit("/", 1)[1])
    options = page.locator("#q1 input")
    options.nth(0).check()
    page.wait_for_function("document.getElementById('save-status').textContent === '已保存'")

    token = context.request.get(base + "/api/v1/session").json()["csrf_token"]
    submitted = context.request.post(
        f"{base}/api/v1/exam/attempts/{attempt_id}/submit", headers={"X-CSRFToken": token}
    )
    assert submitted.ok
    options.nth(1).check()
    page.wait_for_selector("text=交卷成功")
    text = look(page, "exam-refused-over-socket")
    assert "交卷成功" in text and page.locator("#timer").count() == 0
    assert page.locator("input:visible").count() == 0
    journal = page.evaluate(f"localStorage.getItem('examsvc:attempt:{attempt_id}:journal')")
    assert journal in (None, "{}")
    context.close()
