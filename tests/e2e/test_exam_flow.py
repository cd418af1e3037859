"""A simple-procedure physician fails the humanities paper, retries and passes — on a phone."""

from __future__ import annotations

import sqlite3

import pytest

from examsvc.demo.data import PHYSICIANS, demo_id
from tests.e2e.conftest import first_login

pytestmark = pytest.mark.browser


def _keys(server, attempt_id: int) -> dict[int, object]:
    """The answer keys, read from the server's database (never from the page)."""
    import json

    with sqlite3.connect(server.env["EXAMSVC_DATABASE_URL"].removeprefix("sqlite:///")) as conn:
        rows = conn.execute(
            "SELECT i.position, q.qtype, q.data FROM attempt_items i JOIN questions q "
            "ON q.id = i.question_id WHERE i.attempt_id = ?",
            (attempt_id,),
        ).fetchall()
    keys = {}
    for position, qtype, data in rows:
        q = json.loads(data)
        keys[position] = (
            qtype,
            q.get("answer"),
            {s["external_id"]: s["answer"] for s in q.get("sub_questions") or []},
        )
    return keys


def _answer_all(page, keys, correct: bool) -> None:
    for position in sorted(keys):
        qtype, answer, subs = keys[position]
        box = page.locator(f"#q{position}")
        if qtype == "single":
            if correct:
                box.locator(f"input[value='{answer}']").check()
        elif qtype == "multiple":
            if correct:
                for key in answer:
                    box.locator(f"input[value='{key}']").check()
        elif qtype == "true_false":
            box.locator(f"input[value='{'true' if answer == correct else 'false'}']").check()
        else:
            if correct:
                for sub_id, key in subs.items():
                    box.locator(f"input[name='q{position}-{sub_id}'][value='{key}']").check()
        page.click("#next")


def _start(page, server) -> int:
    page.goto(server.url + "/home")
    page.click("text=进入测评")
    page.check("input[name=rules]")
    page.click("text=我知晓--开始考试")
    page.wait_for_selector("#q1.current")
    return int(page.url.rsplit("/", 1)[1])


def test_fail_retry_and_pass_on_a_phone(demo_server, browser):
    number = demo_id(PHYSICIANS[6][0], PHYSICIANS[6][8])  # simple procedure
    page = browser.new_context(viewport={"width": 360, "height": 740}, bypass_csp=True).new_page()
    first_login(page, demo_server, number, "Exam-Doc-2026")
    page.goto(demo_server.url + "/home")
    page.click("text=进入测评")
    page.click("text=同意授权")  # 人脸信息采集授权, first time only

    first = _start(page, demo_server)
    _answer_all(page, _keys(demo_server, first), correct=False)
    page.wait_for_function("!document.getElementById('save-status').textContent.includes('…')")
    page.click("#submit")
    assert "还有" in (page.text_content("#unanswered") or "")
    page.click("text=现在交卷")
    page.wait_for_selector("#result:not([hidden])")
    assert "您本次未达到分数线，您可以继续参加测评" in (page.text_content("#result") or "")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    page.click("text=再次测评")
    page.check("input[name=rules]")
    page.click("text=我知晓--开始考试")
    page.wait_for_selector("#q1.current")
    second = int(page.url.rsplit("/", 1)[1])
    assert second != first
    _answer_all(page, _keys(demo_server, second), correct=True)
    page.reload()  # answers survive a reload: the server has them (and the journal the rest)
    page.wait_for_selector("#q1.current")
    page.wait_for_function("!document.getElementById('save-status').textContent.includes('…')")
    page.click("#submit")
    page.click("text=现在交卷")
    page.wait_for_selector("#result:not([hidden])")
    assert "合格" in (page.text_content("#result") or "")
    page.goto(demo_server.url + "/home")
    assert "合格" in (page.text_content("main") or "")
