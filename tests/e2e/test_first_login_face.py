"""首次登录人脸核验 in a real browser: a physician of the demo roster whose registration photo
is Obama's logs in with 666666 and, before the first password, meets the camera step. With
Biden in front of Chromium's fake camera (a .y4m made from his photo) the account is not
claimed; with Obama it is, and the password is set. The fake camera shows a still photo,
which cannot blink or turn: this server runs with EXAMSVC_LIVENESS=false (the liveness of
the claim and of the gate is proven through the Socket.IO test client in
tests/camera/test_liveness_gate.py and tests/camera/test_claim.py)."""

from __future__ import annotations

import sqlite3

import pytest

from examsvc.accounts.ids import id_key
from examsvc.demo.data import PHYSICIANS, demo_id
from tests.e2e.conftest import (
    ARGS,
    CHROMIUM,
    camera_file,
    enabled_controls,
    launch,
    look,
    server_database,
)

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
CONTACT = "演示市医师定考中心 0731-84000000"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with launch(
        tmp_path_factory.mktemp("claim"), EXAMSVC_HELP_CONTACT=CONTACT, EXAMSVC_LIVENESS="false"
    ) as server:
        yield server


def register_photo(server, number: str, photo: bytes) -> None:
    """The registration photo as a roster pull stores it (checked by the real engine)."""
    import sqlalchemy as sa

    from examsvc.extensions import db
    from examsvc.roster import operations
    from examsvc.roster.models import Physician
    from proctoring import jobs

    result = jobs.run("registration_photo", {"image": photo})
    assert result["ok"]
    with server_database(server.url):
        physician = db.session.scalars(
            sa.select(Physician).where(Physician.id_key == id_key(number))
        ).one()
        operations.apply_photo(
            physician,
            photo,
            data_dir=server.env["EXAMSVC_INSTANCE_PATH"] + "/data",
            checker=lambda _: (True, None, None, result["encoding"]),
            expected_sha256=None,
            report=operations.PullReport(),
        )
        db.session.commit()


def log_in_first(page, server, number: str) -> None:
    page.goto(server.url + "/login")
    page.fill("#login", number)
    page.fill("#password", "666666")
    with page.expect_navigation():
        page.click("button[type=submit]")


def test_only_the_registered_person_claims_the_account(server, browser, faces_dir, tmp_path):
    number = demo_id(PHYSICIANS[2][0], PHYSICIANS[2][8])
    register_photo(server, number, (faces_dir / "face_recognition/obama.jpg").read_bytes())

    stranger = camera_file(faces_dir, tmp_path / "biden.y4m", "face_recognition/biden_biden2.jpg")
    with browser.browser_type.launch(
        executable_path=CHROMIUM, args=[*ARGS, f"--use-file-for-fake-video-capture={stranger}"]
    ) as cam_browser:
        page = cam_browser.new_context(viewport=PHONE, permissions=["camera"]).new_page()
        log_in_first(page, server, number)
        assert page.url.endswith("/account/password")
        page.wait_for_selector("#verify:enabled", timeout=60000)
        step = look(page, "claim-step")
        assert "画面正常，请保持不动，点击“开始人脸核验”" in step
        assert "首次登录人脸核验" in step and "为防止他人冒用您的证件号码激活账号" in step
        assert "确认修改" not in step and "开始人脸核验" in enabled_controls(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.click("#verify")
        page.wait_for_selector("#result.bad", timeout=60000)
        refused = look(page, "claim-refused")
        assert "人脸与报名照片不一致：账号只能由本人激活" in refused
        assert not page.is_visible("#next")
    with sqlite3.connect(server.env["EXAMSVC_DATABASE_URL"].removeprefix("sqlite:///")) as conn:
        rows = conn.execute("SELECT purpose, outcome FROM entry_checks").fetchall()
        claimed = conn.execute(
            "SELECT must_change_password FROM users WHERE login = ?", (id_key(number),)
        ).fetchall()
    assert rows == [("claim", "mismatch")] and claimed == [(1,)]

    owner = camera_file(faces_dir, tmp_path / "obama.y4m")
    with browser.browser_type.launch(
        executable_path=CHROMIUM, args=[*ARGS, f"--use-file-for-fake-video-capture={owner}"]
    ) as cam_browser:
        page = cam_browser.new_context(viewport=PHONE, permissions=["camera"]).new_page()
        log_in_first(page, server, number)
        page.wait_for_selector("#verify:enabled", timeout=60000)
        page.click("#verify")
        page.wait_for_selector("#next:visible", timeout=60000)
        passed = look(page, "claim-passed")
        assert "人脸核验通过，请点击“下一步”设置密码" in passed
        with page.expect_navigation():
            page.click("#next")
        form = look(page, "claim-password")
        assert "首次登录请先修改密码" in form
        page.fill("#old", "666666")
        page.fill("#new", "Claim-Doc-2026")
        page.fill("#repeat", "Claim-Doc-2026")
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert "密码修改成功" in page.inner_text("body")
    with sqlite3.connect(server.env["EXAMSVC_DATABASE_URL"].removeprefix("sqlite:///")) as conn:
        rows = conn.execute("SELECT purpose, outcome FROM entry_checks ORDER BY id").fetchall()
        claimed = conn.execute(
            "SELECT must_change_password FROM users WHERE login = ?", (id_key(number),)
        ).fetchall()
    assert rows == [("claim", "mismatch"), ("claim", "passed")] and claimed == [(0,)]
