"""The camera's pages in English, in a real browser: a candidate's camera steps (device check,
consent, face verification, rules) and the exam page with its camera, the invigilators'
wall and a candidate's timeline. Only the people's data (names, papers, the session) stay
as they were entered; the words of camera.js, proctor.js and wall.js come from the page."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from examsvc.demo.data import PHYSICIANS, demo_id
from tests.e2e.conftest import (
    PHONE,
    camera_browser,
    camera_file,
    gate_candidate,
    launch,
    log_in,
    look,
    to_face_verification,
)
from tests.e2e.test_face_calibration_page import DEMO_IDS, PHOTOS
from tests.e2e.test_first_login_face import log_in_first, register_photo
from tests.e2e.test_invigilation_wall import card_names, furnish

pytestmark = pytest.mark.browser

HAN = re.compile(r"[\u3400-\u9fff]+")


def chinese_left(text: str, *data: str) -> list[str]:
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, "")
    return HAN.findall(text.replace("中文", ""))  # the switch back says its own name


@pytest.fixture
def server(tmp_path_factory):
    """A fresh demo server for each test (stopped by the fixture, even after a failure).
    Chromium's fake camera shows a still photo, which cannot blink or turn: the flow that
    passes the gate runs with liveness off (its English is checked with liveness on below)."""
    with launch(tmp_path_factory.mktemp("english"), EXAMSVC_LIVENESS="false") as server:
        yield server


def test_the_face_check_before_the_first_password_reads_in_english(
    server, browser, faces_dir, tmp_path
):
    number = demo_id(PHYSICIANS[2][0], PHYSICIANS[2][8])
    name = PHYSICIANS[2][1]
    register_photo(server, number, (faces_dir / "face_recognition/obama.jpg").read_bytes())
    owner = camera_file(faces_dir, tmp_path / "obama.y4m")
    with camera_browser(browser, owner) as cam_browser:
        page = cam_browser.new_context(viewport=PHONE, permissions=["camera"]).new_page()
        page.goto(server.url + "/lang/en?next=/login")
        log_in_first(page, server, number)
        page.wait_for_selector("#verify:enabled", timeout=60000)
        step = look(page, "english-claim-step")
        assert "First-login face verification" in step and "your identity is checked" in step
        assert "keep still and click “Start face verification”" in step, step
        assert not chinese_left(step, name), step
        page.click("#verify")
        page.wait_for_selector("#next:visible", timeout=60000)
        passed = look(page, "english-claim-passed")
        assert "click “Next” to set your password" in passed and "Next: set your password" in passed
        assert not chinese_left(passed, name), passed


def test_a_still_camera_meets_the_liveness_check_in_english(
    tmp_path_factory, browser, faces_dir, tmp_path
):
    n, name = PHYSICIANS[0][0], PHYSICIANS[0][1]
    with (
        launch(tmp_path_factory.mktemp("english-live")) as server,
        gate_candidate(
            browser,
            server,
            faces_dir,
            tmp_path,
            demo_id(n, PHYSICIANS[0][8]),
            "Live-Doc-2026",
            "en",
        ) as page,
    ):
        paper = page.inner_text("section.card h2")
        to_face_verification(page, "Start the assessment", "I consent")
        verify = page.inner_text("main")
        assert "do the movement shown on the screen (liveness check)" in verify, verify
        assert not chinese_left(verify, name, paper), verify
        page.click("#verify")
        page.wait_for_selector("#challenge:visible", timeout=20000)
        shown = look(page, "english-gate-liveness-challenge")
        asked = ["Blink your eyes", "Slowly turn your head to the left"]
        asked += ["Slowly turn your head to the right", "Open your mouth"]
        assert len([words for words in asked if words in shown]) == 1, shown
        assert not chinese_left(shown, name, paper), shown
        page.wait_for_selector("#result.bad", timeout=60000)
        refused = look(page, "english-gate-liveness-refused")
        assert "detected" in refused and "when asked and try again" in refused, refused
        assert not chinese_left(refused, name, paper), refused
        assert not page.is_visible("#next")


def test_a_candidate_passes_the_camera_steps_and_sits_in_english(
    server, browser, faces_dir, tmp_path
):
    n, name = PHYSICIANS[0][0], PHYSICIANS[0][1]
    number = demo_id(n, PHYSICIANS[0][8])
    with gate_candidate(
        browser, server, faces_dir, tmp_path, number, "Camera-Doc-2026", "en"
    ) as page:
        paper = page.inner_text("section.card h2")
        with page.expect_navigation():
            page.click("text=Start the assessment")

        page.wait_for_selector("#instruction.good", timeout=60000)
        device = look(page, "english-gate-device")
        assert "Step 1: Device check" in device and "The picture is good" in device
        assert not chinese_left(device, name, paper), device
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        with page.expect_navigation():
            page.click("#next")

        consent = look(page, "english-gate-consent")
        assert "Step 2: Consent to face data collection" in consent and "I consent" in consent
        assert not chinese_left(consent, name, paper), consent
        with page.expect_navigation():
            page.click("text=I consent")

        page.wait_for_selector("#verify:enabled", timeout=60000)
        verify = look(page, "english-gate-verify")
        assert "Step 3: Face verification" in verify and "Start face verification" in verify
        assert not chinese_left(verify, name, paper), verify
        page.click("#verify")
        page.wait_for_selector("#next:visible", timeout=60000)
        verified = look(page, "english-gate-verified")
        assert "Face verification passed" in verified
        assert not chinese_left(verified, name, paper), verified
        with page.expect_navigation():
            page.click("#next")

        rules = look(page, "english-gate-rules")
        assert "Step 4: Exam rules" in rules and "snapshots are taken at random" in rules
        assert not chinese_left(rules, name, paper), rules
        page.check("input[name=rules]")
        page.click("text=I understand - start the assessment")
        page.wait_for_selector("#q1.current")
        page.wait_for_function("document.getElementById('camera-preview').videoWidth > 0")
        look(page, "english-exam-camera")
        chrome = " ".join(page.inner_text(s) for s in (".topbar", ".exam-bar", ".exam-actions"))
        assert "Submit" in chrome and not chinese_left(chrome, name, paper), chrome
        hidden = page.eval_on_selector_all(
            "#warning, #voided", "els => els.map(e => e.textContent)"
        )
        assert not chinese_left(" ".join(hidden)), hidden  # the invigilator's dialogs


def test_an_invigilator_watches_in_english(server, browser, faces_photos):
    session_id = furnish(server, Path(server.env["EXAMSVC_INSTANCE_PATH"]), faces_photos)
    page = browser.new_context(viewport=PHONE).new_page()
    page.goto(server.url + "/lang/en?next=/login")
    log_in(page, server, "jiankao", "Demo-Proctor-2026")
    page.click("text=Open the invigilation wall")
    page.wait_for_selector("#live:has-text('Live')")
    assert page.url.endswith(f"/invigilate/sessions/{session_id}")
    data = [
        *card_names(page),
        *page.eval_on_selector_all("[data-role=paper]", "els => els.map(e => e.title)"),
        page.inner_text(".topbar .who"),
        "第一考场（演示）",
    ]
    wall = look(page, "english-invigilation-wall")
    for words in ("Possibly someone else", "Several faces", "Disconnected", "Answering"):
        assert words in wall, words
    assert "Not started" in wall and "Entry verification to review" in wall
    assert not chinese_left(wall, *data), chinese_left(wall, *data)
    assert not re.search(r"\b(mismatch|multiple_faces|no_face|entry_review|in_progress)\b", wall)

    href = page.get_attribute("#wall .wall-card[data-name='演示医师2号'] [data-role=link]", "href")
    page.goto(server.url + href)
    timeline = look(page, "english-invigilation-timeline")
    for words in (
        "Entry face verification",
        "Entry picture 1",
        "To be reviewed",
        "Difference from the registration photo 0.52",
        "Possibly someone else",
        "Difference from the entry pictures 0.71",
        "Warning to the candidate",
        "Void for a violation",
    ):
        assert words in timeline, words
    assert not chinese_left(timeline, *data), chinese_left(timeline, *data)


def test_the_agency_pages_of_the_camera_read_in_english(server, browser, tmp_path, faces_dir):
    photos = tmp_path / "photos"
    photos.mkdir()
    for n, name in zip(DEMO_IDS, PHOTOS, strict=True):
        shutil.copy(faces_dir / name, photos / f"DEMO-{n:04d}.jpg")
    server.command("demo", "load", "--photos", str(photos))
    server.command("faces", "calibrate", "--target-far", "0.2", "--loose-far", "0.5")
    page = browser.new_context(viewport=PHONE).new_page()
    page.goto(server.url + "/lang/en?next=/login")
    log_in(page, server, "admin", "Demo-Admin-2026")
    data = [page.inner_text(".topbar .who"), *(row[1] for row in PHYSICIANS)]

    page.click("text=Face verification problems")
    blocked = look(page, "english-entry-problems")
    assert "Registration photo unusable" in blocked and "Admit to the assessment" in blocked
    assert not chinese_left(blocked, *data), chinese_left(blocked, *data)
    labels = page.eval_on_selector_all(  # the phone's cards label each cell
        "td[data-label]", "els => els.map(e => getComputedStyle(e, '::before').content)"
    )
    assert labels and all(label.endswith(': "') for label in labels), labels

    page.goto(server.url + "/admin/faces/calibration")
    calibration = look(page, "english-face-calibration")
    assert "Calibrated thresholds version 1 are in use" in calibration
    assert "15 pairs (all combinations)" in calibration and "target 20.00%" in calibration
    cycle = page.inner_text("dl.facts dd")  # the cycle's name, as entered
    assert not chinese_left(calibration, cycle, *data), chinese_left(calibration, *data)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
