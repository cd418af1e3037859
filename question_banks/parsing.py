"""Reading bank files (XLSX, CSV, JSON) into questions of one shape, with every problem
located: file, sheet, row and column (or the JSON path), and why."""

from __future__ import annotations

import io
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from openpyxl import load_workbook

from question_banks.problems import BankImportError, Problem
from question_banks.sheets import (
    SheetLimit,
    capped_rows,
    cell_text,
    check_archive,
    csv_rows,
    xlsx_rows,
)
from question_banks.types import KEYS, QUESTION_TYPES, TYPE_ALIASES

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 20_000
MAX_CELL = 5_000
MAX_COLUMNS = 50  # the template has 18

# Column key -> accepted headers (the template's Chinese header first).
COLUMNS: dict[str, tuple[str, ...]] = {
    "external_id": ("题目编号", "external_id"),
    "type": ("题型", "type"),
    "group_id": ("题组编号", "group_id"),
    "group_stem": ("共用题干", "group_stem"),
    "group_explanation": ("共用解析", "group_explanation"),
    "tag": ("知识点", "tag"),
    "difficulty": ("难度", "difficulty"),
    "stem": ("题干", "stem"),
    **{k: (f"选项{k}", k) for k in KEYS},
    "answer": ("答案", "answer"),
    "explanation": ("解析", "explanation"),
}
REQUIRED_COLUMNS = ("external_id", "type", "tag", "difficulty", "stem", "answer", "explanation")
_HEADER_TO_KEY = {h.lower(): key for key, headers in COLUMNS.items() for h in headers}
TRUE_WORDS = {"对", "正确", "是", "T", "TRUE", "√", "Y", "YES"}
FALSE_WORDS = {"错", "错误", "否", "F", "FALSE", "×", "X", "N", "NO"}


@dataclass(frozen=True)
class BankMeta:
    code: str
    name: str
    kind: str  # humanities | professional
    practice_category: str | None = None


@dataclass
class ParsedBank:
    meta: BankMeta | None
    questions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def item_count(self) -> int:
        return sum(QUESTION_TYPES[q["type"]].scoring_items(q) for q in self.questions)


# (question index, field, sub-question index or None) -> (row, column)
Locate = Callable[[int, str, int | None], tuple[int | str | None, str | None]]


def normalise_stem(text: str) -> str:
    """Stems compared without spaces, punctuation or width differences."""
    folded = unicodedata.normalize("NFKC", text or "")
    return re.sub(r"[\W_]+", "", folded).lower()


def validate(
    questions: list[dict[str, Any]], *, file: str, sheet: str | None, locate: Locate
) -> list[Problem]:
    problems: list[Problem] = []

    def add(qi: int, fld: str, sub: int | None, code: str, zh: str, en: str) -> None:
        row, column = locate(qi, fld, sub)
        problems.append(Problem(file, sheet, row, column, code, zh, en))

    ids: dict[str, int] = {}
    stems: dict[str, int] = {}
    for qi, q in enumerate(questions):
        kind = QUESTION_TYPES.get(q.get("type"))  # type: ignore[arg-type]
        if kind is None:
            add(
                qi,
                "type",
                None,
                "unknown_type",
                f"未知题型“{q.get('type')}”（可用：单选、多选、判断、病例组、配伍）",
                f"Unknown question type {q.get('type')!r}",
            )
            continue
        for ident, sub in [(q.get("external_id"), None)] + [
            (s.get("external_id"), i) for i, s in enumerate(q.get("sub_questions") or [])
        ]:
            text = str(ident or "").strip()
            if not text:
                if sub is None:
                    add(
                        qi,
                        "external_id",
                        None,
                        "missing_id",
                        "题目编号不能为空",
                        "The question id is empty",
                    )
                continue
            if text in ids:
                add(
                    qi,
                    "external_id",
                    sub,
                    "duplicate_external_id",
                    f"题目编号“{text}”重复",
                    f"Duplicate question id {text!r}",
                )
            ids.setdefault(text, qi)
        if not str(q.get("tag") or "").strip():
            add(qi, "tag", None, "empty_tag", "知识点不能为空", "The tag is empty")
        difficulty = q.get("difficulty")
        if not (
            isinstance(difficulty, int)
            and not isinstance(difficulty, bool)
            and 1 <= difficulty <= 5
        ):
            add(
                qi,
                "difficulty",
                None,
                "bad_difficulty",
                f"难度须为 1–5 的整数（现为“{difficulty}”）",
                f"Difficulty must be a whole number 1–5 (got {difficulty!r})",
            )
        if (not kind.grouped or q.get("type") == "case") and not str(q.get("stem") or "").strip():
            add(
                qi,
                "stem",
                None,
                "empty_stem",
                "题干不能为空" if not kind.grouped else "共用题干不能为空",
                "The stem is empty",
            )
        for fld, sub, code, zh, en in kind.validate(q):
            add(qi, fld, sub, code, zh, en)
        texts = (
            [(q.get("stem") or "", None)]
            if not kind.grouped
            else [
                (f"{q.get('stem') or ''}|{s.get('stem') or ''}", i)
                for i, s in enumerate(q.get("sub_questions") or [])
            ]
        )
        for text, sub in texts:
            key = normalise_stem(text)
            if key.strip("|") and key in stems:
                add(
                    qi,
                    "stem",
                    sub,
                    "duplicate_stem",
                    f"题干与第 {stems[key] + 1} 题重复",
                    f"The stem repeats question {stems[key] + 1}",
                )
            stems.setdefault(key, qi)
    return problems


