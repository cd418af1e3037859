"""The invigilators' wall in a real browser against a real server (``examsvc serve``):
cards most serious first, a candidate starting their paper appears live without a reload,
the timeline shows the registration photo beside the entry frames, a warning and a void
reach the candidate's own Socket.IO connection at once."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import socketio
import sqlalchemy as sa

from examsvc import create_app
from examsvc.accounts.models import User
from examsvc.camera.models import ClientEventKind, EntryOutcome, SnapshotStatus
from examsvc.demo.data import PHYSICIANS, demo_id
from examsvc.enums import PhotoStatus, WindowRound
from examsvc.extensions import db
from examsvc.invigilation import operations as ops
from examsvc.papers.models import ExamWindow, Paper
from examsvc.roster import photos
from examsvc.roster.models import Cycle, Physician
from tests.e2e.conftest import (
    Server,
    cookie_header,
    launch,
    log_in,
    look,
    physician_session,
    start_first_paper,
)
from tests.invigilation.factories import (
    create_attempt,
    create_entry_check,
    create_event,
    create_snapshot,
)

pytestmark = pytest.mark.browser


def login_of(n: int) -> str:
    row = next(p for p in PHYSICIANS if p[0] == n)
    return demo_id(n, row[8])


def furnish(server: Server, root: Path, faces: dict[str, bytes]) -> int:
    """A session of the humanities window watched by the demo invigilator, with rows the
    camera channel would have made: snapshots (real photos), page events, an entry check
    left for review. Written straight into the server's database and data folder."""
    data_dir = root / "data"
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": server.env["EXAMSVC_DATABASE_URL"],
            "DATA_DIR": str(data_dir),
        }
    )
    now = datetime.now(UTC)
    with app.app_context():
        window = db.session.scalars(
            sa.select(ExamWindow)
            .join(Paper)
            .where(Paper.code == "HUM-2026", ExamWindow.round == WindowRound.REGULAR)
        ).first()
        assert window is not None
        session = ops.create_session(window, "第一考场（演示）", None)
        proctor = db.session.scalars(sa.select(User).where(User.login == "jiankao")).one()
        ops.assign_invigilators(session, [proctor.id])
        ops.assign_candidates(session, [f"DEMO-{n:04d}" for n in (1, 2, 3, 5, 6, 7)])
        people = {
            n: db.session.scalars(
                sa.select(Physician).where(Physician.registration_id == f"DEMO-{n:04d}")
            ).one()
            for n in (2, 3, 5, 7)
        }
        two, three, five, seven = (create_attempt(people[n], window, now) for n in (2, 3, 5, 7))
        people[2].photo_sha256 = photos.store(data_dir, faces["obama"])
        people[2].photo_status = PhotoStatus.OK
        paper = db.session.get(Paper, window.paper_id)
        create_entry_check(
            people[2],
            paper,
            now - timedelta(minutes=3),
            EntryOutcome.REVIEW,
            [faces["obama"], faces["obama"]],
            data_dir,
            attempt=two,
            distance=0.52,
        )
        create_snapshot(
            two, now - timedelta(minutes=2), SnapshotStatus.OK, faces["obama"], data_dir
        )
        create_snapshot(
            two,
            now - timedelta(minutes=1),
            SnapshotStatus.MISMATCH,
            faces["biden"],
            data_dir,
            distance=0.71,
        )
        create_snapshot(
            three,
            now - timedelta(minutes=1),
            SnapshotStatus.MULTIPLE_FACES,
            faces["two"],
            data_dir,
            measurements={"face_count": 2},
        )
        create_snapshot(
            five, now - timedelta(minutes=1), SnapshotStatus.OK, faces["obama"], data_dir
        )
        create_event(five, ClientEventKind.HIDDEN, now - timedelta(seconds=50))
        create_event(five, ClientEventKind.DISCONNECTED, now - timedelta(seconds=40))
        create_snapshot(
            seven, now - timedelta(minutes=1), SnapshotStatus.OK, faces["obama"], data_dir
        )
        fill_to_forty(session, window, now, faces["obama"], data_dir)
        db.session.commit()
        session_id = session.id
        db.session.remove()
        db.engine.dispose()
    return session_id


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"


