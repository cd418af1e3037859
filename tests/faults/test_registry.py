"""The registration system goes away (nothing listens at its address) and comes back, seen
from the processes that talk to it: ``examsvc roster pull`` and ``examsvc results deliver``
(what the scheduled jobs run in child processes). They stop cleanly, keep what they had, and
catch up when it returns. The retry schedule itself is tests/results/test_backoff.py's."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
import sqlalchemy as sa

from examsvc.clock import now as clock_now
from tests.e2e.conftest import _free_port, server_database
from tests.factories import resident_id
from tests.faults.conftest import Service
from tests.roster.fake_registry import CYCLE, TOKEN, FakeRegistry, item

pytestmark = pytest.mark.faults


def run(service: Service, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "examsvc.cli", *args],
        env=service.server.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_pulls_and_write_backs_stop_cleanly_and_catch_up_when_the_registry_returns(
    tmp_path, fault_database
):
    from examsvc.extensions import db
    from examsvc.results.models import DeliveryStatus, ResultDelivery
    from examsvc.roster.models import Physician

    port = _free_port()  # the registry's address; nothing listens there yet
    svc = Service(
        tmp_path,
        EXAMSVC_REGISTRY_BASE_URL=f"http://127.0.0.1:{port}/",
        EXAMSVC_REGISTRY_TOKEN=TOKEN,
        EXAMSVC_REGISTRY_CYCLE=CYCLE["code"],
        EXAMSVC_REGISTRY_TIMEOUT="5",
        EXAMSVC_REGISTRY_RETRY_SECONDS="0.01",  # the five tries, without 15 s of waits
        **fault_database,
    )

    def deliveries() -> list[tuple[int, DeliveryStatus, int]]:
        with server_database(svc.url):
            return list(
                db.session.execute(
                    sa.select(ResultDelivery.id, ResultDelivery.status, ResultDelivery.tries)
                ).all()
            )

    queued = deliveries()
    assert [s for _, s, _ in queued] == [DeliveryStatus.PENDING]  # the demo queues one result

    # Down: the pull stops saying so, the write-back keeps its row for a later try.
    pulled = run(svc, "roster", "pull")
    assert pulled.returncode != 0 and "pull stopped" in pulled.stderr, pulled
    assert "Traceback" not in pulled.stderr
    sent = run(svc, "results", "deliver")
    assert sent.returncode == 0 and "to retry 1" in sent.stdout, sent
    [(delivery_id, status, tries)] = deliveries()
    assert (status, tries) == (DeliveryStatus.PENDING, 1)
    with server_database(svc.url):
        row = db.session.get(ResultDelivery, delivery_id)
        # Kept with the reason and a later try (full jitter: tests/results/test_backoff.py).
        assert row.last_error and row.next_try_at >= row.last_try_at

    registry = FakeRegistry(port)
    for n in range(1, 4):
        registry.add(
            item(n, id_number=resident_id(900 + n), updated_at="2026-03-01T08:00:00+08:00")
        )
    registry.start()
    try:
        # Back: the pull completes.
        pulled = run(svc, "roster", "pull")
        assert pulled.returncode == 0, pulled
        with server_database(svc.url):
            ids = set(
                db.session.scalars(
                    sa.select(Physician.registration_id).where(
                        Physician.registration_id.like("HN2026-%")
                    )
                )
            )
        assert ids == {f"HN2026-{n:07d}" for n in range(1, 4)}
        # ... and once its backoff has run out (the clock moved on), the result is sent, once.
        with server_database(svc.url):
            row = db.session.get(ResultDelivery, delivery_id)
            row.next_try_at = clock_now() - timedelta(seconds=1)
            db.session.commit()
        sent = run(svc, "results", "deliver")
        assert sent.returncode == 0 and "delivered 1" in sent.stdout, sent
        assert [s for _, s, _ in deliveries()] == [DeliveryStatus.DELIVERED]
        assert sum(registry.stores.values()) == 1 and not registry.duplicates
        assert "delivered 0" in run(svc, "results", "deliver").stdout
    finally:
        registry.stop()
