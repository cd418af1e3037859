"""Redis stops under the scale-out configuration (the test's OWN redis-server on a free
port, never the machine's): answer saves go on and are stored, a snapshot is stored and
analysed by the web process's own face pool (single-process delivery), its decision stored
once, the process and its sockets live on, and when Redis returns the face queue and the
message queue work again; a snapshot whose queued job Redis lost when it restarted is
queued again by the periodic re-queue and decided once by an RQ face worker."""

from __future__ import annotations

import queue
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
import requests
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis

from examsvc.demo.data import PHYSICIANS, demo_id
from tests.e2e.conftest import physician_session, server_database, start_first_paper
from tests.e2e.test_scale_out import channel, make_session, staff_session
from tests.faults.conftest import close, poll, service
from tests.redis_server import own_redis

pytestmark = [pytest.mark.faults, pytest.mark.redis]
WORKER = [sys.executable, "-m", "proctoring.worker", "--burst"]  # ends when the queues are empty


class Scene:
    """A scale-out server on its own Redis, a candidate in an attempt on its socket."""

    def __init__(self, url: str, server) -> None:
        self.url = url
        session_id = make_session(server, ["DEMO-0001"])
        number = demo_id(PHYSICIANS[0][0], PHYSICIANS[0][8])
        self.http = physician_session(url, number, "Redis-Doc-2026")
        started = start_first_paper(url, self.http)
        self.attempt_id = started["id"]
        self.items = [i for i in started["items"] if i["type"] in ("single", "true_false")]
        self.candidate, self.inbox = channel(url, self.http, "/exam", ["warning"])
        assert self.candidate.call("exam_join", {"attempt_id": self.attempt_id}, namespace="/exam")[
            "ok"
        ]
        self.proctor = staff_session(url, "jiankao", "Demo-Proctor-2026")
        self.wall, _ = channel(url, self.proctor, "/invigilate", ["candidate"])
        assert self.wall.call("join", {"session_id": session_id}, namespace="/invigilate")["ok"]
        self.seq = 0

    def save(self) -> dict:
        self.seq += 1
        item = self.items[self.seq % len(self.items)]
        response = True if item["type"] == "true_false" else item["options"][0]["key"]
        return self.candidate.call(
            "answer",
            {
                "attempt_id": self.attempt_id,
                "position": item["position"],
                "response": response,
                "marked": False,
                "seq": self.seq,
            },
            namespace="/exam",
            timeout=15,
        )

    def snapshot(self, image: bytes) -> dict:
        return self.candidate.call(
            "snapshot",
            {"attempt_id": self.attempt_id, "image": image},
            namespace="/exam",
            timeout=30,
        )

    def warned(self, text: str) -> bool:
        """An invigilator's warning reaches the candidate (through the message queue)."""
        sent = self.wall.call(
            "warn", {"attempt_id": self.attempt_id, "message": text}, namespace="/invigilate"
        )
        if not sent.get("ok"):
            return False
        try:
            while True:
                name, data = self.inbox.get(timeout=5)
                if name == "warning" and data["message"] == text:
                    return True
        except queue.Empty:
            return False

    def close(self) -> None:
        close(self.candidate)
        close(self.wall)
        self.http.close()
        self.proctor.close()


def analysed_count(url: str) -> float:
    """Snapshot decisions this server process recorded (``/metrics``, read from loopback)."""
    text = requests.get(url + "/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "examsvc_snapshots_analysed_total"
    )


def snapshot_status(url: str, snapshot_id: int) -> str:
    from examsvc.camera.models import Snapshot
    from examsvc.extensions import db

    with server_database(url):
        return db.session.scalar(sa.select(Snapshot.status).where(Snapshot.id == snapshot_id)).value


@pytest.fixture
def scale_out(tmp_path, fault_database) -> Iterator[tuple]:
    with (
        own_redis(tmp_path) as redis_server,
        service(
            tmp_path / "server",
            EXAMSVC_REDIS_URL=redis_server.url,
            EXAMSVC_FACE_QUEUE_PREFIX=f"fault-{uuid.uuid4().hex[:8]}-",
            **fault_database,
        ) as svc,
    ):
        scene = Scene(svc.url, svc.server)
        try:
            yield redis_server, svc, scene
        finally:
            scene.close()


