"""``examsvc results status|resend|compare`` through Click's test runner."""

from __future__ import annotations

import sqlalchemy as sa

from examsvc.audit.models import AuditEvent
from examsvc.extensions import db
from examsvc.results.models import DeliveryStatus, ResultDelivery, ResultVerdict
from tests.conftest import T0
from tests.factories import create_cycle, create_physician
from tests.results.result_factory import create_result
from tests.results.test_reconcile import CLOSED
from tests.roster.fake_registry import TOKEN


def make_rows():
    cycle = create_cycle()
    a, b, c = (create_physician(cycle, name=n) for n in ("张三", "李四", "王五"))
    rows = (
        create_result(a),
        create_result(
            b, DeliveryStatus.REFUSED, ResultVerdict.FAIL, last_http_status=409, last_error=CLOSED
        ),
        create_result(c, DeliveryStatus.REFUSED, last_http_status=422, last_error="bad field"),
    )
    db.session.commit()
    return rows


def test_status_counts_and_refusals_without_id_numbers(runner):
    delivered, closed, bad = make_rows()
    result = runner.invoke(args=["results", "status"])
    assert result.exit_code == 0, result.output
    assert "delivered: 1" in result.output and "refused: 2" in result.output
    assert "pending: 0" in result.output
    assert (
        f"refused #{closed.id} {closed.physician.registration_id} 李四: HTTP 409 该医师已退出本周期，记录已锁定"
        in result.output
    )
    assert f"#{bad.id}" in result.output and "HTTP 422 bad field" in result.output
    for row in (delivered, closed, bad):
        assert row.physician.id_number not in result.output
    unknown = runner.invoke(args=["results", "status", "--cycle", "XX-1999"])
    assert unknown.exit_code == 1 and "no such cycle: XX-1999" in unknown.output


def test_resend_one_and_all_refused(runner):
    delivered, closed, bad = make_rows()
    one = runner.invoke(args=["results", "resend", "--id", str(closed.id)])
    assert one.exit_code == 0, one.output
    db.session.expire_all()
    row = db.session.get(ResultDelivery, closed.id)
    assert row.status == DeliveryStatus.PENDING and row.next_try_at == T0
    assert row.idempotency_key == closed.idempotency_key

    refused = runner.invoke(args=["results", "resend", "--refused"])
    assert refused.exit_code == 0 and "1 refused results queued" in refused.output
    db.session.expire_all()
    assert db.session.get(ResultDelivery, bad.id).status == DeliveryStatus.PENDING

    again = runner.invoke(args=["results", "resend", "--id", str(delivered.id)])
    assert again.exit_code == 1 and "只有回传被拒或待回传的结果可以重新发送" in again.output
    actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["results.resend", "results.resend_refused"]

    neither = runner.invoke(args=["results", "resend"])
    assert neither.exit_code == 2 and "give either --id N or --refused" in neither.output


def test_compare_against_the_registry(app, runner, registry):
    delivered, closed, _ = make_rows()
    registry.results[delivered.physician.registration_id] = dict(delivered.payload)
    app.config.update(REGISTRY_BASE_URL=registry.url, REGISTRY_TOKEN=TOKEN)
    result = runner.invoke(args=["results", "compare"])
    assert result.exit_code == 0, result.output
    assert f"#{delivered.id} {delivered.physician.registration_id}: same" in result.output
    assert f"#{closed.id} {closed.physician.registration_id}: missing" in result.output
