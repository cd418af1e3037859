"""Bank files: XLSX, CSV (UTF-8, BOM, GBK) and JSON; every problem located; all or nothing."""

from __future__ import annotations

import io
import json

import pytest
from openpyxl import Workbook, load_workbook

from question_banks import BankImportError, parse_bank
from question_banks.export import HEADER, export_json, export_xlsx
from question_banks.parsing import canonical
from question_banks.template import EXAMPLES, build_template, csv_template

ENGLISH = [
    "external_id",
    "type",
    "group_id",
    "group_stem",
    "group_explanation",
    "tag",
    "difficulty",
    "stem",
    "A",
    "B",
    "C",
    "D",
    "E",
    "F",
    "G",
    "H",
    "answer",
    "explanation",
]


def xlsx(rows: list[list[object]], header: list[str] = HEADER) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "题目"
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def row(**cells: object) -> list[object]:
    base = {
        "题目编号": "Q1",
        "题型": "单选",
        "知识点": "医学伦理",
        "难度": 2,
        "题干": "题干一",
        "选项A": "甲",
        "选项B": "乙",
        "选项C": "丙",
        "选项D": "丁",
        "答案": "B",
        "解析": "因为",
    }
    base |= cells
    return [base.get(h, "") for h in HEADER]


def problems(data: bytes, name: str = "bank.xlsx") -> list[tuple[object, object, str]]:
    with pytest.raises(BankImportError) as err:
        parse_bank(data, name)
    return [(p.row, p.column, p.code) for p in err.value.problems]


def test_template_parses_and_holds_every_type():
    bank = parse_bank(build_template(), "template.xlsx")
    assert {q["type"] for q in bank.questions} == {
        "single",
        "multiple",
        "true_false",
        "case",
        "matching",
    }
    assert bank.questions == [canonical(q) for q in EXAMPLES]
    workbook = load_workbook(io.BytesIO(build_template()))
    assert workbook.sheetnames == ["题目", "填写说明"]


def test_round_trips_through_xlsx_and_json():
    bank = parse_bank(build_template(), "t.xlsx")
    assert parse_bank(export_xlsx(None, bank.questions), "x.xlsx").questions == bank.questions
    assert parse_bank(export_json(None, bank.questions), "x.json").questions == bank.questions


def test_export_never_writes_a_live_formula_and_round_trips_the_text():
    bank = parse_bank(build_template(), "t.xlsx")
    first = bank.questions[0]
    first["stem"] = '=HYPERLINK("http://evil.example","点此")'
    first["explanation"] = "@SUM(1,2)"
    first["options"] = first["options"] | {"A": "+1", "B": "-1 mmol/L"}
    data = export_xlsx(None, bank.questions)
    sheet = load_workbook(io.BytesIO(data))["题目"]
    texts = {c.value: c for row in sheet.iter_rows(min_row=2) for c in row if c.value}
    for text in (first["stem"], "@SUM(1,2)", "+1", "-1 mmol/L"):
        cell = texts[text]  # the text itself, no character added
        assert cell.data_type == "s" and cell.quotePrefix, text
    assert not [c for c in texts.values() if c.data_type == "f"]
    assert parse_bank(data, "x.xlsx").questions == bank.questions


def test_a_file_with_several_problems_reports_them_all_with_row_and_column():
    data = xlsx(
        [
            row(),
            row(题目编号="Q2", 答案="F", 题干="题干二"),
            row(题目编号="Q3", 题型="论述", 题干="题干三"),
            row(题目编号="Q4", 题干=""),
            row(题目编号="Q1", 题干="题干五"),
            row(题目编号="Q6", 题干="题干 一"),
            row(题目编号="Q7", 难度=9, 题干="题干七"),
            row(题目编号="Q8", 题型="多选", 答案="A", 题干="题干八"),
            row(题目编号="Q9", 选项D="", 选项E="戊", 题干="题干九"),
        ]
    )
    found = problems(data)
    assert (3, "答案", "answer_not_in_options") in found
    assert (4, "题型", "unknown_type") in found
    assert (5, "题干", "empty_stem") in found
    assert (6, "题目编号", "duplicate_external_id") in found
    assert (7, "题干", "duplicate_stem") in found
    assert (8, "难度", "bad_difficulty") in found
    assert (9, "答案", "multiple_needs_two") in found
    assert (10, "选项A", "gap_in_options") in found
    assert [r for r, _, _ in found] == sorted(r for r, _, _ in found)


