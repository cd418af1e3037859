"""A general-procedure physician on a desktop: the professional paper stays locked until the
humanities paper is passed; one attempt each; answers made offline arrive when back online."""

from __future__ import annotations

import pytest

from examsvc.demo.data import PHYSICIANS, demo_id
from tests.e2e.conftest import first_login
from tests.e2e.test_exam_flow import _answer_all, _keys, _start

pytestmark = pytest.mark.browser


def _settled(page) -> None:
    page.wait_for_function(
        "document.getElementById('save-status').textContent === '已保存'", timeout=30000
    )


def test_general_procedure_order_limits_and_offline_answers(demo_server, browser):
    number = demo_id(PHYSICIANS[1][0], PHYSICIANS[1][8])  # general procedure, clinical
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page = context.new_page()
    first_login(page, demo_server, number, "Gen-Doc-2026")
    page.goto(demo_server.url + "/home")
    home = page.text_content("main") or ""
    assert "医学人文测评试卷合格后才可以进行业务水平测评" in home
    assert "可考次数：剩余1次" in home

    page.click("text=进入测评")
    page.click("text=同意授权")
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
    page.click("#submit")
    assert "所有题目均已作答" in (page.text_content("#unanswered") or "")
    page.click("text=现在交卷")
    page.wait_for_selector("#result:not([hidden])")
    assert "合格" in (page.text_content("#result") or "")

    page.goto(demo_server.url + "/home")
    page.click("text=进入测评")  # now the professional paper opens
    professional = _start(page, demo_server)
    assert professional != humanities
    _answer_all(page, _keys(demo_server, professional), correct=False)
    _settled(page)
    page.click("#submit")
    page.click("text=现在交卷")
    page.wait_for_selector("#result:not([hidden])")
    result = page.text_content("#result") or ""
    assert "您本次未达到分数线" in result and "继续" not in result and "再次测评" not in result
    page.goto(demo_server.url + "/home")
    home = page.text_content("main") or ""
    assert home.count("不合格-等待补考") == 2 and "进入测评" not in home  # the task and the paper
