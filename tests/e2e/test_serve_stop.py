"""``examsvc serve`` stops cleanly on SIGTERM (systemd, a deploy): exit status 0, its face
and offload pools gone, a candidate's open socket closed by the server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import socketio

from examsvc.demo.data import PHYSICIANS, demo_id
from tests.e2e.conftest import (
    _free_port,
    cookie_header,
    demo_env,
    physician_session,
    wait_until_serving,
)


def test_sigterm_stops_the_server_cleanly(tmp_path):
    port = _free_port()
    env = demo_env(tmp_path)
    for args in (["db", "upgrade"], ["demo", "load"]):
        subprocess.run([sys.executable, "-m", "examsvc.cli", *args], env=env, check=True)
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with (
        log.open("wb") as out,
        subprocess.Popen(
            [sys.executable, "-m", "examsvc.cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        ) as process,
    ):
        wait_until_serving(url, process, log)
        number = demo_id(PHYSICIANS[0][0], PHYSICIANS[0][8])
        http = physician_session(url, number, "Stop-Doc-2026")
        closed = threading.Event()
        client = socketio.Client(reconnection=False)
        client.on("disconnect", closed.set, namespace="/exam")
        client.connect(
            url, namespaces=["/exam"], headers=cookie_header(http), transports=["websocket"]
        )
        children = _children(process.pid)
        assert children, "the face and offload pools run as child processes"

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()
    assert "examsvc stopped" in log.read_text()
    assert closed.wait(timeout=10), "the candidate's socket was not closed"
    client.disconnect()
    deadline = time.monotonic() + 15  # the pools' processes end when they see their owner go
    while [pid for pid in children if _alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in children if _alive(pid)], "pool processes outlived the server"


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except OSError:
                continue
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
