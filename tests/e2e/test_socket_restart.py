"""Real HTTP and a real Socket.IO client against ``examsvc serve``; the server is killed with
SIGKILL in the middle of an attempt, started again, and nothing acknowledged is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import socketio

from examsvc.demo.data import PHYSICIANS, demo_id
from tests.e2e.conftest import (
    SERVERS,
    Server,
    _free_port,
    cookie_header,
    physician_session,
    some_answer,
    start_first_paper,
    wait_until_serving,
)


def _serve(server: Server, port: int, log) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "examsvc.cli", "serve", "--port", str(port), "--no-jobs"],
        env=server.env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    wait_until_serving(f"http://127.0.0.1:{port}", process, Path(log.name))
    return process


def test_acknowledged_answers_survive_a_killed_server(demo_server, tmp_path):
    port = _free_port()
    with (tmp_path / "serve.log").open("wb") as log:
        process = _serve(demo_server, port, log)
        base = f"http://127.0.0.1:{port}"
        SERVERS[base] = demo_server  # another process on the same database
        number = demo_id(PHYSICIANS[4][0], PHYSICIANS[4][8])
        http = physician_session(base, number, "Sock-Doc-2026")
        started = start_first_paper(base, http)
        attempt_id, deadline = started["id"], datetime.fromisoformat(started["deadline"])

        client = socketio.Client(reconnection=False)
        client.connect(
            base, namespaces=["/exam"], headers=cookie_header(http), transports=["websocket"]
        )
        acks = []
        for seq, item in enumerate(started["items"][:5], start=1):
            ack = client.call(
                "answer",
                {
                    "attempt_id": attempt_id,
                    "position": item["position"],
                    "response": some_answer(item),
                    "marked": seq == 3,
                    "seq": seq,
                },
                namespace="/exam",
                timeout=10,
            )
            acks.append(ack)
        assert all(a["ok"] for a in acks), acks
        client.disconnect()

        os.kill(process.pid, signal.SIGKILL)  # no shutdown, no flush: the process just dies
        process.wait(timeout=10)
        process = _serve(demo_server, port, log)
        try:
            state = http.get(f"{base}/api/v1/exam/attempts/{attempt_id}").json()
            saved = {i["position"]: (i["seq"], i["marked"]) for i in state["items"] if i["seq"]}
            assert saved == {
                i["position"]: (n, n == 3) for n, i in enumerate(started["items"][:5], start=1)
            }
            # The clock kept running while the server was down; the deadline did not move.
            assert datetime.fromisoformat(state["deadline"]) == deadline
            remaining = (deadline - datetime.fromisoformat(state["server_time"])).total_seconds()
            assert abs(state["remaining_seconds"] - remaining) <= 1
            # An unauthenticated socket is refused.
            stranger = socketio.Client(reconnection=False)
            with pytest.raises(socketio.exceptions.ConnectionError):
                stranger.connect(base, namespaces=["/exam"], transports=["websocket"])
        finally:
            process.terminate()
            process.wait(timeout=30)