def parse_bank(data: bytes, filename: str, *, meta: BankMeta | None = None) -> ParsedBank:
    """Every question of the file, or BankImportError with every problem in it."""
    if not data.strip():
        raise BankImportError(
            [Problem(filename, None, None, None, "empty_file", "文件为空", "The file is empty")]
        )
    if len(data) > MAX_BYTES:
        raise BankImportError(
            [
                Problem(
                    filename,
                    None,
                    None,
                    None,
                    "too_large",
                    "文件超过 20 MB",
                    "The file is over 20 MB",
                )
            ]
        )
    if data[:4] == b"PK\x03\x04":
        return _parse_xlsx(data, filename, meta)
    if data.lstrip()[:1] in (b"{", b"["):
        return _parse_json(data, filename, meta)
    return _parse_csv(data, filename, meta)


# --- JSON ------------------------------------------------------------------------------


def _parse_json(data: bytes, filename: str, meta: BankMeta | None) -> ParsedBank:
    try:
        body = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise BankImportError(
            [
                Problem(
                    filename,
                    None,
                    None,
                    None,
                    "bad_encoding",
                    "JSON 文件须为 UTF-8 编码",
                    "A JSON file must be UTF-8",
                )
            ]
        ) from None
    except json.JSONDecodeError as exc:
        raise BankImportError(
            [
                Problem(
                    filename,
                    None,
                    exc.lineno,
                    None,
                    "bad_json",
                    f"JSON 格式错误（第 {exc.lineno} 行第 {exc.colno} 列）：{exc.msg}",
                    f"Malformed JSON: {exc.msg}",
                )
            ]
        ) from None
    raw = body.get("questions") if isinstance(body, dict) else body
    if not isinstance(raw, list) or not all(isinstance(q, dict) for q in raw):
        raise BankImportError(
            [
                Problem(
                    filename,
                    None,
                    None,
                    "questions",
                    "bad_json",
                    "缺少题目列表“questions”",
                    "No list of questions",
                )
            ]
        )
    if meta is None and isinstance(body, dict) and isinstance(body.get("bank"), dict):
        bank = body["bank"]
        meta = BankMeta(
            str(bank.get("code", "")),
            str(bank.get("name", "")),
            str(bank.get("kind", "")),
            bank.get("practice_category"),
        )
    questions = [canonical(q) for q in raw]

    def locate(qi: int, fld: str, sub: int | None) -> tuple[str, str]:
        path = f"questions[{qi}]" + (f".sub_questions[{sub}]" if sub is not None else "")
        return path, fld

    return _finish(questions, filename, None, locate, meta)


def canonical(q: dict[str, Any]) -> dict[str, Any]:
    """The question with exactly the fields its type uses, in a fixed order."""
    kind = q.get("type")
    out: dict[str, Any] = {
        k: q.get(k) for k in ("external_id", "type", "tag", "difficulty", "stem")
    }
    if kind in ("single", "multiple", "matching"):
        out["options"] = q.get("options")
    if kind in ("single", "multiple", "true_false"):
        out["answer"] = q.get("answer")
    out["explanation"] = q.get("explanation") or ""
    if kind in ("case", "matching"):
        subs = []
        for s in q.get("sub_questions") or []:
            sub = {"external_id": s.get("external_id"), "stem": s.get("stem")}
            if kind == "case":
                sub["options"] = s.get("options")
            sub |= {"answer": s.get("answer"), "explanation": s.get("explanation") or ""}
            subs.append(sub)
        out["sub_questions"] = subs
    return out