def test_redis_stops_and_returns_the_service_degrades_and_recovers(scale_out, faces_photos):
    redis_server, svc, scene = scale_out
    assert scene.save()["ok"]
    assert scene.warned("请正对摄像头")  # through the message queue

    redis_server.stop()
    # Saves go on: acknowledged and stored.
    acked = [scene.save() for _ in range(5)]
    assert all(a["ok"] and a["code"] == "saved" for a in acked), acked
    state = scene.http.get(f"{svc.url}/api/v1/exam/attempts/{scene.attempt_id}", timeout=10)
    assert state.ok and max(i["seq"] or 0 for i in state.json()["items"]) == scene.seq
    # Snapshots are stored and acknowledged, and this process's own face pool decides them:
    # no decision lost, each stored once.
    analysed = analysed_count(svc.url)
    local = [scene.snapshot(faces_photos[name]) for name in ("obama", "two")]
    assert all(ack["ok"] for ack in local), local

    def decided() -> bool:
        return all(snapshot_status(svc.url, ack["id"]) != "pending" for ack in local)

    assert poll(decided, timeout=90, what="the local pool decides the snapshots")
    statuses = [snapshot_status(svc.url, ack["id"]) for ack in local]
    assert not {"error", "skipped"} & set(statuses), statuses
    assert analysed_count(svc.url) - analysed == len(local)
    # The process lives on: pages and the API answer.
    assert requests.get(svc.url + "/healthz", timeout=5).ok
    assert scene.http.get(f"{svc.url}/api/v1/exam", timeout=10).ok

    redis_server.start()
    # Recovery: the message queue carries a warning again, the face queue takes the next
    # snapshot (it waits in Redis for a face worker: pending, not shed).
    assert poll(lambda: scene.warned("请保持安静"), timeout=30, what="the message queue is back")
    queued = scene.snapshot(faces_photos["obama"])
    assert queued["ok"], queued
    assert snapshot_status(svc.url, queued["id"]) == "pending"
    assert scene.save()["ok"]


