"""During an exam, in real Chromium with a fake camera showing a real face: the page shows a
small preview, sends snapshots when the server asks (its schedule, or ``snapshot_request``),
and they are stored and analysed — by the web process's face pool, or by an RQ worker with
Redis; an invigilator's ``warning`` appears at once and ``voided`` ends the exam on screen."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask_socketio import SocketIO

from examsvc.demo.data import PHYSICIANS, demo_id
from proctoring import jobs
from tests.conftest import REDIS_URL
from tests.e2e.conftest import (
    ARGS,
    CHROMIUM,
    Server,
    camera_file,
    first_login,
    launch,
    let_in,
    look,
)
from tests.e2e.test_exam_flow import assert_plain

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}


def _db(server: Server) -> sqlite3.Connection:
    return sqlite3.connect(server.env["EXAMSVC_DATABASE_URL"].removeprefix("sqlite:///"))


def _query(server: Server, sql: str, *args: object) -> list[tuple]:
    with _db(server) as conn:
        return conn.execute(sql, args).fetchall()


def _until(server: Server, sql: str, *args: object, timeout: float = 90) -> list[tuple]:
    """Poll the server's database (another process) until ``sql`` returns rows, bounded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = _query(server, sql, *args)
        if rows:
            return rows
        time.sleep(0.3)  # polling another process's work, not waiting for time to pass
    raise AssertionError(f"nothing for {sql!r} in {timeout}s:\n" + server.log.read_text()[-4000:])


@contextmanager
def camera_page(
    browser, server: Server, camera: str, physician: int, refuse_camera: bool = False
) -> Iterator:
    """A phone page, its fake camera fed from ``camera`` (or refused, as when a candidate
    denies the permission), of a physician who started their first paper: the gate before it
    passed with the factory (``let_in``; the gate's own browser test takes the real path),
    then 考前须知 and 开始考试 as a candidate does."""
    with browser.browser_type.launch(
        executable_path=CHROMIUM, args=[*ARGS, f"--use-file-for-fake-video-capture={camera}"]
    ) as cam_browser:
        context = cam_browser.new_context(viewport=PHONE, permissions=["camera"], bypass_csp=True)
        if refuse_camera:
            context.add_init_script(
                "navigator.mediaDevices.getUserMedia = () =>"
                " Promise.reject(new DOMException('denied', 'NotAllowedError'));"
            )
        page = context.new_page()
        number = demo_id(PHYSICIANS[physician][0], PHYSICIANS[physician][8])
        first_login(page, server, number, "Cam-Exam-2026")
        let_in(server.url, page)
        page.goto(server.url + "/home")
        page.click("text=进入测评")
        page.check("input[name=rules]")
        page.click("text=我知晓--开始考试")
        page.wait_for_selector("#q1.current")
        yield page, int(page.url.rsplit("/", 1)[1]), number


def _enrol(server: Server, attempt_id: int, faces_dir: Path) -> None:
    """The entry verification's enrolled encoding of the registered person (the entry gate's
    row, made here with the real engine)."""
    photo = (faces_dir / "face_recognition/obama.jpg").read_bytes()
    encoding = jobs.run("registration_photo", {"image": photo})["encoding"]
    with _db(server) as conn:
        (physician_id,) = conn.execute(
            "SELECT physician_id FROM attempts WHERE id = ?", (attempt_id,)
        ).fetchone()
        conn.execute(
            "INSERT INTO entry_checks (physician_id, attempt_id, checked_at, outcome, decision,"
            " frames, enrolled) VALUES (?, ?, datetime('now'), 'passed', '{}', '[]', ?)",
            (physician_id, attempt_id, encoding),
        )


def _assert_stored(server: Server, snapshot_id: int, attempt_id: int) -> None:
    data = Path(server.env["EXAMSVC_INSTANCE_PATH"]) / "data"
    (path,) = _query(server, "SELECT path FROM snapshots WHERE id = ?", snapshot_id)[0]
    assert re.fullmatch(rf"snapshots/{attempt_id}/\d{{14}}-[0-9a-f]{{16}}\.jpg", path), path
    stored = data / path
    assert stored.stat().st_size < 200 * 1024 and (stored.stat().st_mode & 0o777) == 0o600
    assert stored.read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG made by the page's canvas