def _finish(
    questions: list[dict[str, Any]],
    filename: str,
    sheet: str | None,
    locate: Locate,
    meta: BankMeta | None,
) -> ParsedBank:
    if not questions:
        raise BankImportError(
            [
                Problem(
                    filename,
                    sheet,
                    None,
                    None,
                    "empty_file",
                    "文件中没有题目",
                    "No questions in the file",
                )
            ]
        )
    problems = validate(questions, file=filename, sheet=sheet, locate=locate)
    if problems:
        raise BankImportError(problems)
    return ParsedBank(meta, questions)


# --- rows: XLSX and CSV ------------------------------------------------------------------


def _parse_xlsx(data: bytes, filename: str, meta: BankMeta | None) -> ParsedBank:
    try:
        check_archive(data)
    except SheetLimit as exc:
        raise BankImportError([_limit_problem(exc, filename, None)]) from None
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged file
        raise BankImportError(
            [
                Problem(
                    filename,
                    None,
                    None,
                    None,
                    "bad_file",
                    "无法读取该 Excel 文件，请另存为 .xlsx 后重试",
                    "The Excel file cannot be read",
                )
            ]
        ) from None
    sheet = workbook["题目"] if "题目" in workbook.sheetnames else workbook.worksheets[0]
    try:
        rows = list(_capped(xlsx_rows(sheet, max_columns=MAX_COLUMNS)))
    except SheetLimit as exc:
        raise BankImportError([_limit_problem(exc, filename, sheet.title)]) from None
    finally:
        workbook.close()
    return _parse_rows(rows, filename, sheet.title, meta)


def _parse_csv(data: bytes, filename: str, meta: BankMeta | None) -> ParsedBank:
    rows = csv_rows(data)
    if rows is None:
        raise BankImportError(
            [
                Problem(
                    filename,
                    None,
                    None,
                    None,
                    "bad_encoding",
                    "文件编码无法识别，请保存为 UTF-8 或 GBK 编码",
                    "Unknown text encoding: save as UTF-8 or GBK",
                )
            ]
        )
    try:
        rows = list(_capped(rows))
    except SheetLimit as exc:
        raise BankImportError([_limit_problem(exc, filename, None)]) from None
    return _parse_rows(rows, filename, None, meta)


def _capped(rows: Iterable[Sequence[Any]]) -> Iterator[list[str]]:
    return capped_rows(rows, max_rows=MAX_ROWS + 1, max_columns=MAX_COLUMNS, cell=cell_text)


def _limit_problem(exc: SheetLimit, filename: str, sheet: str | None) -> Problem:
    return Problem(filename, sheet, exc.row, exc.column, exc.code, exc.message, exc.message_en)


def _answer(kind: str | None, text: str) -> Any:
    upper = text.strip().upper()
    if kind == "true_false":
        if upper in TRUE_WORDS:
            return True
        if upper in FALSE_WORDS:
            return False
        return text
    if kind == "multiple":
        return (
            sorted(set(re.findall(r"[A-H]", upper)))
            if re.fullmatch(r"[A-H\s,，、;；/]+", upper)
            else text
        )
    return upper


def _difficulty(text: str) -> Any:
    try:
        return int(float(text))
    except ValueError:
        return text


