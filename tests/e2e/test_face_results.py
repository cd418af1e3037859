"""A face job done by an RQ worker in another process reaches the candidate's browser
channel through Socket.IO's Redis message queue: real Redis, real ``examsvc serve``, real
worker, real Socket.IO client."""

from __future__ import annotations

import sqlite3
import threading
import uuid

import pytest
import requests
import socketio

from examsvc.camera import faces
from examsvc.demo.data import PHYSICIANS, demo_id
from tests.conftest import REDIS_URL
from tests.e2e.conftest import cookie_header, launch, physician_session
from tests.proctoring.conftest import run_worker


@pytest.mark.redis
def test_a_remote_workers_decision_reaches_the_candidate(redis, tmp_path, faces_dir):
    with launch(tmp_path, EXAMSVC_REDIS_URL=REDIS_URL) as server:
        number = demo_id(PHYSICIANS[2][0], PHYSICIANS[2][8])
        http = physician_session(server.url, number, "Face-Doc-2026")
        with sqlite3.connect(tmp_path / "e2e.db") as conn:
            (user_id,) = conn.execute("SELECT id FROM users WHERE login = ?", (number,)).fetchone()

        received: list[dict] = []
        arrived = threading.Event()
        client = socketio.Client(reconnection=False)

        @client.on("face_result", namespace="/exam")
        def on_result(data: dict) -> None:
            received.append(data)
            arrived.set()

        client.connect(
            server.url,
            namespaces=["/exam"],
            headers=cookie_header(http),
            transports=["websocket"],
        )
        try:
            prefix = f"test-{uuid.uuid4().hex[:12]}-"
            job_id = faces.enqueue(
                REDIS_URL,
                "snapshot",
                # Two people in one frame: a snapshot the invigilator must hear about.
                {"image": (faces_dir / "face_recognition/two_people.jpg").read_bytes()},
                room=f"user:{user_id}",
                queue_prefix=prefix,
            )
            run_worker(redis, prefix, [job_id], tmp_path, env={"EXAMSVC_REDIS_URL": REDIS_URL})
            # The worker has finished and emitted; the message crosses Redis and the server.
            assert arrived.wait(timeout=30), server.log.read_text()
            health = requests.get(server.url + "/healthz", timeout=5).json()
            assert set(health["faces_remote"]["queue_depth"]) == {"entry", "flagged", "routine"}
        finally:
            client.disconnect()
    (result,) = received
    assert result["job_id"] == job_id
    assert result["face_count"] == 2 and "multiple_faces" in result["flags"]
    assert "encoding" not in result and "enrolled" not in result  # biometrics stay behind