def test_messages_are_plain_chinese():
    with pytest.raises(BankImportError) as err:
        parse_bank(xlsx([row(答案="F")]), "bank.xlsx")
    problem = err.value.problems[0]
    assert str(problem) == "工作表「题目」第 2 行「答案」列：答案“F”不在选项 A–D 之中"


def test_groups_from_rows():
    rows = [
        row(
            题目编号="C1-1",
            题型="A3",
            题组编号="C1",
            共用题干="患者，男，45岁",
            题干="小题一",
            答案="A",
        ),
        row(题目编号="C1-2", 题型="A3", 题组编号="C1", 题干="小题二", 答案="C"),
        row(
            题目编号="B1-1",
            题型="B1",
            题组编号="B1",
            共用题干="共用备选答案",
            题干="配一",
            答案="A",
            选项E="戊",
        ),
        row(
            题目编号="B1-2",
            题型="B1",
            题组编号="B1",
            题干="配二",
            答案="E",
            选项A="",
            选项B="",
            选项C="",
            选项D="",
        ),
    ]
    bank = parse_bank(xlsx(rows), "g.xlsx")
    case, matching = bank.questions
    assert case["type"] == "case" and [s["external_id"] for s in case["sub_questions"]] == [
        "C1-1",
        "C1-2",
    ]
    assert matching["options"]["E"] == "戊" and matching["sub_questions"][1]["answer"] == "E"
    assert bank.item_count == 4


def test_group_problems_are_reported():
    rows = [
        row(题目编号="C1-1", 题型="病例组", 题组编号="C1", 共用题干="病例", 题干="一"),
        row(题目编号="X1", 题干="插在中间"),
        row(题目编号="C1-2", 题型="病例组", 题组编号="C1", 题干="二"),
        row(题目编号="C2-1", 题型="病例组", 题组编号="", 题干="无组"),
    ]
    found = problems(xlsx(rows))
    assert (4, "题组编号", "split_group") in found
    assert (5, "题组编号", "orphan_group_row") in found
    assert (2, "题组编号", "group_size") in found  # C1 kept one sub-question only


def test_missing_columns_are_named():
    found = problems(xlsx([["Q1", "单选"]], header=["题目编号", "题型"]))
    assert {c for _, c, code in found if code == "missing_column"} >= {
        "答案",
        "题干",
        "解析",
        "知识点",
        "难度",
    }


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_in_chinese_encodings(encoding):
    lines = [",".join(HEADER), ",".join(str(c) for c in row())]
    bank = parse_bank("\n".join(lines).encode(encoding), "bank.csv")
    assert bank.questions[0]["answer"] == "B" and bank.questions[0]["stem"] == "题干一"


def test_english_headers_and_answer_spellings():
    cells = {h: v for h, v in zip(HEADER, row(题型="多选", 答案="A、C"), strict=True)}
    english = [cells[h] for h in HEADER]
    bank = parse_bank(
        xlsx([english, row(题目编号="T", 题型="判断", 题干="判断题", 答案="√")], header=ENGLISH),
        "e.xlsx",
    )
    assert bank.questions[0]["answer"] == ["A", "C"]
    assert bank.questions[1]["answer"] is True and "options" not in bank.questions[1]


def test_json_problems_name_the_path():
    body = {"questions": [{**canonical(EXAMPLES[0]), "answer": "Q"}]}
    found = problems(json.dumps(body, ensure_ascii=False).encode(), "bank.json")
    assert found == [("questions[0]", "answer", "answer_not_in_options")]
    broken = problems(b'{"questions": [', "bank.json")
    assert broken[0][2] == "bad_json"


def test_empty_and_undecodable_files():
    assert problems(b"", "x.csv")[0][2] == "empty_file"
    assert problems(b"\xff\xfe\x00\x81\x82" * 10, "x.csv")[0][2] in (
        "bad_encoding",
        "missing_column",
    )


def test_csv_template_header():
    assert csv_template().startswith("题目编号,题型")
