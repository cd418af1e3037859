"""候考: in the minutes before a window opens (``EXAMSVC_CHECKIN_MINUTES``) a candidate may do
the camera steps and read the rules, so that a synchronised start at the opening costs only
the start; the start itself waits for the opening and the verification keeps its validity."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from examsvc.attempts.models import Attempt
from examsvc.attempts.rules import (
    PaperFacts,
    PaperState,
    WindowFacts,
    checks_in,
)
from examsvc.camera.models import EntryCheck
from examsvc.config import ConfigError, load_settings
from examsvc.enums import PaperKind, WindowRound
from examsvc.extensions import db
from tests.camera.conftest import emit, socket_of
from tests.camera.test_gate import OBAMA, consent, shots, start_api
from tests.html_text import visible_text

OPENS_IN = timedelta(minutes=10)


@pytest.fixture
def upcoming(app, gate, clock):
    """The gate's paper with its only window opening in ten minutes."""
    window = gate["paper"].windows[0]
    window.opens_at = clock.now() + OPENS_IN
    window.closes_at = window.opens_at + timedelta(hours=8)
    db.session.commit()
    app.config["CHECKIN_MINUTES"] = 15
    app.config["ENTRY_VALID_MINUTES"] = 30
    return gate["paper"].id


def home_text(client) -> str:
    return visible_text(client.get("/home").get_data(as_text=True))


def test_before_check_in_opens_the_paper_only_waits(app, upcoming, phone, clock):
    clock.advance(minutes=-10)  # 20 minutes before the opening: check-in is not open yet
    text = home_text(phone)
    assert "等待考试开始" in text and "进入测评" not in text
    page = visible_text(phone.get(f"/exam/paper/{upcoming}/device").get_data(as_text=True))
    assert "等待考试开始" in page and "设备调试" not in page
    paper = phone.get("/api/v1/exam").get_json()["papers"][0]
    assert paper["state"] == "waiting" and paper["checking_in"] is False


def test_a_candidate_checks_in_before_the_opening_and_starts_at_it(
    app, upcoming, phone, faces_dir, clock
):
    text = home_text(phone)
    assert (
        "等待考试开始" in text and "进入测评" in text and "开考前可先完成设备调试和人脸验证" in text
    )
    paper = phone.get("/api/v1/exam").get_json()["papers"][0]
    assert paper["state"] == "waiting" and paper["checking_in"] is True
    assert paper["can_start"] is False
    # The steps are open: the rules page sends the candidate to the device check first.
    assert phone.get(f"/exam/paper/{upcoming}").headers["Location"].endswith(f"/{upcoming}/device")
    assert "设备调试" in visible_text(
        phone.get(f"/exam/paper/{upcoming}/device").get_data(as_text=True)
    )
    consent(phone, upcoming)
    ack = emit(
        socket_of(app, phone),
        "entry_frames",
        {"paper_id": upcoming, "frames": shots(faces_dir, *OBAMA)},
    )
    assert ack["ok"] and ack["admitted"] and ack["outcome"] == "passed", ack

    # Verified: the rules page counts down to the opening, its start button is not live.
    html = phone.get(f"/exam/paper/{upcoming}").get_data(as_text=True)
    page = visible_text(html)
    assert "考试将于" in page and "距开考还有 10:00" in page
    assert "请在开考后15分钟内开始" in page
    assert '<button type="submit" disabled' in html and "剩余" in page
    assert 'data-opens-in="600.0"' in html
    # A start before the opening is refused, on the page and in the API; nothing is stored.
    refused = phone.post(f"/exam/paper/{upcoming}", data={"rules": "on"}, follow_redirects=True)
    assert "等待考试开始" in visible_text(refused.get_data(as_text=True))
    error = start_api(phone, upcoming).get_json()["error"]
    assert error["code"] == "waiting" and error["message"] == "等待考试开始"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attempt)) == 0

    clock.advance(minutes=10)  # the opening: the same verification opens the attempt
    html = phone.get(f"/exam/paper/{upcoming}").get_data(as_text=True)
    assert "距开考还有" not in visible_text(html) and "disabled" not in html
    started = start_api(phone, upcoming)
    assert started.status_code == 201, started.get_json()
    check = db.session.get(EntryCheck, ack["id"])
    assert check is not None and check.attempt_id == started.get_json()["id"]


def test_a_verification_made_at_check_in_lapses_with_its_validity(
    app, upcoming, phone, faces_dir, clock
):
    consent(phone, upcoming)
    ack = emit(
        socket_of(app, phone),
        "entry_frames",
        {"paper_id": upcoming, "frames": shots(faces_dir, *OBAMA)},
    )
    assert ack["outcome"] == "passed", ack
    clock.advance(minutes=30, seconds=1)  # 30 min after verifying
    error = start_api(phone, upcoming).get_json()["error"]
    assert error["code"] == "entry_check_required"
    # The rules page sends the candidate back to the steps.
    assert phone.get(f"/exam/paper/{upcoming}").headers["Location"].endswith("/device")


def test_check_in_off_leaves_the_paper_waiting(app, upcoming, phone):
    app.config["CHECKIN_MINUTES"] = 0
    assert "进入测评" not in home_text(phone)
    assert phone.get("/api/v1/exam").get_json()["papers"][0]["checking_in"] is False
    page = visible_text(phone.get(f"/exam/paper/{upcoming}/device").get_data(as_text=True))
    assert "等待考试开始" in page and "设备调试" not in page


def _state(code: str, opens_at, round: WindowRound = WindowRound.REGULAR) -> PaperState:
    window = WindowFacts(1, round, opens_at, opens_at + timedelta(hours=2))
    paper = PaperFacts(1, PaperKind.HUMANITIES, "人文", (), (), 3, 3, None, (window,))
    return PaperState(paper, code, "", 3, window)


def test_check_in_is_the_minutes_before_the_opening(clock):
    opens = clock.now() + timedelta(minutes=15)
    assert checks_in(_state("waiting", opens), clock.now(), 15)  # its first instant
    assert not checks_in(_state("waiting", opens), clock.now() - timedelta(seconds=1), 15)
    assert checks_in(_state("waiting", opens), opens - timedelta(seconds=1), 15)
    assert not checks_in(_state("waiting", opens), opens, 15)  # open: a start, not check-in
    assert checks_in(_state("makeup_waiting", opens, WindowRound.MAKEUP), clock.now(), 15)
    assert not checks_in(_state("locked", opens), clock.now(), 15)
    assert not checks_in(_state("waiting", opens), clock.now(), 0)


def test_check_in_must_end_within_a_verifications_validity(tmp_path: Path):
    env = {"EXAMSVC_CHECKIN_MINUTES": "30", "EXAMSVC_ENTRY_VALID_MINUTES": "30"}
    with pytest.raises(ConfigError, match="EXAMSVC_CHECKIN_MINUTES"):
        load_settings(env, tmp_path)
    assert load_settings({"EXAMSVC_CHECKIN_MINUTES": "0"}, tmp_path)["CHECKIN_MINUTES"] == 0
    assert load_settings({}, tmp_path)["CHECKIN_MINUTES"] == 15
