"""A general-procedure physician on a desktop: the professional paper stays locked (and says
why) until the humanities paper is passed; one attempt each; answers made offline arrive
when back online; each paper's state in the manuals' words on 考核结果."""

from __future__ import annotations

import pytest

from examsvc.demo.data import PHYSICIANS, demo_id
from tests.e2e.conftest import first_login, look
from tests.e2e.test_exam_flow import (
    _answer_all,
    _keys,
    _start,
    assert_plain,
    assert_result_only,
    stems,
)

pytestmark = pytest.mark.browser


def _settled(page) -> None:
    page.wait_for_function(
        "document.getElementById('save-status').textContent === '已保存'", timeout=30000
    )


def test_general_procedure_order_limits_and_offline_answers(demo_server, browser):
    number = demo_id(PHYSICIANS[1][0], PHYSICIANS[1][8])  # general procedure, clinical
    context = browser.new_context(viewport={"width": 1366, "height": 800}, bypass_csp=True)
    page = context.new_page()
    first_login(page, demo_server, number, "Gen-Doc-2026")
    page.goto(demo_server.url + "/home")
    home = look(page, "general-home")
    assert "医学人文测评试卷合格后才可以进行业务水平测评" in home
    assert "可考次数：剩余1次" in home
    # The locked professional paper's window is open: it says why it is locked, not 「wait」.
    assert "需先通过医学人文测评" in home and "等待考试开始" not in home
    assert_plain(home)
    page.goto(demo_server.url + "/results")
    results = look(page, "general-results-before")
    assert "待考" in results and "需先通过医学人文测评" in results
    assert "进入测评" not in results  # an action, never a state
    assert_plain(results)
    humanities = _start(page, demo_server)
    context.set_offline(True)  # the network drops in the middle of the paper
    _answer_all(page, _keys(demo_server, humanities), correct=True)
    assert "离线" in (page.text_content("#save-status") or "")
    assert (
        page.evaluate(
            "Object.keys(JSON.parse(localStorage.getItem("
            f"'examsvc:attempt:{humanities}:journal'))).length"
        )
        > 0
    )
    context.set_offline(False)
    _settled(page)
    questions = stems(page)
    page.click("#submit")
    assert "所有题目均已作答" in (page.text_content("#unanswered") or "")
    page.click("text=现在交卷")
    page.wait_for_selector("#result")
    assert "交卷成功，合格" in assert_result_only(page, "general-humanities-passed", questions)
    page.goto(f"{demo_server.url}/exam/{humanities}")  # reopened: the result alone
    assert "交卷成功，合格" in assert_result_only(page, "general-humanities-reopened", questions)

    professional = _start(page, demo_server)  # now the professional paper opens
    assert professional != humanities
    _answer_all(page, _keys(demo_server, professional), correct=False)
    _settled(page)
    questions = stems(page)
    page.click("#submit")
    page.click("text=现在交卷")
    page.wait_for_selector("#result")
    result = assert_result_only(page, "general-professional-failed", questions)
    assert "您本次未达到分数线" in result and "继续" not in result and "再次测评" not in result
    page.goto(demo_server.url + "/home")
    home = page.text_content("main") or ""
    assert home.count("不合格-等待补考") == 2 and "进入测评" not in home  # the task and the paper
    page.goto(demo_server.url + "/results")
    results = look(page, "general-results-after")
    assert "合格" in results and "不合格-等待补考" in results and "未达到分数线" in results
    assert "进入测评" not in results
    assert_plain(results)
