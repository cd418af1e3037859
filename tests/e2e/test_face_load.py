"""Face work never holds up the exam: a real ``examsvc serve`` (gevent) with one face
worker, flooded with slow face checks over HTTP, still acknowledges a candidate's answers
over Socket.IO while those checks are waiting — the answers queue neither behind the
worker nor behind the database connections (15 in the pool) that the checks would hold if
they waited inside a transaction."""

from __future__ import annotations

import threading

import requests
import socketio

from examsvc.demo.data import PHYSICIANS, demo_id
from tests.e2e.conftest import cookie_header, physician_session, some_answer, start_first_paper
from tests.proctoring.conftest import jpeg, landscape

FACE_CHECKS = 60  # four times the database connection pool


def test_answers_are_saved_while_face_checks_queue(demo_server):
    base = demo_server.url
    candidate = physician_session(base, demo_id(PHYSICIANS[4][0], PHYSICIANS[4][8]), "Load-A-2026")
    started = start_first_paper(base, candidate)
    other = physician_session(base, demo_id(PHYSICIANS[1][0], PHYSICIANS[1][8]), "Load-B-2026")
    token = other.get(base + "/api/v1/session").json()["csrf_token"]
    # A photo without a face is the slowest check: three detection passes, the last upsampled.
    photo = jpeg(landscape())
    finished: list[int] = []

    def face_check() -> None:
        response = requests.post(
            base + "/api/v1/demo/photo",
            files={"photo": ("photo.jpg", photo, "image/jpeg")},
            headers={"X-CSRFToken": token, **cookie_header(other)},
            timeout=300,
        )
        finished.append(response.status_code)

    flood = [threading.Thread(target=face_check) for _ in range(FACE_CHECKS)]
    for thread in flood:
        thread.start()
    # The checks have reached the face pool (and /healthz answered while they wait).
    while not requests.get(base + "/healthz", timeout=10).json()["faces"]["queue_depth"]:
        assert len(finished) < FACE_CHECKS, "the face checks ended before they could queue"

    client = socketio.Client(reconnection=False)
    client.connect(
        base,
        namespaces=["/exam"],
        headers=cookie_header(candidate),
        transports=["websocket"],
        wait_timeout=60,
    )
    acks, checks_done_at_ack = [], []
    for seq, item in enumerate(started["items"][:3], start=1):
        body = {"attempt_id": started["id"], "position": item["position"]}
        acks.append(
            client.call(
                "answer",
                {**body, "response": some_answer(item), "marked": False, "seq": seq},
                namespace="/exam",
                timeout=60,
            )
        )
        checks_done_at_ack.append(len(finished))
    client.disconnect()
    for thread in flood:
        thread.join(timeout=300)

    assert all(a["ok"] for a in acks), acks
    # Every answer was acknowledged while most face checks, sent before it, still waited:
    # an answer stuck behind them (for the worker or a connection) would come after most.
    assert max(checks_done_at_ack) < FACE_CHECKS // 2, checks_done_at_ack
    # And the face checks were all done, each refused for its reason (no face), none lost.
    assert finished == [422] * FACE_CHECKS
    state = candidate.get(f"{base}/api/v1/exam/attempts/{started['id']}").json()
    assert sorted(i["seq"] for i in state["items"] if i["seq"]) == [1, 2, 3]
