"""Every question type: its validation, what a candidate sees, and its grading."""

from __future__ import annotations

from typing import Any

import pytest

from question_banks.types import QUESTION_TYPES

SINGLE = {
    "external_id": "S1",
    "type": "single",
    "tag": "t",
    "difficulty": 2,
    "stem": "s",
    "options": {"A": "a", "B": "b", "C": "c", "D": "d", "E": "e"},
    "answer": "C",
    "explanation": "x",
}
MULTIPLE = {**SINGLE, "external_id": "M1", "type": "multiple", "answer": ["A", "C"]}
TF = {
    "external_id": "T1",
    "type": "true_false",
    "tag": "t",
    "difficulty": 1,
    "stem": "s",
    "answer": False,
    "explanation": "x",
}
CASE = {
    "external_id": "C1",
    "type": "case",
    "tag": "t",
    "difficulty": 3,
    "stem": "case",
    "explanation": "",
    "sub_questions": [
        {
            "external_id": "C1-1",
            "stem": "q1",
            "options": {"A": "1", "B": "2", "C": "3", "D": "4"},
            "answer": "B",
            "explanation": "x",
        },
        {
            "external_id": "C1-2",
            "stem": "q2",
            "options": {"A": "1", "B": "2", "C": "3", "D": "4"},
            "answer": "D",
            "explanation": "x",
        },
    ],
}
MATCHING = {
    "external_id": "B1",
    "type": "matching",
    "tag": "t",
    "difficulty": 2,
    "stem": "",
    "explanation": "",
    "options": {"A": "1", "B": "2", "C": "3", "D": "4", "E": "5"},
    "sub_questions": [
        {"external_id": "B1-1", "stem": "q1", "answer": "E", "explanation": "x"},
        {"external_id": "B1-2", "stem": "q2", "answer": "E", "explanation": "x"},
        {"external_id": "B1-3", "stem": "q3", "answer": "A", "explanation": "x"},
    ],
}
ALL = [SINGLE, MULTIPLE, TF, CASE, MATCHING]


def codes(q: dict[str, Any]) -> set[str]:
    return {issue[2] for issue in QUESTION_TYPES[q["type"]].validate(q)}


@pytest.mark.parametrize("q", ALL, ids=lambda q: q["type"])
def test_valid_questions_have_no_issues(q):
    assert codes(q) == set()


def test_single_rules():
    assert "answer_not_in_options" in codes({**SINGLE, "answer": "F"})
    assert "too_few_options" in codes({**SINGLE, "options": {"A": "a", "B": "b", "C": "c"}})
    assert "gap_in_options" in codes(
        {**SINGLE, "options": {"A": "a", "B": "b", "C": "c", "E": "e"}}
    )
    assert "empty_option" in codes({**SINGLE, "options": {**SINGLE["options"], "B": " "}})
    assert "bad_answer" in codes({**SINGLE, "answer": "AB"})
    assert "empty_explanation" in codes({**SINGLE, "explanation": ""})


def test_multiple_rules():
    assert "multiple_needs_two" in codes({**MULTIPLE, "answer": ["A"]})
    assert "answer_not_in_options" in codes({**MULTIPLE, "answer": ["A", "Z"]})


def test_true_false_rules():
    assert "bad_answer" in codes({**TF, "answer": "maybe"})


def test_group_rules():
    assert "empty_group" in codes({**CASE, "sub_questions": []})
    assert "group_size" in codes({**CASE, "sub_questions": CASE["sub_questions"][:1]})
    bad_sub = {**CASE["sub_questions"][0], "answer": "Q"}
    assert "answer_not_in_options" in codes(
        {**CASE, "sub_questions": [bad_sub, CASE["sub_questions"][1]]}
    )
    assert "answer_not_in_options" in codes(
        {
            **MATCHING,
            "sub_questions": [
                {**MATCHING["sub_questions"][0], "answer": "H"},
                *MATCHING["sub_questions"][1:],
            ],
        }
    )


def test_grading_by_type():
    grade = {code: kind.grade for code, kind in QUESTION_TYPES.items()}
    assert grade["single"](SINGLE, "C") == [True] and grade["single"](SINGLE, "A") == [False]
    assert grade["multiple"](MULTIPLE, ["C", "A"]) == [True]
    assert grade["multiple"](MULTIPLE, ["A"]) == [False]  # partial: no marks
    assert grade["multiple"](MULTIPLE, ["A", "C", "D"]) == [False]  # extra: no marks
    assert grade["true_false"](TF, False) == [True] and grade["true_false"](TF, "false") == [False]
    assert grade["case"](CASE, {"C1-1": "B", "C1-2": "A"}) == [True, False]
    assert grade["matching"](MATCHING, {"B1-1": "E", "B1-2": "E", "B1-3": "B"}) == [
        True,
        True,
        False,
    ]


@pytest.mark.parametrize("garbage", [None, 7, "", [], {}, {"x": 1}, ["A", ["B"]], object()])
@pytest.mark.parametrize("q", ALL, ids=lambda q: q["type"])
def test_garbled_responses_score_nothing_and_never_raise(q, garbage):
    result = QUESTION_TYPES[q["type"]].grade(q, garbage)
    assert result == [False] * QUESTION_TYPES[q["type"]].scoring_items(q)