def test_readyz_reports_redis_degraded(scale_out):
    """/readyz says Redis is down and the service degraded, then Redis reachable again and
    the service as it was before."""
    redis_server, svc, scene = scale_out
    ready = requests.get(svc.url + "/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["checks"]["redis"]["ok"] is True
    before = ready.json()["status"]  # "degraded" too when no RQ face worker listens here
    redis_server.stop()
    ready = requests.get(svc.url + "/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "degraded" and body["checks"]["redis"]["ok"] is False
    assert body["checks"]["redis"]["detail"]
    assert scene.save()["ok"]
    redis_server.start()

    def recovered() -> bool:
        body = requests.get(svc.url + "/readyz", timeout=10).json()
        return body["checks"]["redis"]["ok"] is True and body["status"] == before

    assert poll(recovered, timeout=30, what="/readyz as before Redis stopped")


def test_a_paused_redis_is_noticed_and_the_message_queue_comes_back(tmp_path, fault_database):
    """Redis hangs with its connections open (SIGSTOP: what a network that cuts them off
    without closing them looks like too): /readyz is degraded, saves go on, the listener
    notices within EXAMSVC_REDIS_PING_SECONDS + EXAMSVC_REDIS_TIMEOUT (1 + 2 s here; TCP
    would never notice a paused server), and when Redis answers again it subscribes anew
    and the invigilator's warnings reach the candidate's page on the socket again."""
    with (
        own_redis(tmp_path) as redis_server,
        service(
            tmp_path / "server",
            EXAMSVC_REDIS_URL=redis_server.url,
            EXAMSVC_FACE_QUEUE_PREFIX=f"fault-{uuid.uuid4().hex[:8]}-",
            EXAMSVC_REDIS_PING_SECONDS="1",
            **fault_database,
        ) as svc,
    ):
        scene = Scene(svc.url, svc.server)
        try:
            assert scene.warned("请正对摄像头")
            redis_server.pause()

            def noticed() -> bool:
                return "Cannot receive from redis" in svc.server.log.read_text()

            assert not noticed()
            ready = requests.get(svc.url + "/readyz", timeout=10)
            assert ready.status_code == 200, ready.text
            assert ready.json()["status"] == "degraded"
            assert ready.json()["checks"]["redis"]["ok"] is False
            assert scene.save()["ok"]
            poll(noticed, timeout=15, what="the listener notices the silent Redis")
            redis_server.resume()
            assert poll(lambda: scene.warned("请保持安静"), timeout=30, what="warnings again")
            assert scene.save()["ok"]
        finally:
            scene.close()


def test_a_snapshot_whose_job_redis_lost_is_queued_again_and_decided_once(
    tmp_path, fault_database, faces_photos
):
    """Redis restarts without persistence while a snapshot's job waits for a face worker:
    the job and its claim are gone, the snapshot PENDING. The re-queue job (every second
    here) queues it again, once, however many passes run; an RQ face worker then decides
    it once.

    ``SNAPSHOT_REQUEUE_AFTER`` is 2 s, not 0: at 0 the re-queue may take a snapshot between
    its commit and its own hand-off's claim, before Redis restarts (on PostgreSQL, whose
    queries yield to the job's greenlet there; SQLite's block the loop), and the line
    counted below would be that one, not the re-queue after the restart."""
    prefix = f"fault-{uuid.uuid4().hex[:8]}-"
    with (
        own_redis(tmp_path) as redis_server,
        service(
            tmp_path / "server",
            jobs=True,
            EXAMSVC_REDIS_URL=redis_server.url,
            EXAMSVC_FACE_QUEUE_PREFIX=prefix,
            EXAMSVC_SNAPSHOT_REQUEUE_SECONDS="1",
            EXAMSVC_SNAPSHOT_REQUEUE_AFTER="2",
            EXAMSVC_SNAPSHOT_MEAN_SECONDS="3600",
            **fault_database,
        ) as svc,
    ):
        scene = Scene(svc.url, svc.server)
        redis = Redis.from_url(redis_server.url)
        claim = f"{prefix}snapshots:queued:"
        try:
            queued = scene.snapshot(faces_photos["obama"])
            assert queued["ok"], queued
            assert redis.exists(claim + str(queued["id"]))

            def requeued() -> int:
                return svc.server.log.read_text().count("1 pending snapshots queued again")

            assert requeued() == 0  # queued by its own hand-off, the claim its
            redis_server.stop()
            redis_server.start()  # empty: the job and its claim are lost
            assert snapshot_status(svc.url, queued["id"]) == "pending"
            assert poll(requeued, timeout=30, what="the re-queue job queues it again")
            assert redis.exists(claim + str(queued["id"]))
            worker_log = tmp_path / "worker.log"
            with worker_log.open("wb") as out:
                subprocess.run(
                    [*WORKER, "--namespace", prefix, "--redis", redis_server.url],
                    env=svc.server.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=180,
                    check=True,
                )
            assert snapshot_status(svc.url, queued["id"]) not in ("pending", "error", "skipped")
            ran = worker_log.read_text()
            assert ran.count("Job OK") == 1, ran[-2000:]  # one job ran: this snapshot's
            assert f"'snapshot_id': {queued['id']}," in ran
            # Passes ran every second meanwhile: the claim kept it from a second job.
            assert requeued() == 1
        finally:
            redis.close()
            scene.close()


def test_a_face_worker_pushes_the_cards_its_decisions_change_together(
    tmp_path, fault_database, faces_photos
):
    """An RQ face worker decides a candidate's three queued snapshots (two superseded and
    skipped, the newest analysed) and pushes the candidate's card to the wall once, with
    the other changes of ``CARD_PUSH_SECONDS`` (here longer than the run: the push waits
    for the worker's exit), not once per job: a card read in every job was a third of a
    job's time in the worker (docs/benchmarks.md, "The RQ face workers' throughput")."""
    import json

    prefix = f"fault-{uuid.uuid4().hex[:8]}-"
    with (
        own_redis(tmp_path) as redis_server,
        service(
            tmp_path / "server",
            EXAMSVC_REDIS_URL=redis_server.url,
            EXAMSVC_FACE_QUEUE_PREFIX=prefix,
            EXAMSVC_CARD_PUSH_SECONDS="0",  # the server's own pushes go out before its acks
            **fault_database,
        ) as svc,
    ):
        scene = Scene(svc.url, svc.server)
        redis = Redis.from_url(redis_server.url)
        listening = redis.pubsub(ignore_subscribe_messages=True)
        try:
            ids = []
            for _ in range(3):
                queued = scene.snapshot(faces_photos["obama"])
                assert queued["ok"], queued
                ids.append(queued["id"])
            listening.subscribe("flask-socketio")  # the Socket.IO message queue's channel
            assert listening.get_message(timeout=5) is None  # the server pushed already
            with (tmp_path / "worker.log").open("wb") as out:
                subprocess.run(
                    [*WORKER, "--namespace", prefix, "--redis", redis_server.url],
                    env={**svc.server.env, "EXAMSVC_CARD_PUSH_SECONDS": "600"},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=180,
                    check=True,
                )
            statuses = [snapshot_status(svc.url, i) for i in ids]
            assert statuses[:2] == ["skipped", "skipped"], statuses
            assert statuses[2] not in ("pending", "skipped", "error"), statuses
            cards = []
            while (message := listening.get_message(timeout=5)) is not None:
                packet = json.loads(message["data"])
                if packet.get("event") == "candidate":
                    (data,) = packet["data"]  # the event's arguments
                    cards.append(data["card"])
            assert [c["attempt_id"] for c in cards] == [scene.attempt_id]
            assert cards[0]["thumb_id"] == ids[2]  # as it stands after all three
        finally:
            listening.close()
            redis.close()
            scene.close()