def fill_to_forty(session, window: ExamWindow, now: datetime, photo: bytes, data_dir: Path) -> None:
    """34 more candidates, as a full session has: most answering, a few not started yet,
    a few who have handed in."""
    from examsvc.enums import AttemptStatus, SubmitReason
    from tests.factories import create_physician

    paper = db.session.get(Paper, window.paper_id)
    assert paper is not None
    cycle = db.session.get(Cycle, paper.cycle_id)
    extra = [
        create_physician(
            cycle, name=SURNAMES[n] + GIVEN[n % len(GIVEN)] + GIVEN[(n * 7) % len(GIVEN)]
        )
        for n in range(34)
    ]
    ops.assign_candidates(session, [p.registration_id for p in extra])
    for n, physician in enumerate(extra):
        if n % 11 == 10:
            continue  # not started
        attempt = create_attempt(physician, window, now - timedelta(minutes=n))
        create_snapshot(
            attempt, now - timedelta(seconds=30 + n), SnapshotStatus.OK, photo, data_dir
        )
        if n % 11 == 9:
            attempt.status, attempt.open_slot = AttemptStatus.SUBMITTED, None
            attempt.submitted_at, attempt.submit_reason = now, SubmitReason.CANDIDATE
    db.session.flush()


def exam_channel(base: str, http: requests.Session) -> tuple[socketio.Client, list]:
    """The candidate's own connection to ``/exam``, collecting what the server sends it."""
    client = socketio.Client(reconnection=False)
    received: list = []
    for name in ("warning", "voided"):
        client.on(name, lambda data, name=name: received.append((name, data)), namespace="/exam")
    client.connect(base, namespaces=["/exam"], headers=cookie_header(http), wait_timeout=10)
    return client, received


def wait_for(received: list, name: str) -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for got, data in received:
            if got == name:
                return data
        time.sleep(0.1)  # the socket's thread appends; bounded by the deadline
    pytest.fail(f"no {name} reached the candidate: {received}")


def warn_and_void(timeline, received: list) -> None:
    """On a candidate's timeline: warn, then void (a reason required); each reaches the
    candidate's own connection at once."""
    timeline.fill("#message", "请保持面部在摄像头画面内")
    timeline.click("button:has-text('发送提醒')")
    timeline.wait_for_selector(".flash:has-text('提醒已发送')")
    assert wait_for(received, "warning")["message"] == "请保持面部在摄像头画面内"
    assert "已发送提醒（监考老师（演示））：请保持面部在摄像头画面内" in timeline.inner_text("body")

    # Voiding needs a reason: an empty one does not even leave the page.
    timeline.click("button:has-text('作废本次测评')")
    assert timeline.evaluate("document.getElementById('reason').validity.valueMissing")
    assert not [n for n, _ in received if n == "voided"]
    timeline.fill("#reason", "他人代考")
    timeline.click("button:has-text('作废本次测评')")
    timeline.wait_for_selector(".flash:has-text('该考生本次测评已作废')")
    assert timeline.locator(".flash").count() == 1  # the warning's notice was shown once
    assert wait_for(received, "voided")["reason"] == "他人代考"
    text = look(timeline, "invigilation-timeline-voided")
    assert "违纪作废" in text and "他人代考" in text and "作废本次测评" not in text


def card_names(page) -> list[str]:
    return page.eval_on_selector_all("#wall .wall-card", "els => els.map(e => e.dataset.name)")