def test_the_page_sends_snapshots_on_the_server_s_schedule_analysed_by_the_pool(
    browser, faces_dir, tmp_path
):
    camera = camera_file(faces_dir, tmp_path / "face.y4m")
    with (
        launch(tmp_path / "server", EXAMSVC_SNAPSHOT_MEAN_SECONDS="6") as server,
        camera_page(browser, server, camera, physician=1) as (page, attempt_id, _),
    ):
        _enrol(server, attempt_id, faces_dir)
        page.wait_for_function(
            "document.getElementById('camera-preview').videoWidth > 0", timeout=20000
        )
        box = page.locator("#camera").bounding_box()
        assert box is not None and box["width"] <= 48 and box["height"] <= 40  # unobtrusive
        assert not page.locator("#camera-note").is_visible()
        # A 6-second mean: the first snapshot is due within 9 s of joining.
        rows = _until(
            server,
            "SELECT id, status, size, distance FROM snapshots WHERE attempt_id = ?"
            " AND status != 'pending'",
            attempt_id,
        )
        snapshot_id, status, size, distance = rows[0]
        assert status == "ok", _query(server, "SELECT measurements FROM snapshots")
        assert 5 * 1024 < size < 120 * 1024
        assert distance is not None and distance < 0.45  # the same person as at entry
        _assert_stored(server, snapshot_id, attempt_id)
        text = look(page, "exam-camera")
        assert_plain(text)
        assert "摄像头未开启" not in text
        # Answering goes on as before while the camera works.
        page.locator("#q1 input").first.check()
        page.wait_for_function("document.getElementById('save-status').textContent === '已保存'")
        # Page events are reported: the page hidden and shown again.
        page.evaluate(
            "Object.defineProperty(document, 'hidden', {value: true, configurable: true});"
            "document.dispatchEvent(new Event('visibilitychange'));"
            "Object.defineProperty(document, 'hidden', {value: false, configurable: true});"
            "document.dispatchEvent(new Event('visibilitychange'));"
        )
        kinds = _until(
            server,
            "SELECT kind FROM client_events WHERE attempt_id = ? AND kind = 'visible'",
            attempt_id,
        )
        assert kinds
        assert _query(
            server,
            "SELECT 1 FROM client_events WHERE attempt_id = ? AND kind = 'hidden'",
            attempt_id,
        )

    # Without a camera (permission refused) the candidate answers on, told why it matters,
    # and the invigilators learn that the camera is off.
    with (
        launch(tmp_path / "server2") as server,
        camera_page(browser, server, camera, physician=1, refuse_camera=True) as (
            page,
            attempt_id,
            _,
        ),
    ):
        page.wait_for_selector("#camera-note:not([hidden])")
        text = look(page, "exam-no-camera")
        assert_plain(text)
        assert "摄像头未开启" in text and "答题不受影响" in text
        page.locator("#q1 input").first.check()
        page.wait_for_function("document.getElementById('save-status').textContent === '已保存'")
        _until(
            server,
            "SELECT 1 FROM client_events WHERE attempt_id = ? AND kind = 'camera_stopped'",
            attempt_id,
        )


@contextmanager
def face_worker(server: Server, prefix: str, log: Path) -> Iterator[None]:
    """A real RQ face worker on the server's queues, recording into the server's database."""
    command = [sys.executable, "-m", "proctoring.worker", "--namespace", prefix]
    with (
        log.open("wb") as out,
        subprocess.Popen(
            [*command, "--redis", REDIS_URL], env=server.env, stdout=out, stderr=subprocess.STDOUT
        ) as worker,
    ):
        try:
            yield
        finally:
            worker.terminate()
            worker.wait(timeout=30)


