"""Question types of Chinese medical exams, one class each, in one registry.

Questions are plain dicts in the JSON shape of docs/question-banks.md. A type knows its
own validation, what a candidate may see during an attempt (never the answer), how to
grade a response (one bool per scoring item), and how its key reads for people
(``display_key``: the letters of the options as shown, 对/错, one line per sub-question).
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar


def N_(text: str) -> str:
    """Marks a Chinese label for the translation catalog (the same marker as examsvc.marks.N_;
    question_banks knows nothing of examsvc)."""
    return text


KEYS = string.ascii_uppercase[:8]
# A rule failure: (field, sub-question index or None, code, message zh, message en)
Issue = tuple[str, int | None, str, str, str]
OptionOrder = dict[str, list[str]]  # slot ("" or a sub-question id) -> option keys in order
NOT_ANSWERED = N_("未作答")
_UNASKED: Any = object()


@dataclass(frozen=True)
class KeyLine:
    """One scoring item's key as a person reads it, in the options' letters as shown."""

    label: str  # "" for a one-item question, "（1）" for a group's first sub-question
    answer: str  # "B", "ACD", "对"
    explanation: str
    chosen: str | None = None  # the response read the same way; None when none was given


@dataclass(frozen=True)
class KeyView:
    lines: list[KeyLine]
    explanation: str  # the group's shared explanation (a one-item question's is on its line)

    @property
    def text(self) -> str:
        """The whole key on one line: 「B」, 「对」, 「（1）B；（2）D」."""
        return "；".join(f"{line.label}{line.answer}" for line in self.lines)


def _options_issues(options: Any, field: str, sub: int | None, minimum: int = 4) -> list[Issue]:
    if not isinstance(options, dict) or not options:
        return [
            (
                field,
                sub,
                "too_few_options",
                f"至少需要 {minimum} 个选项",
                f"At least {minimum} options are needed",
            )
        ]
    keys = list(options)
    issues: list[Issue] = []
    if len(keys) < minimum:
        issues.append(
            (
                field,
                sub,
                "too_few_options",
                f"只有 {len(keys)} 个选项，至少需要 {minimum} 个",
                f"Only {len(keys)} options; at least {minimum} are needed",
            )
        )
    if len(keys) > len(KEYS):
        issues.append(
            (field, sub, "too_many_options", "选项最多 8 个（A–H）", "At most 8 options (A–H)")
        )
    if keys != list(KEYS[: len(keys)]):
        issues.append(
            (
                field,
                sub,
                "gap_in_options",
                "选项须从 A 开始连续编号",
                "Options must be lettered consecutively from A",
            )
        )
    for key, text in options.items():
        if not str(text or "").strip():
            issues.append(
                (f"option_{key}", sub, "empty_option", f"选项 {key} 为空", f"Option {key} is empty")
            )
    return issues


def _text_issue(
    value: Any, field: str, sub: int | None, code: str, zh: str, en: str
) -> list[Issue]:
    return [] if str(value or "").strip() else [(field, sub, code, zh, en)]


def _explanation_issue(q: dict[str, Any], sub: int | None) -> list[Issue]:
    """Every scored item needs its explanation (shown in study mode)."""
    return _text_issue(
        q.get("explanation"),
        "explanation",
        sub,
        "empty_explanation",
        "解析不能为空",
        "The explanation is empty",
    )


def _single_answer_issues(answer: Any, options: dict[str, Any], sub: int | None) -> list[Issue]:
    if not isinstance(answer, str) or len(answer) != 1:
        return [
            (
                "answer",
                sub,
                "bad_answer",
                "单选题答案须为一个选项字母",
                "A single answer is one option letter",
            )
        ]
    if answer not in options:
        span = f"{next(iter(options))}–{list(options)[-1]}" if options else N_("（无选项）")
        return [
            (
                "answer",
                sub,
                "answer_not_in_options",
                f"答案“{answer}”不在选项 {span} 之中",
                f"Answer {answer!r} is not among the options",
            )
        ]
    return []


class QuestionType:
    code: ClassVar[str]
    label_zh: ClassVar[str]
    label_en: ClassVar[str]
    grouped: ClassVar[bool] = False

    @classmethod
    def validate(cls, q: dict[str, Any]) -> list[Issue]:
        raise NotImplementedError

    @classmethod
    def scoring_items(cls, q: dict[str, Any]) -> int:
        return len(q.get("sub_questions") or []) if cls.grouped else 1

    @classmethod
    def option_slots(cls, q: dict[str, Any]) -> OptionOrder:
        """Option keys that may be shuffled, by slot."""
        return {"": list(q.get("options") or {})}

    @classmethod
    def shuffled_order(cls, q: dict[str, Any], rng: random.Random) -> OptionOrder:
        """A random order of the options of every slot."""
        order: OptionOrder = {}
        for slot, keys in cls.option_slots(q).items():
            order[slot] = list(keys)
            rng.shuffle(order[slot])
        return order

    @classmethod
    def public_view(cls, q: dict[str, Any], order: OptionOrder | None = None) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def candidate_view(cls, q: dict[str, Any], order: OptionOrder | None = None) -> dict[str, Any]:
        """The question as a candidate sees it (an attempt, a paper's preview, study mode):
        its type's name and the question without its key."""
        return {"label": cls.label_zh, **cls.public_view(q, order)}

    @classmethod
    def grade(cls, q: dict[str, Any], response: Any) -> list[bool]:
        raise NotImplementedError

    @classmethod
    def validate_response(cls, q: dict[str, Any], response: Any) -> str | None:
        raise NotImplementedError

    @classmethod
    def display_key(
        cls, q: dict[str, Any], order: OptionOrder | None = None, response: Any = _UNASKED
    ) -> KeyView:
        """The key for people, in the letters of the options as displayed in ``order``;
        with ``response``, what was chosen beside it, read the same way."""
        raise NotImplementedError

    @staticmethod
    def _options(options: dict[str, str], order: list[str] | None) -> list[dict[str, str]]:
        keys = order if order and sorted(order) == sorted(options) else list(options)
        return [{"key": k, "text": options[k]} for k in keys]

    @classmethod
    def _letters(cls, options: dict[str, str], order: list[str] | None) -> dict[str, str]:
        """Option key -> the letter it is shown under."""
        return {o["key"]: KEYS[i] for i, o in enumerate(cls._options(options, order))}

    @staticmethod
    def _read(letters: dict[str, str], value: Any) -> str:
        """Option key(s) as the shown letters (several in alphabetical order)."""
        keys = value if isinstance(value, list) else [value]
        shown = sorted(letters[k] for k in keys if isinstance(k, str) and k in letters)
        return "".join(shown) or NOT_ANSWERED


class Single(QuestionType):
    code, label_zh, label_en = "single", N_("单选题"), "Single answer"

    @classmethod
    def validate(cls, q: dict[str, Any]) -> list[Issue]:
        options = q.get("options") or {}
        issues = _options_issues(options, "options", None)
        if isinstance(options, dict) and options:
            issues += _single_answer_issues(q.get("answer"), options, None)
        return issues + _explanation_issue(q, None)

    @classmethod
    def public_view(cls, q: dict[str, Any], order: OptionOrder | None = None) -> dict[str, Any]:
        return {
            "type": cls.code,
            "stem": q["stem"],
            "options": cls._options(q["options"], (order or {}).get("")),
        }

    @classmethod
    def grade(cls, q: dict[str, Any], response: Any) -> list[bool]:
        return [isinstance(response, str) and response == q["answer"]]

    @classmethod
    def validate_response(cls, q: dict[str, Any], response: Any) -> str | None:
        if response is None or (isinstance(response, str) and response in q["options"]):
            return None
        return "答案须为一个选项"

    @classmethod
    def display_key(
        cls, q: dict[str, Any], order: OptionOrder | None = None, response: Any = _UNASKED
    ) -> KeyView:
        letters = cls._letters(q["options"], (order or {}).get(""))
        chosen = None if response is _UNASKED else cls._read(letters, response)
        line = KeyLine("", cls._read(letters, q["answer"]), q.get("explanation", ""), chosen)
        return KeyView([line], "")


class Multiple(Single):
    code, label_zh, label_en = "multiple", N_("多选题"), "Multiple answer"

    @classmethod
    def validate(cls, q: dict[str, Any]) -> list[Issue]:
        options = q.get("options") or {}
        issues = _options_issues(options, "options", None)
        answer = q.get("answer")
        if not isinstance(answer, list) or len(set(answer)) < 2:
            issues.append(
                (
                    "answer",
                    None,
                    "multiple_needs_two",
                    "多选题须有两个或以上正确答案",
                    "A multiple-answer question needs two or more correct options",
                )
            )
        elif isinstance(options, dict):
            for key in answer:
                if key not in options:
                    issues.append(
                        (
                            "answer",
                            None,
                            "answer_not_in_options",
                            f"答案“{key}”不在选项之中",
                            f"Answer {key!r} is not among the options",
                        )
                    )
        return issues + _explanation_issue(q, None)

    @classmethod
    def grade(cls, q: dict[str, Any], response: Any) -> list[bool]:
        # Full marks only for the exact set (X 型题).
        return [isinstance(response, list) and set(map(str, response)) == set(q["answer"])]

    @classmethod
    def validate_response(cls, q: dict[str, Any], response: Any) -> str | None:
        if response is None or (
            isinstance(response, list)
            and all(isinstance(k, str) and k in q["options"] for k in response)
            and len(set(response)) == len(response)
        ):
            return None
        return "答案须为选项列表"


class TrueFalse(QuestionType):
    code, label_zh, label_en = "true_false", N_("判断题"), "True or false"

    @classmethod
    def validate(cls, q: dict[str, Any]) -> list[Issue]:
        issues: list[Issue] = []
        if not isinstance(q.get("answer"), bool):
            issues.append(
                (
                    "answer",
                    None,
                    "bad_answer",
                    "判断题答案须为“对”或“错”",
                    "The answer must be true or false",
                )
            )
        return issues + _explanation_issue(q, None)

    @classmethod
    def option_slots(cls, q: dict[str, Any]) -> OptionOrder:
        return {}

    @classmethod
    def public_view(cls, q: dict[str, Any], order: OptionOrder | None = None) -> dict[str, Any]:
        return {"type": cls.code, "stem": q["stem"]}

    @classmethod
    def grade(cls, q: dict[str, Any], response: Any) -> list[bool]:
        return [isinstance(response, bool) and response is q["answer"]]

    @classmethod
    def validate_response(cls, q: dict[str, Any], response: Any) -> str | None:
        return None if response is None or isinstance(response, bool) else "答案须为“对”或“错”"

    @classmethod
    def display_key(
        cls, q: dict[str, Any], order: OptionOrder | None = None, response: Any = _UNASKED
    ) -> KeyView:
        chosen = None if response is _UNASKED else cls.word(response)
        return KeyView([KeyLine("", cls.word(q["answer"]), q.get("explanation", ""), chosen)], "")

    @staticmethod
    def word(value: Any) -> str:
        """对 / 错 (what the exam shows), never Python's True / False."""
        return "对" if value is True else "错" if value is False else NOT_ANSWERED


class _Group(QuestionType):
    grouped = True
    shared_options: ClassVar[bool]

    @classmethod
    def validate(cls, q: dict[str, Any]) -> list[Issue]:
        subs = q.get("sub_questions") or []
        issues: list[Issue] = []
        if not subs:
            return [
                (
                    "sub_questions",
                    None,
                    "empty_group",
                    f"{cls.label_zh}没有小题",
                    f"The {cls.label_en} group has no sub-questions",
                )
            ]
        if len(subs) < 2 or len(subs) > 6:
            issues.append(
                (
                    "sub_questions",
                    None,
                    "group_size",
                    f"{cls.label_zh}须有 2–6 道小题（现有 {len(subs)} 道）",
                    f"A group needs 2–6 sub-questions (has {len(subs)})",
                )
            )
        shared = q.get("options") or {}
        if cls.shared_options:
            issues += _options_issues(shared, "options", None)
        for i, sub in enumerate(subs):
            issues += _text_issue(
                sub.get("external_id"),
                "external_id",
                i,
                "missing_id",
                "小题编号不能为空",
                "The sub-question id is empty",
            )
            issues += _text_issue(
                sub.get("stem"), "stem", i, "empty_stem", "题干不能为空", "The stem is empty"
            )
            options = shared if cls.shared_options else (sub.get("options") or {})
            if not cls.shared_options:
                issues += _options_issues(options, "options", i)
            if isinstance(options, dict) and options:
                issues += _single_answer_issues(sub.get("answer"), options, i)
            issues += _explanation_issue(sub, i)
        return issues

    @classmethod
    def option_slots(cls, q: dict[str, Any]) -> OptionOrder:
        if cls.shared_options:
            return {"": list(q.get("options") or {})}
        return {
            sub["external_id"]: list(sub.get("options") or {})
            for sub in q.get("sub_questions") or []
        }

    @classmethod
    def public_view(cls, q: dict[str, Any], order: OptionOrder | None = None) -> dict[str, Any]:
        order = order or {}
        view: dict[str, Any] = {"type": cls.code, "stem": q.get("stem", ""), "sub_questions": []}
        if cls.shared_options:
            view["options"] = cls._options(q["options"], order.get(""))
        for sub in q["sub_questions"]:
            item: dict[str, Any] = {"id": sub["external_id"], "stem": sub["stem"]}
            if not cls.shared_options:
                item["options"] = cls._options(sub["options"], order.get(sub["external_id"]))
            view["sub_questions"].append(item)
        return view

    @classmethod
    def grade(cls, q: dict[str, Any], response: Any) -> list[bool]:
        given = response if isinstance(response, dict) else {}
        return [given.get(sub["external_id"]) == sub["answer"] for sub in q["sub_questions"]]

    @classmethod
    def validate_response(cls, q: dict[str, Any], response: Any) -> str | None:
        if response is None:
            return None
        if not isinstance(response, dict):
            return "答案格式不正确"
        subs = {sub["external_id"]: sub for sub in q["sub_questions"]}
        for sub_id, key in response.items():
            if sub_id not in subs:
                return "没有这道小题"
            options = q["options"] if cls.shared_options else subs[sub_id]["options"]
            if key is not None and (not isinstance(key, str) or key not in options):
                return "答案须为一个选项"
        return None

    @classmethod
    def display_key(
        cls, q: dict[str, Any], order: OptionOrder | None = None, response: Any = _UNASKED
    ) -> KeyView:
        order = order or {}
        given = response if isinstance(response, dict) else {}
        lines = []
        for i, sub in enumerate(q["sub_questions"], start=1):
            slot = "" if cls.shared_options else sub["external_id"]
            options = q["options"] if cls.shared_options else sub["options"]
            letters = cls._letters(options, order.get(slot))
            chosen = None
            if response is not _UNASKED:
                chosen = cls._read(letters, given.get(sub["external_id"]))
            lines.append(
                KeyLine(
                    f"（{i}）",
                    cls._read(letters, sub["answer"]),
                    sub.get("explanation", ""),
                    chosen,
                )
            )
        return KeyView(lines, q.get("explanation", ""))


class Case(_Group):
    code, label_zh, label_en = "case", N_("病例组型题"), "Case group"
    shared_options = False


class Matching(_Group):
    code, label_zh, label_en = "matching", N_("配伍题"), "Matching (shared options)"
    shared_options = True


QUESTION_TYPES: dict[str, type[QuestionType]] = {
    t.code: t for t in (Single, Multiple, TrueFalse, Case, Matching)
}

# What agencies write in the 题型 column.
TYPE_ALIASES: dict[str, str] = {
    "单选": "single",
    "单选题": "single",
    "A1": "single",
    "A2": "single",
    "A1/A2": "single",
    "多选": "multiple",
    "多选题": "multiple",
    "X": "multiple",
    "判断": "true_false",
    "判断题": "true_false",
    "病例组": "case",
    "病例组型题": "case",
    "共用题干": "case",
    "A3": "case",
    "A4": "case",
    "A3/A4": "case",
    "配伍": "matching",
    "配伍题": "matching",
    "共用备选答案": "matching",
    "B1": "matching",
} | {code: code for code in QUESTION_TYPES}

Grader = Callable[[dict[str, Any], Any], list[bool]]
