"""Progress and statistics: every figure of a small seeded cycle, under each filter; the
drill-downs list exactly the physicians counted; the viewer reads and acts on nothing; the
export reads back with openpyxl."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

import pytest
from openpyxl import load_workbook

from examsvc import offload
from examsvc.camera.models import Snapshot, SnapshotStatus
from examsvc.enums import (
    Evaluation,
    PaperKind,
    PhysicianLevel,
    PracticeCategory,
    Procedure,
    RegistrationStatus,
    Role,
    WindowRound,
)
from examsvc.extensions import db
from examsvc.invigilation.models import ProctorWarning
from examsvc.results.models import DeliveryStatus, ResultDelivery, ResultVerdict
from examsvc.statistics import queries
from examsvc.statistics.queries import Drill
from examsvc.statistics.schemas import StatisticsFilter
from tests.factories import create_cycle, create_physician, create_user, login_as
from tests.factories_exam import create_attempt, create_bank, create_paper, create_window
from tests.html_text import visible_text as text_of

GENERAL, SIMPLE = Procedure.GENERAL, Procedure.SIMPLE


@pytest.fixture
def seeded(app, clock) -> dict[str, Any]:
    """Ten physicians, one per situation, at T0 (the regular windows open)."""
    t0 = clock.now()
    cycle = create_cycle()
    create_bank(now=t0)
    create_bank("prof", kind=PaperKind.PROFESSIONAL, now=t0)
    hum = create_paper(cycle.id, t0, attempt_limit_simple=2, attempt_limit_general=1)
    h_regular = create_window(hum, t0 - timedelta(hours=1), hours=25)
    create_window(hum, t0 + timedelta(hours=48), hours=24, round=WindowRound.MAKEUP)
    clinical = create_paper(
        cycle.id,
        t0,
        code="PRC",
        kind="professional",
        bank="prof",
        practice_categories=["clinical"],
        prerequisite="HUM",
    )
    c_regular = create_window(clinical, t0 - timedelta(hours=1), hours=25)
    dental = create_paper(
        cycle.id, t0, code="PRD", kind="professional", bank="prof", practice_categories=["dental"]
    )
    create_window(dental, t0 - timedelta(hours=72), hours=24)  # closed: never sat is 缺考
    staff = create_user(Role.INVIGILATOR)
    people: dict[str, Any] = {}

    def physician(name: str, procedure: Procedure, *sittings: tuple, **kw: Any) -> list:
        kw.setdefault("department", "外科")
        p = create_physician(cycle, procedure, name=name, **kw)
        people[name] = p
        return [create_attempt(p, *sitting) for sitting in sittings]

    passed_h, failed_h = (hum, h_regular, "passed"), (hum, h_regular, "failed")
    physician("甲", SIMPLE, department="内科")  # not started
    physician("乙", SIMPLE, passed_h)  # 合格, result delivered
    physician("丙", SIMPLE, failed_h, physician_level=PhysicianLevel.ASSISTANT)  # may retry
    physician("丁", SIMPLE, (hum, h_regular, "in_progress"))
    physician("戊", SIMPLE, exempt_humanities=True)  # 免考
    voided = physician("己", GENERAL, passed_h, (clinical, c_regular, "voided"))[1]
    failed = physician("庚", GENERAL, failed_h)[0]  # waits for the makeup; flagged snapshot
    physician("辛", SIMPLE, passed_h, status=RegistrationStatus.WITHDRAWN)  # not counted
    physician(
        "壬",
        GENERAL,
        passed_h,
        practice_category=PracticeCategory.DENTAL,
        institution_code="HN-2",
        institution_name="第二医院",
    )  # 缺考 of the dental paper
    physician("癸", SIMPLE, passed_h, eval_ethics=Evaluation.FAIL)
    db.session.add(ProctorWarning(attempt_id=voided.id, sent_by=staff.id, sent_at=t0, message="x"))
    db.session.add(
        Snapshot(attempt_id=failed.id, received_at=t0, size=10, status=SnapshotStatus.MISMATCH)
    )
    db.session.add(
        Snapshot(attempt_id=failed.id, received_at=t0, size=10, status=SnapshotStatus.OK)
    )
    db.session.add(
        ResultDelivery(
            cycle_id=cycle.id,
            physician_id=people["乙"].id,
            round=WindowRound.REGULAR,
            verdict=ResultVerdict.PASS,
            payload={},
            digest="d" * 64,
            idempotency_key="k" * 32,
            decided_at=t0,
            queued_at=t0,
            status=DeliveryStatus.DELIVERED,
            delivered_at=t0,
        )
    )
    db.session.commit()
    return {"cycle": cycle, "people": people, "t0": t0, "hum": hum, "clinical": clinical}


EVERYONE = set("甲乙丙丁戊己庚壬癸")
EXPECTED = {
    "roster": EVERYONE,
    "not_started": {"甲"},
    "in_progress": {"丁"},
    "submitted": {"乙", "丙", "己", "庚", "壬", "癸"},
    "passed": {"乙", "戊"},
    "failed": {"己", "壬", "癸"},
    "pending": {"甲", "丙", "丁", "庚"},
    "absent": {"壬"},
    "voided": {"己"},
    "exempt": {"戊"},
    "flagged": {"己", "庚"},
    "delivered": {"乙"},
}


def names(seeded: dict[str, Any], f: StatisticsFilter, drill: Drill) -> set[str]:
    total, rows = queries.people(seeded["cycle"].id, f, drill, seeded["t0"], page=1, size=50)
    assert total == len(rows)
    return {p.name for p in rows}


def expected_under(keep: set[str]) -> dict[str, set[str]]:
    return {k: v & keep for k, v in EXPECTED.items()}


@pytest.mark.parametrize(
    ("filters", "keep"),
    [
        ({}, EVERYONE),
        ({"institution": "HN-2"}, {"壬"}),
        ({"department": "内科"}, {"甲"}),
        ({"category": "dental"}, {"壬"}),
        ({"level": "assistant"}, {"丙"}),
        ({"procedure": "general"}, {"己", "庚", "壬"}),
    ],
    ids=["none", "institution", "department", "category", "level", "procedure"],
)
def test_each_figure_counts_and_lists_the_physicians(seeded, filters, keep):
    f = StatisticsFilter(**filters)
    expected = expected_under(keep)
    data = queries.figures(seeded["cycle"].id, f, seeded["t0"])
    assert data.counts == {k: len(v) for k, v in expected.items()}
    for key, people in expected.items():
        assert names(seeded, f, Drill(figure=key)) == people, key


def test_a_paper_filter_counts_that_paper_only(seeded):
    hum, clinical = seeded["hum"], seeded["clinical"]
    f = StatisticsFilter(paper=clinical.id)
    data = queries.figures(seeded["cycle"].id, f, seeded["t0"])
    # 己 voided at the clinical paper (and warned there); 庚 is locked behind humanities,
    # flagged at the humanities paper only.
    assert data.counts["roster"] == 2
    assert data.counts["voided"] == data.counts["flagged"] == 1
    assert names(seeded, f, Drill(figure="flagged")) == {"己"}
    assert names(seeded, f, Drill(figure="not_started")) == {"庚"}
    assert [(p.code, p.states) for p in data.papers] == [("PRC", {"voided": 1, "locked": 1})]
    data = queries.figures(seeded["cycle"].id, StatisticsFilter(paper=hum.id), seeded["t0"])
    assert data.counts["roster"] == 9 and data.counts["submitted"] == 6
    assert data.counts["exempt"] == 1 and data.counts["voided"] == 0


def test_paper_states_and_score_bands_and_their_lists(seeded):
    hum = seeded["hum"]
    data = queries.figures(seeded["cycle"].id, StatisticsFilter(), seeded["t0"])
    by_code = {p.code: p for p in data.papers}
    assert by_code["HUM"].states == {
        "not_started": 1,
        "passed": 4,
        "open": 1,
        "in_progress": 1,
        "exempt": 1,
        "makeup_waiting": 1,
    }
    assert by_code["PRC"].states == {"voided": 1, "locked": 1}
    assert by_code["PRD"].states == {"absent": 1}
    # Best scores: 90 for each pass, 30 for each fail; none while in progress or exempt.
    assert by_code["HUM"].scores[9] == 4 and by_code["HUM"].scores[3] == 2
    assert sum(by_code["HUM"].scores) == 6
    assert by_code["HUM"].pass_rate == pytest.approx(4 / 4)
    assert by_code["PRC"].pass_rate == 0
    assert data.pass_rate == pytest.approx(2 / 5)
    f = StatisticsFilter()
    assert names(seeded, f, Drill(paper=hum.id, state="passed")) == {"乙", "己", "壬", "癸"}
    assert names(seeded, f, Drill(paper=hum.id, band=3)) == {"丙", "庚"}


def test_the_lists_are_paged(seeded):
    total, rows = queries.people(
        seeded["cycle"].id, StatisticsFilter(), Drill(figure="roster"), seeded["t0"], page=2, size=4
    )
    assert total == 9 and len(rows) == 4
    total, rows = queries.people(
        seeded["cycle"].id, StatisticsFilter(), Drill(figure="roster"), seeded["t0"], page=9, size=4
    )
    assert total == 9 and rows == []


def test_the_viewer_reads_every_page_and_sees_no_action(client, seeded):
    login_as(client, Role.VIEWER)
    page = client.get("/admin/progress")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-figure="roster">9<' in html and 'data-figure="flagged">2<' in html
    assert '<form method="post"' not in html.replace("'", '"').split("<main")[1]
    assert "/admin/roster/" not in html  # no physician's detail (administrators only)
    stats = client.get("/admin/statistics?procedure=general")
    assert stats.status_code == 200
    text = text_of(stats.get_data(as_text=True))
    assert "考核统计" in text and re.search(r"合格率：\s*0\.0%", text)
    people = client.get("/admin/statistics/people?figure=failed")
    assert people.status_code == 200
    body = people.get_data(as_text=True)
    assert "共 3 人" in text_of(body)
    masked = seeded["people"]["己"].id_number
    assert masked not in body and f"{masked[:3]}*****{masked[-4:]}" in body
    # A viewer reads a physician's roster page too (main: roster.detail for readers).
    assert f'href="/admin/roster/{seeded["people"]["己"].id}"' in body
    assert client.get("/admin/statistics/people?figure=nonsense").status_code == 404
    assert client.get("/admin/progress?category=nonsense").status_code == 422


def test_an_invigilator_or_a_physician_may_not_read_them(client, seeded):
    login_as(client, Role.INVIGILATOR)
    assert client.get("/admin/statistics").status_code == 403
    assert client.get("/admin/progress/export.xlsx").status_code == 403


def test_an_administrator_sees_the_physicians_details_from_a_list(client, seeded):
    login_as(client, Role.ADMIN)
    body = client.get("/admin/statistics/people?figure=absent").get_data(as_text=True)
    assert f'href="/admin/roster/{seeded["people"]["壬"].id}"' in body


@pytest.mark.parametrize("view", ["progress", "statistics"])
def test_the_export_reads_back(client, seeded, view):
    login_as(client, Role.VIEWER)
    response = client.get(f"/admin/{view}/export.xlsx?institution=HN-2")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(response.data))
    filters = {row[0]: row[1] for row in book["筛选条件"].iter_rows(values_only=True)}
    assert filters["机构"] == "第二医院" and filters["试卷"] == "全部"
    if view == "progress":
        rows = {r[0]: r[1] for r in book["考试进度"].iter_rows(min_row=2, values_only=True)}
        assert rows["名单人数"] == 1 and rows["缺考"] == 1 and rows["未开始"] == 0
        states = list(book["试卷状态"].iter_rows(values_only=True))
        assert states[0] == ("试卷", "合格", "缺考", "合计")
        assert [r[0] for r in states[1:]] == ["HUM 测评试卷", "PRD 测评试卷"]
    else:
        rows = {r[0]: r[1] for r in book["考核统计"].iter_rows(min_row=2, values_only=True)}
        assert rows["不合格"] == 1 and rows["合格率"] == 0
        bands = list(book["分数分布"].iter_rows(values_only=True))
        assert bands[0] == ("分数段", "HUM 测评试卷", "PRD 测评试卷")
        assert bands[-1] == ("90–100", 1, 0)


def test_the_export_is_built_in_a_worker_process(client, seeded, app):
    """As the bank export: the workbook comes from the process pool under ``serve``."""
    app.config.update(OFFLOAD_THREADS=1, OFFLOAD_PROCESSES=1, OFFLOAD_QUEUE=0)
    offload.start(app)
    try:
        login_as(client, Role.ADMIN)
        before = offload.metrics()["processes"]["completed"]  # type: ignore[index]
        response = client.get("/admin/statistics/export.xlsx")
        assert response.status_code == 200
        assert offload.metrics()["processes"]["completed"] == before + 1  # type: ignore[index]
        book = load_workbook(io.BytesIO(response.data))
        assert book.sheetnames == ["筛选条件", "考核统计", "各试卷合格率", "分数分布"]
    finally:
        offload.stop()
