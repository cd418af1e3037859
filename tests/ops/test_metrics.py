"""Prometheus metrics at the choke points, read back through ``GET /metrics``."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from examsvc.attempts.models import AttemptItem
from examsvc.camera import operations as camera_ops
from examsvc.camera.models import Snapshot, SnapshotStatus
from examsvc.extensions import db
from examsvc.registry import RegistryClient
from examsvc.results import delivery
from examsvc.results.models import DeliveryStatus
from tests.attempts.test_attempts import start
from tests.conftest import T0
from tests.results.result_factory import create_result

PUBLIC = {"REMOTE_ADDR": "203.0.113.30"}


def scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.data
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_are_for_the_host_or_a_scraper_with_the_token(app, client):
    assert client.get("/metrics", environ_base=PUBLIC).status_code == 404
    assert client.get("/metrics").status_code == 200  # loopback: the host's own Prometheus
    app.config["METRICS_TOKEN"] = "scrape-token-0123456789"
    wrong = client.get("/metrics", environ_base=PUBLIC, headers={"Authorization": "Bearer no"})
    assert wrong.status_code == 404
    right = client.get(
        "/metrics",
        environ_base=PUBLIC,
        headers={"Authorization": "Bearer scrape-token-0123456789"},
    )
    assert right.status_code == 200 and b"examsvc_answers_saved_total" in right.data


def test_logins_answers_snapshots_and_request_latency_are_counted(
    app, client, candidate, exam, clock
):
    before = scrape(client)
    client.post("/logout")
    client.post("/login", data={"login": exam["physician"].id_number, "password": "nope-nope"})
    client.post("/login", data={"login": exam["physician"].id_number, "password": "Right-Pass1"})
    from tests.factories_exam import let_in

    let_in(client, exam["physician"])
    attempt_id = start(client, exam["paper"].id).get_json()["id"]
    item = db.session.scalars(
        sa.select(AttemptItem).where(
            AttemptItem.attempt_id == attempt_id, AttemptItem.position == 1
        )
    ).one()
    url = f"/api/v1/exam/attempts/{attempt_id}/answers/1"
    option = sorted(item.question.data["options"])[0]
    assert client.put(url, json={"response": option, "seq": 1}).get_json()["ok"] is True
    snapshot = Snapshot(attempt_id=attempt_id, received_at=clock.now(), size=10, status="pending")
    db.session.add(snapshot)
    db.session.flush()
    camera_ops.record_unanalysed(snapshot.id, SnapshotStatus.SKIPPED, "Busy", now=clock.now())
    db.session.commit()

    after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("examsvc_logins_total", outcome="ok") == 1
    assert (
        sum(
            grew("examsvc_logins_total", outcome=labels[0][1])
            for (name, labels) in after
            if name == "examsvc_logins_total" and labels[0][1] != "ok"
        )
        == 1
    )
    assert grew("examsvc_answers_saved_total", channel="http") == 1
    assert grew("examsvc_answer_ack_seconds_count", channel="http") == 1
    assert grew("examsvc_snapshots_analysed_total", decision="skipped") == 1
    endpoint = {"endpoint": "attempts_api.save_http", "method": "PUT"}
    assert grew("examsvc_http_request_seconds_count", **endpoint) == 1
    assert not any("/api/v1/" in dict(labels).get("endpoint", "") for _, labels in after)
    assert value(after, "examsvc_face_queue_depth") == 0


def test_writeback_backlog_and_failures(app, client, exam, clock):
    row = create_result(
        exam["physician"], DeliveryStatus.PENDING, decided_at=T0 - timedelta(hours=1)
    )
    db.session.commit()
    before = scrape(client)
    assert value(before, "examsvc_writeback_backlog", state="pending") == 1
    closed = RegistryClient("http://127.0.0.1:9/", "token", timeout=2)  # nothing listens there
    assert delivery.deliver(closed, clock.now, lease_seconds=120).retrying == 1
    after = scrape(client)
    failures = "examsvc_writeback_failures_total"
    assert value(after, failures, kind="network") - value(before, failures, kind="network") == 1
    assert value(after, "examsvc_writeback_oldest_pending_seconds") >= 3600
    assert row.id


def test_several_processes_sum_in_multiprocess_mode(tmp_path):
    """Each gunicorn process writes its values under PROMETHEUS_MULTIPROC_DIR; any process's
    scrape answers the sum."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    count = (
        "from examsvc import metrics\n"
        "metrics.LOGINS.labels('ok').inc()\n"
        "metrics.ANSWER_ACK_SECONDS.labels('socket').observe(0.02)\n"
    )
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], env=env, check=True, timeout=60)
    read = "from examsvc import metrics\nprint(metrics.exposition().get_data(as_text=True))\n"
    text = subprocess.run(
        [sys.executable, "-c", read],
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert value(samples, "examsvc_logins_total", outcome="ok") == 2
    assert value(samples, "examsvc_answer_ack_seconds_count", channel="socket") == 2
