"""kill -9 of ``examsvc serve`` while several candidates save answers and send snapshots over
real Socket.IO; after the restart every acknowledged answer is stored, the attempts resume
with the same deadline, and every acknowledged snapshot has exactly one row and a decision."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
import socketio
import sqlalchemy as sa

from examsvc.demo.data import PHYSICIANS, demo_id
from tests.e2e.conftest import (
    cookie_header,
    physician_session,
    server_database,
    some_answer,
    start_first_paper,
)
from tests.faults.conftest import close, poll, service

pytestmark = [pytest.mark.faults, pytest.mark.slow]
CANDIDATES = 3


class Candidate:
    """One physician's attempt and socket; ``save_until`` sends answers until stopped."""

    def __init__(self, base: str, index: int) -> None:
        number = demo_id(PHYSICIANS[index][0], PHYSICIANS[index][8])
        self.http = physician_session(base, number, f"Kill-Doc-{index}-2026")
        self.started = start_first_paper(base, self.http)
        self.attempt_id = self.started["id"]
        self.items = [i for i in self.started["items"] if some_answer(i) is not None]
        self.client = socketio.Client(reconnection=False)
        self.client.connect(
            base, namespaces=["/exam"], headers=cookie_header(self.http), transports=["websocket"]
        )
        assert self.client.call("exam_join", {"attempt_id": self.attempt_id}, namespace="/exam")[
            "ok"
        ]
        self.sent: dict[int, set[int]] = {}  # position -> every seq sent
        self.acked: dict[int, int] = {}  # position -> highest acknowledged seq
        self.seq = 0

    def save(self) -> bool:
        self.seq += 1
        item = self.items[self.seq % len(self.items)]
        self.sent.setdefault(item["position"], set()).add(self.seq)
        payload = {
            "attempt_id": self.attempt_id,
            "position": item["position"],
            "response": some_answer(item),
            "marked": self.seq % 2 == 0,
            "seq": self.seq,
        }
        try:
            ack = self.client.call("answer", payload, namespace="/exam", timeout=5)
        except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError):
            return False
        if not ack or not ack.get("ok"):
            return False
        assert ack["code"] == "saved", ack
        self.acked[item["position"]] = max(self.acked.get(item["position"], 0), self.seq)
        return True

    def save_until(self, stop: threading.Event) -> None:
        while not stop.is_set() and self.save():
            pass


def test_kill_9_loses_no_acknowledged_answer_nor_snapshot_decision(
    tmp_path, fault_database, faces_photos
):
    with service(tmp_path, **fault_database) as svc:
        candidates = [Candidate(svc.url, index) for index in range(CANDIDATES)]
        deadlines = {
            c.attempt_id: datetime.fromisoformat(c.started["deadline"]) for c in candidates
        }
        stop = threading.Event()
        savers = [threading.Thread(target=c.save_until, args=(stop,)) for c in candidates]
        for saver in savers:
            saver.start()
        # Kill while every candidate is saving: once each has had a few answers acknowledged.
        poll(lambda: all(len(c.acked) >= 3 for c in candidates), what="answers acknowledged")
        # And snapshots, acknowledged while their analyses are still on their way.
        snapshots = []  # acknowledged snapshot ids
        for c in candidates:
            for _ in range(2):
                ack = c.client.call(
                    "snapshot",
                    {"attempt_id": c.attempt_id, "image": faces_photos["obama"]},
                    namespace="/exam",
                    timeout=30,
                )
                assert ack["ok"], ack
                snapshots.append(ack["id"])
        svc.kill()
        stop.set()
        for saver in savers:
            saver.join(timeout=15)
        for c in candidates:
            close(c.client)

        svc.start()
        from examsvc.attempts.models import Answer, Attempt, AttemptItem
        from examsvc.camera.models import Snapshot, SnapshotStatus
        from examsvc.extensions import db

        for c in candidates:
            state = c.http.get(f"{svc.url}/api/v1/exam/attempts/{c.attempt_id}", timeout=10).json()
            assert state["status"] == "in_progress", state
            assert datetime.fromisoformat(state["deadline"]) == deadlines[c.attempt_id]
            remaining = (
                deadlines[c.attempt_id] - datetime.fromisoformat(state["server_time"])
            ).total_seconds()
            assert abs(state["remaining_seconds"] - remaining) <= 1
            with server_database(svc.url):
                stored = dict(
                    db.session.execute(
                        sa.select(AttemptItem.position, Answer.seq)
                        .join(AttemptItem, Answer.item_id == AttemptItem.id)
                        .where(Answer.attempt_id == c.attempt_id)
                    ).all()
                )
                rows = db.session.scalar(
                    sa.select(sa.func.count())
                    .select_from(Answer)
                    .where(Answer.attempt_id == c.attempt_id)
                )
                last_seq = db.session.get(Attempt, c.attempt_id).last_seq
            assert rows == len(stored), "one answer row per question"
            for position, seq in c.acked.items():
                # Acknowledged means stored: the stored seq is the acknowledged one or a later
                # one this client sent (saved, its acknowledgement lost with the process).
                assert stored[position] >= seq and stored[position] in c.sent[position]
            assert set(stored) <= set(c.sent)
            assert last_seq >= max(c.acked.values())
            # The attempt goes on: a new save after the restart is acknowledged.
            c.client = socketio.Client(reconnection=False)
            c.client.connect(
                svc.url,
                namespaces=["/exam"],
                headers=cookie_header(c.http),
                transports=["websocket"],
            )
            c.seq = max(c.seq, last_seq)
            assert c.save()
            c.client.disconnect()

        def decided() -> list | None:
            with server_database(svc.url):
                rows = db.session.execute(
                    sa.select(Snapshot.id, Snapshot.status).where(
                        Snapshot.attempt_id.in_([c.attempt_id for c in candidates])
                    )
                ).all()
            if any(status == SnapshotStatus.PENDING for _, status in rows):
                return None
            return rows

        rows = poll(decided, timeout=40, what="every snapshot decided after the restart")
        assert sorted(i for i, _ in rows) == sorted(snapshots), "one row per acknowledged snapshot"
        # A decision each: analysed, or skipped when a newer frame of the same candidate
        # replaced it in the pool's queue (the pool keeps the newest); never pending.
        assert {status for _, status in rows} <= {SnapshotStatus.OK, SnapshotStatus.SKIPPED}
        for c in candidates:
            c.http.close()
