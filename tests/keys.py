"""Reading answer keys off a page as a person would, and working out what they must say."""

from __future__ import annotations

from examsvc.banks.models import Question
from question_banks.types import QUESTION_TYPES, OptionOrder
from tests.html_text import visible_text

LETTERS = "ABCDEFGH"


def expected_keys(question: Question, order: OptionOrder | None) -> list[str]:
    """The key a person must read, worked out from the shown order (not with display_key):
    「正确答案：B」, or 「（1） 正确答案：E」 per sub-question."""
    q, qtype = question.data, question.qtype
    order = order or QUESTION_TYPES[qtype].option_slots(q)
    if qtype == "true_false":
        return ["正确答案：" + ("对" if q["answer"] else "错")]
    if qtype in ("single", "multiple"):
        answers = q["answer"] if isinstance(q["answer"], list) else [q["answer"]]
        return ["正确答案：" + "".join(sorted(LETTERS[order[""].index(k)] for k in answers))]
    shared = qtype == "matching"
    return [
        f"（{i}） 正确答案："
        + LETTERS[order["" if shared else sub["external_id"]].index(sub["answer"])]
        for i, sub in enumerate(q["sub_questions"], start=1)
    ]


def cards(html: str) -> list[str]:
    """The visible text of each question card, in order."""
    parts = html.split('<section class="card">')[1:]
    return [visible_text(p) for p in parts if "badge" in p]


def assert_no_reprs(text: str) -> None:
    for bad in ("True", "False", "None", "{'", "<built-in", "dict object"):
        assert bad not in text, bad
