"""A newcomer's first minutes, in a real browser against a real server, phone and desktop."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from examsvc.accounts.ids import check_digit, to_15
from examsvc.demo.data import PHYSICIANS, demo_id
from tests.e2e.conftest import (
    camera_file,
    enabled_controls,
    log_in,
    look,
    physician_session,
    start_first_paper,
)

pytestmark = pytest.mark.browser


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


def _submit(page) -> None:
    page.click("main button[type=submit]")


class FromAddress(HTTPAdapter):
    """Requests from another loopback address: another client as far as the server knows."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def test_login_messages_no_lockout_and_the_password_rules(demo_server, browser):
    number = demo_id(PHYSICIANS[1][0], PHYSICIANS[1][8])
    wrong_digit = number[:17] + ("0" if number[17] != "0" else "1")
    page = browser.new_context(viewport={"width": 1366, "height": 800}).new_page()
    page.goto(demo_server.url + "/login")
    text = look(page, "login")
    assert "证件号码 / 用户名" in text and "初始密码为 666666" in text
    assert "登录" in enabled_controls(page)

    page.fill("#login", wrong_digit)
    page.fill("#password", "666666")
    _submit(page)
    assert "身份证号码最后一位校验码不正确" in look(page, "login-check-digit")

    # Someone else (another address) tries ten wrong passwords on this physician: under the
    # old lock the real user was then refused for 15 minutes; now nothing holds them up.
    elsewhere = requests.Session()
    elsewhere.mount("http://", FromAddress("127.0.0.2"))
    token = elsewhere.get(demo_server.url + "/api/v1/session").json()["csrf_token"]
    codes = [
        elsewhere.post(
            demo_server.url + "/api/v1/session",
            json={"login": number, "password": "Not-The-Pass-1"},
            headers={"X-CSRFToken": token},
        ).json()["error"]["code"]
        for _ in range(10)
    ]
    assert codes[:5] == ["bad_credentials"] * 5 and "throttled" in codes  # that address waits

    # A wrong password and an unregistered number read exactly the same.
    messages = []
    unregistered = "11010519900101123" + check_digit("11010519900101123")
    for login in (number, unregistered):
        page.fill("#login", login)
        page.fill("#password", "Not-The-Pass-1")
        _submit(page)
        messages.append(page.text_content(".flash.error"))
    assert messages == ["证件号码（用户名）或密码错误"] * 2
    text = look(page, "login-failed")
    assert "证件号码（用户名）或密码错误" in text and "锁定" not in text

    phone = browser.new_context(viewport={"width": 360, "height": 740}).new_page()
    phone.goto(demo_server.url + "/login")
    phone.fill("#login", to_15(number))
    phone.fill("#password", "666666")
    _submit(phone)
    assert phone.url.endswith("/account/password")
    phone.fill("#old", "666666")
    phone.fill("#new", "666666aB")
    phone.fill("#repeat", "666666aB")
    _submit(phone)
    text = look(phone, "password-refused")
    assert "新密码不能包含初始密码 666666" in text
    assert phone.url.endswith("/account/password")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360


def test_admin_reads_logins_failures_and_submissions_in_the_audit_log(demo_server, browser):
    base = demo_server.url
    number = demo_id(PHYSICIANS[4][0], PHYSICIANS[4][8])
    http = physician_session(base, number, "Audit-Doc-2026")
    attempt = start_first_paper(base, http)
    token = http.get(base + "/api/v1/session").json()["csrf_token"]
    submitted = http.post(
        f"{base}/api/v1/exam/attempts/{attempt['id']}/submit", headers={"X-CSRFToken": token}
    )
    assert submitted.ok, submitted.text
    anonymous = requests.Session()
    token = anonymous.get(base + "/api/v1/session").json()["csrf_token"]
    anonymous.post(
        base + "/api/v1/session",
        json={"login": number, "password": "Guess-Pass-1"},
        headers={"X-CSRFToken": token},
    )

    page = browser.new_context(viewport={"width": 1366, "height": 800}).new_page()
    page.goto(base + "/login")
    page.fill("#login", "admin")
    page.fill("#password", "Demo-Admin-2026")
    _submit(page)
    page.goto(base + "/admin/audit")
    text = look(page, "audit-log")
    rows = page.eval_on_selector_all("table tbody tr", "rows => rows.map(r => r.innerText)")
    assert any("\t登录\t" in row for row in rows)
    failed = [row for row in rows if "登录失败" in row]
    assert failed and "未登录访客" in failed[0] and "证件号码（用户名）或密码错误" in failed[0]
    assert number[:3] + "*****" + number[-4:] in failed[0]
    submit = [row for row in rows if "交卷" in row]
    assert submit and "考生交卷" in submit[0] and "得分" in submit[0]
    assert number not in text and "Guess-Pass-1" not in text
    assert "login.failed" not in text and "attempt.submit" not in text and '{"' not in text
    assert "查询" in enabled_controls(page)
    page.select_option("#group", "login")
    page.click("form.actions button[type=submit]")
    assert "登录失败" in look(page, "audit-log-logins")
    rows = page.eval_on_selector_all("table tbody tr", "rows => rows.map(r => r.innerText)")
    assert rows and all("登录" in row and "交卷" not in row for row in rows)

    # 重置为初始密码 asks first, on its own page; 取消 changes nothing.
    page.goto(base + "/admin/users?q=" + PHYSICIANS[6][1])
    page.click("text=重置为初始密码")
    text = look(page, "reset-confirm")
    assert "确认将该医师的密码重置为初始密码 666666 吗？" in text and PHYSICIANS[6][1] in text
    assert {"确认重置", "取消"} <= set(enabled_controls(page))
    page.click("text=取消")
    assert "/admin/users" in page.url and "已将" not in look(page, "reset-cancelled")


def test_admin_on_a_desktop_sees_the_roster_with_masked_ids(demo_server, browser):
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    log_in(page, demo_server, "admin", "Demo-Admin-2026")
    assert "报名人数" in (page.text_content("main") or "")
    page.goto(demo_server.url + "/admin/roster")
    text = page.text_content("main") or ""
    assert "演示医师1号" in text and "430*****" in text
    assert demo_id(PHYSICIANS[0][0], PHYSICIANS[0][8]) not in text


def test_demo_physician_enrols_a_photo_from_the_camera(demo_server, browser, faces_dir, tmp_path):
    number = demo_id(PHYSICIANS[3][0], PHYSICIANS[3][8])
    camera = camera_file(faces_dir, tmp_path / "face.y4m")
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