def test_response_shapes_are_checked():
    assert QUESTION_TYPES["single"].validate_response(SINGLE, "Z") is not None
    assert QUESTION_TYPES["single"].validate_response(SINGLE, "A") is None
    assert QUESTION_TYPES["multiple"].validate_response(MULTIPLE, ["A", "A"]) is not None
    assert QUESTION_TYPES["true_false"].validate_response(TF, "yes") is not None
    assert QUESTION_TYPES["case"].validate_response(CASE, {"nope": "A"}) is not None
    assert QUESTION_TYPES["matching"].validate_response(MATCHING, {"B1-1": "E"}) is None


def _keys_anywhere(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys_anywhere(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys_anywhere(v)}
    return set()


@pytest.mark.parametrize("q", ALL, ids=lambda q: q["type"])
def test_candidate_view_never_contains_answers_or_explanations(q):
    kind = QUESTION_TYPES[q["type"]]
    view = kind.public_view(
        q, {slot: list(reversed(keys)) for slot, keys in kind.option_slots(q).items()}
    )
    assert not {"answer", "answers", "explanation", "explanations"} & _keys_anywhere(view)


def test_options_follow_the_attempts_order():
    view = QUESTION_TYPES["single"].public_view(SINGLE, {"": ["E", "D", "C", "B", "A"]})
    assert [o["key"] for o in view["options"]] == ["E", "D", "C", "B", "A"]
    case = QUESTION_TYPES["case"].public_view(CASE, {"C1-2": ["D", "C", "B", "A"]})
    assert [o["key"] for o in case["sub_questions"][1]["options"]] == ["D", "C", "B", "A"]


def _shown_letter(view: dict[str, Any], key: str, options: str = "options") -> str:
    """The letter a person sees beside option ``key`` in a public view."""
    return "ABCDEFGH"[[o["key"] for o in view[options]].index(key)]


def test_the_key_reads_in_the_letters_as_shown():
    # Shuffled: the right option C is shown first, so the key a person reads is A, not C.
    order = {"": ["C", "E", "A", "B", "D"]}
    key = QUESTION_TYPES["single"].display_key(SINGLE, order)
    assert (
        key.text == "A" == _shown_letter(QUESTION_TYPES["single"].public_view(SINGLE, order), "C")
    )
    assert key.lines[0].explanation == "x" and key.lines[0].chosen is None
    # Unshuffled, the letters are the bank's own.
    assert QUESTION_TYPES["single"].display_key(SINGLE).text == "C"
    # Several answers: the shown letters, in order (A and C shown as C and A: "AC").
    assert QUESTION_TYPES["multiple"].display_key(MULTIPLE, order).text == "AC"
    assert QUESTION_TYPES["multiple"].display_key(MULTIPLE, {"": list("EDCBA")}).text == "CE"


def test_true_false_keys_are_dui_and_cuo():
    assert QUESTION_TYPES["true_false"].display_key(TF).text == "错"
    assert QUESTION_TYPES["true_false"].display_key({**TF, "answer": True}).text == "对"
    assert QUESTION_TYPES["true_false"].display_key(TF, None, True).lines[0].chosen == "对"


def test_group_keys_read_per_sub_question():
    order = {"C1-1": ["B", "A", "C", "D"], "C1-2": ["A", "B", "C", "D"]}
    case = QUESTION_TYPES["case"].display_key(CASE, order)
    assert case.text == "（1）A；（2）D"
    assert [line.label for line in case.lines] == ["（1）", "（2）"]
    shared = {"": list(reversed(MATCHING["options"]))}
    matching = QUESTION_TYPES["matching"].display_key(MATCHING, shared)
    view = QUESTION_TYPES["matching"].public_view(MATCHING, shared)
    expected = [_shown_letter(view, sub["answer"]) for sub in MATCHING["sub_questions"]]
    assert [line.answer for line in matching.lines] == expected
    for key in (case, matching):
        assert "{" not in key.text and "'" not in key.text


def test_the_chosen_answer_reads_beside_the_key():
    order = {"": ["C", "E", "A", "B", "D"]}
    assert QUESTION_TYPES["single"].display_key(SINGLE, order, "E").lines[0].chosen == "B"
    assert QUESTION_TYPES["single"].display_key(SINGLE, order, None).lines[0].chosen == "未作答"
    assert (
        QUESTION_TYPES["multiple"].display_key(MULTIPLE, order, ["A", "C"]).lines[0].chosen == "AC"
    )
    case = QUESTION_TYPES["case"].display_key(CASE, None, {"C1-1": "A"})
    assert [line.chosen for line in case.lines] == ["A", "未作答"]
    # A malformed response reads as unanswered instead of failing.
    assert QUESTION_TYPES["case"].display_key(CASE, None, ["A"]).lines[0].chosen == "未作答"


def test_a_group_response_with_a_list_for_an_option_is_refused_not_a_crash():
    assert QUESTION_TYPES["case"].validate_response(CASE, {"C1-1": ["A"]}) == "答案须为一个选项"
