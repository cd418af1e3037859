"""The English switch, seen in a browser: a physician switches on the login page and sits a
paper in English (the exam screen is drawn by exam.js from the page's texts); only the
questions, the names and the paper's name stay as they were written."""

from __future__ import annotations

import re

import pytest

from examsvc.demo.data import CYCLE, PHYSICIANS, demo_id
from tests.e2e.conftest import enabled_controls, first_login, let_in, look

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
HAN = re.compile(r"[\u3400-\u9fff]+")


def chinese_left(text: str, *data: str) -> list[str]:
    for value in data:
        text = text.replace(value, "")
    return HAN.findall(text.replace("中文", ""))  # the switch back says its own name


def test_a_physician_sits_a_paper_in_english(demo_server, browser):
    n, name, *_, birth = PHYSICIANS[0]  # simple procedure: the humanities paper
    page = browser.new_context(viewport=PHONE, bypass_csp=True).new_page()
    page.goto(demo_server.url + "/login")
    page.click("text=English")
    login = look(page, "english-login")
    assert "Log in" in login and not chinese_left(login)
    first_login(page, demo_server, demo_id(n, birth), "Exam-Doc-2026")
    assert "Change password" not in page.inner_text("h1")

    page.goto(demo_server.url + "/home")
    home = look(page, "english-home")
    paper = page.inner_text("section.card h2")  # the humanities paper's name, as entered
    assert "Schedule" in home and "Start the assessment" in home
    assert not chinese_left(home, name, paper, CYCLE.name), home
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    let_in(demo_server.url, page)  # the camera's steps (in English: tests/test_translations.py)
    page.click("text=Start the assessment")
    rules = look(page, "english-rules")
    assert "Exam rules" in rules and "Pass mark" in rules
    page.check("input[name=rules]")
    page.click("text=I understand - start the assessment")
    page.wait_for_selector("#q1.current")

    look(page, "english-question")
    chrome = " ".join(page.inner_text(s) for s in (".topbar", ".exam-bar", ".exam-actions"))
    stem = page.inner_text("#q1 .stem")
    assert re.match(r"1\. \[(Single answer|Multiple answer|True or false)\] ", stem), stem
    assert re.search(r"\((\d+(\.\d+)?) points( per item)?\)$", stem), stem
    assert not chinese_left(chrome, name, paper), chrome
    assert {"Previous", "Mark", "Next", "Submit"} <= set(enabled_controls(page))

    page.click("#submit")
    assert "questions are not answered yet" in page.inner_text("#confirm")
    look(page, "english-confirm")
    page.click("#do-submit")
    page.wait_for_selector("#result")
    result = look(page, "english-result")
    assert "Submitted" in result and not chinese_left(result, name, paper), result
    assert not chinese_left(rules, name, paper), rules