@pytest.mark.redis
def test_an_asked_snapshot_a_warning_and_a_void_reach_the_page_at_once(
    redis, browser, faces_dir, tmp_path
):
    camera = camera_file(faces_dir, tmp_path / "face.y4m")
    prefix = f"test-{uuid.uuid4().hex[:12]}-"
    with (
        launch(
            tmp_path / "server",
            EXAMSVC_REDIS_URL=REDIS_URL,
            EXAMSVC_FACE_QUEUE_PREFIX=prefix,
            EXAMSVC_SNAPSHOT_MEAN_SECONDS="3600",  # nothing on the schedule during the test
        ) as server,
        face_worker(server, prefix, tmp_path / "worker.log"),
        camera_page(browser, server, camera, physician=2) as (page, attempt_id, number),
    ):
        (user_id,) = _query(server, "SELECT id FROM users WHERE login = ?", number)[0]
        room = f"user:{user_id}"
        server_side = SocketIO(message_queue=REDIS_URL)  # emits as the web processes do
        page.wait_for_function(
            "document.getElementById('camera-preview').videoWidth > 0", timeout=20000
        )
        # Asked (until the page's socket has joined the room: a request before is lost).
        deadline = time.monotonic() + 30
        while not _query(server, "SELECT 1 FROM snapshots WHERE attempt_id = ?", attempt_id):
            assert time.monotonic() < deadline, server.log.read_text()[-3000:]
            server_side.emit(
                "snapshot_request", {"attempt_id": attempt_id}, to=room, namespace="/exam"
            )
            time.sleep(1)  # the page's answer is another process's work: poll, bounded
        rows = _until(
            server,
            "SELECT id, status FROM snapshots WHERE attempt_id = ? AND status != 'pending'",
            attempt_id,
            timeout=120,
        )
        assert rows[0][1] == "ok", (tmp_path / "worker.log").read_text()[-3000:]
        _assert_stored(server, rows[0][0], attempt_id)

        # An invigilator's warning (the wall stores it and emits it).
        with _db(server) as conn:
            warning_id = conn.execute(
                "INSERT INTO proctor_warnings (attempt_id, sent_by, sent_at, message)"
                " VALUES (?, ?, datetime('now'), ?)",
                (attempt_id, user_id, "请保持面部在画面中，不要离开座位"),
            ).lastrowid
        server_side.emit(
            "warning",
            {
                "id": warning_id,
                "message": "请保持面部在画面中，不要离开座位",
                "sent_at": "2026-05-12T01:05:00+00:00",
            },
            to=room,
            namespace="/exam",
        )
        page.wait_for_selector("#warning:not([hidden])", timeout=10000)
        text = look(page, "exam-warning")
        assert_plain(text)
        assert "监考老师提醒" in text and "请保持面部在画面中，不要离开座位" in text
        assert "09:05:00" in text  # sent at, in Beijing time
        page.click("text=我知道了")
        assert not page.locator("#warning").is_visible()
        _until(
            server,
            "SELECT 1 FROM proctor_warnings WHERE id = ? AND seen_at IS NOT NULL",
            warning_id,
        )

        # Voided for a violation (the wall voids it, then emits).
        with _db(server) as conn:
            conn.execute(
                "UPDATE attempts SET status = 'voided', open_slot = NULL, passed = 0,"
                " submit_reason = 'invigilator', submitted_at = datetime('now'),"
                " void_reason = ? WHERE id = ?",
                ("替考", attempt_id),
            )
        server_side.emit(
            "voided", {"attempt_id": attempt_id, "reason": "替考"}, to=room, namespace="/exam"
        )
        page.wait_for_selector("#voided:not([hidden])", timeout=10000)
        text = look(page, "exam-voided")
        assert_plain(text)
        assert "违纪" in text and "作废" in text and "替考" in text
        assert page.locator("#q1 input").first.is_disabled()  # nothing left to answer
        page.click("#voided-ok")
        page.wait_for_selector("#result")
        assert "#q1" not in page.content() and not page.locator("#camera").count()
