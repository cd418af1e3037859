"""The reconciliation page (结果回传) as an administrator sees it, at a desktop's and a
phone's width: the counts, and a refused result's reason in Chinese."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.e2e.conftest import launch, log_in, look, server_database
from tests.roster.fake_registry import TOKEN, FakeRegistry

pytestmark = pytest.mark.browser


def _outbox(base: str, registry: FakeRegistry) -> None:
    """Results of three demo physicians: delivered (and stored by the registry), pending,
    refused by the registry."""
    from examsvc.enums import WindowRound
    from examsvc.extensions import db
    from examsvc.results.models import DeliveryStatus, ResultVerdict
    from examsvc.roster.models import Physician
    from tests.results.result_factory import create_result

    at = datetime.now(UTC).replace(microsecond=0)
    with server_database(base):
        first, second, third = db.session.scalars(
            sa.select(Physician).order_by(Physician.id).limit(3)
        ).all()
        delivered = create_result(first, decided_at=at)
        registry.results[first.registration_id] = dict(delivered.payload)
        create_result(
            second,
            DeliveryStatus.PENDING,
            ResultVerdict.FAIL,
            decided_at=at,
            tries=3,
            next_try_at=at + timedelta(minutes=8),
            last_http_status=503,
            last_error="Service Unavailable",
        )
        create_result(
            third,
            DeliveryStatus.REFUSED,
            ResultVerdict.FAIL,
            WindowRound.MAKEUP,
            decided_at=at,
            last_http_status=409,
            last_error=json.dumps({"error": {"message": "该记录已锁定，不能再写入考核结果"}}),
        )
        db.session.commit()


@pytest.fixture
def registry():
    fake = FakeRegistry().start()
    yield fake
    fake.stop()


def test_admin_sees_counts_and_a_refusal_in_words(browser, tmp_path, registry):
    with launch(
        tmp_path,
        EXAMSVC_REGISTRY_BASE_URL=registry.url,
        EXAMSVC_REGISTRY_TOKEN=TOKEN,
        EXAMSVC_REGISTRY_CYCLE="DEMO-2026",
    ) as server:
        _look_at_the_page(browser, server, registry)


def _look_at_the_page(browser, server, registry) -> None:
    _outbox(server.url, registry)
    page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    log_in(page, server, "admin", "Demo-Admin-2026")
    page.click("nav >> text=结果回传")
    text = look(page, "results-reconcile")
    for words in ("已回传\n1", "待回传\n1", "回传被拒\n1", "已被新结果取代\n0"):
        assert words in text
    assert "下次尝试" in text
    assert "登记系统记录已关闭（已退出周期或已锁定），不会自动重试" in text
    assert "登记系统答复：该记录已锁定，不能再写入考核结果" in text
    assert "补考" in text and "不合格" in text
    assert "重新发送全部被拒结果（1 条）" in text
    # Nothing wider than a phone's screen at 360 px.
    page.set_viewport_size({"width": 360, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.set_viewport_size({"width": 1366, "height": 900})
    # Compare the page with the registry's copies: the delivered one is there, the others not.
    page.click("text=与登记系统核对本页")
    compared = look(page, "results-reconcile-compared")
    assert compared.count("登记系统无记录") == 2 and "\t一致\t" in compared
    # Send the refused result again: it waits for its next try, now.
    page.click("text=重新发送全部被拒结果")
    after = look(page, "results-reconcile-resent")
    assert "已将 1 条被拒的结果重新加入回传队列" in after
    assert "回传被拒\n0" in after and "待回传\n2" in after
