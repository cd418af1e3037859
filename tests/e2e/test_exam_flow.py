"""A simple-procedure physician fails the humanities paper, retries and passes — on a phone.
The exam screen keeps the question in view, and ends at submission (by the candidate, at
the deadline, or seen on reopening): the result, and nothing left to click as if it ran on."""

from __future__ import annotations

import re
import sqlite3

import pytest

from examsvc.demo.data import PHYSICIANS, demo_id
from tests.e2e.conftest import WIDTHS, enabled_controls, first_login, let_in, look

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
# What must never reach a candidate's page: Python reprs and the code's English words.
RAW = re.compile(
    r"\b(True|False|None|in_progress|submitted|voided|passed|pass|fail|pending|locked|exempt)\b"
    r"|<built-in|\{'|\[\]"
)
EXAM_CONTROLS = {"交卷", "现在交卷", "继续答题", "上一题", "下一题", "标记"}


def assert_plain(text: str) -> None:
    assert not RAW.search(text), RAW.search(text)


def stems(page) -> list[str]:
    """The text of every question of the exam page, shown or not."""
    return page.eval_on_selector_all(".question .stem", "els => els.map(e => e.textContent)")


def assert_result_only(page, name: str, questions: list[str]) -> str:
    """After submission, at a phone's and a desktop's width: the result, no question, no timer,
    and nothing to click as if the exam ran on. Returns the visible text."""
    text = look(page, name)
    size = page.viewport_size
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": size["height"]})
        visible = page.inner_text("body")
        assert "交卷成功" in visible, visible
        assert not [q for q in questions if q in visible], visible
        controls = enabled_controls(page)
        assert not EXAM_CONTROLS & set(controls), controls
        assert not [c for c in controls if c.isdigit() or c.startswith("答题卡")], controls
        assert page.locator("input:visible").count() == 0  # no option left to pick
        assert page.locator("#timer").count() == 0  # no clock ticking on
        assert_plain(visible)
    page.set_viewport_size(size)
    return text


def assert_question_in_view(page) -> None:
    """On a 360x740 phone the current question and its first option are on the first screen,
    between the compact sticky bars, and the 答题卡 is folded."""
    # Measured in one step: the page re-renders the paper when its socket (re)connects.
    page.wait_for_selector(".question.current .option")
    bar, stem, option, actions = page.evaluate(
        """() => ['.exam-bar', '.question.current .stem', '.question.current .option',
                  '.exam-actions'].map(s => {
            const r = document.querySelector(s).getBoundingClientRect();
            return {x: r.x, y: r.y, width: r.width, height: r.height};
        })"""
    )
    assert bar["y"] + bar["height"] <= stem["y"], (bar, stem)
    assert option["y"] + option["height"] <= min(actions["y"], PHONE["height"]), (option, actions)
    assert bar["height"] + actions["height"] <= 0.2 * PHONE["height"], (bar, actions)
    assert not page.locator("#navigator button").first.is_visible()
    assert not [c for c in enabled_controls(page) if c.isdigit()]


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


def _goto(page, position: int) -> None:
    """Open a question from the 答题卡 (folded behind its button on a phone)."""
    if not page.locator("#navigator button").first.is_visible():
        page.click("#nav-toggle")
    page.click(f"#navigator button[aria-label='{position}']")
    page.wait_for_selector(f"#q{position}.current")


def _answer_all(page, keys, correct: bool) -> None:
    _goto(page, min(keys))
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
    """进入测评 past the camera's steps (a factory: the gate's own test is
    test_camera_gate.py), then the rules and 开始考试."""
    let_in(server.url, page)
    page.goto(server.url + "/home")
    page.click("text=进入测评")
    page.check("input[name=rules]")
    page.click("text=我知晓--开始考试")
    page.wait_for_selector("#q1.current")
    return int(page.url.rsplit("/", 1)[1])


def _first_attempt(browser, server, physician: int, password: str):
    """A phone page of a physician who logged in for the first time, passed the gate and
    started their first paper: the page and the attempt's id."""
    number = demo_id(PHYSICIANS[physician][0], PHYSICIANS[physician][8])
    page = browser.new_context(viewport=PHONE, bypass_csp=True).new_page()
    first_login(page, server, number, password)
    return page, _start(page, server)


def _expire(server, attempt_id: int) -> None:
    """The attempt's time ran out an hour ago (the server's clock is real in these tests)."""
    with sqlite3.connect(server.env["EXAMSVC_DATABASE_URL"].removeprefix("sqlite:///")) as conn:
        conn.execute(
            "UPDATE attempts SET started_at = datetime('now', '-2 hours'), "
            "deadline_at = datetime('now', '-1 hour') WHERE id = ?",
            (attempt_id,),
        )


