"""排队 in a real browser: with the one verification slot taken by another candidate, the
candidate who presses 开始人脸验证 waits on the page, told their place, and is verified by
itself once the slot frees (Chromium's fake camera fed from a real photo, the real engine);
the first-login check (首次登录人脸核验) waits in the same queue."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from examsvc.demo.data import PHYSICIANS, demo_id
from tests.e2e.conftest import (
    PHONE,
    camera_browser,
    camera_file,
    gate_candidate,
    launch,
    look,
    to_face_verification,
)
from tests.e2e.test_camera_gate import flat
from tests.e2e.test_first_login_face import log_in_first, register_photo

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # One slot, so that one other candidate fills it; liveness off: a still photo cannot
    # perform a challenge (tests/e2e/test_camera_gate.py says more).
    with launch(
        tmp_path_factory.mktemp("queue"), EXAMSVC_LIVENESS="false", EXAMSVC_ADMISSION_SLOTS="1"
    ) as server:
        yield server


def _database(server):
    return sqlite3.connect(server.env["EXAMSVC_DATABASE_URL"].removeprefix("sqlite:///"))


def _take_the_slot(server, number: str) -> int:
    """Another physician's verification in progress, as its ticket: the one slot is taken.
    Their id."""
    taken = datetime.now(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    with _database(server) as conn:
        other = conn.execute(
            "SELECT id FROM physicians WHERE id_number != ? ORDER BY id DESC LIMIT 1", (number,)
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO admission_tickets (physician_id, requested_at, seen_at, admitted_at)"
            " VALUES (?, ?, ?, ?)",
            (other, taken, taken, taken),
        )
    return int(other)


def test_a_waiting_candidate_is_told_the_place_and_verified_when_the_slot_frees(
    server, browser, faces_dir, tmp_path
):
    number = demo_id(PHYSICIANS[2][0], PHYSICIANS[2][8])
    with gate_candidate(browser, server, faces_dir, tmp_path, number, "Queue-Doc-2026") as page:
        to_face_verification(page)

        # Another candidate is being verified: the one slot is taken.
        other = _take_the_slot(server, number)
        page.click("#verify")
        page.wait_for_selector("#queue:visible", timeout=30000)
        waiting = flat(look(page, "queue-waiting"))
        assert "正在排队等候人脸验证" in waiting
        assert "您前面还有 1 人，预计等待约 1 分钟" in waiting
        assert "请勿关闭或刷新本页面，轮到您时将自动开始" in waiting
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert page.is_disabled("#verify")

        with _database(server) as conn:  # the other candidate's verification ends
            conn.execute(
                "UPDATE admission_tickets SET finished_at = admitted_at WHERE physician_id = ?",
                (other,),
            )
        page.wait_for_selector("#next:visible", timeout=60000)
        verified = look(page, "queue-verified")
        assert "人脸验证通过" in verified and "正在排队" not in verified
    with _database(server) as conn:
        checks = conn.execute("SELECT outcome FROM entry_checks").fetchall()
        tickets = conn.execute(
            "SELECT physician_id = ?, admitted_at IS NOT NULL, finished_at IS NOT NULL"
            " FROM admission_tickets ORDER BY id",
            (other,),
        ).fetchall()
    assert checks == [("passed",)]
    assert tickets == [(1, 1, 1), (0, 1, 1)]


def test_the_first_login_check_waits_in_the_same_queue(server, browser, faces_dir, tmp_path):
    """首次登录人脸核验 queues too: with the slot taken, the physician who presses 开始人脸核验
    before the first password waits, told their place, and is verified when it frees."""
    number = demo_id(PHYSICIANS[3][0], PHYSICIANS[3][8])
    register_photo(server, number, (faces_dir / "face_recognition/obama.jpg").read_bytes())
    camera = camera_file(faces_dir, tmp_path / "obama.y4m")
    with camera_browser(browser, camera) as cam_browser:
        page = cam_browser.new_context(viewport=PHONE, permissions=["camera"]).new_page()
        log_in_first(page, server, number)
        assert page.url.endswith("/account/password")
        page.wait_for_selector("#verify:enabled", timeout=60000)
        other = _take_the_slot(server, number)
        page.click("#verify")
        page.wait_for_selector("#queue:visible", timeout=30000)
        waiting = flat(look(page, "queue-claim-waiting"))
        assert "正在排队等候人脸核验" in waiting and "您前面还有 1 人" in waiting
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        with _database(server) as conn:  # the other candidate's verification ends
            conn.execute(
                "UPDATE admission_tickets SET finished_at = admitted_at WHERE physician_id = ?",
                (other,),
            )
        page.wait_for_selector("#next:visible", timeout=60000)
        assert "人脸核验通过" in look(page, "queue-claim-verified")
    with _database(server) as conn:
        checks = conn.execute("SELECT purpose, outcome FROM entry_checks ORDER BY id").fetchall()
    assert checks[-1] == ("claim", "passed")
