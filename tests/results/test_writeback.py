"""Results written back to the registration system, exactly once in effect: queued in the
unit that decided them, delivered against the fake registry over real HTTP, through its
outages, refusals, a killed worker and concurrent workers (frozen clock, no sleeping)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from examsvc.attempts import operations as ops
from examsvc.attempts.operations import overview
from examsvc.attempts.sweeper import sweep as deadline_sweep
from examsvc.enums import Evaluation, Procedure, RegistrationStatus, WindowRound
from examsvc.extensions import db
from examsvc.papers.models import ExamWindow
from examsvc.registry import RegistryClient
from examsvc.results import delivery
from examsvc.results.models import DeliveryStatus, ResultDelivery
from examsvc.results.operations import digest, queue_result, result_payload
from examsvc.results.sweep import sweep
from examsvc.roster.models import Physician
from examsvc.roster.operations import pull
from tests.factories import create_cycle, create_physician, resident_id
from tests.factories_exam import create_bank, create_paper, create_window
from tests.results.conftest import client_of, deliver, rows, sit, submit
from tests.roster.fake_registry import TOKEN, item

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def exam(app, clock):
    """The cycle of the fake registry (HN-2026), a humanities paper that may be sat once
    (pass mark 60) with a regular window open now for two days, no makeup window."""
    t0 = clock.now()
    cycle = create_cycle()
    create_bank(now=t0)
    paper = create_paper(cycle.id, t0, attempt_limit_simple=1)
    window = create_window(paper, t0 - timedelta(hours=1), hours=48)
    db.session.commit()
    return {"cycle": cycle, "paper": paper, "window": window}


def physician(exam, **kw) -> Physician:
    p = create_physician(exam["cycle"], kw.pop("procedure", Procedure.SIMPLE), **kw)
    db.session.commit()
    return p


def test_a_whole_cycle_is_delivered_once_each(app, exam, clock, registry):
    """Pass, fail by score, exempt and evaluation failed (both from a roster pull), voided:
    each result queued by what decided it and stored once by the registry."""
    t0, paper_id = clock.now(), exam["paper"].id
    registry.add(
        item(1, id_number=resident_id(1, "19700101"), updated_at="2026-05-01T10:00:00+08:00")
    )
    registry.add(
        item(
            2,
            id_number=resident_id(2, "19700101"),
            updated_at="2026-05-01T10:00:00+08:00",
            exemptions=["humanities"],
        )
    )
    registry.add(
        item(
            3,
            id_number=resident_id(3, "19700101"),
            updated_at="2026-05-01T10:00:00+08:00",
            evaluation={"work_performance": "pass", "ethics": "fail"},
        )
    )
    pull(
        client_of(registry), "HN-2026", now=clock.now, data_dir=app.config["DATA_DIR"], checker=None
    )  # type: ignore[arg-type]
    by_reg = {p.registration_id: p for p in db.session.scalars(sa.select(Physician)).all()}
    pulled_pending = by_reg["HN2026-0000001"]
    exempt, evaluation_failed = by_reg["HN2026-0000002"], by_reg["HN2026-0000003"]
    assert {r.physician_id: r.verdict for r in rows()} == {
        exempt.id: "pass",
        evaluation_failed.id: "fail",
    }  # the pull's unit queued them; the undecided physician nothing

    passer, failer, voided = physician(exam), physician(exam), physician(exam)
    submit(sit(passer, paper_id, t0, correct=True), t0 + timedelta(minutes=20))
    submit(sit(failer, paper_id, t0, correct=False), t0 + timedelta(minutes=25))
    attempt = sit(voided, paper_id, t0, correct=True)
    ops.void_attempt(attempt.id, now=t0 + timedelta(minutes=5), reason="替考")
    db.session.commit()
    # The physician pulled first sits and is handed in by the deadline sweeper.
    sit(pulled_pending, paper_id, t0, correct=True)
    clock.advance(hours=2)
    assert deadline_sweep() == 1

    report = deliver(registry, clock)
    assert report.delivered == 6 and report.refused == report.retrying == 0
    assert all(r.status == DeliveryStatus.DELIVERED for r in rows())
    assert dict(registry.stores) == {
        p.registration_id: 1
        for p in (pulled_pending, exempt, evaluation_failed, passer, failer, voided)
    }
    assert not registry.duplicates and len(registry.puts) == 6

    got = registry.results
    assert got[passer.registration_id]["verdict"] == "pass"
    paper = got[passer.registration_id]["papers"][0]
    assert paper["paper"] == "humanities" and paper["status"] == "passed"
    assert paper["score"] == 100.0 and paper["pass_mark"] == 60.0 and paper["attempts_used"] == 1
    assert paper["finished_at"] == "2026-05-12T09:20:00+08:00"
    assert got[passer.registration_id]["round"] == "regular"
    assert got[passer.registration_id]["decided_at"] == "2026-05-12T09:20:00+08:00"
    assert got[pulled_pending.registration_id]["verdict"] == "pass"
    assert got[failer.registration_id] | {"decided_at": None} == {
        "verdict": "fail",
        "decided_at": None,
        "round": "regular",
        "papers": [
            {
                "paper": "humanities",
                "status": "failed",
                "score": 0.0,
                "pass_mark": 60.0,
                "attempts_used": 1,
                "finished_at": "2026-05-12T09:25:00+08:00",
            }
        ],
        "reasons": ["HUM 测评试卷不合格"],
    }
    assert got[voided.registration_id]["papers"][0]["status"] == "voided"
    assert got[voided.registration_id]["reasons"] == ["HUM 测评试卷违纪终止"]
    assert got[exempt.registration_id]["papers"] == [
        {
            "paper": "humanities",
            "status": "exempt",
            "score": None,
            "pass_mark": 60.0,
            "attempts_used": 0,
            "finished_at": None,
        }
    ]
    assert got[evaluation_failed.registration_id]["reasons"] == ["职业道德评定不合格"]
    assert got[evaluation_failed.registration_id]["papers"] == []  # still to sit: not decided

    # Nothing is sent twice: a later run finds nothing due; deciding again queues nothing.
    clock.advance(days=1)
    assert deliver(registry, clock).delivered == 0
    assert queue_result(passer, clock.now()) is None
    assert len(registry.puts) == 6


def test_a_pending_verdict_queues_nothing(app, exam, clock):
    p = physician(exam)
    assert result_payload(p, clock.now()) is None
    assert queue_result(p, clock.now()) is None
    withdrawn = physician(exam, exempt_humanities=True, status=RegistrationStatus.WITHDRAWN)
    assert queue_result(withdrawn, clock.now()) is None
    assert rows() == []


def test_no_paper_assigned_is_no_result(app, clock):
    """A roster pulled before the papers exist: no 合格 yet, nothing written back."""
    p = create_physician(create_cycle(), Procedure.SIMPLE, exempt_humanities=True)
    assert overview(p, clock.now()).verdict.label == "报名完成-等待测评"
    assert queue_result(p, clock.now()) is None


def test_an_outage_then_every_result_arrives_once(app, exam, clock, registry):
    people = [physician(exam, exempt_humanities=True) for _ in range(4)]
    for p in people:
        queue_result(p, clock.now())
    db.session.commit()
    registry.failing = True  # 503 until switched back
    report = deliver(registry, clock)
    assert report.retrying == 4 and report.delivered == 0
    first = rows()
    assert all(r.status == DeliveryStatus.PENDING and r.tries == 1 for r in first)
    assert all(r.last_http_status == 503 and r.lease_until is None for r in first)
    assert all(clock.now() <= r.next_try_at <= clock.now() + timedelta(seconds=30) for r in first)
    assert deliver(registry, clock).retrying == 0  # none due yet: not asked again at once

    for _ in range(3):  # still down: each try waits its backoff
        clock.advance(hours=1)
        assert deliver(registry, clock).retrying == 4
    assert {r.tries for r in rows()} == {4}
    registry.failing = False
    clock.advance(hours=1, seconds=1)
    assert deliver(registry, clock).delivered == 4
    assert dict(registry.stores) == {p.registration_id: 1 for p in people}
    assert not registry.duplicates
    assert {r.idempotency_key for r in rows()} == {key for _, key in registry.puts}
    assert all(r.status == DeliveryStatus.DELIVERED and r.tries == 5 for r in rows())


def test_429_waits_at_least_retry_after(app, exam, clock, registry):
    queue_result(physician(exam, exempt_humanities=True), clock.now())
    db.session.commit()
    registry.fail_next, registry.fail_status, registry.put_retry_after = 1, 429, "600"
    assert deliver(registry, clock).retrying == 1
    (row,) = rows()
    assert row.next_try_at >= clock.now() + timedelta(seconds=600)
    clock.advance(seconds=599)
    assert deliver(registry, clock).delivered == 0
    clock.advance(seconds=2)
    assert deliver(registry, clock).delivered == 1


def test_a_connection_error_is_retried(app, exam, clock):
    queue_result(physician(exam, exempt_humanities=True), clock.now())
    db.session.commit()
    closed = RegistryClient("http://127.0.0.1:9/", TOKEN, timeout=2)  # nothing listens there
    report = delivery.deliver(closed, clock.now, lease_seconds=120)
    assert report.retrying == 1
    (row,) = rows()
    assert row.status == DeliveryStatus.PENDING and row.last_http_status is None
    assert "connection failed" in row.last_error


def test_409_is_refused_shown_and_not_retried(app, exam, clock, registry):
    closed, open_ = physician(exam, exempt_humanities=True), physician(exam, exempt_humanities=True)
    registry.closed.add(closed.registration_id)
    for p in (closed, open_):
        queue_result(p, clock.now())
    db.session.commit()
    report = deliver(registry, clock)
    assert report.refused == 1 and report.delivered == 1
    (row,) = rows(closed)
    assert row.status == DeliveryStatus.REFUSED and row.last_http_status == 409
    assert "record_closed" in row.last_error and "已锁定" in row.last_error
    assert row.next_try_at is None and row.lease_until is None
    clock.advance(days=2)
    assert deliver(registry, clock).refused == 0
    assert [reg for reg, _ in registry.puts].count(closed.registration_id) == 1


def test_another_4xx_is_refused(app, exam, clock, registry):
    queue_result(physician(exam, exempt_humanities=True), clock.now())
    db.session.commit()
    registry.fail_next, registry.fail_status = 1, 422
    assert deliver(registry, clock).refused == 1
    assert rows()[0].last_http_status == 422


def test_two_workers_never_send_one_result_twice(app, exam, clock, registry):
    people = [physician(exam, exempt_humanities=True) for _ in range(12)]
    for p in people:
        queue_result(p, clock.now())
    db.session.commit()
    reports: list[delivery.DeliveryReport] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work(name: str) -> None:
        with app.app_context():
            try:
                barrier.wait()
                reports.append(
                    delivery.deliver(client_of(registry), clock.now, lease_seconds=120, worker=name)
                )
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sum(r.delivered for r in reports) == 12
    keys = [key for _, key in registry.puts]
    assert len(keys) == len(set(keys)) == 12
    assert dict(registry.stores) == {p.registration_id: 1 for p in people}


def test_a_physicians_next_result_waits_for_the_one_in_flight(app, exam, clock):
    p = physician(exam, exempt_humanities=True)
    first = queue_result(p, clock.now())
    db.session.commit()
    assert first is not None
    claimed = delivery.claim(clock.now(), timedelta(minutes=2), "w1")
    db.session.commit()
    assert claimed is not None and claimed.id == first.id
    # A changed result (the evaluation changed) supersedes the row in flight...
    p.eval_ethics = Evaluation.FAIL
    second = queue_result(p, clock.now())
    db.session.commit()
    assert second is not None and second.idempotency_key != first.idempotency_key
    assert db.session.get(ResultDelivery, first.id).status == DeliveryStatus.SUPERSEDED
    # ...and is not sent while the older one is still out.
    assert delivery.claim(clock.now(), timedelta(minutes=2), "w2") is None
    db.session.rollback()
    assert delivery.record_delivered(claimed, 201, clock.now())  # it did arrive
    db.session.commit()
    assert db.session.get(ResultDelivery, first.id).status == DeliveryStatus.DELIVERED
    again = delivery.claim(clock.now(), timedelta(minutes=2), "w2")
    assert again is not None and again.id == second.id


def test_absent_physicians_get_their_result_at_the_windows_close(app, exam, clock, registry):
    absent, passer = physician(exam), physician(exam)
    submit(sit(passer, exam["paper"].id, clock.now(), correct=True), clock.now())
    assert sweep(clock.now) == 0  # nothing closed yet
    assert [r.physician_id for r in rows()] == [passer.id]

    clock.set(exam["window"].closes_at)  # the window closes: 缺考
    assert sweep(clock.now, batch=1) == 1
    (row,) = rows(absent)
    assert row.verdict == "fail"
    assert row.payload["papers"][0]["status"] == "absent"
    assert row.payload["reasons"] == ["HUM 测评试卷缺考"]
    assert db.session.get(ExamWindow, exam["window"].id).results_swept_at == clock.now()
    assert sweep(clock.now) == 0  # swept once
    assert deliver(registry, clock).delivered == 2
    assert registry.results[absent.registration_id]["papers"][0]["attempts_used"] == 0


def test_a_moved_window_is_swept_again(app, exam, clock):
    clock.set(exam["window"].closes_at + timedelta(minutes=1))
    sweep(clock.now)
    window = db.session.get(ExamWindow, exam["window"].id)
    assert window.results_swept_at is not None
    from examsvc.papers.operations import change_window

    change_window(
        window,
        opens_at=window.opens_at,
        closes_at=clock.now() + timedelta(days=1),
        let_running_finish=False,
        now=clock.now(),
    )
    assert window.results_swept_at is None


def test_a_makeup_pass_after_a_delivered_fail(app, exam, clock, registry):
    """Failed in the regular round (delivered), then a makeup window: the pass is a new
    result, round makeup, with a new key; the delivered fail stays delivered."""
    p = physician(exam)
    submit(sit(p, exam["paper"].id, clock.now(), correct=False), clock.now())
    assert deliver(registry, clock).delivered == 1
    (fail,) = rows(p)
    assert fail.verdict == "fail" and fail.round == "regular"

    clock.advance(days=3)
    makeup = create_window(exam["paper"], clock.now(), hours=24, round=WindowRound.MAKEUP)
    db.session.commit()
    submit(sit(p, exam["paper"].id, clock.now(), correct=True), clock.now())
    fail_again, passed = rows(p)
    assert fail_again.status == DeliveryStatus.DELIVERED  # nothing delivered is superseded
    assert passed.verdict == "pass" and passed.round == "makeup"
    assert passed.idempotency_key != fail.idempotency_key
    assert passed.payload["papers"][0]["attempts_used"] == 2
    assert deliver(registry, clock).delivered == 1
    stored = registry.results[p.registration_id]
    assert stored["verdict"] == "pass" and stored["round"] == "makeup"
    assert registry.stores[p.registration_id] == 2 and not registry.duplicates
    # The makeup window's close decides nothing new.
    clock.set(makeup.closes_at)
    assert sweep(clock.now) == 0


def test_the_digest_ignores_when_it_was_decided():
    body = {"verdict": "pass", "decided_at": "2026-05-12T09:00:00+08:00", "papers": []}
    assert digest(body) == digest(body | {"decided_at": "2026-06-01T09:00:00+08:00"})
    assert digest(body) != digest(body | {"verdict": "fail"})


def test_a_killed_worker_loses_nothing(app, exam, clock, registry, tmp_path):
    """``examsvc results deliver`` as a real process, killed (-9) while the registry holds
    its request (the result stored, the answer not yet sent): after the lease expires the
    row is sent again with the same key and the registry keeps one result."""
    p = physician(exam, exempt_humanities=True)
    row = queue_result(p, clock.now())
    assert row is not None
    key = row.idempotency_key
    db.session.commit()
    registry.stall = True
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO),
        EXAMSVC_DATABASE_URL=app.config["DATABASE_URL"],
        EXAMSVC_DATA_DIR=str(tmp_path / "data"),
        EXAMSVC_INSTANCE_PATH=str(tmp_path / "instance"),
        EXAMSVC_SECRET_KEY="test-secret",
        EXAMSVC_REGISTRY_BASE_URL=registry.url,
        EXAMSVC_REGISTRY_TOKEN=TOKEN,
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "examsvc.cli", "results", "deliver"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert registry.stalled.wait(60), worker.communicate(timeout=5)
        worker.send_signal(signal.SIGKILL)
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.communicate(timeout=10)  # reaped, its pipes closed
    registry.stall = False
    registry.release.set()
    (leased,) = rows()
    assert leased.status == DeliveryStatus.PENDING and leased.lease_until is not None
    assert leased.tries == 1

    # The worker's clock is the system's: its lease is still live for a run now...
    clock.set(datetime.now(UTC))
    assert deliver(registry, clock).delivered == 0
    # ...and expired two minutes later: sent again, with the same key.
    clock.advance(minutes=3)
    assert deliver(registry, clock).delivered == 1
    (done,) = rows()
    assert done.status == DeliveryStatus.DELIVERED and done.tries == 2
    assert registry.puts == [(p.registration_id, key), (p.registration_id, key)]
    assert registry.stores[p.registration_id] == 1 and registry.duplicates[key] == 1


def test_the_cli_delivers(app, exam, clock, registry, runner):
    queue_result(physician(exam, exempt_humanities=True), clock.now())
    db.session.commit()
    result = runner.invoke(args=["results", "deliver"])
    assert result.exit_code == 0, result.output
    assert "delivered 1" in result.output
    assert runner.invoke(args=["results", "sweep"]).output.strip() == "queued 0"


def test_the_jobs_of_examsvc_serve(app, exam, clock, registry):
    from examsvc.jobs import JOBS
    from examsvc.results import jobs

    assert {"result-delivery", "result-sweep"} <= {job.name for job in JOBS}
    assert jobs.delivery_interval(app) == 15 and jobs.sweep_interval(app) == 300
    absent = physician(exam)
    jobs.scheduled_sweep(app)  # no window closed yet: no child started
    assert rows() == []
    clock.set(exam["window"].closes_at)
    jobs.scheduled_sweep(app)  # a child process, on the system's clock: the window closed
    assert [r.physician_id for r in rows()] == [absent.id]
    clock.set(datetime.now(UTC) + timedelta(minutes=1))
    jobs.scheduled_delivery(app)
    assert registry.results[absent.registration_id]["verdict"] == "fail"
    app.config["RESULTS_DELIVER_IN_WEB"] = False  # a delivery process runs apart
    assert jobs.delivery_interval(app) == 0
    app.config.update(RESULTS_DELIVER_IN_WEB=True, REGISTRY_BASE_URL=None)
    assert jobs.delivery_interval(app) == 0  # no registry configured


def test_a_rolled_back_decision_queues_nothing(app, exam, clock):
    from examsvc.uow import unit_of_work

    p = physician(exam)
    attempt = sit(p, exam["paper"].id, clock.now(), correct=True)
    with pytest.raises(RuntimeError), unit_of_work():
        ops.submit_attempt(attempt.id, now=clock.now(), reason=ops.SubmitReason.CANDIDATE)
        assert len(rows(p)) == 1  # queued in the submission's own transaction...
        raise RuntimeError("the unit fails after")
    assert rows(p) == []  # ...and gone with it


def test_a_pull_changing_an_evaluation_queues_the_new_result(app, exam, clock, registry):
    data = item(
        7,
        id_number=resident_id(7, "19700101"),
        updated_at="2026-05-01T10:00:00+08:00",
        exemptions=["humanities"],
    )
    registry.add(data)
    client = client_of(registry)
    kw = {"now": clock.now, "data_dir": app.config["DATA_DIR"], "checker": None}
    pull(client, "HN-2026", **kw)  # type: ignore[arg-type]
    assert deliver(registry, clock).delivered == 1
    clock.advance(days=1)
    pull(client, "HN-2026", **kw)  # type: ignore[arg-type]
    assert len(rows()) == 1  # nothing changed: nothing queued
    registry.add(
        data
        | {
            "evaluation": {"work_performance": "fail", "ethics": "pass"},
            "updated_at": "2026-05-13T10:00:00+08:00",
        }
    )
    pull(client, "HN-2026", **kw)  # type: ignore[arg-type]
    delivered, changed = rows()
    assert delivered.status == DeliveryStatus.DELIVERED and changed.verdict == "fail"
    assert deliver(registry, clock).delivered == 1
    assert registry.results["HN2026-0000007"]["reasons"] == ["工作成绩评定不合格"]


@pytest.mark.parametrize("answer", ["refused", "retry"])
def test_a_row_superseded_in_flight_stays_superseded_when_not_stored(app, exam, clock, answer):
    p = physician(exam, exempt_humanities=True)
    first = queue_result(p, clock.now())
    db.session.commit()
    claimed = delivery.claim(clock.now(), timedelta(minutes=2), "w1")
    db.session.commit()
    p.eval_ethics = Evaluation.FAIL
    queue_result(p, clock.now())
    db.session.commit()
    if answer == "refused":
        assert delivery.record_refused(claimed, 409, '{"error": "record_closed"}')
    else:
        assert delivery.record_retry(claimed, 503, "busy", None, clock.now())
    db.session.commit()
    old, new = rows(p)
    assert old.id == first.id and old.status == DeliveryStatus.SUPERSEDED
    assert old.next_try_at is None and old.lease_until is None and old.last_http_status
    assert new.status == DeliveryStatus.PENDING
    # The lease is released: a second answer to the same claim records nothing.
    assert not delivery.record_delivered(claimed, 201, clock.now())


def test_a_result_that_comes_back_is_sent_again(app, exam, clock, registry):
    """Pass (delivered) → fail (an evaluation, delivered) → pass again (corrected): the
    registry holds the fail until the pass is sent again, under a new key."""
    data = item(
        8,
        id_number=resident_id(8, "19700101"),
        updated_at="2026-05-01T10:00:00+08:00",
        exemptions=["humanities"],
    )
    client = client_of(registry)
    kw = {"now": clock.now, "data_dir": app.config["DATA_DIR"], "checker": None}
    keys = []
    for n, evaluation in enumerate(["pass", "fail", "pass"]):
        registry.add(
            data
            | {
                "evaluation": {"work_performance": evaluation, "ethics": "pass"},
                "updated_at": f"2026-05-0{n + 2}T10:00:00+08:00",
            }
        )
        pull(client, "HN-2026", **kw)  # type: ignore[arg-type]
        assert deliver(registry, clock).delivered == 1
        assert registry.results["HN2026-0000008"]["verdict"] == evaluation
        keys.append(registry.puts[-1][1])
        clock.advance(hours=1)
    assert len(set(keys)) == 3 and len(rows()) == 2  # the pass's own row, sent again
