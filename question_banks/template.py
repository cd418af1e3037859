"""The XLSX template an agency clerk fills in: an example of every type and instructions."""

from __future__ import annotations

from openpyxl.styles import Alignment, Font

from question_banks.export import HEADER, rows, style_sheet
from question_banks.sheets import new_sheet, workbook_bytes

EXAMPLES = [
    {
        "external_id": "EX-0001",
        "type": "single",
        "tag": "医学伦理",
        "difficulty": 2,
        "stem": "（示例）医学伦理学的基本原则不包括",
        "options": {
            "A": "尊重原则",
            "B": "不伤害原则",
            "C": "有利原则",
            "D": "公正原则",
            "E": "利润优先原则",
        },
        "answer": "E",
        "explanation": "医学伦理基本原则为尊重、不伤害、有利、公正。",
    },
    {
        "external_id": "EX-0002",
        "type": "multiple",
        "tag": "医患沟通",
        "difficulty": 2,
        "stem": "（示例）告知坏消息时恰当的做法有",
        "options": {
            "A": "选择安静私密的环境",
            "B": "先了解患者已知道的情况",
            "C": "使用大量专业术语",
            "D": "给患者表达情绪的时间",
        },
        "answer": ["A", "B", "D"],
        "explanation": "应在私密环境中，了解患者认知，避免术语，并允许情绪表达。",
    },
    {
        "external_id": "EX-0003",
        "type": "true_false",
        "tag": "卫生法规",
        "difficulty": 1,
        "stem": "（示例）医师在执业活动中应当尊重患者的隐私权。",
        "answer": True,
        "explanation": "保护患者隐私是医师的法定义务。",
    },
    {
        "external_id": "EX-0100",
        "type": "case",
        "tag": "医学伦理",
        "difficulty": 3,
        "stem": "（示例，共用题干）患者，女，45岁，拟行择期手术。",
        "explanation": "",
        "sub_questions": [
            {
                "external_id": "EX-0100-1",
                "stem": "术前应由谁签署知情同意书",
                "options": {
                    "A": "患者本人",
                    "B": "主治医师",
                    "C": "护士长",
                    "D": "医务科",
                    "E": "同病房患者",
                },
                "answer": "A",
                "explanation": "具有完全民事行为能力的患者由本人签署。",
            },
            {
                "external_id": "EX-0100-2",
                "stem": "患者拒绝手术时医师应当",
                "options": {
                    "A": "强行手术",
                    "B": "尊重其决定并说明风险",
                    "C": "停止一切治疗",
                    "D": "要求其出院",
                    "E": "隐瞒病情",
                },
                "answer": "B",
                "explanation": "应尊重患者自主权，充分说明利弊。",
            },
        ],
    },
    {
        "external_id": "EX-0200",
        "type": "matching",
        "tag": "卫生法规",
        "difficulty": 2,
        "stem": "（示例，共用备选答案）",
        "options": {
            "A": "尊重原则",
            "B": "不伤害原则",
            "C": "有利原则",
            "D": "公正原则",
            "E": "互助原则",
        },
        "explanation": "",
        "sub_questions": [
            {
                "external_id": "EX-0200-1",
                "stem": "平等分配医疗资源体现",
                "answer": "D",
                "explanation": "公正原则要求公平分配。",
            },
            {
                "external_id": "EX-0200-2",
                "stem": "实施知情同意体现",
                "answer": "A",
                "explanation": "知情同意是尊重自主的体现。",
            },
        ],
    },
]

INSTRUCTIONS = [
    ("题目编号", "每道题唯一的编号，如 HUM-0001。病例组、配伍题的每道小题也要有自己的编号。"),
    ("题型", "单选、多选、判断、病例组、配伍（也可填 A1、A2、X、A3、A4、B1）。"),
    ("题组编号", "仅病例组、配伍题填写：同一组的各行填相同的题组编号，且各行连续排列。"),
    ("共用题干", "病例组、配伍题在该组第一行填写共用题干（配伍题可填“共用备选答案”）。"),
    ("共用解析", "选填：整组的解析，填在该组第一行。"),
    ("知识点", "题目所属的知识点，组卷时按知识点抽题，如 医学伦理、卫生法规、医患沟通、医学人文。"),
    ("难度", "1（容易）到 5（很难）的整数。"),
    ("题干", "题目内容；病例组、配伍题填写小题的题干。"),
    (
        "选项A–H",
        "单选、多选、病例组小题至少填 4 个选项，从 A 开始连续填写；配伍题的共用选项只填在该组第一行；判断题不填选项。",
    ),
    ("答案", "单选填一个字母，如 B；多选填多个字母，如 ACD；判断填 对 或 错。"),
    ("解析", "答案的解释，学习模式中显示，考试中不会显示。每道计分题都必须填写。"),
    ("注意", "任何一行有错误时整个文件都不会导入；错误报告会指出第几行哪一列、什么原因。"),
]


def build_template() -> bytes:
    workbook, sheet = new_sheet("题目", HEADER, rows(EXAMPLES))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    style_sheet(sheet)
    notes = workbook.create_sheet("填写说明")
    notes.append(["列", "说明"])
    for column, text in INSTRUCTIONS:
        notes.append([column, text])
    notes.column_dimensions["A"].width = 12
    notes.column_dimensions["B"].width = 90
    for row in notes.iter_rows(min_row=2):
        row[1].alignment = Alignment(wrap_text=True)
    return workbook_bytes(workbook)


def csv_template() -> str:
    return ",".join(HEADER) + "\n"
