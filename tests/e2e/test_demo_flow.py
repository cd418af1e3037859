"""A newcomer's first minutes, in a real browser against a real server, phone and desktop."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from examsvc.accounts.ids import to_15
from examsvc.demo.data import PHYSICIANS, demo_id

pytestmark = pytest.mark.browser


def _camera_file(faces_dir, path) -> str:
    """A .y4m 'camera' showing a real face (generated here, never committed)."""
    image = cv2.imread(str(faces_dir / "face_recognition/obama.jpg"))
    height, width = image.shape[:2]
    image = cv2.resize(image, (int(width * 480 / height) // 2 * 2, 480))[:, :640]
    canvas = np.full((480, 640, 3), 120, np.uint8)
    x = (640 - image.shape[1]) // 2
    canvas[:, x : x + image.shape[1]] = image
    frame = cv2.cvtColor(canvas, cv2.COLOR_BGR2YUV_I420).tobytes()
    with open(path, "wb") as out:
        out.write(b"YUV4MPEG2 W640 H480 F15:1 Ip A1:1 C420jpeg\n")
        for _ in range(10):
            out.write(b"FRAME\n" + frame)
    return str(path)


def test_physician_on_a_phone_logs_in_with_15_digits_changes_password_and_sees_home(
    demo_server, browser
):
    number = demo_id(PHYSICIANS[0][0], PHYSICIANS[0][8])
    page = browser.new_context(viewport={"width": 360, "height": 740}).new_page()
    page.goto(demo_server.url + "/")
    assert page.url.endswith("/login")
    page.fill("#login", to_15(number))
    page.fill("#password", "666666")
    page.click("button[type=submit]")
    assert page.url.endswith("/account/password")
    page.fill("#old", "666666")
    page.fill("#new", "Phone-Doc-2026")
    page.fill("#repeat", "Phone-Doc-2026")
    page.click("button[type=submit]")
    assert page.url.endswith("/home")
    body = page.text_content("main") or ""
    assert "考核安排" in body and "简易程序" in body and "报名完成-等待测评" in body
    assert number not in body
    # Nothing is wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_wrong_check_digit_and_lockout_messages_show(demo_server, browser):
    number = demo_id(PHYSICIANS[1][0], PHYSICIANS[1][8])
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(demo_server.url + "/login")
    page.fill("#login", wrong)
    page.fill("#password", "666666")
    page.click("button[type=submit]")
    assert "校验码不正确" in (page.text_content("main") or "")


def test_admin_on_a_desktop_sees_the_roster_with_masked_ids(demo_server, browser):
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(demo_server.url + "/login")
    page.fill("#login", "admin")
    page.fill("#password", "Demo-Admin-2026")
    page.click("button[type=submit]")
    assert "报名人数" in (page.text_content("main") or "")
    page.goto(demo_server.url + "/admin/roster")
    text = page.text_content("main") or ""
    assert "演示医师1号" in text and "430*****" in text
    assert demo_id(PHYSICIANS[0][0], PHYSICIANS[0][8]) not in text


def test_demo_physician_enrols_a_photo_from_the_camera(demo_server, browser, faces_dir, tmp_path):
    number = demo_id(PHYSICIANS[3][0], PHYSICIANS[3][8])
    camera = _camera_file(faces_dir, tmp_path / "face.y4m")
    from tests.e2e.conftest import ARGS, CHROMIUM, first_login

    with browser.browser_type.launch(
        executable_path=CHROMIUM, args=[*ARGS, f"--use-file-for-fake-video-capture={camera}"]
    ) as cam_browser:
        context = cam_browser.new_context(
            viewport={"width": 360, "height": 740}, permissions=["camera"], bypass_csp=True
        )  # Playwright's waits evaluate scripts
        page = context.new_page()
        first_login(page, demo_server, number, "Cam-Doc-2026")
        page.click("text=演示：用摄像头采集报名照片")
        page.wait_for_selector("#camera")  # the enrolment page has replaced the home page
        page.wait_for_function("document.getElementById('camera').videoWidth > 0", timeout=20000)
        page.click("#take")
        page.wait_for_function(
            "document.getElementById('status').textContent.length > 0", timeout=60000
        )
        assert page.text_content("#status") == "照片已保存，可用于人脸验证"
    import sqlite3

    with sqlite3.connect(
        demo_server.env["EXAMSVC_DATABASE_URL"].removeprefix("sqlite:///")
    ) as conn:
        status, encoding = conn.execute(
            "SELECT photo_status, face_encoding FROM physicians WHERE registration_id = 'DEMO-0004'"
        ).fetchone()
    assert status == "ok" and len(encoding) == 1024
