"""``examsvc serve`` stops cleanly on SIGTERM (systemd, a deploy): exit status 0, its face
and offload pools gone, a candidate's open socket closed by the server, and answer saves in
flight finished (every acknowledged one stored) within the grace period."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import requests
import socketio
import sqlalchemy as sa

from examsvc.attempts.models import Answer, AttemptItem
from examsvc.demo.data import PHYSICIANS, demo_id
from examsvc.extensions import db
from tests.e2e.conftest import (
    SERVERS,
    Server,
    _free_port,
    cookie_header,
    demo_database,
    demo_env,
    launch,
    physician_session,
    server_database,
    some_answer,
    start_first_paper,
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


def test_sigterm_lets_answer_saves_in_flight_finish(tmp_path):
    """Candidates save answers as fast as their acknowledgements come back; SIGTERM arrives
    in the middle. The process stops accepting, finishes what is in flight, closes every
    socket and exits 0 within the grace period; every acknowledged save is in the database."""
    grace = 10
    with launch(tmp_path, EXAMSVC_STOP_GRACE_SECONDS=str(grace)) as server:
        process = server.process
        assert process is not None
        ready = requests.get(server.url + "/readyz", timeout=10)
        assert ready.json()["checks"]["face_workers"]["ok"] is True, ready.text
        candidates = []
        for index in (0, 1, 4):  # demo physicians with a paper to start
            row = PHYSICIANS[index]
            http = physician_session(server.url, demo_id(row[0], row[8]), f"Stop-{index}-Doc-2026")
            started = start_first_paper(server.url, http)
            candidates.append(_Saver(server.url, http, started, index))
        for saver in candidates:
            saver.start()
        deadline = time.monotonic() + 20
        while sum(len(s.acked) for s in candidates) < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        sent_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=grace + 10) == 0, server.log.read_text()
        stopped_in = time.monotonic() - sent_at
        for saver in candidates:
            saver.join(timeout=15)
    assert stopped_in < grace + 5, stopped_in
    acked = [a for s in candidates for a in s.acked]
    assert len(acked) >= 30
    assert all(s.closed.is_set() for s in candidates), "a socket was left open"
    log_lines = [line for line in server.log.read_text().splitlines() if line.startswith("{")]
    assert any(json.loads(line)["logger"] == "examsvc.drain" for line in log_lines)
    SERVERS[server.url] = server  # the helpers reach the database by URL
    try:
        with server_database(server.url):
            for saver in candidates:
                stored = dict(
                    db.session.execute(
                        sa.select(AttemptItem.position, Answer.seq)
                        .join(AttemptItem, AttemptItem.id == Answer.item_id)
                        .where(Answer.attempt_id == saver.attempt_id)
                    ).all()
                )
                for position, seq in saver.acked:
                    assert stored.get(position, 0) >= seq, (saver.attempt_id, position, seq)
    finally:
        SERVERS.pop(server.url, None)


BURST = 8


class _Saver(threading.Thread):
    """One candidate's phone: saves until the socket closes; the acknowledged
    (position, seq) pairs are kept."""

    def __init__(self, base: str, http, started: dict, index: int) -> None:
        super().__init__(daemon=True)
        self.attempt_id = started["id"]
        self.items = [i for i in started["items"] if some_answer(i) is not None]
        self.acked: list[tuple[int, int]] = []
        self.closed = threading.Event()
        self.client = socketio.Client(reconnection=False)
        self.client.on("disconnect", self.closed.set, namespace="/exam")
        self.client.connect(
            base, namespaces=["/exam"], headers=cookie_header(http), transports=["websocket"]
        )

    def run(self) -> None:
        """Bursts of saves sent at once (as a phone's journal replays after a blip), so
        that some are in flight on the server when the signal arrives."""
        seq = 0
        while not self.closed.is_set():
            answered = threading.Semaphore(0)
            burst = []
            for _ in range(BURST):
                seq += 1
                item = self.items[seq % len(self.items)]
                burst.append((item["position"], seq))
                try:
                    self.client.emit(
                        "answer",
                        {
                            "attempt_id": self.attempt_id,
                            "position": item["position"],
                            "response": some_answer(item),
                            "marked": False,
                            "seq": seq,
                        },
                        namespace="/exam",
                        callback=self._on_ack(item["position"], seq, answered),
                    )
                except socketio.exceptions.BadNamespaceError:
                    break
            for _ in burst:
                if not answered.acquire(timeout=5):
                    break
        self.client.disconnect()

    def _on_ack(self, position: int, seq: int, answered: threading.Semaphore):
        def ack(answer: dict | None = None) -> None:
            if answer and answer.get("ok"):
                self.acked.append((position, seq))
            answered.release()

        return ack


def test_gunicorn_worker_closes_sockets_on_sigterm_instead_of_waiting(tmp_path):
    """Under gunicorn (the scale-out) a connected candidate's socket does not hold the worker
    for its graceful_timeout (30 s): it is closed after the drain and the master exits 0."""
    port = _free_port()
    env = demo_env(tmp_path, EXAMSVC_STOP_GRACE_SECONDS="5")
    server = Server(f"http://127.0.0.1:{port}", env, tmp_path / "gunicorn.log")
    demo_database(server)
    command = [sys.executable, "-m", "gunicorn", "-c", "python:examsvc.gunicorn_conf"]
    command += ["--bind", f"127.0.0.1:{port}", "examsvc.wsgi:app"]
    with (
        server.log.open("wb") as out,
        subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT) as process,
    ):
        try:
            wait_until_serving(server.url, process, server.log)
            number = demo_id(PHYSICIANS[0][0], PHYSICIANS[0][8])
            http = physician_session(server.url, number, "Gunicorn-Doc-2026")
            closed = threading.Event()
            client = socketio.Client(reconnection=False)
            client.on("disconnect", closed.set, namespace="/exam")
            client.connect(
                server.url,
                namespaces=["/exam"],
                headers=cookie_header(http),
                transports=["websocket"],
            )
            sent_at = time.monotonic()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=40) == 0, server.log.read_text()
            stopped_in = time.monotonic() - sent_at
        finally:
            if process.poll() is None:
                process.kill()
    assert closed.wait(timeout=5), "the candidate's socket was not closed"
    client.disconnect()
    assert stopped_in < 15, (stopped_in, server.log.read_text()[-2000:])
