"""The agency's reconciliation page (结果回传): counts and rows, roles, sending again, and the
comparison with the registration system (the fake registry over real HTTP)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from examsvc.audit.models import AuditEvent
from examsvc.enums import Role, WindowRound
from examsvc.extensions import db
from examsvc.registry import RegistryClient, RegistryUnreadable
from examsvc.results.models import DeliveryStatus, ResultDelivery, ResultVerdict
from examsvc.results.reconcile import differences
from tests.conftest import T0
from tests.factories import create_cycle, create_physician, login_as
from tests.html_text import visible_text
from tests.results.result_factory import create_result, paper
from tests.roster.fake_registry import TOKEN

CLOSED = json.dumps(
    {"error": {"code": "record_closed", "message": "该医师已退出本周期，记录已锁定"}}
)


@pytest.fixture
def outbox():
    """One result in each state, at two institutions; returns them by a name."""
    cycle = create_cycle()
    a = create_physician(
        cycle, name="张三", institution_code="I-1", institution_name="第一人民医院"
    )
    b = create_physician(
        cycle, name="李四", institution_code="I-1", institution_name="第一人民医院"
    )
    c = create_physician(cycle, name="王五", institution_code="I-2", institution_name="中心医院")
    d = create_physician(cycle, name="赵六", institution_code="I-2", institution_name="中心医院")
    rows = {
        "delivered": create_result(a),
        "pending": create_result(
            b,
            DeliveryStatus.PENDING,
            ResultVerdict.FAIL,
            tries=2,
            next_try_at=T0 + timedelta(minutes=10),
            last_http_status=503,
            last_error="Service Unavailable",
        ),
        "refused": create_result(
            c,
            DeliveryStatus.REFUSED,
            ResultVerdict.FAIL,
            WindowRound.MAKEUP,
            tries=1,
            last_http_status=409,
            last_error=CLOSED,
            idempotency_key="key-of-the-refused",
        ),
        "old": create_result(d, DeliveryStatus.SUPERSEDED, ResultVerdict.FAIL),
        "new": create_result(d, DeliveryStatus.DELIVERED, decided_at=T0 + timedelta(days=1)),
    }
    db.session.commit()
    return rows


def page_text(client, url: str = "/admin/results") -> str:
    response = client.get(url)
    assert response.status_code == 200
    return visible_text(response.get_data(as_text=True))


def test_counts_and_rows(client, outbox):
    login_as(client, Role.ADMIN)
    text = page_text(client)
    assert "已回传 2" in text and "待回传 1" in text and "回传被拒 1" in text
    assert "已被新结果取代 1" in text
    assert "下次尝试：2026-05-12 09:10" in text  # Beijing time
    assert "共 5 条" in text
    # The refused row: the verdict, the round, the reason and the registry's own words.
    assert "王五" in text and "补考" in text and "不合格" in text
    assert "登记系统记录已关闭（已退出周期或已锁定），不会自动重试" in text
    assert "HTTP 409" in text and "登记系统答复：该医师已退出本周期，记录已锁定" in text
    assert "record_closed" not in text
    html = client.get("/admin/results").get_data(as_text=True)
    assert html.count("重新发送</button>") == 2  # the refused and the pending rows
    assert "重新发送全部被拒结果（1 条）" in html
    # ID numbers masked.
    number = outbox["refused"].physician.id_number
    assert number not in text and f"{number[:3]}*****{number[-4:]}" in text


def test_filters_by_status_and_institution(client, outbox):
    login_as(client, Role.ADMIN)
    refused = page_text(client, "/admin/results?status=refused")
    assert "共 1 条" in refused and "王五" in refused and "张三" not in refused
    first = page_text(client, "/admin/results?institution=I-1")
    assert "共 2 条" in first and "张三" in first and "李四" in first and "王五" not in first
    assert "已回传 1" in first and "回传被拒 0" in first  # counts follow the institution
    other_cycle = page_text(client, "/admin/results?cycle=HN-2026&status=bogus")
    assert "共 5 条" in other_cycle  # an unknown status is no filter


def test_viewer_reads_but_cannot_act(client, outbox):
    login_as(client, Role.VIEWER)
    html = client.get("/admin/results").get_data(as_text=True)
    assert "回传被拒 1" in visible_text(html)
    assert "重新发送</button>" not in html and "重新发送全部被拒结果" not in html
    assert "与登记系统核对本页" not in html
    refused = outbox["refused"]
    assert client.post(f"/admin/results/{refused.id}/resend").status_code == 403
    assert client.post("/admin/results/resend-refused").status_code == 403
    assert client.get("/admin/results/compare").status_code == 403
    db.session.refresh(refused)
    assert refused.status == DeliveryStatus.REFUSED


@pytest.mark.parametrize("role", [Role.INVIGILATOR, Role.PHYSICIAN])
def test_others_see_nothing(client, outbox, role):
    if role == Role.PHYSICIAN:
        physician = outbox["delivered"].physician
        physician.user.must_change_password = False
        db.session.commit()
        client.post("/login", data={"login": physician.id_number, "password": "Passw0rd!x"})
    else:
        login_as(client, role)
    assert client.get("/admin/results").status_code == 403
    assert client.get("/admin/results/export.csv").status_code == 403


def test_resend_one_refused_keeps_its_key_and_tries(client, clock, outbox):
    admin = login_as(client, Role.ADMIN)
    refused = outbox["refused"]
    refused.lease_until, refused.leased_by = T0 + timedelta(hours=9), "worker-1"  # left over
    db.session.commit()
    clock.advance(hours=3)
    response = client.post(f"/admin/results/{refused.id}/resend?status=refused")
    assert response.status_code == 302 and response.location.endswith("status=refused")
    db.session.expire_all()
    row = db.session.get(ResultDelivery, refused.id)
    assert row.status == DeliveryStatus.PENDING
    assert row.next_try_at == T0 + timedelta(hours=3)
    assert row.tries == 1 and row.idempotency_key == "key-of-the-refused"
    assert row.lease_until is None and row.leased_by is None
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "results.resend")
    ).one()
    assert event.actor_id == admin.id and event.object_id == str(refused.id)
    assert event.detail["was"] == "refused"
    assert "已重新加入回传队列" in page_text(client)


def test_resend_a_pending_one_brings_its_try_forward(client, outbox):
    login_as(client, Role.ADMIN)
    pending = outbox["pending"]
    assert client.post(f"/admin/results/{pending.id}/resend").status_code == 302
    db.session.expire_all()
    row = db.session.get(ResultDelivery, pending.id)
    assert row.status == DeliveryStatus.PENDING and row.next_try_at == T0 and row.tries == 2


@pytest.mark.parametrize("name", ["delivered", "old"])
def test_delivered_or_superseded_cannot_be_resent(client, outbox, name):
    login_as(client, Role.ADMIN)
    row = outbox[name]
    status = row.status
    response = client.post(f"/admin/results/{row.id}/resend")
    assert response.status_code == 409
    assert "只有回传被拒或待回传的结果可以重新发送" in visible_text(response.get_data(as_text=True))
    db.session.expire_all()
    assert db.session.get(ResultDelivery, row.id).status == status
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "results.resend")
        )
        == 0
    )


def test_resend_all_refused_of_the_filter(client, outbox):
    cycle = outbox["refused"].cycle
    other = create_result(
        create_physician(cycle, institution_code="I-1", institution_name="第一人民医院"),
        DeliveryStatus.REFUSED,
        last_http_status=422,
        last_error='{"message": "字段错误"}',
    )
    db.session.commit()
    login_as(client, Role.ADMIN)
    response = client.post("/admin/results/resend-refused", data={"institution": "I-2"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(ResultDelivery, outbox["refused"].id).status == DeliveryStatus.PENDING
    assert db.session.get(ResultDelivery, other.id).status == DeliveryStatus.REFUSED  # I-1
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "results.resend_refused")
    ).one()
    assert event.detail == {"count": 1, "institution": "I-2"}
    assert "已将 1 条被拒的结果重新加入回传队列" in page_text(client)
    # The second institution's refusal in words (a 4xx other than 409).
    text = page_text(client, "/admin/results?status=refused")
    assert "登记系统拒收，不会自动重试" in text and "登记系统答复：字段错误" in text


# --- the comparison with the registration system -----------------------------------------


def _registry_app(app, registry):
    app.config.update(REGISTRY_BASE_URL=registry.url, REGISTRY_TOKEN=TOKEN)


def test_differences_name_the_fields():
    ours = {"verdict": "pass", "round": "regular", "papers": [paper(score=86.0)]}
    assert differences(ours, ours | {"papers": [paper(score=86)], "stored_at": "x"}) == ()
    assert differences(ours, ours | {"verdict": "fail", "round": "makeup"}) == ("verdict", "round")
    assert differences(ours, ours | {"papers": [paper(attempts_used=2)]}) == ("papers",)
    assert differences(ours, {"verdict": "pass", "round": "regular"}) == ("papers",)


def test_client_reads_a_result_back(registry):
    client = RegistryClient(registry.url, TOKEN)
    registry.results["HN-2026-0000001"] = {"verdict": "pass", "round": "regular", "papers": []}
    assert client.exam_result("HN-2026", "HN-2026-0000001")["verdict"] == "pass"
    assert client.exam_result("HN-2026", "HN-2026-0000002") is None
    registry.result_reads = 501
    with pytest.raises(RegistryUnreadable) as raised:
        client.exam_result("HN-2026", "HN-2026-0000001")
    assert raised.value.status == 501 and client.requests_made == 3  # no retry of 501


def test_comparison_same_different_missing(app, client, registry, outbox):
    _registry_app(app, registry)
    ids = {k: (v.id, v.physician.registration_id, dict(v.payload)) for k, v in outbox.items()}
    registry.results[ids["delivered"][1]] = ids["delivered"][2] | {"stored_at": "x"}
    changed = ids["new"][2] | {"papers": [paper(score=55.0, status="failed")]}
    registry.results[ids["new"][1]] = changed
    login_as(client, Role.ADMIN)
    html = client.get("/admin/results/compare").get_data(as_text=True)
    text = visible_text(html)
    assert text.count("一致") - text.count("不一致") == 1
    assert "不一致 试卷成绩" in text
    assert text.count("登记系统无记录") == 2  # the pending and the refused ones
    # The superseded result is not compared; its row says so with a dash.
    assert len([line for line in registry.log if "/exam-result" in line]) == 4


def test_comparison_when_the_registry_cannot_be_read(app, client, registry, outbox):
    _registry_app(app, registry)
    registry.result_reads = 405
    login_as(client, Role.ADMIN)
    text = page_text(client, "/admin/results/compare")
    assert text.count("无法读取") == 4 and "登记系统不支持读取已回传的结果" in text
    # Asked once: after a 405 the other rows are not asked again.
    assert len([line for line in registry.log if "/exam-result" in line]) == 1


def test_comparison_without_a_registry_says_so(client, outbox):
    login_as(client, Role.ADMIN)
    page = page_text(client)
    assert "未配置登记系统接口，无法与登记系统核对" in page and "与登记系统核对本页" not in page
    response = client.get("/admin/results/compare", follow_redirects=True)
    assert "未配置登记系统接口，无法核对" in visible_text(response.get_data(as_text=True))


def test_the_dashboard_and_menu_link_the_page(client, outbox):
    login_as(client, Role.ADMIN)
    html = client.get("/admin").get_data(as_text=True)
    assert 'href="/admin/results"' in html
