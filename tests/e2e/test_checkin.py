"""候考 in a real browser with a camera: ten minutes before the window opens the candidate
does the device check, consent and face verification (real engine), then waits on the rules
page: a countdown to the opening in the server's time, 开始考试 not live. The page's own
clock is Playwright's, moved on instead of waited for; a phone whose countdown ends before
the server opens the window is told 等待考试开始, and once the window is open the same
verification starts the attempt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from examsvc.demo.data import PHYSICIANS, demo_id
from tests.e2e.conftest import (
    PHONE,
    enabled_controls,
    gate_candidate,
    launch,
    look,
    server_database,
    to_face_verification,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # A still photo cannot perform a liveness challenge: off, as in test_camera_gate.py.
    with launch(tmp_path_factory.mktemp("checkin"), EXAMSVC_LIVENESS="false") as server:
        yield server


def open_windows_at(server, when: datetime) -> None:
    """Every regular window not yet closed opens at ``when`` instead (the server reads them
    on every request)."""
    from examsvc.enums import WindowRound
    from examsvc.extensions import db
    from examsvc.papers.models import ExamWindow

    with server_database(server.url):
        current = datetime.now(UTC)
        windows = db.session.scalars(
            sa.select(ExamWindow).where(
                ExamWindow.round == WindowRound.REGULAR,
                ExamWindow.physician_id.is_(None),
                ExamWindow.closes_at > current,
            )
        ).all()
        assert windows
        for window in windows:
            window.opens_at = when
        db.session.commit()


def test_a_candidate_checks_in_before_the_opening_and_starts_when_it_opens(
    server, browser, faces_dir, tmp_path
):
    number = demo_id(PHYSICIANS[0][0], PHYSICIANS[0][8])
    open_windows_at(server, datetime.now(UTC) + timedelta(minutes=10))
    with gate_candidate(browser, server, faces_dir, tmp_path, number, "Checkin-Doc-2026") as page:
        home = look(page, "checkin-home")
        assert "等待考试开始" in home and "开考前可先完成设备调试和人脸验证" in home
        page.clock.install()  # the page's timers from now on: moved on, never waited for
        to_face_verification(page)
        page.click("#verify")
        page.wait_for_selector("#next:visible", timeout=60000)
        with page.expect_navigation():
            page.click("#next")

        rules = look(page, "checkin-rules")
        assert "等待考试开始" in rules and "距开考还有 9:" in rules
        assert "请在开考后15分钟内开始，逾时须重新进行人脸验证" in rules
        assert "我知晓--开始考试" not in enabled_controls(page)
        assert page.is_disabled("button[type=submit]")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        page.clock.run_for(10 * 60 * 1000)  # the countdown reaches the opening on the phone
        opened = look(page, "checkin-opened")
        assert "考试已开始" in opened and "距开考还有" not in opened
        assert "我知晓--开始考试" in enabled_controls(page)
        # The phone's countdown ran ahead of the server's window: the start waits for it.
        page.check("input[name=rules]")
        with page.expect_navigation():
            page.click("button:has-text('我知晓--开始考试')")
        assert "等待考试开始" in look(page, "checkin-too-early")

        open_windows_at(server, datetime.now(UTC) - timedelta(seconds=1))
        page.reload()
        page.check("input[name=rules]")
        page.click("button:has-text('我知晓--开始考试')")
        page.wait_for_selector("#q1.current")
        assert "/exam/" in page.url
