"""What a physician reads in 我要学习 on a phone, and what an administrator reads in 题库管理
and the paper preview on a desktop: every key in the letters of the options as shown."""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

import pytest

from examsvc.demo.data import PHYSICIANS, demo_id
from tests.e2e.conftest import Server, first_login, log_in, look

pytestmark = pytest.mark.browser
REPRS = ("True", "False", "None", "{'", "<built-in", "dict object", "KeyView")

# Each question card as a person reads it: its header, its sub-questions, the options of each
# slot (letter -> text, from "A. 文本" lines or from an <ol type="A">), and its key lines.
READ_CARDS = """cards => cards.map(card => {
  const slots = [{}]; const subs = []; let header = '';
  for (const el of card.children) {
    const text = el.innerText.trim();
    if (el.tagName === 'OL') {
      [...el.children].forEach((li, i) => { slots[slots.length - 1]['ABCDEFGH'[i]] = li.innerText.trim(); });
    } else if (!header && el.tagName === 'P') {
      header = text;
    } else if (/^（\\d+）/.test(text) && el.tagName === 'P') {
      subs.push(text.replace(/^（\\d+）\\s*/, '')); slots.push({});
    } else {
      const m = text.match(/^([A-H])\\. ([\\s\\S]*)$/);
      if (m) slots[slots.length - 1][m[1]] = m[2].trim();
    }
  }
  const keys = [...card.querySelectorAll('.answer-key > p')].map(p => p.innerText.replace(/\\s+/g, ' ').trim());
  return {header, subs, slots, keys, text: card.innerText};
})"""


def _questions(
    server: Server,
) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, ...], dict[str, Any]]]:
    """The demo's current questions from the server's database: by stem, and groups by the
    stems of their sub-questions."""
    path = server.env["EXAMSVC_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        rows = [json.loads(d) for (d,) in conn.execute("SELECT data FROM questions")]
    by_stem = {q["stem"]: q for q in rows if "sub_questions" not in q}
    groups = {tuple(s["stem"] for s in q["sub_questions"]): q for q in rows if "sub_questions" in q}
    return by_stem, groups


def _letter(slot: dict[str, str], text: str) -> str:
    (letter,) = [k for k, v in slot.items() if v == text]
    return letter


def _expected(card: dict[str, Any], by_stem, groups) -> list[str]:
    """The keys a person must read for this card, from the options as they were shown."""
    if card["subs"]:
        q = groups[tuple(card["subs"])]
        shared = q["type"] == "matching"
        return [
            _letter(
                card["slots"][0 if shared else i + 1],
                (q["options"] if shared else sub["options"])[sub["answer"]],
            )
            for i, sub in enumerate(q["sub_questions"])
        ]
    stem = re.sub(r"^\S+\s+\d+\.\s*", "", card["header"])
    stem = re.sub(r"\s*（\d+(\.\d+)? 分）$|\s*(正确|错误)$", "", stem)
    q = by_stem[stem]
    if q["type"] == "true_false":
        return ["对" if q["answer"] else "错"]
    answers = q["answer"] if isinstance(q["answer"], list) else [q["answer"]]
    return ["".join(sorted(_letter(card["slots"][0], q["options"][k]) for k in answers))]


def _check_keys(page, server: Server, chosen: str | None = None) -> int:
    """Every key on the page reads as the letter of the right option as shown; returns how
    many cards had a shuffled order (so that the check is not trivially A=A)."""
    by_stem, groups = _questions(server)
    cards = page.eval_on_selector_all("section.card:has(.answer-key)", READ_CARDS)
    assert cards
    shuffled = 0
    for card in cards:
        expected = _expected(card, by_stem, groups)
        shown = [re.search(r"正确答案：(\S+)", line).group(1) for line in card["keys"]]
        assert shown == expected, card["text"]
        if chosen is not None:
            mine = [re.search(r"你的答案：(\S+)", line).group(1) for line in card["keys"]]
            assert all(m in (chosen, "对") for m in mine), card["text"]
        shuffled += any(k != "A" for k in expected)
        for bad in REPRS:
            assert bad not in card["text"], (bad, card["text"])
    return shuffled


def test_a_physician_studies_on_a_phone(demo_server, browser):
    number = demo_id(PHYSICIANS[0][0], PHYSICIANS[0][8])
    page = browser.new_context(viewport={"width": 360, "height": 740}).new_page()
    first_login(page, demo_server, number, "Study-Doc-2026")
    page.goto(demo_server.url + "/study")
    text = look(page, "study-index")
    assert "医学人文题库" in text and "业务水平测评题库" not in text  # only the opened bank

    page.get_by_role("link", name="背题模式").click()
    text = look(page, "study-memorise")
    assert "背题模式" in text and text.count("正确答案：") >= 20
    assert _check_keys(page, demo_server) > 0
    assert not [bad for bad in REPRS if bad in text]
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    page.goto(demo_server.url + "/study")
    page.get_by_role("link", name="模拟练习").click()
    look(page, "study-practice")
    for name in page.eval_on_selector_all(
        "input[data-q]", "els => [...new Set(els.map(e => e.name))]"
    ):
        page.locator(f"input[name='{name}']").first.check()  # the option shown first
    page.get_by_role("button", name="交卷并查看答案").click()
    text = look(page, "study-result")
    assert "练习得分" in text and "你的答案：A" in text
    _check_keys(page, demo_server, chosen="A")
    assert not [bad for bad in REPRS if bad in text]
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_an_administrator_reads_banks_and_the_preview_on_a_desktop(demo_server, browser):
    page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    log_in(page, demo_server, "admin", "Demo-Admin-2026")
    page.goto(demo_server.url + "/admin/banks")
    text = look(page, "banks-list")
    assert "124 题\n计分小题 146 道" in text and "已开放学习" in text and "未开放学习" in text
    assert not [bad for bad in REPRS if bad in text]

    page.get_by_role("link", name="医学人文题库", exact=True).click()
    text = look(page, "bank-detail")
    assert "已开放学习" in text and "2026 医学人文测评试卷" in text and "关闭学习" in text

    path = demo_server.env["EXAMSVC_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        (paper_id,) = conn.execute("SELECT id FROM papers WHERE code = 'HUM-2026'").fetchone()
    page.goto(f"{demo_server.url}/admin/papers/{paper_id}/preview")
    page.get_by_role("link", name="显示答案").click()
    text = look(page, "paper-preview-answers")
    assert _check_keys(page, demo_server) > 0
    assert not [bad for bad in REPRS if bad in text]
