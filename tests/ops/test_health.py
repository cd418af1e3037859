"""``/readyz``: each dependency checked for real (a dead port, a real HTTP registry, outbox
rows in the database), the overall status and its HTTP status; ``/healthz`` liveness only."""

from __future__ import annotations

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from examsvc import create_app, health
from examsvc.extensions import db
from examsvc.results.models import DeliveryStatus
from tests.conftest import T0
from tests.e2e.conftest import _free_port
from tests.factories import create_cycle, create_physician
from tests.redis_server import own_redis
from tests.results.result_factory import create_result

SHAPE = {
    "database": {"ok", "detail"},
    "redis": {"ok", "detail"},
    "face_workers": {"ok", "detail"},
    "registry": {"ok", "detail"},
    "writeback": {"ok", "pending", "refused", "oldest_pending_seconds", "detail"},
}


@pytest.fixture(autouse=True)
def fresh_probe(monkeypatch):
    monkeypatch.setattr(health, "registry_probe", health._RegistryProbe())


def ready(client):
    response = client.get("/readyz", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    body = response.get_json()
    assert set(body) == {"status", "checks"}
    assert {name: set(check) for name, check in body["checks"].items()} == SHAPE
    return response.status_code, body


def test_without_a_face_pool_the_service_is_degraded_not_down(client):
    status, body = ready(client)
    assert status == 200 and body["status"] == "degraded"
    checks = body["checks"]
    assert checks["database"] == {"ok": True, "detail": "reachable"}
    assert checks["redis"] == {"ok": None, "detail": "not configured"}
    assert checks["registry"] == {"ok": None, "detail": "not configured"}
    assert checks["face_workers"]["ok"] is False  # tests run no pool: serve starts one
    assert checks["writeback"] == {
        "ok": True,
        "pending": 0,
        "refused": 0,
        "oldest_pending_seconds": None,
        "detail": "up to date",
    }


def test_a_face_pool_makes_it_ok(app, client):
    from examsvc.camera import faces

    app.config["FACE_WORKERS"] = 1
    faces.start(app)
    try:
        status, body = ready(client)
    finally:
        faces.stop()
    assert (status, body["status"]) == (200, "ok")
    assert body["checks"]["face_workers"]["ok"] is True


def test_an_unreachable_redis_is_degraded(app, client):
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{_free_port()}/0"
    status, body = ready(client)
    assert status == 200 and body["status"] == "degraded"
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["face_workers"]["ok"] is False  # the RQ queues are on that Redis
    assert body["checks"]["database"]["ok"] is True


@pytest.mark.timeout(60)
def test_a_paused_redis_is_degraded_within_the_probe_s_timeout(app, client, tmp_path):
    """A Redis that keeps its connections and says nothing (paused: a hung server, or one
    cut off by the network): the probe gives up after its timeout, once for Redis and the
    face queues on it together, and the service is degraded, not hung."""
    with own_redis(tmp_path) as server:
        app.config["REDIS_URL"] = server.url
        status, body = ready(client)
        assert body["checks"]["redis"] == {"ok": True, "detail": "reachable"}
        server.pause()
        status, body = ready(client)  # a hang fails the test (pytest-timeout)
        server.resume()
        assert status == 200 and body["status"] == "degraded"
        assert body["checks"]["redis"] == {"ok": False, "detail": "unreachable (TimeoutError)"}
        # Not asked again: one probe's timeout (PROBE_SECONDS), not one per check on Redis.
        assert body["checks"]["face_workers"] == {
            "ok": False,
            "detail": "face queues unreachable (redis)",
        }
        status, body = ready(client)
        assert body["checks"]["redis"]["ok"] is True


class _Registry(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_registry_is_probed_at_most_once_a_minute(app, client):
    port = _free_port()
    app.config["REGISTRY_BASE_URL"] = f"http://127.0.0.1:{port}/"
    assert ready(client)[1]["checks"]["registry"]["ok"] is False
    server = ThreadingHTTPServer(("127.0.0.1", port), _Registry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # Up now, but the cached answer holds until the minute is over.
        assert ready(client)[1]["checks"]["registry"]["ok"] is False
        health.registry_probe.at -= health.REGISTRY_EVERY_SECONDS
        assert ready(client)[1]["checks"]["registry"] == {"ok": True, "detail": "reachable"}
    finally:
        server.shutdown()
        server.server_close()


def test_an_old_backlog_and_a_refused_result_are_degraded(app, client, clock):
    cycle = create_cycle()
    physician = create_physician(cycle)
    create_result(physician, DeliveryStatus.PENDING, decided_at=T0 - timedelta(hours=2))
    db.session.commit()
    app.config["READY_WRITEBACK_MAX_AGE"] = 3 * 3600
    writeback = ready(client)[1]["checks"]["writeback"]
    assert writeback["ok"] is True and writeback["pending"] == 1
    assert writeback["oldest_pending_seconds"] == pytest.approx(
        (clock.now() - (T0 - timedelta(hours=2))).total_seconds(), abs=1
    )
    app.config["READY_WRITEBACK_MAX_AGE"] = 3600
    status, body = ready(client)
    assert status == 200 and body["checks"]["writeback"]["ok"] is False
    create_result(create_physician(cycle), DeliveryStatus.REFUSED)
    db.session.commit()
    writeback = ready(client)[1]["checks"]["writeback"]
    assert writeback["refused"] == 1 and "refused" in writeback["detail"]
    # Counts and ages only: nothing of the physician.
    text = client.get("/readyz").get_data(as_text=True)
    assert physician.id_number not in text and physician.name not in text


def test_an_unreachable_database_is_down_and_healthz_still_answers(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path}/missing/dir/x.db",
            "DATA_DIR": str(tmp_path / "data"),
        }
    )
    with app.app_context():
        client = app.test_client()
        response = client.get("/readyz")
        body = response.get_json()
        assert response.status_code == 503 and body["status"] == "down"
        assert body["checks"]["database"]["ok"] is False
        assert body["checks"]["writeback"]["detail"] == "database unreachable"
        assert client.get("/healthz", environ_base={"REMOTE_ADDR": "203.0.113.9"}).get_json() == {
            "status": "ok"
        }
        db.engine.dispose()