def _parse_rows(
    rows: list[list[str]], filename: str, sheet: str | None, meta: BankMeta | None
) -> ParsedBank:
    rows = [r for r in rows]
    if not rows or not any(rows[0]):
        raise BankImportError(
            [
                Problem(
                    filename,
                    sheet,
                    1,
                    None,
                    "empty_file",
                    "第一行须为表头",
                    "The first row must be the header",
                )
            ]
        )
    header = rows[0]
    keys = [_HEADER_TO_KEY.get(h.strip().lower()) for h in header]
    shown = {k: header[i] for i, k in enumerate(keys) if k}
    missing = [k for k in REQUIRED_COLUMNS if k not in shown]
    if missing:
        raise BankImportError(
            [
                Problem(
                    filename,
                    sheet,
                    1,
                    COLUMNS[k][0],
                    "missing_column",
                    f"缺少「{COLUMNS[k][0]}」列",
                    f"Missing column {k!r}",
                )
                for k in missing
            ]
        )
    questions: list[dict[str, Any]] = []
    places: list[dict[str, Any]] = []  # per question: first row, and the row of each sub-question
    problems: list[Problem] = []
    open_group: tuple[str, str] | None = None
    for number, values in enumerate(rows[1:], start=2):
        if not any(values):
            continue
        cell = {k: (values[i] if i < len(values) else "") for i, k in enumerate(keys) if k}
        for k, v in cell.items():
            if len(v) > MAX_CELL:
                problems.append(
                    Problem(
                        filename,
                        sheet,
                        number,
                        shown[k],
                        "cell_too_long",
                        f"内容超过 {MAX_CELL} 字",
                        f"Over {MAX_CELL} characters",
                    )
                )
        kind = TYPE_ALIASES.get(
            cell["type"].strip(),
            TYPE_ALIASES.get(cell["type"].strip().upper(), cell["type"].strip()),
        )
        options = {k: cell[k] for k in KEYS if cell.get(k)}
        if kind in ("case", "matching"):
            group = cell.get("group_id", "").strip()
            if not group:
                problems.append(
                    Problem(
                        filename,
                        sheet,
                        number,
                        shown.get("group_id", "题组编号"),
                        "orphan_group_row",
                        "病例组/配伍题须填写题组编号",
                        "Grouped rows need a group id",
                    )
                )
                continue
            sub: dict[str, Any] = {"external_id": cell["external_id"], "stem": cell["stem"]}
            if kind == "case":
                sub["options"] = options
            sub |= {"answer": _answer(kind, cell["answer"]), "explanation": cell["explanation"]}
            if open_group == (kind, group):
                questions[-1]["sub_questions"].append(sub)
                places[-1]["subs"].append(number)
                continue
            if any(q.get("external_id") == group and q["type"] == kind for q in questions):
                problems.append(
                    Problem(
                        filename,
                        sheet,
                        number,
                        shown.get("group_id", "题组编号"),
                        "split_group",
                        f"题组“{group}”的各行须连续排列",
                        f"The rows of group {group!r} must be together",
                    )
                )
                continue
            open_group = (kind, group)
            question: dict[str, Any] = {
                "external_id": group,
                "type": kind,
                "tag": cell["tag"],
                "difficulty": _difficulty(cell["difficulty"]),
                "stem": cell.get("group_stem", ""),
            }
            if kind == "matching":
                question["options"] = options
            question["explanation"] = cell.get("group_explanation", "")
            question["sub_questions"] = [sub]
            questions.append(question)
            places.append({"row": number, "subs": [number]})
            continue
        open_group = None
        question = {
            "external_id": cell["external_id"],
            "type": kind,
            "tag": cell["tag"],
            "difficulty": _difficulty(cell["difficulty"]),
            "stem": cell["stem"],
        }
        if kind in ("single", "multiple"):
            question["options"] = options
        question["answer"] = _answer(kind, cell["answer"])
        question["explanation"] = cell["explanation"]
        questions.append(question if kind in QUESTION_TYPES else {**question, "type": cell["type"]})
        places.append({"row": number, "subs": []})

    field_column = {"options": "A", "sub_questions": "group_id", "external_id": "external_id"}

    def locate(qi: int, fld: str, sub: int | None) -> tuple[int, str]:
        place = places[qi]
        row = place["subs"][sub] if sub is not None and sub < len(place["subs"]) else place["row"]
        grouped = questions[qi]["type"] in ("case", "matching")
        key = (
            fld.removeprefix("option_") if fld.startswith("option_") else field_column.get(fld, fld)
        )
        if grouped and sub is None:
            key = {
                "stem": "group_stem",
                "external_id": "group_id",
                "explanation": "group_explanation",
            }.get(key, key)
        return row, shown.get(key, COLUMNS.get(key, (key,))[0])

    if problems:
        raise BankImportError(
            problems + validate(questions, file=filename, sheet=sheet, locate=locate)
        )
    return _finish(questions, filename, sheet, locate, meta)