def test_fail_retry_and_pass_on_a_phone(demo_server, browser):
    number = demo_id(PHYSICIANS[6][0], PHYSICIANS[6][8])  # simple procedure
    page = browser.new_context(viewport=PHONE, bypass_csp=True).new_page()
    first_login(page, demo_server, number, "Exam-Doc-2026")
    page.goto(demo_server.url + "/home")
    assert_plain(look(page, "exam-home"))
    let_in(demo_server.url, page)  # the camera's steps: test_camera_gate.py
    page.click("text=进入测评")
    rules = look(page, "exam-rules")  # 考前须知, with the paper's facts
    for fact in ("共54题", "100分", "合格分数线", "60分", "60分钟", "剩余20次"):
        assert fact in rules, fact
    assert "考试过程中随机抓拍监考照片" in rules
    assert "1 设备调试 2 授权 3 人脸验证 4 考前须知" in " ".join(rules.split())

    first = _start(page, demo_server)
    look(page, "exam-question")
    assert_question_in_view(page)
    # Points are labelled: 「（2分）」, 「（每小题2分）」 for a group, never a bare 「（2）」.
    assert re.search(r"（(每小题)?\d+(\.\d+)?分）$", page.inner_text("#q1 .stem"))
    assert re.fullmatch(r"\d\d:\d\d", page.inner_text("#timer"))
    # The 答题卡 opens on demand, takes the reader to a question, and folds away again.
    page.click("#nav-toggle")
    assert page.locator("#navigator button").first.is_visible()
    look(page, "exam-navigator-open")
    page.click("#navigator button[aria-label='7']")
    page.wait_for_selector("#q7.current")
    assert not page.locator("#navigator button").first.is_visible()
    page.reload()  # back on the question last viewed, not on the first
    page.wait_for_selector("#q7.current")
    assert_question_in_view(page)

    questions = stems(page)
    _answer_all(page, _keys(demo_server, first), correct=False)
    page.wait_for_function("!document.getElementById('save-status').textContent.includes('…')")
    page.click("#submit")
    assert "还有" in (page.text_content("#unanswered") or "")
    page.click("text=现在交卷")
    page.wait_for_selector("#result")
    result = assert_result_only(page, "exam-submitted", questions)
    assert "您本次未达到分数线，您可以继续参加测评" in result
    assert "再次测评" in enabled_controls(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.goto(f"{demo_server.url}/exam/{first}")  # reopened later: still the result alone
    assert "您本次未达到分数线" in assert_result_only(page, "exam-reopened", questions)

    let_in(demo_server.url, page)  # each attempt verifies anew
    page.click("text=再次测评")
    page.check("input[name=rules]")
    page.click("text=我知晓--开始考试")
    page.wait_for_selector("#q1.current")
    second = int(page.url.rsplit("/", 1)[1])
    assert second != first
    _answer_all(page, _keys(demo_server, second), correct=True)
    page.reload()  # answers survive a reload: the server has them (and the journal the rest)
    page.wait_for_selector(".question.current")
    page.wait_for_function("!document.getElementById('save-status').textContent.includes('…')")
    questions = stems(page)
    page.click("#submit")
    page.click("text=现在交卷")
    page.wait_for_selector("#result")
    assert "合格" in assert_result_only(page, "exam-passed", questions)
    page.goto(demo_server.url + "/home")
    assert "合格" in (page.text_content("main") or "")
    page.goto(demo_server.url + "/results")
    results = look(page, "exam-results")
    assert "合格" in results and "进入测评" not in results
    assert_plain(results)


def test_the_deadline_ends_the_exam_screen(demo_server, browser):
    """The sweeper submits at the deadline while the page is open: the page ends at the next
    answer it tries to save, and shows the result alone."""
    page, attempt = _first_attempt(browser, demo_server, 0, "Late-Doc-2026")  # simple procedure
    questions = stems(page)
    _expire(demo_server, attempt)
    assert "submitted 1" in demo_server.command("attempts-sweep")
    page.locator("#q1 .option").first.click()  # refused: the attempt is closed
    page.wait_for_selector("#result")
    result = assert_result_only(page, "exam-deadline", questions)
    assert "考试时间到，系统已按已保存的答案自动交卷" in result


def test_a_slow_start_never_hands_the_paper_in_and_time_up_does(demo_server, browser):
    """The attempt's state arrives late (a slow mobile network): the clock runs on, the page
    waits with no time shown, and nothing is submitted before the state arrives. When the
    page's own countdown reaches zero it hands the paper in and shows the result alone."""
    page, attempt = _first_attempt(browser, demo_server, 4, "Slow-Doc-2026")
    submits: list[str] = []
    page.on("request", lambda r: submits.append(r.url) if r.url.endswith("/submit") else None)
    held = []
    page.route(f"**/api/v1/exam/attempts/{attempt}", lambda route: held.append(route))
    page.clock.install()
    page.reload()
    page.clock.run_for(10_000)  # ten seconds with the state still on its way
    assert held and not submits and page.inner_text("#timer") == "--:--"
    for route in held:
        route.continue_()
    page.unroute(f"**/api/v1/exam/attempts/{attempt}")
    page.wait_for_selector("#q1.current")
    assert re.fullmatch(r"\d\d:\d\d", page.inner_text("#timer")) and not submits
    questions = stems(page)
    page.clock.fast_forward(61 * 60 * 1000)  # the hour is up on the device
    page.clock.run_for(2000)
    page.wait_for_selector("#result")
    assert submits and "交卷成功" in assert_result_only(page, "exam-time-up", questions)