def test_an_invigilator_watches_warns_and_voids_live(browser, tmp_path, faces_photos):
    root = tmp_path / "server"
    root.mkdir()
    with launch(root) as server:
        session_id = furnish(server, root, faces_photos)
        doc2 = physician_session(server.url, login_of(2), "Wall-Doc2-2026")
        page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
        log_in(page, server, "jiankao", "Demo-Proctor-2026")
        assert "打开监考墙" in page.inner_text("body")
        page.click("text=打开监考墙")
        page.wait_for_selector("#live:has-text('实时更新中')")
        assert page.url.endswith(f"/invigilate/sessions/{session_id}")
        # Most serious first: not the registered person, two faces, disconnected, in
        # progress, then the candidates who have not started.
        names = card_names(page)
        assert len(names) == 40
        assert names[:3] == ["演示医师2号", "演示医师3号", "演示医师5号"]
        assert names.index("演示医师7号") < names.index("演示医师1号") < names.index("演示医师6号")
        states = page.eval_on_selector_all(
            "#wall [data-role=state]", "els => els.map(e => e.textContent)"
        )
        assert states.index("未开始") > max(i for i, s in enumerate(states) if s == "答题中")
        assert states[-3:] == ["已交卷"] * 3
        text = look(page, "invigilation-wall")
        for words in ("疑似非本人", "多张人脸", "已断开", "答题中", "未开始", "入场核验待复核"):
            assert words in text, words
        assert "430102" not in text  # ID numbers masked
        thumbs = page.eval_on_selector_all(
            "#wall img[data-role=thumb]:not([hidden])", "els => els.map(e => e.naturalWidth)"
        )
        assert len(thumbs) == 4 + 31 and all(w > 0 for w in thumbs)

        # A candidate starts their paper: their card changes and moves, without a reload.
        page.evaluate("window.__same_page = true")
        doc1 = physician_session(server.url, login_of(1), "Wall-Doc1-2026")
        start_first_paper(server.url, doc1)
        card = "#wall .wall-card[data-name='演示医师1号']"
        page.wait_for_selector(f"{card} [data-role=state]:has-text('答题中')")
        assert page.evaluate("window.__same_page") is True
        assert card_names(page).index("演示医师1号") < card_names(page).index("演示医师6号")
        assert page.inner_text(f"{card} [data-role=timer]").count(":") >= 1

        # The timeline of the flagged candidate: the photo beside the entry frames.
        timeline = page.context.new_page()
        timeline.set_viewport_size({"width": 1366, "height": 900})
        href = page.get_attribute(
            "#wall .wall-card[data-name='演示医师2号'] [data-role=link]", "href"
        )
        timeline.goto(server.url + href)
        text = look(timeline, "invigilation-timeline")
        for words in (
            "报名照片",
            "入场画面 1",
            "入场画面 2",
            "待人工复核",
            "与报名照片的差异 0.52",
            "疑似非本人",
            "与入场照片的差异 0.71",
            "正常",
        ):
            assert words in text, words
        figures = timeline.eval_on_selector_all(
            ".side-by-side img.evidence",
            "els => els.map(e => [e.naturalWidth, Math.round(e.getBoundingClientRect().top)])",
        )
        assert len(figures) == 3 and all(w > 0 for w, _ in figures)
        assert len({top for _, top in figures}) == 1  # side by side on a PC

        # A warning reaches the candidate's own connection at once.
        candidate, received = exam_channel(server.url, doc2)
        try:
            warn_and_void(timeline, received)
        finally:
            candidate.disconnect()

        # The wall saw it too, still without a reload; the finished card went to the end.
        page.wait_for_selector(
            "#wall .wall-card[data-name='演示医师2号'] [data-role=state]:has-text('违纪作废')"
        )
        assert card_names(page)[-4] == "演示医师2号"  # then the three who handed in
        assert page.evaluate("window.__same_page") is True
        look(page, "invigilation-wall-live")
        # The candidate's results say so in the manuals' words.
        results = doc2.get(server.url + "/results", timeout=10).text
        assert "违纪终止" in results
        assert "上次测评因违纪被终止：他人代考" in doc2.get(server.url + "/home", timeout=10).text
